package classify

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

// Rule is one row of the decision table of DESIGN §5.
type Rule struct {
	Scenario Scenario
	Severity Severity
	// When is the condition in words, as the design states it.
	When  string
	Match func(f *Facts) bool
	// Explanation is a template: {name} placeholders are replaced with the
	// identity's values (see expandIdentity for the names).
	Explanation string
	// Fix summarises what the plan generates for the scenario.
	Fix string
	// Matching facts classify as this rule through the whole table (first
	// match wins); NonMatching facts classify as some other rule.
	Matching    []Facts
	NonMatching []Facts
}

// Rules returns the decision table in the order it is tried.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// RuleFor returns the rule of a scenario, for its fix summary and condition.
func RuleFor(s Scenario) (Rule, bool) {
	for _, r := range rules {
		if r.Scenario == s {
			return r, true
		}
	}
	return Rule{}, false
}

// decide returns the first rule whose condition holds. The table is total:
// by rule 16 every identity has an Entra user, an assigned Okta user and
// non-empty E and S that differ (a test enumerates the facts to prove it).
func decide(f *Facts) *Rule {
	for i := range rules {
		if rules[i].Match(f) {
			return &rules[i]
		}
	}
	return &rules[len(rules)-1]
}

// Test vectors of DESIGN §1 for the examples. The GUIDs' first three groups
// are not palindromic, so a byte-order bug would show.
const (
	exGUIDA   = "3ab39606-c642-489b-84b6-58c038d3ef39"
	exAnchorA = "BpazOkLGm0iEtljAONPvOQ=="
	exAnchorB = "MsNKjF+XF0ete7pKTpaP/w=="
	exOktaID  = "00uexample0000000001"
)

// example returns the facts of an AD-sourced, federated, assigned person
// whose anchors agree (an OK identity), changed by edit.
func example(edit func(f *Facts)) Facts {
	f := Facts{
		UPN: "ada@contoso.example", Domain: "contoso.example", DisplayName: "Ada Example",
		EntraUserID: "3cd49c6d-00b7-4439-932a-b4141082be29", EntraUPN: "ada@contoso.example",
		OktaUserID: exOktaID, OktaLogin: "ada@contoso.example",
		ADObjectGUID: exGUIDA, ADDN: "CN=ada,OU=Staff,DC=corp,DC=contoso,DC=example",
		HasEntra: true, HasOkta: true, HasAD: true, Assigned: true, Federated: true,
		E: exAnchorA, S: exAnchorA, X: []string{exAnchorA}, NAD: 1,
	}
	if edit != nil {
		edit(&f)
	}
	return f
}

// cloudExample is example for a cloud-only person (no AD source): the
// expected anchor is the Okta user id.
func cloudExample(edit func(f *Facts)) Facts {
	return example(func(f *Facts) {
		f.HasAD, f.ADObjectGUID, f.ADDN, f.NAD = false, "", "", 0
		f.E, f.S, f.X = exOktaID, exOktaID, []string{exOktaID}
		if edit != nil {
			edit(f)
		}
	})
}

