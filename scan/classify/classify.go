package classify

import (
	"runtime"
	"slices"
	"strings"

	"github.com/anchorscan/anchorscan/scan/record"
)

// Input is one snapshot's records, as the store holds them.
type Input struct {
	OktaOrgURL   string
	OktaUsers    []record.OktaUser
	OktaApps     []record.OktaApp
	OktaAppUsers []record.OktaAppUser
	EntraOrg     record.EntraOrg
	EntraDomains []record.EntraDomain
	EntraUsers   []record.EntraUser
	ADDomains    []record.ADDomain
	ADUsers      []record.ADUser
}

// collectAfterJoin is the number of identities from which Classify
// collects garbage once the join is done: below it the collection costs
// more than the memory it saves is worth.
const collectAfterJoin = 100_000

// Options tune classification.
type Options struct {
	// OktaIssuer is a federation issuer accepted as this Okta org's besides
	// http://www.okta.com/… (a custom issuer configured in Okta).
	OktaIssuer string
}

// Classify joins the records into identities and classifies each into
// exactly one scenario, and the tenant into its org findings. Every Entra,
// Okta and AD user of the input appears in exactly one identity. Findings
// are ordered by UPN (case-insensitive), then Entra, Okta and AD ids.
// It does not modify in.
func Classify(in Input, opts Options) Result {
	idents := join(in)
	if len(idents) >= collectAfterJoin {
		// The join's maps and its per-record list of identities are
		// garbage now, about a third of what was live. The collector's
		// next target, set while they were live, would let the heap grow
		// by half of them again while the facts and findings are made:
		// at 1,000,000 identities the scan's heap peaked at 2.67 GB that
		// way, where one collection here keeps it lower.
		runtime.GC()
	}
	domains := newDomainIndex(in.EntraDomains)
	facts := make([]Facts, len(idents))
	for i, id := range idents {
		facts[i] = factsOf(id, domains)
	}
	markConflicts(facts, idents)

	findings := make([]Finding, len(idents))
	for i, k := range sortedOrder(facts) {
		findings[i] = finding(idents[k], &facts[k])
	}

	org := orgFactsOf(in, opts)
	return Result{Identities: findings, Org: classifyOrg(&org)}
}

func finding(id *identity, f *Facts) Finding {
	r := decide(f)
	return Finding{
		Scenario:       r.Scenario,
		Severity:       r.Severity,
		UPN:            f.UPN,
		DisplayName:    f.DisplayName,
		EntraUserID:    f.EntraUserID,
		OktaUserID:     f.OktaUserID,
		ADObjectGUID:   f.ADObjectGUID,
		ADDN:           f.ADDN,
		EntraAnchor:    f.E,
		OktaAnchor:     f.S,
		ExpectedAnchor: f.X,
		ADSources:      f.NAD,
		Federated:      f.Federated,
		Assigned:       f.Assigned,
		SyncEnabled:    f.Sync,
		Explanation:    expandIdentity(r.Explanation, f),
		Evidence:       id.evidence,
	}
}

// sortedOrder returns the indexes of facts in the order findings are
// reported: by UPN ignoring case, then by the Entra, Okta and AD ids, which
// together are unique.
func sortedOrder(facts []Facts) []int {
	keys := make([]string, len(facts))
	order := make([]int, len(facts))
	for i := range facts {
		keys[i] = strings.ToLower(facts[i].UPN)
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := &facts[a], &facts[b]
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		if c := strings.Compare(x.EntraUserID, y.EntraUserID); c != 0 {
			return c
		}
		if c := strings.Compare(x.OktaUserID, y.OktaUserID); c != 0 {
			return c
		}
		if c := strings.Compare(x.ADObjectGUID, y.ADObjectGUID); c != 0 {
			return c
		}
		return strings.Compare(x.ADDN, y.ADDN)
	})
	return order
}
