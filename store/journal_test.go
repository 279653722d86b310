package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestJournalRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	run, err := db.BeginApplyRun(ctx, "seal1", "test", []byte(`{"seal":"seal1"}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	started := JournalEntry{RunID: run, PlanSeal: "seal1", IdentityKey: "e|o|a", StepIndex: 0, Kind: "graph.park_upn",
		Target: "graph:e", Before: `{"userPrincipalName":"a@x.example"}`, StartedAt: t0}
	id, err := db.JournalBegin(ctx, started)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.JournalEnd(ctx, id, JournalApplied, `{"userPrincipalName":"a@x.onmicrosoft.com"}`, "", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// A second end of the same entry is a bug in the caller: refused.
	if err := db.JournalEnd(ctx, id, JournalFailed, "", "x", t0); err == nil {
		t.Error("JournalEnd of an entry already ended succeeded")
	}
	if _, err := db.JournalRecord(ctx, JournalEntry{RunID: run, PlanSeal: "seal1", IdentityKey: "e|o|a", StepIndex: 1, Kind: "graph.set_anchor",
		Target: "graph:e", Result: JournalStale, Error: "expected X found Y", StartedAt: t0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.JournalRecord(ctx, JournalEntry{RunID: run, PlanSeal: "seal1", Result: JournalStarted}); err == nil {
		t.Error("JournalRecord accepted a started entry")
	}
	// An entry begun and never ended stays visible as started: a crash.
	if _, err := db.JournalBegin(ctx, JournalEntry{RunID: run, PlanSeal: "seal1", IdentityKey: "k2", StepIndex: 0, Kind: "okta.unassign",
		Target: "okta:00u@0oa", StartedAt: t0.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := db.EndApplyRun(ctx, run, "1 applied", t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}

	got, err := db.Journal(ctx, "seal1")
	if err != nil {
		t.Fatal(err)
	}
	want := []JournalEntry{
		{ID: 1, RunID: run, PlanSeal: "seal1", IdentityKey: "e|o|a", StepIndex: 0, Kind: "graph.park_upn", Target: "graph:e",
			Before: `{"userPrincipalName":"a@x.example"}`, After: `{"userPrincipalName":"a@x.onmicrosoft.com"}`, Result: JournalApplied,
			StartedAt: t0, EndedAt: t0.Add(time.Second)},
		{ID: 2, RunID: run, PlanSeal: "seal1", IdentityKey: "e|o|a", StepIndex: 1, Kind: "graph.set_anchor", Target: "graph:e",
			Before: "{}", After: "{}", Result: JournalStale, Error: "expected X found Y", StartedAt: t0.Add(2 * time.Second), EndedAt: t0.Add(2 * time.Second)},
		{ID: 3, RunID: run, PlanSeal: "seal1", IdentityKey: "k2", StepIndex: 0, Kind: "okta.unassign", Target: "okta:00u@0oa",
			Before: "{}", After: "{}", Result: JournalStarted, StartedAt: t0.Add(3 * time.Second)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	byRun, err := db.RunJournal(ctx, run)
	if err != nil || len(byRun) != 3 {
		t.Errorf("RunJournal: %d entries, %v; want 3", len(byRun), err)
	}
	info, err := db.ApplyRunInfo(ctx, run)
	if err != nil || info.Summary != "1 applied" || info.PlanSeal != "seal1" || !info.EndedAt.Equal(t0.Add(4*time.Second)) {
		t.Errorf("ApplyRunInfo = %+v, %v", info, err)
	}
	if _, err := db.ApplyRunInfo(ctx, run+1); !errors.Is(err, ErrNoRun) {
		t.Errorf("ApplyRunInfo of an unknown run: %v, want ErrNoRun", err)
	}
	planJSON, err := db.AppliedPlan(ctx, "seal1")
	if err != nil || string(planJSON) != `{"seal":"seal1"}` {
		t.Errorf("AppliedPlan = %q, %v", planJSON, err)
	}
	if _, err := db.AppliedPlan(ctx, "other"); err == nil {
		t.Error("AppliedPlan of an unknown seal succeeded")
	}
	other, err := db.Journal(ctx, "other")
	if err != nil || len(other) != 0 {
		t.Errorf("Journal of another plan: %d entries, %v", len(other), err)
	}
}

// A database made by the first schema version gains the journal when
// opened again: migrations are appended, never edited.
func TestJournalMigratesOldDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.ExecContext(ctx, migrations[0]+"; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.schemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
	}
	if _, err := db.BeginApplyRun(ctx, "s", "test", []byte("{}"), time.Now()); err != nil {
		t.Errorf("journal tables missing after migration: %v", err)
	}
}