var rules = []Rule{
	{
		Scenario: OutOfScope, Severity: Info,
		When: "guest (userType Guest or #EXT# in the UPN); or no Entra user and not assigned to O365 in Okta; " +
			"or Entra UPN on a managed domain and not assigned to O365 in Okta; or only in AD",
		Match: func(f *Facts) bool {
			return f.Guest || (!f.HasEntra && !f.Assigned) || (f.HasEntra && !f.Federated && !f.Assigned)
		},
		Explanation: "{upn} is outside Okta-federated Microsoft 365 sign-in: {scopeReason}.",
		Fix:         "none",
		Matching: []Facts{
			example(func(f *Facts) { f.Guest, f.UPN = true, "partner_fabrikam.example#EXT#@contoso.onmicrosoft.com" }),
			example(func(f *Facts) { f.HasEntra, f.Assigned, f.E = false, false, "" }),
			example(func(f *Facts) { f.Federated, f.Assigned, f.S = false, false, "" }),
			example(func(f *Facts) { f.HasEntra, f.HasOkta, f.Assigned, f.E, f.S, f.NAD = false, false, false, "", "", 0 }),
		},
		NonMatching: []Facts{
			example(nil),
			example(func(f *Facts) { f.Federated = false }),
		},
	},
	{
		Scenario: NotInEntra, Severity: Medium,
		When:  "assigned to O365 in Okta, no Entra user",
		Match: func(f *Facts) bool { return f.Assigned && !f.HasEntra },
		Explanation: "Okta user {login} ({oktaID}) is assigned to Office 365 and sends ImmutableID {S}, " +
			"but no Entra user matches it by object id, ImmutableID or UPN: until Entra has the user, sign-in fails " +
			"with AADSTS51004.",
		Fix: "org: set the Okta→Office 365 immutableId mapping to the recommended expression, apply on create only (DONT_PUSH)",
		Matching: []Facts{
			example(func(f *Facts) { f.HasEntra, f.E, f.EntraUserID, f.EntraUPN = false, "", "", "" }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.HasEntra, f.Assigned, f.E, f.S = false, false, "", "" }),
		},
	},
	{
		Scenario: UnfederatedUPN, Severity: Medium,
		When:  "assigned in Okta, Entra UPN in a managed domain",
		Match: func(f *Facts) bool { return f.Assigned && f.HasEntra && !f.Federated },
		Explanation: "Okta user {login} is assigned to Office 365, but Entra user {entraUPN} is on {domain}, a managed " +
			"domain, so Entra signs it in with its own password and never asks Okta. Entra's ImmutableID is {E}; Okta sends {S}.",
		Fix: "set the anchor if empty; move the UPN to the federated domain (to the O365 app username or Okta login when " +
			"that is on a federated domain, otherwise a manual step)",
		Matching: []Facts{
			example(func(f *Facts) {
				f.Federated, f.Domain, f.UPN = false, "cloud.contoso.example", "ada@cloud.contoso.example"
			}),
			example(func(f *Facts) { f.Federated, f.E = false, "" }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.Federated, f.Assigned, f.S = false, false, "" }),
			example(nil),
		},
	},
	{
		Scenario: OrphanEntra, Severity: Medium,
		When:  "federated Entra member, no Okta user linked",
		Match: func(f *Facts) bool { return f.HasEntra && f.Federated && !f.HasOkta },
		Explanation: "Entra member {entraUPN} ({entraID}) is on the federated domain {domain} with ImmutableID {E}, but no " +
			"Okta user is linked to it by an O365 app user, the ImmutableID or the login, so nobody can sign in as it through Okta.",
		Fix: "review (manual): link or create the Okta user, or retire the Entra account",
		Matching: []Facts{
			example(func(f *Facts) { f.HasOkta, f.Assigned, f.OktaUserID, f.S, f.NAD = false, false, "", "", 0 }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.HasOkta, f.Assigned, f.S, f.Federated = false, false, "", false }),
			example(func(f *Facts) { f.Assigned, f.S = false, "" }),
		},
	},
	{
		Scenario: AnchorConflict, Severity: High,
		When:  "E or S is also held by another identity, or two AD users share a ConsistencyGuid",
		Match: func(f *Facts) bool { return f.Conflict },
		Explanation: "{upn} shares an anchor with another person: {conflict}. Entra's ImmutableID is {E}; Okta sends {S}. " +
			"Entra matches an anchor to one user only, so one of them signs in as the other or not at all.",
		Fix: "review (manual): decide which person owns the anchor before changing either",
		Matching: []Facts{
			example(func(f *Facts) {
				f.Conflict, f.ConflictDetail = true, `the value Okta sends, "`+exAnchorA+`", is also held by "bob@contoso.example"`
			}),
			example(func(f *Facts) { f.Conflict, f.ConflictDetail, f.E = true, "two AD users share a ConsistencyGuid", "" }),
		},
		NonMatching: []Facts{
			example(nil),
			example(func(f *Facts) { f.Conflict, f.Guest = true, true }),
		},
	},
	{
		Scenario: MultipleADSources, Severity: Critical,
		When:  "nAD > 1 and (E empty or S empty or E ≠ S)",
		Match: func(f *Facts) bool { return f.NAD > 1 && (f.E == "" || f.S == "" || f.E != f.S) },
		Explanation: "Okta user {login} is in {nAD} Active Directory app instances, so hasDirectoryUser() and " +
			"findDirectoryUser() in the immutableId mapping cannot choose one. Entra's ImmutableID is {E}; Okta sends {S}; " +
			"the AD-sourced values are {X}.",
		Fix: "org: a per-instance immutableId expression; then per user as MISSING_ANCHOR_AD or MISSING_ANCHOR_CLOUD",
		Matching: []Facts{
			example(func(f *Facts) { f.NAD, f.E, f.S = 2, "", "" }),
			example(func(f *Facts) { f.NAD, f.S = 2, exAnchorB }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.NAD = 2 }),
			example(func(f *Facts) { f.E, f.S = "", "" }),
		},
	},
	{
		Scenario: MissingAnchorAD, Severity: Critical,
		When:  "E empty, one AD source",
		Match: func(f *Facts) bool { return f.E == "" && f.NAD == 1 },
		Explanation: "Entra user {entraUPN} has no ImmutableID, so Entra cannot match the value Okta sends ({S}). " +
			"The anchor sourced from {ad} is {X}.",
		Fix: "park the UPN on the initial domain → set E := base64(anchor) → restore the UPN; then an Okta reimport if S ≠ E",
		Matching: []Facts{
			example(func(f *Facts) { f.E = "" }),
			example(func(f *Facts) { f.E, f.Assigned, f.S = "", false, "" }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.E, f.NAD = "", 0 }),
			example(nil),
		},
	},
	{
		Scenario: MissingAnchorCloud, Severity: Critical,
		When:  "E empty, no AD source",
		Match: func(f *Facts) bool { return f.E == "" && f.NAD == 0 },
		Explanation: "Entra user {entraUPN} has no ImmutableID and the Okta user {login} has no AD source, so Entra " +
			"cannot match the value Okta sends ({S}); the expected cloud anchor is {X}.",
		Fix: "assign in Okta if needed → read the app user's value → park the UPN → set E → restore the UPN → unassign and reimport",
		Matching: []Facts{
			cloudExample(func(f *Facts) { f.E = "" }),
			cloudExample(func(f *Facts) { f.E, f.Assigned, f.S = "", false, "" }),
		},
		NonMatching: []Facts{
			cloudExample(nil),
			example(func(f *Facts) { f.E = "" }),
		},
	},
	{
		Scenario: NotAssigned, Severity: High,
		When:  "federated, E set, not assigned to O365 in Okta",
		Match: func(f *Facts) bool { return f.Federated && f.E != "" && !f.Assigned },
		Explanation: "Entra user {entraUPN} on the federated domain {domain} has ImmutableID {E}, but Okta user {login} " +
			"is not assigned to the Office 365 app, so Okta will not sign it in to Microsoft 365.",
		Fix: "assign in Okta (with the licences and roles chosen in review)",
		Matching: []Facts{
			example(func(f *Facts) { f.Assigned, f.S = false, "" }),
			cloudExample(func(f *Facts) { f.Assigned, f.S = false, "" }),
		},
		NonMatching: []Facts{
			example(nil),
			example(func(f *Facts) { f.Assigned, f.S, f.E = false, "", "" }),
		},
	},
	{
		Scenario: OktaAnchorEmpty, Severity: Critical,
		When:  "assigned, S empty",
		Match: func(f *Facts) bool { return f.Assigned && f.S == "" },
		Explanation: "Okta user {login} is assigned to Office 365 but its app user's immutableId is empty, so Okta " +
			"sends no anchor; Entra user {entraUPN} expects {E}.",
		Fix: "org mapping fix, then push S := E; write the ConsistencyGuid in AD when the mapping reads it and it is absent",
		Matching: []Facts{
			example(func(f *Facts) { f.S = "" }),
		},
		NonMatching: []Facts{
			example(nil),
			example(func(f *Facts) { f.S, f.NAD = "", 2 }),
		},
	},
	{
		Scenario: OK, Severity: Info,
		When:  "E == S, non-empty, federated, assigned",
		Match: func(f *Facts) bool { return f.E != "" && f.E == f.S && f.Federated && f.Assigned },
		Explanation: "Entra user {entraUPN} holds ImmutableID {E} and Okta sends the same value, on the federated " +
			"domain {domain}: sign-in matches.",
		Fix: "none",
		Matching: []Facts{
			example(nil),
			cloudExample(nil),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.S = exAnchorB }),
		},
	},
	{
		Scenario: SyncManagedMismatch, Severity: Critical,
		When:  "E ≠ S and Entra Connect masters the user",
		Match: func(f *Facts) bool { return f.E != f.S && f.Sync },
		Explanation: "Entra user {entraUPN} is mastered by Entra Connect (onPremisesSyncEnabled) with ImmutableID {E}, " +
			"but Okta sends {S}. Graph refuses to change a synced user, so Okta has to send {E}.",
		Fix: "fix on the Okta side (S := E); never through Graph",
		Matching: []Facts{
			example(func(f *Facts) { f.Sync, f.S = true, exAnchorB }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.Sync = true }),
			example(func(f *Facts) { f.S = exAnchorB }),
		},
	},
	{
		Scenario: EncodingMismatch, Severity: Critical,
		When: "E ≠ S, but some reading of E and some reading of S stand for the same GUID " +
			"(base64 of raw or big-endian bytes, GUID string, braces, hex in either order, base64 of the text, missing padding)",
		Match: func(f *Facts) bool {
			if f.E == f.S {
				return false
			}
			_, same := anchor.SameGUID(f.E, f.S)
			return same
		},
		Explanation: "Entra's ImmutableID {E} and the value Okta sends, {S}, {encoding}. Entra compares the strings " +
			"exactly, so sign-in fails although both name the same object. Expected: {X}.",
		Fix: "rewrite the side that is not in X to the side that is; neither in X: review",
		Matching: []Facts{
			example(func(f *Facts) { f.E = exGUIDA }),
			example(func(f *Facts) { f.S = strings.TrimSuffix(exAnchorA, "==") }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.S = exAnchorB }),
			example(func(f *Facts) { f.E, f.Sync = exGUIDA, true }),
		},
	},
	{
		Scenario: OktaAssignmentStale, Severity: Critical,
		When:  "E ∈ X, S ≠ E (assigned before the anchor was set)",
		Match: func(f *Facts) bool { return f.inX(f.E) && f.S != f.E },
		Explanation: "Entra user {entraUPN} holds the expected anchor {E}, but Okta's O365 app user still sends {S}: " +
			"the assignment predates the anchor, and Okta keeps the value it computed then.",
		Fix: "guard Deactivate Users → keep licences and roles → unassign → manual import and confirm → verify",
		Matching: []Facts{
			example(func(f *Facts) { f.S = exAnchorB }),
			cloudExample(func(f *Facts) { f.S = "0uaexample0000000001" }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.E = exAnchorB }),
			example(func(f *Facts) { f.E, f.S = exAnchorB, "0uaexample0000000001" }),
		},
	},
	{
		Scenario: EntraAnchorStale, Severity: Critical,
		When:  "S ∈ X, E ≠ S (e.g. the AD object was re-created)",
		Match: func(f *Facts) bool { return f.inX(f.S) && f.E != f.S },
		Explanation: "Okta sends the expected anchor {S}, but Entra user {entraUPN} holds {E}, an older value (for " +
			"example from before the AD object was re-created).",
		Fix: "park the UPN → set E := S → restore the UPN",
		Matching: []Facts{
			example(func(f *Facts) { f.E = exAnchorB }),
		},
		NonMatching: []Facts{
			example(func(f *Facts) { f.S = exAnchorB }),
			example(func(f *Facts) { f.E, f.S = exAnchorB, "0uaexample0000000001" }),
		},
	},
	{
		Scenario: UnknownMismatch, Severity: Critical,
		When:  "E ≠ S, neither expected",
		Match: func(f *Facts) bool { return f.E != f.S },
		Explanation: "Entra user {entraUPN} holds {E} and Okta sends {S}; neither is a value the sources would " +
			"produce ({X}).",
		Fix: "review (manual)",
		Matching: []Facts{
			example(func(f *Facts) { f.E, f.S = exAnchorB, "0uaexample0000000001" }),
		},
		NonMatching: []Facts{
			example(nil),
			example(func(f *Facts) { f.E = exAnchorB }),
		},
	},
}

