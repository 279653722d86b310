package okta

import (
	"context"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan/record"
)

// discardSink counts records and keeps nothing, so the benchmark measures
// the collector and the SDK, not a store.
type discardSink struct{ records int }

func (s *discardSink) Write(_ context.Context, b record.Batch) error {
	s.records += b.Len()
	return nil
}

// BenchmarkCollect100k reads 100,000 users and their 100,000 O365 app users
// from the fake over loopback TLS. The API-bound minimum is 500 users pages
// + 200 app users pages + 2 apps + 3 O365 settings requests + 1 (empty)
// page of the AD instance's users = 706.
func BenchmarkCollect100k(b *testing.B) {
	const users = 100_000
	c, _ := fakeOrg(b, bigTenant(users, users, 0), Config{}, nil)
	const minRequests = users/200 + users/500 + 2 + 3 + 1
	var requests int
	start := time.Now()
	for b.Loop() {
		sink := &discardSink{}
		stats, err := c.Collect(context.Background(), sink)
		if err != nil {
			b.Fatal(err)
		}
		if stats.Counts[CountUsers] != users || stats.Counts[CountAppUsers] != users {
			b.Fatalf("read %v", stats.Counts)
		}
		requests = stats.Requests
	}
	perRun := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(requests)/minRequests, "requests/minimum")
	b.ReportMetric(users/perRun, "users/s")
}
