package scan

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/store"
)

// Source is one directory a scan reads. Collect writes what it reads to sink
// page by page and returns what it did; an error means the source did not
// finish, whatever it wrote before.
type Source interface {
	Name() record.Source
	Collect(ctx context.Context, sink record.Sink) (record.Stats, error)
}

// Options tune a scan.
type Options struct {
	ToolVersion string
	// OktaOrg is the Okta org URL, recorded in the snapshot for plans to check.
	OktaOrg  string
	Classify classify.Options
	// OnPage, when set, is called after each page a source stored, with the
	// number of records that source has stored so far. Used for progress.
	OnPage func(src record.Source, records int)
	Logger *slog.Logger
	// Now is the clock; tests pin it.
	Now func() time.Time
}

// Result is what a scan produced.
type Result struct {
	Snapshot store.SnapshotID
	Sources  []record.SourceRun
	Findings classify.Result
}

// Complete reports whether every source finished.
func (r *Result) Complete() bool {
	for _, s := range r.Sources {
		if s.Status != record.StatusComplete {
			return false
		}
	}
	return true
}

// Run scans sources into a new snapshot of db and classifies it. A source that
// fails does not stop the others: its status says what happened, and the
// snapshot is marked partial. Run returns an error only when the snapshot
// itself could not be written or classified.
func Run(ctx context.Context, db *store.DB, sources []Source, opts Options) (*Result, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = collect(ctx, db.Sink(id), src, opts.OnPage, now, log)
		}()
	}
	wg.Wait()

	// The outcome is recorded even when the scan was interrupted, so that an
	// interrupted snapshot is marked partial rather than left looking fine.
	finishCtx := context.WithoutCancel(ctx)
	if err := db.FinishSnapshot(finishCtx, id, runs, now()); err != nil {
		return nil, fmt.Errorf("finish snapshot %d: %w", id, err)
	}
	res := &Result{Snapshot: id, Sources: runs}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("scan interrupted: %w", err)
	}
	in, err := db.LoadInput(ctx, id)
	if err != nil {
		return res, err
	}
	res.Findings = classify.Classify(in, opts.Classify)
	if err := db.SaveFindings(ctx, id, res.Findings); err != nil {
		return res, err
	}
	return res, nil
}

func collect(ctx context.Context, sink record.Sink, src Source, onPage func(record.Source, int), now func() time.Time, log *slog.Logger) record.SourceRun {
	run := record.SourceRun{Source: src.Name(), Started: now()}
	cs := &countingSink{next: sink, src: src.Name(), onPage: onPage}
	log.Info("collecting", "source", run.Source)
	stats, err := src.Collect(ctx, cs)
	run.Ended = now()
	run.Requests = stats.Requests
	run.Counts = stats.Counts
	if run.Counts == nil {
		run.Counts = map[string]int{}
	}
	switch {
	case err == nil:
		run.Status = record.StatusComplete
	case cs.records.Load() > 0:
		run.Status = record.StatusPartial
		run.Errors = []string{err.Error()}
	default:
		run.Status = record.StatusFailed
		run.Errors = []string{err.Error()}
	}
	if err != nil {
		log.Error("source did not finish", "source", run.Source, "status", run.Status, "err", err)
	} else {
		log.Info("collected", "source", run.Source, "records", cs.records.Load(), "requests", run.Requests,
			"duration", run.Ended.Sub(run.Started).Round(time.Millisecond))
	}
	return run
}

// countingSink counts what a source stored, to tell a partial source (some
// pages stored) from a failed one (nothing stored).
type countingSink struct {
	next    record.Sink
	src     record.Source
	onPage  func(record.Source, int)
	records atomic.Int64
}

func (s *countingSink) Write(ctx context.Context, b record.Batch) error {
	if err := s.next.Write(ctx, b); err != nil {
		return err
	}
	n := s.records.Add(int64(b.Len()))
	if s.onPage != nil {
		s.onPage(s.src, int(n))
	}
	return nil
}
