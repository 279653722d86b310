package demo

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
)

// The before/after proof: the drift between the first scan and the rescan
// after demo --apply lists as resolved exactly the identities the apply
// completed, plus those whose remaining step was the console import that the
// rehearsal performed — and nothing else.
func TestDriftAfterApplyListsExactlyTheFixedIdentities(t *testing.T) {
	res, err := RunApply(context.Background(), Options{Users: 2000, Seed: 5, OutDir: t.TempDir(), ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, u := range res.Import.Imported {
		imported[u.OktaUserID] = true
	}
	byKey := map[string]plan.Identity{}
	for _, id := range res.Plan.Identities {
		byKey[id.Key] = id
	}
	var fixed []string
	for _, o := range res.Second.Identities {
		if o.Scenario == "org" {
			continue
		}
		done := o.Result == plan.ResultApplied || o.Result == plan.ResultAlreadyDone
		byConsole := o.Result == plan.ResultWaiting && imported[byKey[o.Key].OktaUserID]
		if done || byConsole {
			fixed = append(fixed, o.Key)
		}
	}
	var resolved []string
	for _, d := range report.Drift(res.Before, res.After) {
		if d.Kind == report.DriftResolved {
			resolved = append(resolved, plan.IdentityKey(d.Before.EntraUserID, d.Before.OktaUserID, d.Before.ADObjectGUID))
		}
	}
	sort.Strings(fixed)
	sort.Strings(resolved)
	if len(fixed) == 0 {
		t.Fatal("the apply fixed nobody")
	}
	if diff := cmp.Diff(fixed, resolved); diff != "" {
		t.Errorf("resolved identities differ from the fixed ones (-fixed +resolved):\n%s", diff)
	}
	if res.AfterHTMLPath == "" || filepath.Base(res.AfterXLSXPath) != "report.xlsx" {
		t.Errorf("no before/after report: %q %q", res.AfterHTMLPath, res.AfterXLSXPath)
	}
}
