// The drift tests live in package report_test because the end-to-end test
// scans through scan/demo, which imports report.
package report_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// driftRow is the part of a DriftEntry the table tests compare.
type driftRow struct {
	Kind    report.DriftKind
	Key     string
	Before  classify.Scenario
	After   classify.Scenario
	Changes []string
}

func rowsOf(entries []report.DriftEntry) []driftRow {
	out := make([]driftRow, len(entries))
	for i, e := range entries {
		out[i] = driftRow{Kind: e.Kind, Key: e.Key, Changes: e.Changes}
		if e.Before != nil {
			out[i].Before = e.Before.Scenario
		}
		if e.After != nil {
			out[i].After = e.After.Scenario
		}
	}
	return out
}

// stale is an AD-sourced identity whose Entra anchor is stale.
func stale() classify.Finding {
	return classify.Finding{Scenario: classify.EntraAnchorStale, Severity: classify.High, UPN: "ann@example.com",
		EntraUserID: "e1", OktaUserID: "00u1", ADObjectGUID: "3AB39606-C642-489B-84B6-58C038D3EF39",
		EntraAnchor: "old==", OktaAnchor: "BpazOkLGm0iEtljAONPvOQ==", ExpectedAnchor: []string{"BpazOkLGm0iEtljAONPvOQ=="},
		ADSources: 1, Federated: true, Assigned: true}
}

func fixed() classify.Finding {
	f := stale()
	f.Scenario, f.Severity, f.EntraAnchor = classify.OK, classify.Info, f.OktaAnchor
	return f
}

func with(f classify.Finding, edit func(f *classify.Finding)) classify.Finding {
	edit(&f)
	return f
}

