package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
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

// Resumer is a Source that can continue an interrupted collection from the
// checkpoints it committed with its pages (record.Batch.Checkpoint).
// Sources that are not Resumers are read again from the start on resume,
// after their stored records are deleted.
type Resumer interface {
	Source
	// CollectFrom is Collect continuing each list at its checkpoint in
	// from: a list whose checkpoint is done is not read again, a list with
	// none is read from its start.
	CollectFrom(ctx context.Context, sink record.Sink, from map[string]record.Checkpoint) (record.Stats, error)
}

// Incremental is a Source that can read only what changed since an earlier
// read, from the Sync that read reported (record.Stats.Sync). It writes
// changed records whole and removed ones as Batch.Removed, and reports the
// Sync the next read starts from. When the feed cannot continue it returns
// record.ErrResync before writing anything.
type Incremental interface {
	Source
	CollectChanges(ctx context.Context, sink record.Sink, since map[string]string) (record.Stats, error)
}

// Options tune a scan.
type Options struct {
	// Incremental builds the new snapshot from the newest complete one plus
	// what each source's change feed reports since it; sources that cannot
	// read changes, or whose feed cannot continue, are read whole.
	Incremental bool
	// Resume continues the newest snapshot when it is unfinished or partial
	// (store.ResumableSnapshot) instead of starting a new one: a source
	// that completed is kept as it is, a Resumer continues from its
	// checkpoints, any other source is read again from scratch.
	Resume      bool
	ToolVersion string
	// OktaOrg is the Okta org URL, recorded in the snapshot for plans to check.
	OktaOrg  string
	Classify classify.Options
	// OnPage, when set, is called after each page a source stored, with the
	// number of records that source has stored so far. Used for progress.
	OnPage func(src record.Source, records int)
	// Classifying, when set, is called once the sources are done, before
	// the snapshot is loaded, classified and its findings saved; what it
	// returns is called after. That work is one goroutine's, so the scan
	// command lowers the collector's target there (internal/gctarget)
	// while leaving it alone for the collectors, which keep both cores busy.
	Classifying func() (done func())
	Logger      *slog.Logger
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
	var id store.SnapshotID
	var prev map[record.Source]record.SourceRun
	var err error
	if opts.Incremental && opts.Resume {
		return nil, errors.New("scan: --incremental and --resume do not go together: resume the unfinished scan first")
	}
	if opts.Incremental {
		return runIncremental(ctx, db, sources, opts, now, log)
	}
	if opts.Resume {
		id, prev, err = reopen(ctx, db)
	} else {
		id, err = db.BeginSnapshot(ctx, opts.ToolVersion, now())
	}
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
	errs := make([]error, len(sources))
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !opts.Resume {
				runs[i] = collect(ctx, db.SourceSink(id, src.Name()), src, nil, false, opts.OnPage, now, log)
				return
			}
			runs[i], errs[i] = resume(ctx, db, id, src, prev, opts.OnPage, now, log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("resume snapshot %d: %w", id, err)
	}
	// Sources of the resumed snapshot that this run was not given keep
	// their outcome, so the snapshot's status still reflects them.
	for name, run := range prev {
		if !slices.ContainsFunc(sources, func(s Source) bool { return s.Name() == name }) {
			runs = append(runs, run)
		}
	}

	return finish(ctx, db, id, runs, opts, now)
}

// finish records how the sources ended and the content hash, and classifies
// the snapshot. The hash, a read of every stored record, runs on a reader
// connection while the records are loaded and classified on the writer's:
// on two cores that takes the hash off the time after the last page.
func finish(ctx context.Context, db *store.DB, id store.SnapshotID, runs []record.SourceRun,
	opts Options, now func() time.Time) (*Result, error) {
	// The outcome is recorded even when the scan was interrupted, so that an
	// interrupted snapshot is marked partial rather than left looking fine.
	finishCtx := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		if err := db.FinishSnapshot(finishCtx, id, runs, now()); err != nil {
			return nil, fmt.Errorf("finish snapshot %d: %w", id, err)
		}
		return &Result{Snapshot: id, Sources: runs}, fmt.Errorf("scan interrupted: %w", ctx.Err())
	}
	if opts.Classifying != nil {
		defer opts.Classifying()()
	}
	type hashed struct {
		hash string
		err  error
	}
	hashDone := make(chan hashed, 1)
	go func() {
		h, err := db.ContentHash(finishCtx, id)
		hashDone <- hashed{h, err}
	}()
	if err := db.ShrinkMemory(ctx); err != nil {
		return nil, err
	}
	in, loadErr := db.LoadInput(ctx, id)
	h := <-hashDone
	if h.err != nil {
		return nil, fmt.Errorf("finish snapshot %d: %w", id, h.err)
	}
	if err := db.FinishSnapshotHashed(finishCtx, id, runs, now(), h.hash); err != nil {
		return nil, fmt.Errorf("finish snapshot %d: %w", id, err)
	}
	res := &Result{Snapshot: id, Sources: runs}
	if loadErr != nil {
		return res, loadErr
	}
	res.Findings = classify.Classify(in, opts.Classify)
	// Every record of the tenant just became garbage: collecting now keeps
	// the heap near what is live while the findings are written, instead
	// of growing it to twice the records. (Storing each finding as it is
	// made keeps the records alive through the whole write instead: at
	// 1,000,000 identities the scan's peak grew from 3.8 to 4.8 GB.)
	runtime.GC()
	if err := db.SaveFindings(ctx, id, res.Findings); err != nil {
		return res, err
	}
	return res, nil
}

