package sim

// FormatV1 is the value of the top-level "format" field of a tenant fixture.
const FormatV1 = "anchorscan-tenant/v1"

// Tenant is one simulated organisation: an Okta org, an Entra tenant and the
// on-premises AD forests behind them, in the fixture format anchorscan-tenant/v1.
// The JSON field names are the fixture's; unknown fields are rejected on load.
type Tenant struct {
	Format   string    `json:"format"`
	Okta     Okta      `json:"okta"`
	Entra    Entra     `json:"entra"`
	AD       AD        `json:"ad"`
	Expected *Expected `json:"expected,omitempty"`
}

// Okta is the Okta side of a tenant.
type Okta struct {
	Org      string        `json:"org"`
	Users    []OktaUser    `json:"users"`
	Apps     []OktaApp     `json:"apps"`
	AppUsers []OktaAppUser `json:"appUsers"`
}

// OktaUser is an Okta universal-directory user.
type OktaUser struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Login     string `json:"login"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// OktaApp is an app instance: "office365" or "active_directory" in practice.
type OktaApp struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Label string `json:"label"`
	// DeactivateUsers is the USER_PROVISIONING lifecycleDeactivate status,
	// ENABLED or DISABLED; only meaningful for office365.
	DeactivateUsers    string   `json:"deactivateUsers,omitempty"`
	ImmutableIDMapping *Mapping `json:"immutableIdMapping,omitempty"`
}

// Mapping is the Okta→app profile mapping of the immutableId attribute.
type Mapping struct {
	Expression string `json:"expression"`
	PushStatus string `json:"pushStatus"`
}

// OktaAppUser is an assignment of an Okta user to an app instance.
type OktaAppUser struct {
	AppID      string         `json:"appId"`
	UserID     string         `json:"userId"`
	AppUserID  string         `json:"appUserId"`
	ExternalID *string        `json:"externalId"`
	UserName   string         `json:"userName"`
	Status     string         `json:"status"`
	Profile    AppUserProfile `json:"profile"`
}

// AppUserProfile is the part of an app user's profile anchorscan cares about.
type AppUserProfile struct {
	ImmutableID *string  `json:"immutableId,omitempty"`
	Licenses    []string `json:"licenses,omitempty"`
	Roles       []string `json:"roles,omitempty"`
}

// Entra is the Microsoft Entra ID side of a tenant.
type Entra struct {
	TenantID      string        `json:"tenantId"`
	InitialDomain string        `json:"initialDomain"`
	Domains       []EntraDomain `json:"domains"`
	Users         []EntraUser   `json:"users"`
}

// EntraDomain is a domain of the Entra tenant.
type EntraDomain struct {
	ID                 string `json:"id"`
	AuthenticationType string `json:"authenticationType"`
	IsVerified         bool   `json:"isVerified"`
	IsInitial          bool   `json:"isInitial,omitempty"`
	IssuerURI          string `json:"issuerUri,omitempty"`
}

// EntraUser is an Entra user object.
type EntraUser struct {
	ID                           string  `json:"id"`
	UserPrincipalName            string  `json:"userPrincipalName"`
	DisplayName                  string  `json:"displayName"`
	Mail                         string  `json:"mail"`
	AccountEnabled               bool    `json:"accountEnabled"`
	UserType                     string  `json:"userType"`
	OnPremisesImmutableID        *string `json:"onPremisesImmutableId"`
	OnPremisesSyncEnabled        *bool   `json:"onPremisesSyncEnabled"`
	OnPremisesSecurityIdentifier *string `json:"onPremisesSecurityIdentifier"`
	// AssignedLicenses are the skuIds (GUID strings) of the user's licences.
	// Optional; an Okta unassignment with Deactivate Users on clears them.
	AssignedLicenses []string `json:"assignedLicenses,omitempty"`
}

// AD is the on-premises Active Directory side of a tenant.
type AD struct {
	Domains []ADDomain `json:"domains"`
	Users   []ADUser   `json:"users"`
}

// ADDomain is an AD domain and the base DN its users live under.
type ADDomain struct {
	Name   string `json:"name"`
	BaseDN string `json:"baseDN"`
}

// ADUser is an AD user object. GUIDs are canonical strings here; the LDAP
// server serves them as the 16 raw bytes AD stores.
type ADUser struct {
	DistinguishedName   string  `json:"distinguishedName"`
	ObjectGUID          string  `json:"objectGUID"`
	MSDSConsistencyGUID *string `json:"msDSConsistencyGuid"`
	ObjectSID           string  `json:"objectSid"`
	UserPrincipalName   string  `json:"userPrincipalName"`
	SAMAccountName      string  `json:"sAMAccountName"`
	Mail                string  `json:"mail"`
	UserAccountControl  int     `json:"userAccountControl"`
}

// Expected holds the labels a fixture or the generator attaches: the scenario
// each identity must classify as, and the org findings.
type Expected struct {
	Identities []ExpectedIdentity `json:"identities"`
	Org        []string           `json:"org"`
}

// ExpectedIdentity labels one identity by the ids of its records.
type ExpectedIdentity struct {
	Scenario     string `json:"scenario"`
	UPN          string `json:"upn,omitempty"`
	EntraUserID  string `json:"entraUserId,omitempty"`
	OktaUserID   string `json:"oktaUserId,omitempty"`
	ADObjectGUID string `json:"adObjectGUID,omitempty"`
}
