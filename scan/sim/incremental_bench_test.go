package sim

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// BenchmarkIncrementalReads100k mutates 1% of a 100,000-identity tenant
// and reads the change back through each vendor's incremental path with
// the official clients: Okta's lastUpdated filter and System Log, Graph's
// users delta, AD's uSNChanged with Show Deleted. It reports the requests
// one incremental read takes against the pages a full read needs.
func BenchmarkIncrementalReads100k(b *testing.B) {
	tn, err := Generate(GenerateOptions{Users: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	baseDN := tn.AD.Domains[0].BaseDN
	s, err := Start(context.Background(), NewState(tn), ServeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	api := oktaSDK(b, s)
	graph := graphSDK(b, s)
	conn := ldapSDK(b, s)
	_, _, deltaLink, fullPages := graphDeltaRound(b, graph, "", "")
	ctx := context.Background()
	var requests, changes int
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		since := time.Now().UTC().Add(-time.Millisecond)
		usn := highestUSN(b, conn)
		sum, err := s.State.Mutate(uint64(i), 0.01)
		if err != nil {
			b.Fatal(err)
		}
		changes += sum.Identities
		b.StartTimer()

		users, n := 0, 0
		after := ""
		for {
			req := api.UserAPI.ListUsers(ctx).Limit(200).Filter(`lastUpdated gt "` + since.Add(-time.Millisecond).Format(oktaTimeLayout) + `"`)
			if after != "" {
				req = req.After(after)
			}
			page, resp, err := req.Execute()
			if err != nil {
				b.Fatal(err)
			}
			users, n = users+len(page), n+1
			if after = oktaNextAfter(b, resp.Header); after == "" {
				break
			}
		}
		events, logPages := oktaLogAll(b, api, since, oktaMembershipFilter, 1000)
		changed, removed, link, deltaPages := graphDeltaRound(b, graph, deltaLink, "")
		deltaLink = link
		req := ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			fmt.Sprintf("(&(objectClass=user)(uSNChanged>=%d))", usn+1), []string{"objectGUID", "isDeleted", "uSNChanged"},
			[]ldap.Control{ldap.NewControlMicrosoftShowDeleted()})
		res, err := conn.SearchWithPaging(req, 1000)
		if err != nil {
			b.Fatal(err)
		}
		requests += n + logPages + deltaPages + 1
		if users != len(sum.Changes.OktaUsers) || len(changed)+len(removed) != len(sum.Changes.EntraUsers)+len(sum.Changes.EntraUsersRemoved) ||
			len(res.Entries) != len(sum.Changes.ADUsers)+len(sum.Changes.ADUsersDeleted) || len(events) == 0 {
			b.Fatalf("incremental read found %d Okta, %d Entra, %d AD changes and %d events; the mutation made %+v",
				users, len(changed)+len(removed), len(res.Entries), len(events), sum.Counts)
		}
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/run")
	b.ReportMetric(float64(changes)/float64(b.N), "identities-changed/run")
	b.ReportMetric(float64(fullPages), "graph-full-round-pages")
}

// BenchmarkOktaCreatedPartitions100k lists 100,000 Okta users as 8
// created-range searches paged in parallel through the SDK.
func BenchmarkOktaCreatedPartitions100k(b *testing.B) {
	tn, err := Generate(GenerateOptions{Users: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	oktaUsers := len(tn.Okta.Users)
	s, err := Start(context.Background(), NewState(tn), ServeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	api := oktaSDK(b, s)
	const parts = 8
	span := oktaCreatedTo.Add(time.Second).Sub(oktaCreatedFrom) / parts
	var total, requests atomic.Int64
	var peak uint64
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for p := range parts {
			lo := oktaCreatedFrom.Add(time.Duration(p) * span).Format(oktaTimeLayout)
			hi := oktaCreatedFrom.Add(time.Duration(p+1) * span).Format(oktaTimeLayout)
			expr := `created ge "` + lo + `" and created lt "` + hi + `"`
			if p == parts-1 {
				expr = `created ge "` + lo + `"`
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				after := ""
				for {
					req := api.UserAPI.ListUsers(context.Background()).Limit(200).Search(expr).SortBy("created")
					if after != "" {
						req = req.After(after)
					}
					page, resp, err := req.Execute()
					if err != nil {
						b.Error(err)
						return
					}
					total.Add(int64(len(page)))
					requests.Add(1)
					if after = oktaNextAfter(b, resp.Header); after == "" {
						return
					}
				}
			}()
		}
		wg.Wait()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	if got := total.Load() / int64(b.N); got != int64(oktaUsers) {
		b.Fatalf("partitions returned %d users per run, want %d", got, oktaUsers)
	}
	minimum := (oktaUsers + 199) / 200
	b.ReportMetric(float64(requests.Load())/float64(b.N), "requests/run")
	b.ReportMetric(float64(requests.Load())/float64(b.N)/float64(minimum), "x-minimum")
	b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
