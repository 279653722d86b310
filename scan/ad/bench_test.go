package ad

import (
	"context"
	"testing"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// countingSink counts what it is given and keeps nothing, as a streaming
// store would.
type countingSink struct{ users, pages int }

func (s *countingSink) Write(_ context.Context, b record.Batch) error {
	s.users += len(b.ADUsers)
	s.pages++
	return nil
}

// BenchmarkCollect100k reads 100,000 users from the simulated DC over
// loopback. The API-bound minimum is 100 pages of 1000 plus bind and rootDSE.
func BenchmarkCollect100k(b *testing.B) {
	const users = 100_000
	cfg := startServer(b, generatedTenant(users), sim.LDAPOptions{})
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var requests, pages int
	for b.Loop() {
		sink := &countingSink{}
		stats, err := c.Collect(context.Background(), sink)
		if err != nil {
			b.Fatal(err)
		}
		if sink.users != users {
			b.Fatalf("read %d users, want %d", sink.users, users)
		}
		requests, pages = stats.Requests, sink.pages
	}
	b.ReportMetric(float64(users)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(pages), "pages")
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(requests)/float64(2+(users+DefaultPageSize-1)/DefaultPageSize), "requests/min")
}
