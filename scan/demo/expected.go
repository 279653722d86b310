package demo

import (
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// CompareExpected counts how many labelled identities were classified as
// labelled. An identity is matched by the ids of its records (the plan's
// identity key), not by its position.
func CompareExpected(found []classify.Finding, exp *sim.Expected) (matched, total int) {
	got := make(map[string]classify.Scenario, len(found))
	for _, f := range found {
		got[plan.IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)] = f.Scenario
	}
	for _, l := range exp.Identities {
		total++
		if got[plan.IdentityKey(l.EntraUserID, l.OktaUserID, l.ADObjectGUID)] == classify.Scenario(l.Scenario) {
			matched++
		}
	}
	return matched, total
}
