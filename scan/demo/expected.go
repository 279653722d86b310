package demo

import (
	"strings"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// LabelKey is how an expected label and a finding are matched: by the ids of
// the records the identity holds.
func LabelKey(entraID, oktaID, adGUID string) string {
	return strings.ToLower(entraID) + "|" + oktaID + "|" + strings.ToLower(adGUID)
}

// CompareExpected counts how many labelled identities were classified as
// labelled. An identity is matched by its record ids, not by its position.
func CompareExpected(found []classify.Finding, exp *sim.Expected) (matched, total int) {
	got := make(map[string]classify.Scenario, len(found))
	for _, f := range found {
		got[LabelKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)] = f.Scenario
	}
	for _, l := range exp.Identities {
		total++
		if got[LabelKey(l.EntraUserID, l.OktaUserID, l.ADObjectGUID)] == classify.Scenario(l.Scenario) {
			matched++
		}
	}
	return matched, total
}
