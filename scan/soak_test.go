package scan_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// soakFaults are the soak's faults on every server: 5% 429s, 2% 5xx, 1%
// connections reset mid-body.
var soakFaults = []sim.Faults{
	{Server: sim.ServerOkta, RateLimit: 0.05, ServerError: 0.02, Reset: 0.01},
	{Server: sim.ServerGraph, RateLimit: 0.05, ServerError: 0.02, Reset: 0.01},
	{Server: sim.ServerLDAP, RateLimit: 0.05, ServerError: 0.02, Reset: 0.01},
}

// testRetry keeps back-offs short: the simulator needs no time to recover.
// The attempt budget is the default's.
var testRetry = retry.Policy{Base: 20 * time.Millisecond, Max: 500 * time.Millisecond, AttemptTimeout: 20 * time.Second}

// simSources builds the three real collectors on the simulator with policy;
// pageSize, when not 0, is the Graph and LDAP page size (more pages, more
// requests for the faults to hit).
func simSources(t testing.TB, s *sim.Servers, policy retry.Policy, pageSize int) []scan.Source {
	t.Helper()
	o := oktaSource(t, s, policy)
	var tenantID string
	s.State.Read(func(t *sim.Tenant) { tenantID = t.Entra.TenantID })
	e, err := entra.New(entra.Config{TenantID: tenantID, BaseURL: s.GraphURL, Credential: entra.NewStaticToken(s.GraphToken),
		HTTPClient: s.HTTPClient(), Retry: policy, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ad.New(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword, Retry: policy,
		PageSize: uint32(pageSize)})
	if err != nil {
		t.Fatal(err)
	}
	return []scan.Source{o, e, a}
}

func oktaSource(t testing.TB, s *sim.Servers, policy retry.Policy) scan.Source {
	t.Helper()
	o, err := okta.New(okta.Config{OrgURL: s.OktaURL, Token: s.OktaToken, HTTPClient: s.HTTPClient(), Retry: policy})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// startSim generates a tenant of n identities and serves it without faults.
func startSim(t testing.TB, n int) *sim.Servers {
	t.Helper()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{FaultSeed: 42})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "anchorscan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// contentOf is a snapshot's per-table hashes and its content hash, which
// fails on a record stored twice.
func contentOf(t testing.TB, db *store.DB, id store.SnapshotID) (map[string]string, string) {
	t.Helper()
	tables, err := db.TableHashes(context.Background(), id)
	if err != nil {
		t.Fatalf("table hashes of snapshot %d: %v", id, err)
	}
	hash, err := db.ContentHash(context.Background(), id)
	if err != nil {
		t.Fatalf("content hash of snapshot %d: %v", id, err)
	}
	return tables, hash
}

// soakRun is what one scan under faults did.
type soakRun struct {
	clean    time.Duration // the same scan without faults
	elapsed  time.Duration
	requests map[record.Source]int
	retries  map[record.Source]int
	faults   map[string]sim.FaultCounts
}

func (r soakRun) String() string {
	s := fmt.Sprintf("%.1fs (clean scan %.1fs)", r.elapsed.Seconds(), r.clean.Seconds())
	for _, src := range slices.Sorted(maps.Keys(r.requests)) {
		s += fmt.Sprintf("; %s %d requests, %d retries", src, r.requests[src], r.retries[src])
	}
	for _, srv := range slices.Sorted(maps.Keys(r.faults)) {
		c := r.faults[srv]
		s += fmt.Sprintf("; %s injected %d×429 %d×5xx %d resets in %d requests", srv, c.RateLimited, c.ServerErrors, c.Resets, c.Requests)
	}
	return s
}

// soak scans a clean simulator of n identities, then the same simulator
// with soakFaults, and fails unless both snapshots hold the same records.
func soak(t testing.TB, n, pageSize int) soakRun {
	t.Helper()
	ctx := context.Background()
	s := startSim(t, n)
	db := openDB(t)

	cleanStart := time.Now()
	clean, err := scan.Run(ctx, db, simSources(t, s, testRetry, pageSize), scan.Options{ToolVersion: "soak"})
	cleanElapsed := time.Since(cleanStart)
	if err != nil || !clean.Complete() {
		t.Fatalf("clean scan: %v, sources %+v", err, clean.Sources)
	}
	wantTables, wantHash := contentOf(t, db, clean.Snapshot)

	if err := s.SetFaults(soakFaults); err != nil {
		t.Fatal(err)
	}
	before := s.FaultCounts()
	start := time.Now()
	faulty, err := scan.Run(ctx, db, simSources(t, s, testRetry, pageSize), scan.Options{ToolVersion: "soak"})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("scan under faults: %v", err)
	}
	if !faulty.Complete() {
		t.Fatalf("scan under faults is not complete: %+v", faulty.Sources)
	}
	gotTables, gotHash := contentOf(t, db, faulty.Snapshot)
	if diff := cmp.Diff(wantTables, gotTables); diff != "" {
		t.Errorf("tables differ from the clean scan's (-clean +faulty):\n%s", diff)
	}
	if gotHash != wantHash {
		t.Errorf("content hash %s, clean scan's %s", gotHash, wantHash)
	}
	for _, src := range clean.Sources {
		got := faulty.Sources[slices.IndexFunc(faulty.Sources, func(r record.SourceRun) bool { return r.Source == src.Source })]
		if diff := cmp.Diff(src.Counts, got.Counts); diff != "" {
			t.Errorf("%s counts differ (-clean +faulty):\n%s", src.Source, diff)
		}
	}

	run := soakRun{clean: cleanElapsed, elapsed: elapsed, requests: map[record.Source]int{}, retries: map[record.Source]int{}, faults: map[string]sim.FaultCounts{}}
	for _, r := range faulty.Sources {
		run.requests[r.Source], run.retries[r.Source] = r.Requests, r.Retries
	}
	after := s.FaultCounts()
	for srv, c := range after {
		b := before[srv]
		d := sim.FaultCounts{Requests: c.Requests - b.Requests, RateLimited: c.RateLimited - b.RateLimited,
			ServerErrors: c.ServerErrors - b.ServerErrors, Resets: c.Resets - b.Resets}
		run.faults[srv] = d
		// The soak proves something only if every server failed for real.
		if d.Injected() == 0 {
			t.Errorf("%s injected no fault in %d requests", srv, d.Requests)
		}
	}
	for _, r := range faulty.Sources {
		if r.Retries == 0 {
			t.Errorf("%s made no retry under faults", r.Source)
		}
	}
	return run
}

// TestSoak10k: a 10,000-identity scan with 5% 429s, 2% 5xx and 1% resets on
// every server stores exactly what a clean scan stores. BenchmarkSoak100k
// is the full-size run.
func TestSoak10k(t *testing.T) {
	run := soak(t, 10_000, 200)
	t.Logf("soak 10k under faults: %s", run)
}

// BenchmarkSoak100k is the soak at 100,000 identities:
//
//	go test -run '^$' -bench Soak100k -benchtime 1x ./scan/
func BenchmarkSoak100k(b *testing.B) {
	for b.Loop() {
		run := soak(b, 100_000, 0)
		b.Logf("soak 100k under faults: %s", run)
		b.ReportMetric(run.elapsed.Seconds(), "faulty-scan-s")
		b.ReportMetric(run.clean.Seconds(), "clean-scan-s")
		for src, n := range run.requests {
			b.ReportMetric(float64(n), string(src)+"-requests")
			b.ReportMetric(float64(run.retries[src]), string(src)+"-retries")
		}
	}
}