func TestDrift(t *testing.T) {
	tests := []struct {
		name          string
		before, after []classify.Finding
		want          []driftRow
	}{
		{
			name: "unchanged", before: []classify.Finding{stale()}, after: []classify.Finding{stale()},
			want: []driftRow{{Kind: report.DriftUnchanged, Key: "entra:e1", Before: classify.EntraAnchorStale, After: classify.EntraAnchorStale}},
		},
		{
			name:   "explanation, display name and DN are not compared",
			before: []classify.Finding{stale()},
			after: []classify.Finding{with(stale(), func(f *classify.Finding) {
				f.Explanation, f.DisplayName, f.ADDN = "reworded", "Ann B.", "CN=Ann,OU=Moved"
			})},
			want: []driftRow{{Kind: report.DriftUnchanged, Key: "entra:e1", Before: classify.EntraAnchorStale, After: classify.EntraAnchorStale}},
		},
		{
			name: "resolved", before: []classify.Finding{stale()}, after: []classify.Finding{fixed()},
			want: []driftRow{{Kind: report.DriftResolved, Key: "entra:e1", Before: classify.EntraAnchorStale, After: classify.OK,
				Changes: []string{"scenario ENTRA_ANCHOR_STALE → OK", "entraImmutableId old== → BpazOkLGm0iEtljAONPvOQ=="}}},
		},
		{
			name: "regression is a change", before: []classify.Finding{fixed()}, after: []classify.Finding{stale()},
			want: []driftRow{{Kind: report.DriftChanged, Key: "entra:e1", Before: classify.OK, After: classify.EntraAnchorStale,
				Changes: []string{"scenario OK → ENTRA_ANCHOR_STALE", "entraImmutableId BpazOkLGm0iEtljAONPvOQ== → old=="}}},
		},
		{
			name:   "problem to out of scope is a change, not a resolution",
			before: []classify.Finding{stale()},
			after: []classify.Finding{with(stale(), func(f *classify.Finding) {
				f.Scenario, f.Assigned = classify.OutOfScope, false
			})},
			want: []driftRow{{Kind: report.DriftChanged, Key: "entra:e1", Before: classify.EntraAnchorStale, After: classify.OutOfScope,
				Changes: []string{"scenario ENTRA_ANCHOR_STALE → OUT_OF_SCOPE", "assigned true → false"}}},
		},
		{
			name:   "out of scope to OK is a change",
			before: []classify.Finding{with(fixed(), func(f *classify.Finding) { f.Scenario, f.Assigned = classify.OutOfScope, false })},
			after:  []classify.Finding{fixed()},
			want: []driftRow{{Kind: report.DriftChanged, Key: "entra:e1", Before: classify.OutOfScope, After: classify.OK,
				Changes: []string{"scenario OUT_OF_SCOPE → OK", "assigned false → true"}}},
		},
		{
			name:   "same scenario, other values",
			before: []classify.Finding{stale()},
			after:  []classify.Finding{with(stale(), func(f *classify.Finding) { f.EntraAnchor = ""; f.SyncEnabled = true })},
			want: []driftRow{{Kind: report.DriftChanged, Key: "entra:e1", Before: classify.EntraAnchorStale, After: classify.EntraAnchorStale,
				Changes: []string{"entraImmutableId old== → (empty)", "syncEnabled false → true"}}},
		},
		{
			name:   "new and removed",
			before: []classify.Finding{stale()},
			after:  []classify.Finding{{Scenario: classify.OK, UPN: "bob@example.com", EntraUserID: "e2"}},
			want: []driftRow{
				{Kind: report.DriftNew, Key: "entra:e2", After: classify.OK},
				{Kind: report.DriftRemoved, Key: "entra:e1", Before: classify.EntraAnchorStale, Changes: []string{"scenario ENTRA_ANCHOR_STALE → (gone)"}},
			},
		},
		{
			name:   "an Okta user newly linked to its Entra user matches by Okta id",
			before: []classify.Finding{{Scenario: classify.NotInEntra, UPN: "cat@example.com", OktaUserID: "00u3", Assigned: true}},
			after: []classify.Finding{{Scenario: classify.OK, UPN: "cat@example.com", OktaUserID: "00u3", EntraUserID: "e3",
				EntraAnchor: "00u3", OktaAnchor: "00u3", Assigned: true, Federated: true}},
			want: []driftRow{{Kind: report.DriftResolved, Key: "entra:e3", Before: classify.NotInEntra, After: classify.OK,
				Changes: []string{"scenario NOT_IN_ENTRA → OK", "entraUserId (empty) → e3", "entraImmutableId (empty) → 00u3",
					"oktaImmutableId (empty) → 00u3", "federated false → true"}}},
		},
		{
			name:   "AD GUIDs match whatever their case",
			before: []classify.Finding{{Scenario: classify.OutOfScope, UPN: "dan@corp", ADObjectGUID: "8C4AC332-975F-4717-AD7B-BA4A4E968FFF"}},
			after:  []classify.Finding{{Scenario: classify.OutOfScope, UPN: "dan@corp", ADObjectGUID: "8c4ac332-975f-4717-ad7b-ba4a4e968fff"}},
			want:   []driftRow{{Kind: report.DriftUnchanged, Key: "ad:8c4ac332-975f-4717-ad7b-ba4a4e968fff", Before: classify.OutOfScope, After: classify.OutOfScope}},
		},
		{
			name: "two identities merged: the Entra one matches, the other is removed with a note",
			before: []classify.Finding{
				{Scenario: classify.NotInEntra, UPN: "eve@example.com", OktaUserID: "00u5", Assigned: true},
				{Scenario: classify.OrphanEntra, UPN: "eve@example.com", EntraUserID: "e5", Federated: true},
			},
			after: []classify.Finding{{Scenario: classify.MissingAnchorCloud, UPN: "eve@example.com", OktaUserID: "00u5", EntraUserID: "e5", Federated: true, Assigned: true}},
			want: []driftRow{
				{Kind: report.DriftChanged, Key: "entra:e5", Before: classify.OrphanEntra, After: classify.MissingAnchorCloud,
					Changes: []string{"scenario ORPHAN_ENTRA → MISSING_ANCHOR_CLOUD", "oktaUserId (empty) → 00u5", "assigned false → true"}},
				{Kind: report.DriftRemoved, Key: "okta:00u5", Before: classify.NotInEntra,
					Changes: []string{"scenario NOT_IN_ENTRA → (gone)", "its okta record 00u5 is now part of entra:e5"}},
			},
		},
		{
			name:   "an identity split: the new part says where it was",
			before: []classify.Finding{{Scenario: classify.OK, UPN: "fay@example.com", OktaUserID: "00u6", EntraUserID: "e6"}},
			after: []classify.Finding{
				{Scenario: classify.NotInEntra, UPN: "fay@example.com", OktaUserID: "00u6"},
				{Scenario: classify.OrphanEntra, UPN: "fay@example.com", EntraUserID: "e6"},
			},
			want: []driftRow{
				{Kind: report.DriftNew, Key: "okta:00u6", After: classify.NotInEntra, Changes: []string{"its okta record 00u6 was part of entra:e6"}},
				{Kind: report.DriftChanged, Key: "entra:e6", Before: classify.OK, After: classify.OrphanEntra,
					Changes: []string{"scenario OK → ORPHAN_ENTRA", "oktaUserId 00u6 → (empty)"}},
			},
		},
		{
			name: "both empty", before: nil, after: nil, want: []driftRow{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := report.Drift(classify.Result{Identities: tc.before}, classify.Result{Identities: tc.after})
			if diff := cmp.Diff(tc.want, rowsOf(got)); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}
		})
	}
}

