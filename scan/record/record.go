// Package record defines the normalized records the collectors produce and the
// store keeps: one Go type per kind of directory object, independent of the
// SDK that read it. Classification reads these records and nothing else.
package record

import (
	"context"
	"errors"
	"time"
)

// Source names one of the directories anchorscan reads.
type Source string

// The sources.
const (
	SourceOkta  Source = "okta"
	SourceEntra Source = "entra"
	SourceAD    Source = "ad"
)

// OktaUser is an Okta universal-directory user.
type OktaUser struct {
	ID        string
	Status    string
	Login     string
	Email     string
	FirstName string
	LastName  string
}

// OktaApp is an app instance the collector read: every office365 and every
// active_directory instance.
type OktaApp struct {
	ID    string
	Name  string // "office365", "active_directory"
	Label string
	// DeactivateUsers is the USER_PROVISIONING feature's lifecycleDeactivate
	// status: "ENABLED", "DISABLED", or "" when it could not be read.
	DeactivateUsers string
	// MappingID, ImmutableIDExpression and ImmutableIDPushStatus describe the
	// Okta→app profile mapping of immutableId; empty when the app has none.
	MappingID             string
	ImmutableIDExpression string
	ImmutableIDPushStatus string
}

// OktaAppUser is one user's assignment to an app instance. UserID is the Okta
// user id (00u…): Okta's app user object carries no id of its own.
type OktaAppUser struct {
	AppID      string
	UserID     string
	ExternalID string
	UserName   string
	Status     string
	SyncState  string
	// ImmutableID is profile.immutableId: what Okta sends to Entra.
	ImmutableID string
	Licenses    []string
	Roles       []string
}

// EntraOrg is the Entra tenant itself.
type EntraOrg struct {
	TenantID      string
	DisplayName   string
	InitialDomain string
}

// EntraDomain is a domain of the tenant.
type EntraDomain struct {
	ID                 string
	AuthenticationType string // "Managed" or "Federated"
	IsVerified         bool
	IsInitial          bool
	IssuerURI          string // federated domains only
}

// EntraUser is an Entra user with the on-premises attributes anchorscan selects.
type EntraUser struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	Mail              string
	AccountEnabled    bool
	UserType          string
	CreationType      string
	// ImmutableID is onPremisesImmutableId; empty when unset.
	ImmutableID   string
	SyncEnabled   bool
	SecurityID    string // onPremisesSecurityIdentifier
	OnPremisesDN  string
	OnPremisesSAM string
}

// ADDomain is one AD naming context that was searched.
type ADDomain struct {
	Name   string // DNS name, e.g. corp.contoso.example
	BaseDN string
}

// ADUser is an AD user object with its binary attributes as LDAP returned them.
type ADUser struct {
	Domain            string // ADDomain.Name it was read from
	DistinguishedName string
	// ObjectGUID is the 16 raw bytes of objectGUID (little-endian groups).
	ObjectGUID [16]byte
	// ConsistencyGUID is the raw mS-DS-ConsistencyGuid; nil when absent.
	ConsistencyGUID    []byte
	ObjectSID          string // S-1-5-… form
	UserPrincipalName  string
	SAMAccountName     string
	Mail               string
	UserAccountControl int
	WhenChanged        string
	USNChanged         int64
}

// Batch is one page of records from one source. Collectors hand the store a
// batch per page so that nothing holds a whole tenant in memory.
type Batch struct {
	OktaUsers    []OktaUser
	OktaApps     []OktaApp
	OktaAppUsers []OktaAppUser
	EntraOrgs    []EntraOrg
	EntraDomains []EntraDomain
	EntraUsers   []EntraUser
	ADDomains    []ADDomain
	ADUsers      []ADUser
	// Checkpoint, when set, is where the list this page belongs to
	// continues. A sink that keeps checkpoints commits it together with the
	// page's records, so an interrupted scan resumes after the last page
	// stored, never before it (duplicates) nor after it (a gap).
	Checkpoint *Checkpoint
	// Removed lists records a change feed reported gone; only an
	// incremental read (scan.Incremental) sets it.
	Removed *Removals
}

// ErrResync is returned by an incremental read, before it writes anything,
// when its change feed cannot continue from the state it was given (an
// expired delta token, another domain controller): the source must be read
// whole.
var ErrResync = errors.New("the change feed cannot continue from the last scan")

// Removals are records a source's change feed says no longer exist.
type Removals struct {
	OktaUsers    []string     // Okta user ids
	OktaAppUsers []AppUserKey // assignments removed
	// OktaAppUsersOf are app instances whose assignments are all replaced:
	// the batch and the ones after it carry every one of them.
	OktaAppUsersOf []string
	EntraUsers     []string   // Entra object ids
	ADUsers        [][16]byte // objectGUIDs of deleted AD objects
}

// AppUserKey names an Okta app user: the app instance and the Okta user.
type AppUserKey struct {
	AppID, UserID string
}

// Len is the number of removed records.
func (r *Removals) Len() int {
	if r == nil {
		return 0
	}
	return len(r.OktaUsers) + len(r.OktaAppUsers) + len(r.OktaAppUsersOf) + len(r.EntraUsers) + len(r.ADUsers)
}

// Checkpoint is the committed position in one list a source reads.
type Checkpoint struct {
	// List names the list within its source: "users", "appUsers/0oa1…".
	List string
	// Cursor is what the next page is requested with (Okta's after cursor,
	// Graph's absolute @odata.nextLink); "" when the list is complete.
	Cursor string
}

// Done reports whether the list was read to its end.
func (c Checkpoint) Done() bool { return c.Cursor == "" }

// Len is the number of records in the batch.
func (b *Batch) Len() int {
	return len(b.OktaUsers) + len(b.OktaApps) + len(b.OktaAppUsers) + len(b.EntraOrgs) +
		len(b.EntraDomains) + len(b.EntraUsers) + len(b.ADDomains) + len(b.ADUsers)
}

// Sink receives the batches a collector reads. Write must not retain the batch.
type Sink interface {
	Write(ctx context.Context, b Batch) error
}

// Status is how far a source's collection got.
type Status string

// Collection statuses. A partial or failed source makes a snapshot unfit for
// planning unless the operator says otherwise.
const (
	StatusComplete Status = "complete"
	StatusPartial  Status = "partial"
	StatusFailed   Status = "failed"
)

// Stats is what a collector reports about its own run.
type Stats struct {
	Requests int            // HTTP requests or LDAP operations sent
	Counts   map[string]int // records read, by kind ("users", "appUsers", …)
	// Retries is how many requests were sent again after a transient
	// failure (throttling, a server error, a reset connection).
	Retries int
	// Sync is where an incremental read of this source can start next
	// time (a delta link, a time, a USN); nil when the source cannot read
	// changes. It names no secret.
	Sync map[string]string
}

// SourceRun is the outcome of collecting one source, as the snapshot records it.
type SourceRun struct {
	Source   Source
	Status   Status
	Requests int
	Retries  int
	Counts   map[string]int
	Started  time.Time
	Ended    time.Time
	Errors   []string
	// Sync is the source's Stats.Sync: where the next incremental scan starts.
	Sync map[string]string
	// Incremental says the run read only changes on top of an earlier
	// snapshot's records.
	Incremental bool
}
