package okta

import (
	"cmp"
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// The users list read as creation-time searches yields every user exactly
// once, whatever the number of partitions, and the searches run at once.
func TestCollectPartitionedUsers(t *testing.T) {
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 3_000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	wantUsers, _, _ := expectedRecords(tenant)
	slices.SortFunc(wantUsers, func(a, b record.OktaUser) int { return cmp.Compare(a.ID, b.ID) })
	for _, partitions := range []int{2, 4, 7} {
		t.Run(strings.Repeat("p", partitions), func(t *testing.T) {
			var mu sync.Mutex
			searches := map[string]int{}
			// Each partition's first page waits until every partition has
			// asked for its first: only parallel searches all get through
			// without the wait running out.
			allStarted := make(chan struct{})
			waitedOut := false
			watch := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s := r.URL.Query().Get("search")
					if r.URL.Path != "/api/v1/users" || s == "" || r.URL.Query().Get("limit") == "1" {
						next.ServeHTTP(w, r)
						return
					}
					mu.Lock()
					searches[s]++
					first := searches[s] == 1
					if first && len(searches) == partitions {
						close(allStarted)
					}
					mu.Unlock()
					if first {
						select {
						case <-allStarted:
						case <-time.After(5 * time.Second):
							mu.Lock()
							waitedOut = true
							mu.Unlock()
						}
					}
					next.ServeHTTP(w, r)
				})
			}
			c, _ := fakeOrg(t, tenant, Config{UserPartitions: partitions}, watch)
			sink := &memorySink{}
			stats, err := c.Collect(context.Background(), sink)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			got, _, _ := sink.all()
			slices.SortFunc(got, func(a, b record.OktaUser) int { return cmp.Compare(a.ID, b.ID) })
			if diff := gocmp.Diff(wantUsers, got); diff != "" {
				t.Errorf("users read in %d partitions differ from the tenant's (-want +got):\n%s", partitions, diff)
			}
			if len(searches) != partitions {
				t.Errorf("%d distinct searches, want %d: %v", len(searches), partitions, searches)
			}
			if waitedOut {
				t.Errorf("a partition's first page waited 5 s for the others: the partitions did not run in parallel")
			}
			if stats.Counts[CountUsers] != len(wantUsers) {
				t.Errorf("counted %d users, want %d", stats.Counts[CountUsers], len(wantUsers))
			}
		})
	}
}

// A partitioned read interrupted midway resumes the same partitions from
// the stored plan, each from its own cursor, and ends with every user once.
func TestResumePartitionedUsers(t *testing.T) {
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 3_000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	wantUsers, _, _ := expectedRecords(tenant)
	var mu sync.Mutex
	pages, failAfter := 0, 6
	flaky := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/users" && r.URL.Query().Get("search") != "" && r.URL.Query().Get("limit") != "1" {
				mu.Lock()
				pages++
				fail := failAfter > 0 && pages > failAfter
				mu.Unlock()
				if fail {
					http.Error(w, `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`, http.StatusForbidden)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	c, _ := fakeOrg(t, tenant, Config{UserPartitions: 4}, flaky)
	first := &checkpointSink{cps: map[string]record.Checkpoint{}}
	if _, err := c.Collect(context.Background(), first); err == nil {
		t.Fatal("Collect succeeded although the server failed every search page after the sixth")
	}
	plan := first.cps[listUsers].Cursor
	if !strings.HasPrefix(plan, partitionPlanPrefix) || strings.Count(plan, "\n") != 3 {
		t.Fatalf("users checkpoint %q, want the plan of 4 partitions", plan)
	}
	mu.Lock()
	failAfter = 0
	mu.Unlock()
	second := &checkpointSink{cps: maps.Clone(first.cps)}
	stats, err := c.CollectFrom(context.Background(), second, first.cps)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if stats.Sync != nil {
		t.Errorf("a resumed read reported a change position %v: it cannot know where its first part began", stats.Sync)
	}
	seen := map[string]int{}
	for _, s := range []*checkpointSink{first, second} {
		for _, b := range s.batches {
			for _, u := range b.OktaUsers {
				seen[u.ID]++
			}
		}
	}
	for _, u := range wantUsers {
		if seen[u.ID] != 1 {
			t.Errorf("user %s read %d times over both runs, want once", u.ID, seen[u.ID])
		}
	}
	if len(seen) != len(wantUsers) {
		t.Errorf("%d distinct users read, want %d", len(seen), len(wantUsers))
	}
	if cp := second.cps[listUsers]; !cp.Done() {
		t.Errorf("users checkpoint after the resumed read is %q, want done", cp.Cursor)
	}
}

// checkpointSink keeps batches and, like the store, the last checkpoint of
// each list.
type checkpointSink struct {
	memorySink
	cps map[string]record.Checkpoint
}

func (s *checkpointSink) Write(ctx context.Context, b record.Batch) error {
	s.memorySink.Write(ctx, b)
	if b.Checkpoint != nil {
		s.mu.Lock()
		s.cps[b.Checkpoint.List] = *b.Checkpoint
		s.mu.Unlock()
	}
	return nil
}
