package scan_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/classify"
)

// A scan that stores its findings only holds none in its result, counts
// them, and leaves the store with the same findings as a scan that returns
// them.
func TestStoreFindingsOnly(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, 2_000)
	db := openDB(t)
	opts := scan.Options{ToolVersion: "test", OktaOrg: s.OktaURL}
	kept, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), opts)
	if err != nil || !kept.Complete() {
		t.Fatalf("scan: %v %+v", err, kept.Sources)
	}
	opts.StoreFindingsOnly = true
	stored, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), opts)
	if err != nil || !stored.Complete() {
		t.Fatalf("scan storing findings only: %v %+v", err, stored.Sources)
	}
	if len(stored.Findings.Identities) != 0 {
		t.Errorf("result holds %d findings, want none", len(stored.Findings.Identities))
	}
	counts := map[classify.Scenario]int{}
	for _, f := range kept.Findings.Identities {
		counts[f.Scenario]++
	}
	if stored.Identities != len(kept.Findings.Identities) || kept.Identities != stored.Identities {
		t.Errorf("identities counted %d and %d, want %d", stored.Identities, kept.Identities, len(kept.Findings.Identities))
	}
	if diff := cmp.Diff(counts, stored.Scenarios); diff != "" {
		t.Errorf("scenario counts (-findings +counted):\n%s", diff)
	}
	if diff := cmp.Diff(kept.Findings.Org, stored.Findings.Org); diff != "" {
		t.Errorf("org findings differ (-kept +stored only):\n%s", diff)
	}
	fromStore, err := db.Findings(ctx, stored.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kept.Findings, fromStore); diff != "" {
		t.Errorf("stored findings differ from the returned ones (-returned +stored):\n%s", diff)
	}
}
