package classify

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/anchorscan/anchorscan/scan/record"
)

// OrgFacts are what the org rules look at: the tenant's settings.
type OrgFacts struct {
	O365Apps    []record.OktaApp // office365 instances
	ADInstances []record.OktaApp // active_directory instances
	Domains     []record.EntraDomain
	OktaOrgURL  string
	// ExtraIssuer is an issuer accepted as Okta's besides http://www.okta.com/….
	ExtraIssuer string
}

// OrgRule is one tenant-wide check. Check returns the offending items (app
// labels, domains) in words; the rule fires when there is at least one.
type OrgRule struct {
	Code     OrgCode
	Severity Severity
	When     string
	Check    func(o *OrgFacts) []string
	// Explanation is a template; {items} is replaced with what Check found.
	Explanation string
	Fix         string
	Matching    []OrgFacts
	NonMatching []OrgFacts
}

// OrgRules returns the org checks in the order they are reported.
func OrgRules() []OrgRule { return append([]OrgRule(nil), orgRules...) }

// Expressions of the Okta→Office 365 immutableId mapping (DESIGN §1).
const (
	ExpressionDefault     = `hasDirectoryUser()?findDirectoryUser().externalId:null`
	ExpressionRecommended = `hasDirectoryUser()?findDirectoryUser().externalId:user.getInternalProperty("id")`
)

// expressionYieldsNull reports whether an immutableId expression yields null
// for a user without exactly one AD source: a conditional whose else branch
// is null, a bare null, or a bare directory reference (findDirectoryUser()
// or a per-instance active_directory.externalId) with no fallback. An empty
// expression is not judged: the collector could not tell us what it is.
func expressionYieldsNull(expr string) bool {
	e := strings.Join(strings.Fields(expr), "")
	switch {
	case e == "":
		return false
	case e == "null" || strings.HasSuffix(e, ":null"):
		return true
	case strings.Contains(e, "?"):
		return false
	default:
		return strings.Contains(e, "externalId")
	}
}

func usesDirectoryUser(expr string) bool {
	return strings.Contains(expr, "hasDirectoryUser(") || strings.Contains(expr, "findDirectoryUser(")
}

func (o *OrgFacts) issuerIsOkta(issuer string) bool {
	if len(issuer) >= len("http://www.okta.com/") && strings.EqualFold(issuer[:len("http://www.okta.com/")], "http://www.okta.com/") {
		return true
	}
	if o.ExtraIssuer != "" && issuer == o.ExtraIssuer {
		return true
	}
	// An org configured with its own URL as the issuer is Okta too.
	return o.OktaOrgURL != "" && strings.EqualFold(strings.TrimSuffix(issuer, "/"), strings.TrimSuffix(o.OktaOrgURL, "/"))
}

func appName(a record.OktaApp) string {
	if a.Label != "" {
		return quote(a.Label) + " (" + a.ID + ")"
	}
	return a.ID
}

