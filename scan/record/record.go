// Package record defines the normalized records the collectors produce and the
// store keeps: one Go type per kind of directory object, independent of the
// SDK that read it. Classification reads these records and nothing else.
package record

import (
	"context"
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
}
