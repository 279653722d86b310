package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The results a journal entry can hold. Started is written before the call
// to the directory and replaced by one of the others after it, so an entry
// still Started after a crash marks a call whose outcome is unknown.
const (
	JournalStarted = "started"
	JournalApplied = "applied"
	JournalStale   = "stale"
	JournalFailed  = "failed"
	JournalWaiting = "waiting"
	JournalSkipped = "skipped"
)

// RunID identifies one apply run.
type RunID int64

// JournalEntry is one step of one apply run: what it found, what it wrote
// and how it ended. Before and After are JSON objects of attribute values;
// they hold directory data only, never credentials.
type JournalEntry struct {
	ID          int64
	RunID       RunID
	PlanSeal    string
	IdentityKey string
	StepIndex   int
	Kind        string
	// Target is the step's target as "system:id" or "system:id@app".
	Target string
	// Compensation marks an entry that undid step StepIndex after a later
	// step of the identity failed.
	Compensation bool
	Before       string
	After        string
	Result       string
	Error        string
	StartedAt    time.Time
	EndedAt      time.Time // zero while Started
}

// ApplyRun is one execution of a plan.
type ApplyRun struct {
	ID          RunID
	PlanSeal    string
	ToolVersion string
	StartedAt   time.Time
	EndedAt     time.Time
	Summary     string
}

// ErrNoRun is returned for an apply run id the database does not hold.
var ErrNoRun = errors.New("no such apply run")

// BeginApplyRun records the start of an apply of the plan sealed seal and
// keeps the plan's JSON (once per seal), so that an undo can be computed
// from the database alone.
func (db *DB) BeginApplyRun(ctx context.Context, seal, toolVersion string, planJSON []byte, started time.Time) (RunID, error) {
	var id RunID
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO applied_plans (seal, plan_json) VALUES (?, ?)`, seal, planJSON); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO apply_runs (plan_seal, tool_version, started_at) VALUES (?, ?, ?)`,
			seal, toolVersion, started.UTC().Format(timeFormat))
		if err != nil {
			return err
		}
		n, err := res.LastInsertId()
		id = RunID(n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("begin apply run: %w", err)
	}
	return id, nil
}

// EndApplyRun records the end of a run and its one-line summary.
func (db *DB) EndApplyRun(ctx context.Context, id RunID, summary string, ended time.Time) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE apply_runs SET ended_at = ?, summary = ? WHERE id = ?`,
			ended.UTC().Format(timeFormat), summary, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("end apply run %d: %w", id, err)
	}
	return nil
}

// ApplyRunInfo reads one run's metadata.
func (db *DB) ApplyRunInfo(ctx context.Context, id RunID) (*ApplyRun, error) {
	r := &ApplyRun{ID: id}
	var started string
	var ended sql.NullString
	err := db.sql.QueryRowContext(ctx, `SELECT plan_seal, tool_version, started_at, ended_at, summary FROM apply_runs WHERE id = ?`, id).
		Scan(&r.PlanSeal, &r.ToolVersion, &started, &ended, &r.Summary)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("apply run %d: %w", id, ErrNoRun)
	}
	if err != nil {
		return nil, fmt.Errorf("read apply run %d: %w", id, err)
	}
	r.StartedAt, _ = time.Parse(timeFormat, started)
	if ended.Valid {
		r.EndedAt, _ = time.Parse(timeFormat, ended.String)
	}
	return r, nil
}

// AppliedPlan returns the JSON of the plan sealed seal, as BeginApplyRun
// stored it.
func (db *DB) AppliedPlan(ctx context.Context, seal string) ([]byte, error) {
	var data []byte
	err := db.sql.QueryRowContext(ctx, `SELECT plan_json FROM applied_plans WHERE seal = ?`, seal).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no apply of the plan sealed %s is recorded in this database", seal)
	}
	if err != nil {
		return nil, fmt.Errorf("read applied plan %s: %w", seal, err)
	}
	return data, nil
}

// JournalBegin writes e as Started, before the call it describes, and
// returns its id for JournalEnd.
func (db *DB) JournalBegin(ctx context.Context, e JournalEntry) (int64, error) {
	e.Result = JournalStarted
	e.EndedAt = time.Time{}
	return db.journalInsert(ctx, e)
}

// JournalRecord writes a finished entry in one go: a step decided without a
// call (stale, waiting, skipped).
func (db *DB) JournalRecord(ctx context.Context, e JournalEntry) (int64, error) {
	if e.Result == "" || e.Result == JournalStarted {
		return 0, fmt.Errorf("journal: a recorded entry needs a final result, got %q", e.Result)
	}
	if e.EndedAt.IsZero() {
		e.EndedAt = e.StartedAt
	}
	return db.journalInsert(ctx, e)
}

func (db *DB) journalInsert(ctx context.Context, e JournalEntry) (int64, error) {
	var id int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO journal
			(run_id, plan_seal, identity_key, step_index, kind, target, compensation, before, after, result, error, started_at, ended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.RunID, e.PlanSeal, e.IdentityKey, e.StepIndex, e.Kind, e.Target, e.Compensation, orEmptyObject(e.Before), orEmptyObject(e.After),
			e.Result, e.Error, e.StartedAt.UTC().Format(timeFormat), nullTime(e.EndedAt))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("journal step %d of %q: %w", e.StepIndex, e.IdentityKey, err)
	}
	return id, nil
}

// JournalEnd records how the call of a Started entry ended.
func (db *DB) JournalEnd(ctx context.Context, id int64, result, after, errMsg string, ended time.Time) error {
	if result == "" || result == JournalStarted {
		return fmt.Errorf("journal: entry %d needs a final result, got %q", id, result)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE journal SET result = ?, after = ?, error = ?, ended_at = ? WHERE id = ? AND result = ?`,
			result, orEmptyObject(after), errMsg, ended.UTC().Format(timeFormat), id, JournalStarted)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("entry %d is not a started entry (%d rows, %v)", id, n, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal end of entry %d: %w", id, err)
	}
	return nil
}

// Journal returns every entry of every run of the plan sealed seal, in the
// order they were written.
func (db *DB) Journal(ctx context.Context, seal string) ([]JournalEntry, error) {
	return db.journalQuery(ctx, `WHERE plan_seal = ? ORDER BY id`, seal)
}

// RunJournal returns the entries of one run in the order they were written.
func (db *DB) RunJournal(ctx context.Context, run RunID) ([]JournalEntry, error) {
	return db.journalQuery(ctx, `WHERE run_id = ? ORDER BY id`, run)
}

func (db *DB) journalQuery(ctx context.Context, where string, arg any) ([]JournalEntry, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, run_id, plan_seal, identity_key, step_index, kind, target, compensation,
		before, after, result, error, started_at, ended_at FROM journal `+where, arg)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var e JournalEntry
		var started string
		var ended sql.NullString
		if err := rows.Scan(&e.ID, &e.RunID, &e.PlanSeal, &e.IdentityKey, &e.StepIndex, &e.Kind, &e.Target, &e.Compensation,
			&e.Before, &e.After, &e.Result, &e.Error, &started, &ended); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		e.StartedAt, _ = time.Parse(timeFormat, started)
		if ended.Valid {
			e.EndedAt, _ = time.Parse(timeFormat, ended.String)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}