// exampleOrg is a healthy tenant: one O365 instance with the recommended
// mapping applied on create only, Deactivate Users off, one AD instance, a
// federated domain whose issuer is Okta's. edit changes it.
func exampleOrg(edit func(o *OrgFacts)) OrgFacts {
	o := OrgFacts{
		O365Apps: []record.OktaApp{{ID: "0oa365", Name: "office365", Label: "Microsoft Office 365",
			DeactivateUsers: "DISABLED", MappingID: "prm1", ImmutableIDExpression: ExpressionRecommended, ImmutableIDPushStatus: "DONT_PUSH"}},
		ADInstances: []record.OktaApp{{ID: "0oaad1", Name: "active_directory", Label: "corp.contoso.example"}},
		Domains: []record.EntraDomain{
			{ID: "contoso.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exk1"},
			{ID: "contoso.onmicrosoft.com", AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
		},
		OktaOrgURL: "https://contoso.okta.com",
	}
	if edit != nil {
		edit(&o)
	}
	return o
}

var orgRules = []OrgRule{
	{
		Code: OrgDeactivateEnabled, Severity: High,
		When: "the O365 app's USER_PROVISIONING lifecycleDeactivate is ENABLED",
		Check: func(o *OrgFacts) []string {
			var hit []string
			for _, a := range o.O365Apps {
				if strings.EqualFold(a.DeactivateUsers, "ENABLED") {
					hit = append(hit, appName(a))
				}
			}
			return hit
		},
		Explanation: "Deactivate Users is enabled on the Office 365 app {items}: unassigning a user there blocks " +
			"sign-in in Microsoft 365 and removes licences, so any fix that unassigns must turn it off first.",
		Fix:         "the plan turns Deactivate Users off before unassigning and restores it at the end",
		Matching:    []OrgFacts{exampleOrg(func(o *OrgFacts) { o.O365Apps[0].DeactivateUsers = "ENABLED" })},
		NonMatching: []OrgFacts{exampleOrg(nil), exampleOrg(func(o *OrgFacts) { o.O365Apps[0].DeactivateUsers = "" })},
	},
	{
		Code: OrgMappingDefaultNull, Severity: Medium,
		When: "the immutableId expression yields null for users without exactly one AD source (the default …:null)",
		Check: func(o *OrgFacts) []string {
			var hit []string
			for _, a := range o.O365Apps {
				if expressionYieldsNull(a.ImmutableIDExpression) {
					hit = append(hit, appName(a)+" maps immutableId from "+quote(a.ImmutableIDExpression))
				}
			}
			return hit
		},
		Explanation: "On {items}: for a user with no AD source, or with more than one, the expression yields null " +
			"and Office 365 substitutes the new app user id (0ua…), an anchor no source knows.",
		Fix: "org: set the mapping to " + ExpressionRecommended + ", applied on create only",
		Matching: []OrgFacts{
			exampleOrg(func(o *OrgFacts) { o.O365Apps[0].ImmutableIDExpression = ExpressionDefault }),
			exampleOrg(func(o *OrgFacts) { o.O365Apps[0].ImmutableIDExpression = "active_directory.externalId" }),
		},
		NonMatching: []OrgFacts{
			exampleOrg(nil),
			exampleOrg(func(o *OrgFacts) { o.O365Apps[0].ImmutableIDExpression = "" }),
		},
	},
	{
		Code: OrgMappingPushes, Severity: Medium,
		When: "the immutableId mapping's pushStatus is PUSH (applied on every update, not only on create)",
		Check: func(o *OrgFacts) []string {
			var hit []string
			for _, a := range o.O365Apps {
				if strings.EqualFold(a.ImmutableIDPushStatus, "PUSH") {
					hit = append(hit, appName(a))
				}
			}
			return hit
		},
		Explanation: "The immutableId mapping of {items} is applied on every profile update (PUSH), so Okta rewrites " +
			"the anchor it sends whenever the expression's inputs change, not only when the user is created.",
		Fix:         "org: set the mapping's push status to DONT_PUSH (apply on create only)",
		Matching:    []OrgFacts{exampleOrg(func(o *OrgFacts) { o.O365Apps[0].ImmutableIDPushStatus = "PUSH" })},
		NonMatching: []OrgFacts{exampleOrg(nil)},
	},
	{
		Code: OrgMultipleADDefaultExpression, Severity: High,
		When: "more than one AD app instance, and the expression relies on hasDirectoryUser()/findDirectoryUser()",
		Check: func(o *OrgFacts) []string {
			if len(o.ADInstances) < 2 {
				return nil
			}
			var hit []string
			for _, a := range o.O365Apps {
				if usesDirectoryUser(a.ImmutableIDExpression) {
					hit = append(hit, appName(a)+" maps immutableId from "+quote(a.ImmutableIDExpression))
				}
			}
			if len(hit) == 0 {
				return nil
			}
			names := make([]string, len(o.ADInstances))
			for i, a := range o.ADInstances {
				names[i] = appName(a)
			}
			hit = append(hit, "while Okta has "+strconv.Itoa(len(o.ADInstances))+" AD instances: "+strings.Join(names, ", "))
			return hit
		},
		Explanation: "{items}. hasDirectoryUser() and findDirectoryUser() fail for a user in more than one AD instance, " +
			"so those users get no directory anchor.",
		Fix: "org: a per-instance expression (e.g. active_directory.externalId for the instance that owns the anchor)",
		Matching: []OrgFacts{exampleOrg(func(o *OrgFacts) {
			o.ADInstances = append(o.ADInstances, record.OktaApp{ID: "0oaad2", Name: "active_directory", Label: "emea.contoso.example"})
		})},
		NonMatching: []OrgFacts{
			exampleOrg(nil),
			exampleOrg(func(o *OrgFacts) {
				o.ADInstances = append(o.ADInstances, record.OktaApp{ID: "0oaad2", Name: "active_directory"})
				o.O365Apps[0].ImmutableIDExpression = "active_directory.externalId"
			}),
		},
	},
	{
		Code: OrgNoFederatedDomain, Severity: Medium,
		When: "no verified domain is Federated",
		Check: func(o *OrgFacts) []string {
			if len(o.Domains) == 0 {
				return nil // Entra was not read: nothing to judge
			}
			for _, d := range o.Domains {
				if d.IsVerified && strings.EqualFold(d.AuthenticationType, "Federated") {
					return nil
				}
			}
			names := make([]string, 0, len(o.Domains))
			for _, d := range o.Domains {
				names = append(names, quote(d.ID)+" ("+d.AuthenticationType+")")
			}
			return names
		},
		Explanation: "No verified domain of the Entra tenant is federated ({items}), so Entra never sends a user to " +
			"Okta and no ImmutableID is checked at sign-in.",
		Fix: "review (manual): federate the users' domain with Okta before fixing anchors",
		Matching: []OrgFacts{
			exampleOrg(func(o *OrgFacts) { o.Domains[0].AuthenticationType = "Managed" }),
			exampleOrg(func(o *OrgFacts) { o.Domains[0].IsVerified = false }),
		},
		NonMatching: []OrgFacts{exampleOrg(nil), exampleOrg(func(o *OrgFacts) { o.Domains = nil })},
	},
	{
		Code: OrgFederationIssuerNotOkta, Severity: High,
		When: "a federated domain's issuerUri is not the Okta org's (http://www.okta.com/… or the configured issuer)",
		Check: func(o *OrgFacts) []string {
			var hit []string
			for _, d := range o.Domains {
				if strings.EqualFold(d.AuthenticationType, "Federated") && !o.issuerIsOkta(d.IssuerURI) {
					hit = append(hit, quote(d.ID)+" trusts issuer "+quote(d.IssuerURI))
				}
			}
			return hit
		},
		Explanation: "{items}, which is not this Okta org, so users of that domain sign in elsewhere and the anchors " +
			"Okta sends do not matter there.",
		Fix: "review (manual): confirm which identity provider owns the domain",
		Matching: []OrgFacts{
			exampleOrg(func(o *OrgFacts) { o.Domains[0].IssuerURI = "http://adfs.contoso.example/adfs/services/trust" }),
			exampleOrg(func(o *OrgFacts) { o.Domains[0].IssuerURI = "" }),
		},
		NonMatching: []OrgFacts{
			exampleOrg(nil),
			exampleOrg(func(o *OrgFacts) {
				o.Domains[0].IssuerURI = "https://idp.contoso.example"
				o.ExtraIssuer = "https://idp.contoso.example"
			}),
		},
	},
}

// classifyOrg runs every org rule once over the tenant.
func classifyOrg(o *OrgFacts) []OrgFinding {
	var out []OrgFinding
	for _, r := range orgRules {
		items := r.Check(o)
		if len(items) == 0 {
			continue
		}
		out = append(out, OrgFinding{
			Code:     r.Code,
			Severity: r.Severity,
			Explanation: expand(r.Explanation, func(b *bytes.Buffer, name string) bool {
				if name != "items" {
					return false
				}
				b.WriteString(strings.Join(items, "; "))
				return true
			}),
		})
	}
	return out
}

func orgFactsOf(in Input, opts Options) OrgFacts {
	o := OrgFacts{Domains: in.EntraDomains, OktaOrgURL: in.OktaOrgURL, ExtraIssuer: opts.OktaIssuer}
	for _, a := range in.OktaApps {
		switch strings.ToLower(a.Name) {
		case appNameOffice365:
			o.O365Apps = append(o.O365Apps, a)
		case appNameActiveDirectory:
			o.ADInstances = append(o.ADInstances, a)
		}
	}
	return o
}
