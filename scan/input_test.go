package scan_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// A fresh scan classifies the records it kept while storing them; they must
// be exactly what the snapshot holds, or the findings saved with a snapshot
// would not be the findings of its records. Both tenants are checked: a
// generated one with every scenario, and the example fixture with its
// hostile names, empty values and absent attributes.
func TestKeptRecordsClassifyAsStored(t *testing.T) {
	example, err := sim.LoadFixtureFile(filepath.Join("testdata", "example-tenant.json"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := sim.Generate(sim.GenerateOptions{Users: 2_000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tenant *sim.Tenant
	}{
		{"example fixture", example},
		{"generated 2000", generated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := sim.Start(ctx, sim.NewState(tc.tenant), sim.ServeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			db := openDB(t)
			res, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), scan.Options{ToolVersion: "test", OktaOrg: s.OktaURL})
			if err != nil || !res.Complete() {
				t.Fatalf("scan: %v %+v", err, res.Sources)
			}
			in, err := db.LoadInput(ctx, res.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			fromStore := classify.Classify(in, classify.Options{})
			if diff := cmp.Diff(fromStore, res.Findings); diff != "" {
				t.Errorf("findings of the kept records differ from the stored records' (-stored +kept):\n%s", diff)
			}
			saved, err := db.Findings(ctx, res.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fromStore.Identities, saved.Identities); diff != "" {
				t.Errorf("saved findings differ (-stored +saved):\n%s", diff)
			}
			snap, err := db.Snapshot(ctx, res.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			_, hash := contentOf(t, db, res.Snapshot)
			if snap.Status != "complete" || snap.ContentHash != hash {
				t.Errorf("snapshot status %q hash %q, want complete with the content hash %q", snap.Status, snap.ContentHash, hash)
			}
		})
	}
}