// expandIdentity fills a rule's explanation template. Values are quoted but
// otherwise kept verbatim: directory data is attacker-controlled and the
// renderers escape it, so rewriting it here would only hide what is there.
func expandIdentity(tmpl string, f *Facts) string {
	return expand(tmpl, func(b *bytes.Buffer, name string) bool {
		switch name {
		case "upn":
			writeQuoted(b, f.UPN)
		case "domain":
			writeQuoted(b, f.Domain)
		case "E":
			writeQuoted(b, f.E)
		case "S":
			writeQuoted(b, f.S)
		case "X":
			if len(f.X) == 0 {
				b.WriteString("(none)")
			}
			for i, x := range f.X {
				if i > 0 {
					b.WriteString(", ")
				}
				writeQuoted(b, x)
			}
		case "nAD":
			b.WriteString(strconv.Itoa(f.NAD))
		case "entraUPN":
			writeQuoted(b, f.EntraUPN)
		case "entraID":
			b.WriteString(f.EntraUserID)
		case "oktaID":
			b.WriteString(f.OktaUserID)
		case "login":
			writeQuoted(b, f.OktaLogin)
		case "ad":
			if f.ADObjectGUID == "" {
				b.WriteString("the AD object behind the Okta user's directory assignment (not in this snapshot)")
				break
			}
			b.WriteString("AD object ")
			b.WriteString(f.ADObjectGUID)
			b.WriteString(" (")
			writeQuoted(b, f.ADDN)
			b.WriteString(")")
		case "conflict":
			b.WriteString(f.ConflictDetail)
		case "scopeReason":
			b.WriteString(scopeReason(f))
		case "encoding":
			b.WriteString(encodingDetail(f.E, f.S))
		default:
			return false
		}
		return true
	})
}

