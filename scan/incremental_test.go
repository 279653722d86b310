package scan_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/record"
)

// After 1% of a tenant changes, an incremental scan on top of the last full
// one holds exactly what a new full scan holds, table by table, and finds
// the same; it reads a small part of what a full scan reads.
//
// With a fifth of the tenant changed, more assignments change than the
// office365 list has pages: the app is listed again instead of each
// assignment being read, and the result is the same.
func TestIncrementalEqualsFullScan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		identities int
		fraction   float64
		// maxOkta bounds Okta's requests: its fixed reads (apps, features,
		// mappings), the changed users' pages, the System Log, and either
		// a GET per changed assignment or the app's pages, whichever is
		// fewer (at 20%, about 40 GETs against 4 pages).
		maxOkta int
	}{
		{"1% of 5000", 5_000, 0.01, 15},
		{"20% of 2000", 2_000, 0.2, 20},
	} {
		t.Run(tc.name, func(t *testing.T) { testIncrementalEqualsFullScan(t, tc.identities, tc.fraction, tc.maxOkta) })
	}
}

func testIncrementalEqualsFullScan(t *testing.T, identities int, fraction float64, maxOkta int) {
	ctx := context.Background()
	s := startSim(t, identities)
	db := openDB(t)
	opts := scan.Options{ToolVersion: "test", OktaOrg: s.OktaURL}
	first, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), opts)
	if err != nil || !first.Complete() {
		t.Fatalf("first full scan: %v %+v", err, first.Sources)
	}
	for _, r := range first.Sources {
		if r.Source == record.SourceOkta && r.Sync == nil {
			t.Errorf("full scan of %s left no change position", r.Source)
		}
	}
	summary, err := s.State.Mutate(11, fraction)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(fraction * float64(identities) * 0.8); summary.Identities < want {
		t.Fatalf("Mutate changed %d identities of %d, want at least %d", summary.Identities, identities, want)
	}

	incOpts := opts
	incOpts.Incremental = true
	inc, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), incOpts)
	if err != nil || !inc.Complete() {
		t.Fatalf("incremental scan: %v %+v", err, inc.Sources)
	}
	full, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), opts)
	if err != nil || !full.Complete() {
		t.Fatalf("second full scan: %v %+v", err, full.Sources)
	}
	incTables, _ := contentOf(t, db, inc.Snapshot)
	fullTables, _ := contentOf(t, db, full.Snapshot)
	if diff := cmp.Diff(fullTables, incTables); diff != "" {
		t.Errorf("incremental snapshot differs from a full scan's, per table (-full +incremental):\n%s", diff)
	}
	if diff := cmp.Diff(full.Findings, inc.Findings); diff != "" {
		t.Errorf("incremental findings differ from a full scan's (-full +incremental):\n%s", diff)
	}
	firstIn, _ := contentOf(t, db, first.Snapshot)
	if cmp.Equal(firstIn, fullTables) {
		t.Fatal("the mutation changed no table: the test proves nothing")
	}
	var lines []string
	for _, r := range inc.Sources {
		fr := sourceRun(t, full.Sources, r.Source)
		lines = append(lines, string(r.Source)+": "+itoa(r.Requests)+" of "+itoa(fr.Requests))
		if r.Source == record.SourceOkta && !r.Incremental {
			t.Errorf("okta was read whole, want its changes only")
		}
		if r.Source == record.SourceOkta && r.Requests > maxOkta {
			t.Errorf("okta sent %d requests for %d changed assignments, want at most %d", r.Requests, len(summary.Changes.OktaAppUsers), maxOkta)
		}
		// At this size the fixed reads (apps, domains, the DC's rootDSE)
		// weigh; BenchmarkIncremental100k measures the share at scale.
		if r.Incremental && r.Requests >= fr.Requests {
			t.Errorf("incremental %s sent %d requests, a full scan %d", r.Source, r.Requests, fr.Requests)
		}
	}
	t.Logf("requests, incremental of full: %s; mutation %v", strings.Join(lines, ", "), summary.Counts)
}

func itoa(n int) string { return strconv.Itoa(n) }
