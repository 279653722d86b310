package classify

// Scenario is a stable scenario code (DESIGN §5); reports, JSON and plans use it.
type Scenario string

// The identity scenarios, in the order the decision table tries them.
const (
	OutOfScope          Scenario = "OUT_OF_SCOPE"
	NotInEntra          Scenario = "NOT_IN_ENTRA"
	UnfederatedUPN      Scenario = "UNFEDERATED_UPN"
	OrphanEntra         Scenario = "ORPHAN_ENTRA"
	AnchorConflict      Scenario = "ANCHOR_CONFLICT"
	MultipleADSources   Scenario = "MULTIPLE_AD_SOURCES"
	MissingAnchorAD     Scenario = "MISSING_ANCHOR_AD"
	MissingAnchorCloud  Scenario = "MISSING_ANCHOR_CLOUD"
	NotAssigned         Scenario = "NOT_ASSIGNED"
	OktaAnchorEmpty     Scenario = "OKTA_ANCHOR_EMPTY"
	OK                  Scenario = "OK"
	SyncManagedMismatch Scenario = "SYNC_MANAGED_MISMATCH"
	EncodingMismatch    Scenario = "ENCODING_MISMATCH"
	OktaAssignmentStale Scenario = "OKTA_ASSIGNMENT_STALE"
	EntraAnchorStale    Scenario = "ENTRA_ANCHOR_STALE"
	UnknownMismatch     Scenario = "UNKNOWN_MISMATCH"
)

// OrgCode is a stable code of a tenant-wide finding.
type OrgCode string

// The org findings.
const (
	OrgDeactivateEnabled           OrgCode = "ORG_DEACTIVATE_ENABLED"
	OrgMappingDefaultNull          OrgCode = "ORG_MAPPING_DEFAULT_NULL"
	OrgMappingPushes               OrgCode = "ORG_MAPPING_PUSHES"
	OrgMultipleADDefaultExpression OrgCode = "ORG_MULTIPLE_AD_DEFAULT_EXPRESSION"
	OrgNoFederatedDomain           OrgCode = "ORG_NO_FEDERATED_DOMAIN"
	OrgFederationIssuerNotOkta     OrgCode = "ORG_FEDERATION_ISSUER_NOT_OKTA"
)

// Severity ranks findings; exit code 3 compares against it.
type Severity string

// Severities from most to least urgent.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Link records which key joined two records of one identity.
type Link struct {
	From  string `json:"from"`  // e.g. "okta:00u…"
	To    string `json:"to"`    // e.g. "ad:CN=…" or "entra:3cd4…"
	Key   string `json:"key"`   // e.g. "ad-app-user externalId = base64(objectGUID)"
	Value string `json:"value"` // the value both sides held
}

// Finding is the classification of one identity: one person across the sources.
type Finding struct {
	Scenario    Scenario `json:"scenario"`
	Severity    Severity `json:"severity"`
	UPN         string   `json:"upn"`
	DisplayName string   `json:"displayName,omitempty"`
	// Ids of the source records; empty when the identity has no such record.
	EntraUserID  string `json:"entraUserId,omitempty"`
	OktaUserID   string `json:"oktaUserId,omitempty"`
	ADObjectGUID string `json:"adObjectGuid,omitempty"` // canonical GUID string
	ADDN         string `json:"adDistinguishedName,omitempty"`
	// The anchor facts of DESIGN §5.
	EntraAnchor    string   `json:"entraImmutableId,omitempty"` // E
	OktaAnchor     string   `json:"oktaImmutableId,omitempty"`  // S
	ExpectedAnchor []string `json:"expectedAnchors,omitempty"`  // X
	ADSources      int      `json:"adSources"`                  // nAD
	Federated      bool     `json:"federated"`
	Assigned       bool     `json:"assigned"`
	SyncEnabled    bool     `json:"syncEnabled,omitempty"`
	Explanation    string   `json:"explanation"`
	Evidence       []Link   `json:"evidence,omitempty"`
}

// OrgFinding is a tenant-wide finding, reported once.
type OrgFinding struct {
	Code        OrgCode  `json:"code"`
	Severity    Severity `json:"severity"`
	Explanation string   `json:"explanation"`
}

// Result is everything classification produced for one snapshot.
type Result struct {
	Identities []Finding
	Org        []OrgFinding
}

// Each calls fn with each identity's finding in order, stopping at the
// first error: the form in which writers that stream findings from the
// store also take a Result held in memory.
func (r *Result) Each(fn func(*Finding) error) error {
	for i := range r.Identities {
		if err := fn(&r.Identities[i]); err != nil {
			return err
		}
	}
	return nil
}
