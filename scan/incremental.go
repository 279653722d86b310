package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/store"
)

// runIncremental builds a new snapshot from the newest complete one: each
// Incremental source's long lists are copied over and patched with what its
// change feed reports; any other source, or one whose feed cannot continue,
// is read whole.
func runIncremental(ctx context.Context, db *store.DB, sources []Source, opts Options, now func() time.Time, log *slog.Logger) (*Result, error) {
	base, err := db.LatestCompleteSnapshot(ctx)
	if errors.Is(err, store.ErrNoSnapshot) {
		return nil, errors.New("incremental scan: no complete snapshot to build on; run a full scan first")
	}
	if err != nil {
		return nil, err
	}
	baseSnap, err := db.Snapshot(ctx, base)
	if err != nil {
		return nil, err
	}
	if opts.OktaOrg != "" && baseSnap.OktaOrg != "" && opts.OktaOrg != baseSnap.OktaOrg {
		return nil, fmt.Errorf("incremental scan: the newest complete snapshot %d is of Okta org %s, not %s; run a full scan", base, baseSnap.OktaOrg, opts.OktaOrg)
	}
	prev := runsBySource(baseSnap)
	id, err := db.BeginSnapshot(ctx, opts.ToolVersion, now())
	if err != nil {
		return nil, err
	}
	if opts.OktaOrg != "" {
		if err := db.SetOktaOrg(ctx, id, opts.OktaOrg); err != nil {
			return nil, err
		}
	}
	runs := make([]record.SourceRun, len(sources))
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], errs[i] = incrementalSource(ctx, db, base, id, src, prev[src.Name()], opts.OnPage, now, log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("incremental snapshot %d: %w", id, err)
	}
	return finish(ctx, db, id, runs, opts, now)
}

// incrementalSource reads one source's changes since its run in the base
// snapshot into snapshot id, or the whole source when it cannot. The error
// is the store's; the source's own failure is in the returned run.
func incrementalSource(ctx context.Context, db *store.DB, base, id store.SnapshotID, src Source, before record.SourceRun,
	onPage func(record.Source, int), now func() time.Time, log *slog.Logger) (record.SourceRun, error) {
	name := src.Name()
	inc, ok := src.(Incremental)
	switch {
	case !ok:
		log.Info("source has no change feed; reading it whole", "source", name)
		return collect(ctx, db.SourceSink(id, name), src, nil, false, onPage, now, log), nil
	case before.Sync == nil:
		log.Info("the last complete snapshot has no change position for this source; reading it whole", "source", name, "snapshot", base)
		return collect(ctx, db.SourceSink(id, name), src, nil, false, onPage, now, log), nil
	}
	if err := db.CopySourceRecords(ctx, base, id, name); err != nil {
		return record.SourceRun{}, err
	}
	run := record.SourceRun{Source: name, Started: now(), Incremental: true}
	cs := &countingSink{next: db.ChangeSink(id, name), src: name, onPage: onPage}
	log.Info("reading changes", "source", name, "since snapshot", base)
	stats, err := inc.CollectChanges(ctx, cs, before.Sync)
	if errors.Is(err, record.ErrResync) && cs.records.Load() == 0 {
		log.Info("change feed cannot continue; reading the source whole", "source", name, "reason", err)
		full, err := readWhole(ctx, db, id, src, onPage, now, log)
		full.Requests += stats.Requests
		return full, err
	}
	// The copied records are stored, so a feed that fails midway leaves a
	// partial source, never a failed one.
	return endRun(run, stats, err, true, now, log), nil
}
