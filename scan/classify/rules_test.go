package classify

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"

	"github.com/anchorscan/anchorscan/scan/record"
)

// TestRuleExamples runs every rule's examples through the whole table: a
// matching example must be classified as its rule (first match wins), a
// non-matching one as some other rule.
func TestRuleExamples(t *testing.T) {
	seen := map[Scenario]bool{}
	for _, r := range rules {
		if seen[r.Scenario] {
			t.Errorf("scenario %s appears twice in the table", r.Scenario)
		}
		seen[r.Scenario] = true
		if len(r.Matching) == 0 || len(r.NonMatching) == 0 {
			t.Errorf("%s: needs matching and non-matching examples, has %d and %d", r.Scenario, len(r.Matching), len(r.NonMatching))
		}
		for i, f := range r.Matching {
			t.Run(fmt.Sprintf("%s/matching-%d", r.Scenario, i), func(t *testing.T) {
				if got := decide(&f).Scenario; got != r.Scenario {
					t.Errorf("classified as %s, want %s; facts %+v", got, r.Scenario, f)
				}
			})
		}
		for i, f := range r.NonMatching {
			t.Run(fmt.Sprintf("%s/non-matching-%d", r.Scenario, i), func(t *testing.T) {
				if got := decide(&f).Scenario; got == r.Scenario {
					t.Errorf("classified as %s, want another scenario; facts %+v", got, f)
				}
			})
		}
	}
	if len(seen) != 16 {
		t.Errorf("table has %d scenarios, want the 16 of DESIGN §5", len(seen))
	}
}

// TestTableOrder pins the order of DESIGN §5: first match wins, so the
// order is part of the behaviour.
func TestTableOrder(t *testing.T) {
	want := []Scenario{OutOfScope, NotInEntra, UnfederatedUPN, OrphanEntra, AnchorConflict, MultipleADSources,
		MissingAnchorAD, MissingAnchorCloud, NotAssigned, OktaAnchorEmpty, OK, SyncManagedMismatch,
		EncodingMismatch, OktaAssignmentStale, EntraAnchorStale, UnknownMismatch}
	var got []Scenario
	for _, r := range Rules() {
		got = append(got, r.Scenario)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("table order\n got %v\nwant %v", got, want)
	}
}

