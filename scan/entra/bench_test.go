package entra

import (
	"context"
	"testing"

	"github.com/anchorscan/anchorscan/scan/record"
)

// discardSink counts what it is given and keeps nothing, so the benchmark
// measures the collector and the SDK, not a store.
type discardSink struct{ users int }

func (s *discardSink) Write(_ context.Context, b record.Batch) error {
	s.users += len(b.EntraUsers)
	return nil
}

// BenchmarkCollect100k reads a 100,000-user tenant from the simulator over
// TLS loopback. The API-bound minimum is 3 + ceil(100000/999) = 104 requests
// (organization, domains, one federation configuration, the user pages).
func BenchmarkCollect100k(b *testing.B) {
	const users = 100_000
	const minRequests = 3 + (users+MaxPageSize-1)/MaxPageSize
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
