package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan/record"
)

// BenchmarkSinkEntraUsers100k stores 100,000 Entra users in pages of 999,
// as the Entra collector delivers them.
//
//	go test -run '^$' -bench Sink -benchtime 1x ./store/
func BenchmarkSinkEntraUsers100k(b *testing.B) {
	const users, page = 100_000, 999
	pages := make([]record.Batch, 0, users/page+1)
	for i := 0; i < users; i += page {
		var bt record.Batch
		for j := i; j < i+page && j < users; j++ {
			// Ids arrive in random order in life; a multiplicative hash spreads them.
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(j)*2654435761, j)
			bt.EntraUsers = append(bt.EntraUsers, record.EntraUser{ID: id, UserPrincipalName: id + "@contoso.example",
				DisplayName: "User " + id, ImmutableID: id[:24], AccountEnabled: true, UserType: "Member"})
		}
		pages = append(pages, bt)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
		if err != nil {
			b.Fatal(err)
		}
		id, _ := db.BeginSnapshot(context.Background(), "bench", time.Now())
		sink := db.Sink(id)
		for _, p := range pages {
			if err := sink.Write(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
	}
	b.ReportMetric(float64(users*b.N)/b.Elapsed().Seconds(), "rows/s")
}