// TestTableIsTotal enumerates every combination of the facts (within what a
// join can produce) and checks that some rule's condition holds, so the
// fallback in decide is never what classifies an identity.
func TestTableIsTotal(t *testing.T) {
	bools := []bool{false, true}
	anchors := []string{"", exAnchorA, exAnchorB, exGUIDA, exOktaID}
	xs := [][]string{nil, {exAnchorA}, {exOktaID}}
	n := 0
	for _, guest := range bools {
		for _, hasEntra := range bools {
			for _, hasOkta := range bools {
				for _, assigned := range bools {
					for _, federated := range bools {
						for _, sync := range bools {
							for _, conflict := range bools {
								for _, e := range anchors {
									for _, s := range anchors {
										for _, x := range xs {
											for nad := 0; nad <= 2; nad++ {
												if (assigned && !hasOkta) || (!assigned && s != "") || (!hasEntra && (e != "" || sync)) || (!hasOkta && nad > 0) {
													continue // no join produces these
												}
												f := Facts{Guest: guest, HasEntra: hasEntra, HasOkta: hasOkta, Assigned: assigned,
													Federated: federated, Sync: sync, Conflict: conflict, E: e, S: s, X: x, NAD: nad}
												n++
												if !anyRuleMatches(&f) {
													t.Fatalf("no rule matches %+v", f)
												}
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("enumerated only %d fact sets", n)
	}
}

func anyRuleMatches(f *Facts) bool {
	for _, r := range rules {
		if r.Match(f) {
			return true
		}
	}
	return false
}

var placeholder = regexp.MustCompile(`\{[A-Za-z]+\}`)

// TestTemplatesExpand renders every rule's template with its examples and
// checks that no placeholder is left, i.e. every name is one expandIdentity
// knows.
func TestTemplatesExpand(t *testing.T) {
	for _, r := range rules {
		for i, f := range append(append([]Facts(nil), r.Matching...), r.NonMatching...) {
			got := expandIdentity(r.Explanation, &f)
			if left := placeholder.FindString(got); left != "" {
				t.Errorf("%s example %d: placeholder %s left in %q", r.Scenario, i, left, got)
			}
		}
		if r.Fix == "" || r.When == "" || r.Explanation == "" {
			t.Errorf("%s: empty When, Explanation or Fix", r.Scenario)
		}
	}
	for _, r := range orgRules {
		for i, o := range r.Matching {
			fs := classifyOrg(&o)
			var text string
			for _, f := range fs {
				if f.Code == r.Code {
					text = f.Explanation
				}
			}
			if left := placeholder.FindString(text); left != "" {
				t.Errorf("%s example %d: placeholder %s left in %q", r.Code, i, left, text)
			}
		}
	}
}

func TestExpand(t *testing.T) {
	lookup := func(b *bytes.Buffer, name string) bool {
		switch name {
		case "a":
			b.WriteString("{b}") // values are not expanded again
		case "b":
			b.WriteString("B")
		default:
			return false
		}
		return true
	}
	tests := []struct {
		name, tmpl, want string
	}{
		{name: "no placeholders", tmpl: "plain text", want: "plain text"},
		{name: "one", tmpl: "x {b} y", want: "x B y"},
		{name: "value with braces kept", tmpl: "{a}{b}", want: "{b}B"},
		{name: "unknown left as is", tmpl: "{zz} {b}", want: "{zz} B"},
		{name: "unclosed", tmpl: "{b} {oops", want: "B {oops"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := expand(tc.tmpl, lookup); got != tc.want {
				t.Errorf("expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
			}
		})
	}
}

// TestOrgRuleExamples runs each org rule's examples: org rules are
// independent checks, so a matching example must fire the rule and a
// non-matching one must not.
func TestOrgRuleExamples(t *testing.T) {
	if len(orgRules) != 6 {
		t.Errorf("%d org rules, want the 6 of DESIGN §5", len(orgRules))
	}
	fired := func(o OrgFacts, code OrgCode) bool {
		for _, f := range classifyOrg(&o) {
			if f.Code == code {
				return true
			}
		}
		return false
	}
	for _, r := range orgRules {
		if len(r.Matching) == 0 || len(r.NonMatching) == 0 {
			t.Errorf("%s: needs matching and non-matching examples", r.Code)
		}
		for i, o := range r.Matching {
			t.Run(fmt.Sprintf("%s/matching-%d", r.Code, i), func(t *testing.T) {
				if !fired(o, r.Code) {
					t.Errorf("did not fire on %+v", o)
				}
			})
		}
		for i, o := range r.NonMatching {
			t.Run(fmt.Sprintf("%s/non-matching-%d", r.Code, i), func(t *testing.T) {
				if fired(o, r.Code) {
					t.Errorf("fired on %+v", o)
				}
			})
		}
	}
	if got := classifyOrg(ptr(exampleOrg(nil))); len(got) != 0 {
		t.Errorf("healthy example tenant has org findings %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestExpressionYieldsNull(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want bool
	}{
		{name: "default", expr: ExpressionDefault, want: true},
		{name: "default with spaces", expr: "hasDirectoryUser() ? findDirectoryUser().externalId : null", want: true},
		{name: "recommended", expr: ExpressionRecommended, want: false},
		{name: "per-instance reference", expr: "active_directory.externalId", want: true},
		{name: "okta id only", expr: `user.getInternalProperty("id")`, want: false},
		{name: "bare null", expr: "null", want: true},
		{name: "not read", expr: "", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := expressionYieldsNull(tc.expr); got != tc.want {
				t.Errorf("expressionYieldsNull(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestFederatedDomain(t *testing.T) {
	idx := newDomainIndex([]record.EntraDomain{
		{ID: "Contoso.Example", AuthenticationType: "Federated"},
		{ID: "cloud.contoso.example", AuthenticationType: "Managed"},
		{ID: "contoso.onmicrosoft.com", AuthenticationType: "Managed"},
	})
	tests := []struct {
		name   string
		domain string
		want   bool
	}{
		{name: "listed federated, other case", domain: "CONTOSO.example", want: true},
		{name: "unlisted subdomain inherits its parent", domain: "eu.contoso.example", want: true},
		{name: "listed managed subdomain overrides its parent", domain: "cloud.contoso.example", want: false},
		{name: "below a managed subdomain", domain: "x.cloud.contoso.example", want: false},
		{name: "initial domain", domain: "contoso.onmicrosoft.com", want: false},
		{name: "unknown", domain: "fabrikam.example", want: false},
		{name: "empty", domain: "", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := idx.federated(tc.domain); got != tc.want {
				t.Errorf("federated(%q) = %v, want %v", tc.domain, got, tc.want)
			}
		})
	}
}
