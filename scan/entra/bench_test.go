package entra

import (
	"context"
	"testing"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// discardSink counts what it is given and keeps nothing, so the benchmark
// measures the collector and the SDK, not a store.
type discardSink struct{ users int }

func (s *discardSink) Write(_ context.Context, b record.Batch) error {
	s.users += len(b.EntraUsers)
	return nil
}

// BenchmarkCollect100k reads a 100,000-user tenant from the simulator over
// TLS loopback. The API-bound minimum is 4 + ceil(100000/999) = 105 requests
// (organization, domains, one federation configuration, the users delta
// link for the next incremental scan, the user pages).
func BenchmarkCollect100k(b *testing.B) {
	const users = 100_000
	const minRequests = 4 + (users+MaxPageSize-1)/MaxPageSize
	g := startGraph(b, largeTenant(users), nil)
	c := newCollector(b, g, nil)
	var requests int
	b.ReportAllocs()
	for b.Loop() {
		sink := &discardSink{}
		stats, err := c.Collect(context.Background(), sink)
		if err != nil {
			b.Fatal(err)
		}
		if sink.users != users {
			b.Fatalf("read %d users, want %d", sink.users, users)
		}
		requests = stats.Requests
	}
	b.ReportMetric(float64(users)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(float64(requests)/float64(minRequests), "requests/min")
}

// BenchmarkCollectChanges100k reads the changes after 1% of a
// 100,000-user tenant's identities changed (about 300 Entra users: the
// mutation spreads over all sources, only the Entra kinds land here) from
// the delta link of a full read. The API-bound minimum is the three short
// lists plus ceil(changes/200) delta pages; "requests/full" is the share
// of a full read's requests.
func BenchmarkCollectChanges100k(b *testing.B) {
	const users = 100_000
	st := sim.NewState(largeTenant(users))
	g := startGraphState(b, st, nil)
	c := newCollector(b, g, nil)
	full, err := c.Collect(context.Background(), &discardSink{})
	if err != nil {
		b.Fatal(err)
	}
	sum, err := st.Mutate(1, 0.01)
	if err != nil {
		b.Fatal(err)
	}
	changes := len(sum.Changes.EntraUsers) + len(sum.Changes.EntraUsersRemoved)
	minRequests := 3 + max(1, (changes+199)/200)
	var requests int
	b.ReportAllocs()
	for b.Loop() {
		// The same link reads the same changes each time.
		stats, err := c.CollectChanges(context.Background(), &discardSink{}, full.Sync)
		if err != nil {
			b.Fatal(err)
		}
		if got := stats.Counts["users"] + stats.Counts["removed"]; got != changes {
			b.Fatalf("read %d changes, want %d", got, changes)
		}
		requests = stats.Requests
	}
	b.ReportMetric(float64(changes), "changes")
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(float64(requests)/float64(minRequests), "requests/min")
	b.ReportMetric(float64(requests)/float64(full.Requests), "requests/full")
}
