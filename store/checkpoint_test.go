package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/record"
)

func TestCheckpointsCommitWithTheirPage(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.BeginSnapshot(ctx, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	okta, ad := db.SourceSink(id, record.SourceOkta), db.SourceSink(id, record.SourceAD)
	writes := []struct {
		sink record.Sink
		b    record.Batch
	}{
		{okta, record.Batch{OktaUsers: []record.OktaUser{{ID: "00u1"}}, Checkpoint: &record.Checkpoint{List: "users", Cursor: "00u1"}}},
		{okta, record.Batch{OktaUsers: []record.OktaUser{{ID: "00u2"}}, Checkpoint: &record.Checkpoint{List: "users", Cursor: ""}}},
		{okta, record.Batch{Checkpoint: &record.Checkpoint{List: "appUsers/0oa1", Cursor: "00u9"}}}, // an empty page still moves on
		{ad, record.Batch{ADDomains: []record.ADDomain{{Name: "corp.example", BaseDN: "DC=corp,DC=example"}},
			ADUsers: []record.ADUser{{DistinguishedName: "CN=a,DC=corp,DC=example"}}}},
	}
	for _, w := range writes {
		if err := w.sink.Write(ctx, w.b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Checkpoints(ctx, id, record.SourceOkta)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]record.Checkpoint{"users": {List: "users"}, "appUsers/0oa1": {List: "appUsers/0oa1", Cursor: "00u9"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("okta checkpoints (-want +got):\n%s", diff)
	}
	if !got["users"].Done() || got["appUsers/0oa1"].Done() {
		t.Errorf("Done: users %v appUsers %v, want true and false", got["users"].Done(), got["appUsers/0oa1"].Done())
	}

	// A failed transaction stores neither the records nor the checkpoint.
	bad := record.Batch{OktaUsers: []record.OktaUser{{ID: "00u3"}}, Checkpoint: &record.Checkpoint{Cursor: "x"}}
	if err := okta.Write(ctx, bad); err == nil {
		t.Fatal("a checkpoint without a list name was stored")
	}
	in, err := db.LoadInput(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.OktaUsers) != 2 || len(in.ADUsers) != 1 {
		t.Fatalf("stored %d okta users and %d AD users, want 2 and 1", len(in.OktaUsers), len(in.ADUsers))
	}

	// Resetting AD leaves Okta alone.
	if err := db.ResetSource(ctx, id, record.SourceAD); err != nil {
		t.Fatal(err)
	}
	in, err = db.LoadInput(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.OktaUsers) != 2 || len(in.ADUsers) != 0 || len(in.ADDomains) != 0 {
		t.Errorf("after ResetSource(ad): %d okta users, %d AD users, %d AD domains; want 2, 0, 0", len(in.OktaUsers), len(in.ADUsers), len(in.ADDomains))
	}
	if err := db.ResetSource(ctx, id, "ldap"); err == nil {
		t.Error("ResetSource accepted an unknown source")
	}
}

func TestResumableSnapshot(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ResumableSnapshot(ctx); !errors.Is(err, ErrNothingToResume) {
		t.Errorf("empty database: %v, want ErrNothingToResume", err)
	}
	finish := func(status record.Status) SnapshotID {
		id, err := db.BeginSnapshot(ctx, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if status != "" {
			run := record.SourceRun{Source: record.SourceOkta, Status: status, Started: time.Now(), Ended: time.Now()}
			if err := db.FinishSnapshot(ctx, id, []record.SourceRun{run}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	tests := []struct {
		name   string
		status record.Status // "" leaves the snapshot unfinished
		want   bool
	}{
		{name: "partial", status: record.StatusPartial, want: true},
		{name: "complete", status: record.StatusComplete, want: false},
		{name: "unfinished", status: "", want: true},
		{name: "failed source", status: record.StatusFailed, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := finish(tt.status)
			got, err := db.ResumableSnapshot(ctx)
			if tt.want && (err != nil || got != id) {
				t.Errorf("ResumableSnapshot = %d, %v; want %d", got, err, id)
			}
			if !tt.want && !errors.Is(err, ErrNothingToResume) {
				t.Errorf("ResumableSnapshot = %d, %v; want ErrNothingToResume", got, err)
			}
		})
	}
	id := finish(record.StatusPartial)
	if err := db.ReopenSnapshot(ctx, id); err != nil {
		t.Fatal(err)
	}
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status != "running" || !snap.EndedAt.IsZero() {
		t.Errorf("reopened snapshot: status %q ended %v, want running and unfinished", snap.Status, snap.EndedAt)
	}
}