// The order depends on the identities, not on the order the snapshots list
// them in.
func TestDriftOrderIsDeterministic(t *testing.T) {
	var before, after []classify.Finding
	for i := range 40 {
		f := classify.Finding{Scenario: classify.OK, UPN: fmt.Sprintf("u%02d@example.com", i%13), EntraUserID: fmt.Sprintf("e%02d", i)}
		if i%3 != 0 {
			before = append(before, f)
		}
		if i%5 == 0 {
			f.Scenario = classify.UnknownMismatch
		}
		if i%7 != 0 {
			after = append(after, f)
		}
	}
	want := rowsOf(report.Drift(classify.Result{Identities: before}, classify.Result{Identities: after}))
	// Before and After point into the inputs: reorder copies.
	before, after = slices.Clone(before), slices.Clone(after)
	slices.Reverse(before)
	slices.SortFunc(after, func(a, b classify.Finding) int { return strings.Compare(a.UPN+b.EntraUserID, b.UPN+a.EntraUserID) })
	got := report.Drift(classify.Result{Identities: before}, classify.Result{Identities: after})
	if diff := cmp.Diff(want, rowsOf(got)); diff != "" {
		t.Errorf("drift depends on input order (-first +second):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if slices.Index(report.DriftKinds(), a.Kind) > slices.Index(report.DriftKinds(), b.Kind) {
			t.Fatalf("entry %d (%s) after entry %d (%s): not ordered by kind", i, b.Kind, i-1, a.Kind)
		}
	}
}

func TestDriftSummary(t *testing.T) {
	before := []classify.Finding{stale(), {Scenario: classify.OK, UPN: "b", EntraUserID: "e2"}, {Scenario: classify.OK, UPN: "c", EntraUserID: "e3"}}
	after := []classify.Finding{fixed(), {Scenario: classify.OK, UPN: "b", EntraUserID: "e2"}, {Scenario: classify.OK, UPN: "d", EntraUserID: "e4"}}
	got := report.DriftSummary(report.Drift(classify.Result{Identities: before}, classify.Result{Identities: after}))
	want := map[report.DriftKind]int{report.DriftNew: 1, report.DriftResolved: 1, report.DriftChanged: 0, report.DriftRemoved: 1, report.DriftUnchanged: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// Two real scans of the simulator through the official SDK collectors: fixing
// some ENTRA_ANCHOR_STALE identities in the tenant between them (E := S, as
// the plan's graph.set_anchor would) must show exactly those as resolved and
// everything else as unchanged. The scans use the wiring demo.Run uses
// (sim.Start, demo.SimSources, scan.Run); demo.Run itself closes its servers
// when it returns, and this test must change the tenant between scans.
func TestDriftBetweenTwoScans(t *testing.T) {
	ctx := context.Background()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 1000, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { servers.Close() })
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "anchorscan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	scanOnce := func() store.SnapshotID {
		t.Helper()
		sources, err := demo.SimSources(servers)
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Run(ctx, db, sources, scan.Options{ToolVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Complete() {
			t.Fatalf("scan incomplete: %+v", res.Sources)
		}
		return res.Snapshot
	}

	first := scanOnce()
	before, err := db.Findings(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	var stale []*classify.Finding
	for i := range before.Identities {
		if f := &before.Identities[i]; f.Scenario == classify.EntraAnchorStale {
			stale = append(stale, f)
		}
	}
	if len(stale) < 4 {
		t.Fatalf("the generated tenant has %d ENTRA_ANCHOR_STALE identities, want at least 4", len(stale))
	}
	// Fix every other one, so some stay stale.
	fixedKeys := map[string]bool{}
	err = servers.State.Update(func(tn *sim.Tenant) error {
		for i := 0; i < len(stale); i += 2 {
			f := stale[i]
			u := slices.IndexFunc(tn.Entra.Users, func(u sim.EntraUser) bool { return u.ID == f.EntraUserID })
			if u < 0 {
				return fmt.Errorf("entra user %s of %s is not in the tenant", f.EntraUserID, f.UPN)
			}
			anchor := f.OktaAnchor
			tn.Entra.Users[u].OnPremisesImmutableID = &anchor
			fixedKeys[report.FindingKey(f)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	second := scanOnce()
	after, err := db.Findings(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	drift := report.Drift(before, after)
	resolved := map[string]bool{}
	for _, e := range drift {
		switch e.Kind {
		case report.DriftResolved:
			resolved[e.Key] = true
			if e.Before.Scenario != classify.EntraAnchorStale || e.After.Scenario != classify.OK {
				t.Errorf("%s resolved from %s to %s", e.Key, e.Before.Scenario, e.After.Scenario)
			}
		case report.DriftUnchanged:
		default:
			t.Errorf("%s %s: %v (nothing but the fixed identities changed)", e.Kind, e.Key, e.Changes)
		}
	}
	if diff := cmp.Diff(fixedKeys, resolved); diff != "" {
		t.Errorf("resolved identities (-fixed +resolved):\n%s", diff)
	}
	summary := report.DriftSummary(drift)
	if summary[report.DriftUnchanged] != len(before.Identities)-len(fixedKeys) {
		t.Errorf("summary %v: want %d unchanged", summary, len(before.Identities)-len(fixedKeys))
	}
	t.Logf("%d identities, %d ENTRA_ANCHOR_STALE, %d fixed and resolved", len(before.Identities), len(stale), len(fixedKeys))
}
