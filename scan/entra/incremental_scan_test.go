package entra_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// deltaPageSize is the users delta page the simulator serves, Graph's cap.
const deltaPageSize = 200

// entraScan scans the Entra source only, against the simulator, into
// SQLite stores.
type entraScan struct {
	t   *testing.T
	sim *sim.Servers
	src scan.Source
}

func newEntraScan(t *testing.T, identities int) *entraScan {
	t.Helper()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: identities, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := entra.New(entra.Config{TenantID: tenant.Entra.TenantID, BaseURL: s.GraphURL,
		Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	return &entraScan{t: t, sim: s, src: c}
}

func (e *entraScan) openDB() *store.DB {
	e.t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(e.t.TempDir(), "anchorscan.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// run scans into db and returns the result and the Entra source's run.
func (e *entraScan) run(db *store.DB, incremental bool) (*scan.Result, record.SourceRun) {
	e.t.Helper()
	res, err := scan.Run(context.Background(), db, []scan.Source{e.src}, scan.Options{ToolVersion: "test", Incremental: incremental})
	if err != nil {
		e.t.Fatalf("scan (incremental %v): %v", incremental, err)
	}
	if !res.Complete() || len(res.Sources) != 1 {
		e.t.Fatalf("scan (incremental %v) did not complete: %+v", incremental, res.Sources)
	}
	return res, res.Sources[0]
}

func (e *entraScan) tables(db *store.DB, id store.SnapshotID) map[string]string {
	e.t.Helper()
	h, err := db.TableHashes(context.Background(), id)
	if err != nil {
		e.t.Fatalf("table hashes of snapshot %d: %v", id, err)
	}
	return h
}

func (e *entraScan) userIDs(db *store.DB, id store.SnapshotID) map[string]bool {
	e.t.Helper()
	in, err := db.LoadInput(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make(map[string]bool, len(in.EntraUsers))
	for _, u := range in.EntraUsers {
		ids[u.ID] = true
	}
	return ids
}

func scenarioCounts(r classify.Result) map[string]int {
	m := map[string]int{}
	for _, id := range r.Identities {
		m[string(id.Scenario)]++
	}
	return m
}

var entraTables = []string{"entra_orgs", "entra_domains", "entra_users"}

// After 1% of a 3,000-identity tenant changes, an incremental scan built on
// the last scan holds exactly what a full scan holds, table by table, for
// two rounds in a row (the second building on the first's incremental
// snapshot and delta link), and reads the changes in a handful of
// requests: organization, domains, one federation configuration, and
// ceil(changes/200) delta pages (at least one).
func TestIncrementalScanEqualsFullScan(t *testing.T) {
	e := newEntraScan(t, 3_000)
	incDB, fullDB := e.openDB(), e.openDB()
	base, baseRun := e.run(incDB, false)
	if baseRun.Sync[entra.SyncDeltaLink] == "" {
		t.Fatalf("the full scan recorded no delta link: %+v", baseRun.Sync)
	}
	prev := base.Snapshot
	for round, seed := range []uint64{3, 4} {
		sum, err := e.sim.State.Mutate(seed, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		changed, removed := sum.Changes.EntraUsers, sum.Changes.EntraUsersRemoved
		if len(changed) == 0 || len(removed) == 0 {
			t.Fatalf("round %d: the mutation changed %d and removed %d Entra users; the test needs both", round, len(changed), len(removed))
		}

		inc, incRun := e.run(incDB, true)
		full, fullRun := e.run(fullDB, false)
		if !incRun.Incremental {
			t.Errorf("round %d: the Entra source was read whole, not incrementally", round)
		}
		got, want := e.tables(incDB, inc.Snapshot), e.tables(fullDB, full.Snapshot)
		for _, table := range entraTables {
			if got[table] != want[table] {
				t.Errorf("round %d: %s of the incremental snapshot differs from a full scan's", round, table)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round %d: table hashes (-full +incremental):\n%s", round, diff)
		}
		if e.tables(incDB, prev)["entra_users"] == got["entra_users"] {
			t.Errorf("round %d: entra_users equals the snapshot before the changes: nothing was applied", round)
		}
		if diff := cmp.Diff(scenarioCounts(full.Findings), scenarioCounts(inc.Findings)); diff != "" {
			t.Errorf("round %d: findings by scenario (-full +incremental):\n%s", round, diff)
		}

		before, after := e.userIDs(incDB, prev), e.userIDs(incDB, inc.Snapshot)
		for _, id := range removed {
			if !before[id] || after[id] {
				t.Errorf("round %d: removed user %s: in the snapshot before %v, after %v", round, id, before[id], after[id])
			}
		}

		changes := len(changed) + len(removed)
		bound := 3 + (changes+deltaPageSize-1)/deltaPageSize + 1
		if incRun.Requests > bound {
			t.Errorf("round %d: the incremental read sent %d requests for %d changes, want at most %d", round, incRun.Requests, changes, bound)
		}
		if incRun.Counts["users"] != len(changed) || incRun.Counts["removed"] != len(removed) {
			t.Errorf("round %d: counts %v, want %d users and %d removed", round, incRun.Counts, len(changed), len(removed))
		}
		t.Logf("round %d: %d Entra changes; incremental %d requests, full %d (%.1f%%)", round, changes,
			incRun.Requests, fullRun.Requests, 100*float64(incRun.Requests)/float64(fullRun.Requests))
		prev = inc.Snapshot
	}
}

// An expired delta link makes the runner read Entra whole, to the same
// content as a full scan, and leaves a fresh link the next incremental
// scan continues from.
func TestIncrementalScanResyncsExpiredToken(t *testing.T) {
	e := newEntraScan(t, 3_000)
	db, fullDB := e.openDB(), e.openDB()
	_, baseRun := e.run(db, false)
	if _, err := e.sim.State.Mutate(5, 0.01); err != nil {
		t.Fatal(err)
	}
	e.sim.State.ExpireDeltaTokens()

	inc, incRun := e.run(db, true)
	if incRun.Incremental {
		t.Error("the run with an expired delta link is marked incremental")
	}
	// The whole read, plus the one delta request Graph refused.
	if want := baseRun.Requests + 1; incRun.Requests != want {
		t.Errorf("%d requests, want %d (a full read and the refused delta request)", incRun.Requests, want)
	}
	if incRun.Sync[entra.SyncDeltaLink] == "" || incRun.Sync[entra.SyncDeltaLink] == baseRun.Sync[entra.SyncDeltaLink] {
		t.Errorf("Sync %v: want a fresh delta link", incRun.Sync)
	}
	full, _ := e.run(fullDB, false)
	if len(e.userIDs(fullDB, full.Snapshot)) == 0 {
		t.Fatal("the full scan holds no Entra users")
	}
	if diff := cmp.Diff(e.tables(fullDB, full.Snapshot), e.tables(db, inc.Snapshot)); diff != "" {
		t.Errorf("table hashes (-full +resynced):\n%s", diff)
	}

	// The fresh link works: nothing changed since, so only the short lists
	// and one empty delta page are read.
	next, nextRun := e.run(db, true)
	if !nextRun.Incremental || nextRun.Requests != 4 {
		t.Errorf("incremental scan after the resync: incremental %v, %d requests; want true, 4", nextRun.Incremental, nextRun.Requests)
	}
	if diff := cmp.Diff(e.tables(fullDB, full.Snapshot), e.tables(db, next.Snapshot)); diff != "" {
		t.Errorf("table hashes (-full +incremental):\n%s", diff)
	}
}