// expand writes tmpl with every {name} replaced by what write(name) writes;
// an unknown name (write returns false) is left as it is, and a test keeps
// the templates free of them. Values are never expanded again.
func expand(tmpl string, write func(b *bytes.Buffer, name string) bool) string {
	b := textBuffers.Get().(*bytes.Buffer)
	defer textBuffers.Put(b)
	b.Reset()
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(tmpl[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(tmpl[:open])
		if !write(b, tmpl[open+1:open+end]) {
			b.WriteString(tmpl[open : open+end+1])
		}
		tmpl = tmpl[open+end+1:]
	}
	b.WriteString(tmpl)
	return b.String()
}

// textBuffers hold explanations while they are written. Every finding
// keeps its explanation, so it is copied out at its exact length rather
// than kept in a buffer grown for the longest values.
var textBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeQuoted(b *bytes.Buffer, v string) {
	if v == "" {
		b.WriteString("(empty)")
		return
	}
	b.WriteByte('"')
	b.WriteString(v)
	b.WriteByte('"')
}

func quote(v string) string {
	if v == "" {
		return "(empty)"
	}
	return `"` + v + `"`
}

func scopeReason(f *Facts) string {
	switch {
	case f.Guest:
		return "it is a guest account (userType Guest or #EXT# in the UPN)"
	case !f.HasEntra && !f.HasOkta:
		return "it exists only in Active Directory (" + f.ADObjectGUID + ", " + quote(f.ADDN) + "), with no Okta or Entra user"
	case !f.HasEntra:
		return "it has no Entra user and Okta user " + quote(f.OktaLogin) + " is not assigned to Office 365"
	default:
		return "its domain " + quote(f.Domain) + " is managed, not federated, and it is not assigned to Office 365 in Okta"
	}
}

// encodingDetail says which GUID E and S both stand for and how each is written.
func encodingDetail(e, s string) string {
	g, ok := anchor.SameGUID(e, s)
	if !ok {
		return "do not stand for the same GUID"
	}
	return "both stand for GUID " + g.String() + ", Entra's written as " + formatOf(e, g) +
		" and Okta's as " + formatOf(s, g)
}

func formatOf(v string, g anchor.GUID) string {
	for _, r := range anchor.Readings(v) {
		if r.GUID == g {
			return r.Format.Label()
		}
	}
	return "an unknown encoding"
}
