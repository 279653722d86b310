package demo

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// fixable are the scenarios a plan fixes without a person's judgement.
var fixable = map[classify.Scenario]bool{
	classify.MissingAnchorAD: true, classify.MissingAnchorCloud: true, classify.EntraAnchorStale: true,
	classify.OktaAssignmentStale: true, classify.EncodingMismatch: true, classify.OktaAnchorEmpty: true,
	classify.SyncManagedMismatch: true, classify.UnfederatedUPN: true,
}

func TestRunApply(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"example fixture", Options{TenantFile: filepath.Join("..", "..", "testdata", "example-tenant.json")}},
		{"generated 5000 identities", Options{Users: 5000, Seed: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.OutDir = t.TempDir()
			tc.opts.ToolVersion = "test"
			res, err := RunApply(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{res.PlanPath, res.FindingsAfterPath, res.JournalPath, res.FindingsPath, res.AfterHTMLPath} {
				if st, err := os.Stat(p); err != nil || st.Size() == 0 {
					t.Errorf("artifact %s: %v", p, err)
				}
			}
			if _, err := plan.ReadFile(res.PlanPath); err != nil {
				t.Errorf("plan.json does not read back: %v", err)
			}
			if res.Second.Failed != 0 || res.Second.Stale != 0 || res.First.Failed != 0 {
				t.Errorf("apply runs: first %s; second %s", res.First.Summary(), res.Second.Summary())
			}
			checkAfterApply(t, res)
		})
	}
}

func checkAfterApply(t *testing.T, res *ApplyResult) {
	t.Helper()
	after := map[string]classify.Finding{}
	for _, f := range res.After.Identities {
		after[plan.IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)] = f
	}
	initialEntra := map[string]sim.EntraUser{}
	for _, u := range res.InitialTenant.Entra.Users {
		initialEntra[u.ID] = u
	}
	finalEntra := map[string]sim.EntraUser{}
	for _, u := range res.FinalTenant.Entra.Users {
		finalEntra[u.ID] = u
	}
	anchors := func(tn *sim.Tenant, oktaID string) []string {
		var out []string
		for _, au := range tn.Okta.AppUsers {
			if au.UserID == oktaID && au.Profile.ImmutableID != nil {
				out = append(out, au.AppID+"="+*au.Profile.ImmutableID)
			}
		}
		slices.Sort(out)
		return out
	}
	fixed, ok := 0, 0
	for _, f := range res.Before.Identities {
		key := plan.IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)
		a, found := after[key]
		switch {
		case fixable[f.Scenario]:
			fixed++
			if !found || a.Scenario != classify.OK {
				t.Errorf("%s (%s) classifies %s after apply: %s", f.UPN, f.Scenario, a.Scenario, a.Explanation)
			}
		case f.Scenario == classify.OK:
			ok++
			if !found || a.Scenario != classify.OK {
				t.Errorf("%s was OK and is %s after apply", f.UPN, a.Scenario)
			}
			was, now := initialEntra[f.EntraUserID], finalEntra[f.EntraUserID]
			if was.UserPrincipalName != now.UserPrincipalName || !slices.Equal(anchors(res.InitialTenant, f.OktaUserID), anchors(res.FinalTenant, f.OktaUserID)) ||
				(was.OnPremisesImmutableID == nil) != (now.OnPremisesImmutableID == nil) ||
				(was.OnPremisesImmutableID != nil && *was.OnPremisesImmutableID != *now.OnPremisesImmutableID) {
				t.Errorf("OK identity %s changed", f.UPN)
			}
		}
	}
	if fixed == 0 || ok == 0 {
		t.Fatalf("the tenant has %d fixable and %d OK identities; the test needs both", fixed, ok)
	}
	parking := "@" + strings.ToLower(res.Plan.Settings.ParkingDomain)
	for id, now := range finalEntra {
		was := initialEntra[id]
		if was.AccountEnabled && !now.AccountEnabled {
			t.Errorf("%s was disabled", now.UserPrincipalName)
		}
		if len(now.AssignedLicenses) < len(was.AssignedLicenses) {
			t.Errorf("%s lost licences", now.UserPrincipalName)
		}
		if strings.HasSuffix(strings.ToLower(now.UserPrincipalName), parking) && !strings.HasSuffix(strings.ToLower(was.UserPrincipalName), parking) {
			t.Errorf("%s is left on the parking domain", now.UserPrincipalName)
		}
	}
	t.Logf("%d fixable identities fixed, %d OK untouched; first run: %s; second run: %s", fixed, ok, res.First.Summary(), res.Second.Summary())
}
