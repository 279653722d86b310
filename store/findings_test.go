package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// manyFindings saves n findings, more than one decode batch, and returns
// the database and snapshot.
func manyFindings(t *testing.T, n int) (*DB, SnapshotID) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "each.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id := writeSnapshot(t, db, testBatches())
	var res classify.Result
	for i := range n {
		res.Identities = append(res.Identities, classify.Finding{Scenario: classify.OK, UPN: fmt.Sprintf("u%05d@x.example", i)})
	}
	if err := db.SaveFindings(ctx, id, res); err != nil {
		t.Fatal(err)
	}
	return db, id
}

func TestEachFinding(t *testing.T) {
	ctx := context.Background()
	n := 2*findingBatch + 17
	db, id := manyFindings(t, n)

	t.Run("every finding in order", func(t *testing.T) {
		i := 0
		err := db.EachFinding(ctx, id, func(f *classify.Finding) error {
			if want := fmt.Sprintf("u%05d@x.example", i); f.UPN != want {
				return fmt.Errorf("finding %d is %s, want %s", i, f.UPN, want)
			}
			i++
			return nil
		})
		if err != nil || i != n {
			t.Fatalf("read %d of %d findings: %v", i, n, err)
		}
	})

	t.Run("an error from fn stops the read", func(t *testing.T) {
		stop := errors.New("enough")
		calls := 0
		err := db.EachFinding(ctx, id, func(*classify.Finding) error {
			calls++
			if calls == findingBatch+3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != findingBatch+3 {
			t.Fatalf("err %v after %d calls, want fn's error after %d", err, calls, findingBatch+3)
		}
		// The database is still usable: the reader let go of its rows.
		if _, err := db.FindingCount(ctx, id); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		err := db.EachFinding(cctx, id, func(*classify.Finding) error {
			calls++
			if calls == 1 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v after %d calls, want context.Canceled", err, calls)
		}
	})

	t.Run("a corrupt row is named", func(t *testing.T) {
		if _, err := db.sql.ExecContext(ctx, `UPDATE findings SET detail = '{"scenario": 7' WHERE snapshot_id = ? AND seq = ?`, id, findingBatch+5); err != nil {
			t.Fatal(err)
		}
		calls := 0
		err := db.EachFinding(ctx, id, func(*classify.Finding) error { calls++; return nil })
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("finding %d is corrupt", findingBatch+5)) {
			t.Fatalf("err = %v, want one naming finding %d", err, findingBatch+5)
		}
		if calls > findingBatch+5 {
			t.Errorf("fn saw %d findings, past the corrupt one", calls)
		}
	})
}