// reopen finds the snapshot to resume, marks it running again and returns
// how its sources ended the last time (none when that run never finished).
func reopen(ctx context.Context, db *store.DB) (store.SnapshotID, map[record.Source]record.SourceRun, error) {
	id, err := db.ResumableSnapshot(ctx)
	if err != nil {
		return 0, nil, err
	}
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if err := db.ReopenSnapshot(ctx, id); err != nil {
		return 0, nil, err
	}
	return id, runsBySource(snap), nil
}

// resume continues one source of snapshot id. The error is the store's:
// the source's own failure is in the returned run.
func resume(ctx context.Context, db *store.DB, id store.SnapshotID, src Source, prev map[record.Source]record.SourceRun,
	onPage func(record.Source, int), now func() time.Time, log *slog.Logger) (record.SourceRun, error) {
	name := src.Name()
	before, seen := prev[name]
	if seen && before.Status == record.StatusComplete {
		log.Info("source already complete, not read again", "source", name, "snapshot", id)
		return before, nil
	}
	if seen && before.Incremental {
		// Changes applied over copied records have no list positions to
		// continue from: the source is read whole.
		log.Info("incremental read did not finish; reading the source whole", "source", name, "snapshot", id)
		return readWhole(ctx, db, id, src, onPage, now, log)
	}
	sink := db.SourceSink(id, name)
	var run record.SourceRun
	if _, ok := src.(Resumer); ok {
		from, err := db.Checkpoints(ctx, id, name)
		if err != nil {
			return record.SourceRun{}, err
		}
		log.Info("resuming", "source", name, "snapshot", id, "lists", len(from))
		run = collect(ctx, sink, src, from, len(from) > 0, onPage, now, log)
		if len(from) > 0 {
			// A change position taken now would miss what changed, before
			// now, in the lists the interrupted run had read: the next
			// incremental scan reads this source whole.
			run.Sync = nil
		}
		if seen {
			// The records stored before stand: the run covers both attempts.
			run.Started = before.Started
			run.Requests += before.Requests
			run.Retries += before.Retries
			for k, v := range before.Counts {
				run.Counts[k] += v
			}
		}
		return run, nil
	}
	log.Info("source cannot resume a list; reading it again from the start", "source", name, "snapshot", id)
	return readWhole(ctx, db, id, src, onPage, now, log)
}

// readWhole deletes what snapshot id holds of src and reads src again from
// the start.
func readWhole(ctx context.Context, db *store.DB, id store.SnapshotID, src Source,
	onPage func(record.Source, int), now func() time.Time, log *slog.Logger) (record.SourceRun, error) {
	if err := db.ResetSource(ctx, id, src.Name()); err != nil {
		return record.SourceRun{}, err
	}
	return collect(ctx, db.SourceSink(id, src.Name()), src, nil, false, onPage, now, log), nil
}

// runsBySource indexes a snapshot's source runs.
func runsBySource(snap *store.Snapshot) map[record.Source]record.SourceRun {
	runs := make(map[record.Source]record.SourceRun, len(snap.Sources))
	for _, r := range snap.Sources {
		runs[r.Source] = r
	}
	return runs
}

// collect runs one source into sink: from its checkpoints when from is not
// nil (src is then a Resumer). stored says records of this source were
// stored before, so that a failure is partial even if this run stored none.
func collect(ctx context.Context, sink record.Sink, src Source, from map[string]record.Checkpoint, stored bool,
	onPage func(record.Source, int), now func() time.Time, log *slog.Logger) record.SourceRun {
	run := record.SourceRun{Source: src.Name(), Started: now()}
	cs := &countingSink{next: sink, src: src.Name(), onPage: onPage}
	log.Info("collecting", "source", run.Source)
	var stats record.Stats
	var err error
	if r, ok := src.(Resumer); ok && from != nil {
		stats, err = r.CollectFrom(ctx, cs, from)
	} else {
		stats, err = src.Collect(ctx, cs)
	}
	return endRun(run, stats, err, cs.records.Load() > 0 || stored, now, log)
}

// endRun fills in how a source's collection ended. stored says records of
// the source are in the snapshot, so that a failure is partial, not failed.
func endRun(run record.SourceRun, stats record.Stats, err error, stored bool, now func() time.Time, log *slog.Logger) record.SourceRun {
	run.Ended = now()
	run.Sync = stats.Sync
	run.Requests = stats.Requests
	run.Retries = stats.Retries
	run.Counts = maps.Clone(stats.Counts)
	if run.Counts == nil {
		run.Counts = map[string]int{}
	}
	switch {
	case err == nil:
		run.Status = record.StatusComplete
	case stored:
		run.Status = record.StatusPartial
		run.Errors = []string{err.Error()}
	default:
		run.Status = record.StatusFailed
		run.Errors = []string{err.Error()}
	}
	if err != nil {
		log.Error("source did not finish", "source", run.Source, "status", run.Status, "err", err)
	} else {
		log.Info("collected", "source", run.Source, "incremental", run.Incremental, "requests", run.Requests, "retries", run.Retries,
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
