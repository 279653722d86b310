package scan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// giveUpFast is the policy of a scan whose server stops answering: a few
// short attempts, so the test does not wait minutes for a hung request, yet
// long enough that a page served slowly on a loaded machine is not taken
// for a hung one.
var giveUpFast = retry.Policy{Attempts: 3, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, AttemptTimeout: 2 * time.Second}

func sourceRun(t *testing.T, runs []record.SourceRun, src record.Source) record.SourceRun {
	t.Helper()
	for _, r := range runs {
		if r.Source == src {
			return r
		}
	}
	t.Fatalf("no run of source %s in %+v", src, runs)
	return record.SourceRun{}
}

// A scan whose Okta server stops answering halfway through the users list
// is recorded as partial, with the page and cursor it stopped at; plan
// refuses the snapshot; resuming reads only what is missing and completes
// the same snapshot to the content of a clean scan.
func TestResumeAfterOktaStopsAnswering(t *testing.T) {
	for _, mode := range []sim.StopMode{sim.StopHang, sim.StopRefuse} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			s := startSim(t, 5_000) // 25 users pages of 200
			db := openDB(t)
			clean, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), scan.Options{ToolVersion: "test"})
			if err != nil || !clean.Complete() {
				t.Fatalf("clean scan: %v %+v", err, clean.Sources)
			}
			wantTables, wantHash := contentOf(t, db, clean.Snapshot)
			cleanOkta := sourceRun(t, clean.Sources, record.SourceOkta)

			// Halfway: 12 of the 25 users pages, then nothing.
			if err := s.SetFaults([]sim.Faults{{Server: sim.ServerOkta, Path: "/api/v1/users", StopAfter: 12, Stop: mode}}); err != nil {
				t.Fatal(err)
			}
			srcs := simSources(t, s, testRetry, 0)
			srcs[0] = oktaSource(t, s, giveUpFast) // only Okta is meant to give up
			broken, err := scan.Run(ctx, db, srcs, scan.Options{ToolVersion: "test"})
			if err != nil {
				t.Fatalf("scan with a stopped Okta: %v", err)
			}
			oktaRun := sourceRun(t, broken.Sources, record.SourceOkta)
			if oktaRun.Status != record.StatusPartial {
				t.Fatalf("okta status %s, want partial", oktaRun.Status)
			}
			if len(oktaRun.Errors) != 1 || !strings.Contains(oktaRun.Errors[0], "GET /api/v1/users (page 13, after=") ||
				!strings.Contains(oktaRun.Errors[0], "gave up after 3 attempts") {
				t.Errorf("okta errors %q, want the page, its cursor and the attempts", oktaRun.Errors)
			}
			if got := oktaRun.Counts["users"]; got != 12*200 {
				t.Errorf("okta stored %d users before it stopped, want %d", got, 12*200)
			}
			snap, err := db.Snapshot(ctx, broken.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Status != "partial" {
				t.Errorf("snapshot status %q, want partial", snap.Status)
			}
			in, err := db.LoadInput(ctx, broken.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := plan.Generate(snap, in, broken.Findings, plan.GenerateOptions{}); !errors.Is(err, plan.ErrPartialSnapshot) {
				t.Errorf("plan from the partial snapshot: %v, want ErrPartialSnapshot", err)
			}

			// The server answers again; resume.
			if err := s.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			before := s.FaultCounts()
			resumed, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), scan.Options{ToolVersion: "test", Resume: true})
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if resumed.Snapshot != broken.Snapshot || !resumed.Complete() {
				t.Fatalf("resume: snapshot %d complete %v (%+v), want snapshot %d complete", resumed.Snapshot, resumed.Complete(), resumed.Sources, broken.Snapshot)
			}
			gotTables, gotHash := contentOf(t, db, resumed.Snapshot)
			if diff := cmp.Diff(wantTables, gotTables); diff != "" {
				t.Errorf("resumed snapshot differs from a clean scan (-clean +resumed):\n%s", diff)
			}
			if gotHash != wantHash {
				t.Errorf("resumed content hash %s, clean %s", gotHash, wantHash)
			}
			after := s.FaultCounts()
			// Entra and AD completed the first time: not read again.
			for _, srv := range []string{sim.ServerGraph, sim.ServerLDAP} {
				if n := after[srv].Requests - before[srv].Requests; n != 0 {
					t.Errorf("resume sent %d requests to %s, which had completed", n, srv)
				}
			}
			// Okta continues at page 13, not at page 1: the 12 stored users
			// pages are not asked for again. (The app users lists, cancelled
			// when the users list failed, continue from their own cursors.)
			oktaRequests := after[sim.ServerOkta].Requests - before[sim.ServerOkta].Requests
			if oktaRequests < 13 || oktaRequests > cleanOkta.Requests-12 {
				t.Errorf("resume sent %d requests to okta, want 13 to %d (a clean scan sends %d)", oktaRequests, cleanOkta.Requests-12, cleanOkta.Requests)
			}
			resumedOkta := sourceRun(t, resumed.Sources, record.SourceOkta)
			if diff := cmp.Diff(cleanOkta.Counts, resumedOkta.Counts); diff != "" {
				t.Errorf("okta counts over both runs differ from a clean scan's (-clean +resumed):\n%s", diff)
			}
			if len(resumed.Findings.Identities) != len(clean.Findings.Identities) {
				t.Errorf("%d findings after resume, %d after a clean scan", len(resumed.Findings.Identities), len(clean.Findings.Identities))
			}

			// Nothing is left to resume.
			if _, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), scan.Options{Resume: true}); !errors.Is(err, store.ErrNothingToResume) {
				t.Errorf("second resume: %v, want ErrNothingToResume", err)
			}
		})
	}
}

// AD cannot continue a paged search on a new connection: on resume its
// stored records are deleted and it is read again, and the snapshot still
// ends with each user once.
func TestResumeRereadsAD(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, 3_000)
	db := openDB(t)
	clean, err := scan.Run(ctx, db, simSources(t, s, testRetry, 500), scan.Options{ToolVersion: "test"})
	if err != nil || !clean.Complete() {
		t.Fatalf("clean scan: %v %+v", err, clean.Sources)
	}
	wantTables, wantHash := contentOf(t, db, clean.Snapshot)

	// Every AD page is dropped part-way: AD stores nothing past its first
	// failures and ends failed or partial.
	if err := s.SetFaults([]sim.Faults{{Server: sim.ServerLDAP, Reset: 1}}); err != nil {
		t.Fatal(err)
	}
	broken, err := scan.Run(ctx, db, simSources(t, s, giveUpFast, 500), scan.Options{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if st := sourceRun(t, broken.Sources, record.SourceAD).Status; st == record.StatusComplete {
		t.Fatalf("AD status %s with every page dropped", st)
	}
	if err := s.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	resumed, err := scan.Run(ctx, db, simSources(t, s, testRetry, 500), scan.Options{ToolVersion: "test", Resume: true})
	if err != nil || !resumed.Complete() || resumed.Snapshot != broken.Snapshot {
		t.Fatalf("resume: %v, snapshot %d, %+v", err, resumed.Snapshot, resumed.Sources)
	}
	gotTables, gotHash := contentOf(t, db, resumed.Snapshot)
	if diff := cmp.Diff(wantTables, gotTables); diff != "" || gotHash != wantHash {
		t.Errorf("resumed snapshot differs from a clean scan (-clean +resumed):\n%s", diff)
	}
}
