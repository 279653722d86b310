package scan_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/record"
)

// The Classifying hook brackets the work after the sources: it starts once
// every page is stored and ends once the findings are.
func TestClassifyingBracketsLoadClassifyAndSave(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, 300)
	db := openDB(t)
	var calls, pagesAtStart, findingsAtDone int
	var pages atomic.Int64 // sources store pages concurrently
	opts := scan.Options{
		ToolVersion: "test",
		OnPage:      func(record.Source, int) { pages.Add(1) },
		Classifying: func() func() {
			calls++
			pagesAtStart = int(pages.Load())
			return func() {
				latest, err := db.LatestSnapshot(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if findingsAtDone, err = db.FindingCount(ctx, latest); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
	res, err := scan.Run(ctx, db, simSources(t, s, testRetry, 0), opts)
	if err != nil || !res.Complete() {
		t.Fatalf("scan: %v %+v", err, res)
	}
	if calls != 1 {
		t.Fatalf("Classifying called %d times, want once", calls)
	}
	if pagesAtStart == 0 || pagesAtStart != int(pages.Load()) {
		t.Errorf("Classifying began after %d of %d pages, want after all", pagesAtStart, pages.Load())
	}
	if n := len(res.Findings.Identities); n == 0 || findingsAtDone != n {
		t.Errorf("%d findings stored when Classifying ended, want all %d", findingsAtDone, n)
	}

	// An interrupted scan classifies nothing, so the hook is not called.
	calls = 0
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := scan.Run(cancelled, db, simSources(t, s, testRetry, 0), opts); err == nil {
		t.Fatal("a cancelled scan returned no error")
	}
	if calls != 0 {
		t.Errorf("Classifying called %d times for a cancelled scan", calls)
	}
}
