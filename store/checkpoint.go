package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/anchorscan/anchorscan/scan/record"
)

// ErrNothingToResume is returned by ResumableSnapshot when the newest
// snapshot completed, or there is none.
var ErrNothingToResume = errors.New("nothing to resume")

// sourceTables are the record tables each source writes.
var sourceTables = map[record.Source][]string{
	record.SourceOkta:  {"okta_users", "okta_apps", "okta_app_users"},
	record.SourceEntra: {"entra_orgs", "entra_domains", "entra_users"},
	record.SourceAD:    {"ad_domains", "ad_users"},
}

// SourceSink returns a record.Sink for source src of snapshot id. Each batch
// is committed in one transaction together with its Checkpoint, if it has
// one: after a crash the stored cursor is exactly where the stored records
// end. It is safe for concurrent use.
func (db *DB) SourceSink(id SnapshotID, src record.Source) record.Sink {
	return &sourceSink{db: db, id: id, src: src}
}

type sourceSink struct {
	db  *DB
	id  SnapshotID
	src record.Source
}

func (s *sourceSink) Write(ctx context.Context, b record.Batch) error {
	if b.Len() == 0 && b.Checkpoint == nil {
		return nil
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertBatch(ctx, tx, s.id, &b); err != nil {
			return err
		}
		if cp := b.Checkpoint; cp != nil {
			if cp.List == "" {
				return errors.New("checkpoint without a list name")
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO scan_checkpoints (snapshot_id, source, list, cursor) VALUES (?, ?, ?, ?)`,
				s.id, string(s.src), cp.List, cp.Cursor); err != nil {
				return fmt.Errorf("checkpoint of list %s: %w", cp.List, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %s batch: %w", s.src, err)
	}
	return nil
}

// Checkpoints returns the checkpoints source src committed in snapshot id,
// by list name. A list without one was never started.
func (db *DB) Checkpoints(ctx context.Context, id SnapshotID, src record.Source) (map[string]record.Checkpoint, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT list, cursor FROM scan_checkpoints WHERE snapshot_id = ? AND source = ?`, id, string(src))
	if err != nil {
		return nil, fmt.Errorf("read %s checkpoints of snapshot %d: %w", src, id, err)
	}
	defer rows.Close()
	out := map[string]record.Checkpoint{}
	for rows.Next() {
		var cp record.Checkpoint
		if err := rows.Scan(&cp.List, &cp.Cursor); err != nil {
			return nil, fmt.Errorf("read %s checkpoints of snapshot %d: %w", src, id, err)
		}
		out[cp.List] = cp
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s checkpoints of snapshot %d: %w", src, id, err)
	}
	return out, nil
}

// ResetSource deletes every record and checkpoint source src wrote into
// snapshot id, in one transaction, so that a source that cannot continue
// where it stopped (an LDAP paged search cannot outlive its connection)
// reads again from the start without storing anything twice.
func (db *DB) ResetSource(ctx context.Context, id SnapshotID, src record.Source) error {
	tables, ok := sourceTables[src]
	if !ok {
		return fmt.Errorf("reset source %q of snapshot %d: unknown source", src, id)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables {
			// t comes from sourceTables, never from input.
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE snapshot_id = ?", id); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM scan_checkpoints WHERE snapshot_id = ? AND source = ?`, id, string(src))
		return err
	})
	if err != nil {
		return fmt.Errorf("reset source %s of snapshot %d: %w", src, id, err)
	}
	return nil
}

// ResumableSnapshot returns the newest snapshot if it is unfinished (the scan
// was interrupted) or partial (a source did not finish). When the newest
// snapshot is complete there is nothing to resume: an older partial one
// would be older than what was read since, so it is not offered.
func (db *DB) ResumableSnapshot(ctx context.Context) (SnapshotID, error) {
	var id SnapshotID
	var status string
	err := db.sql.QueryRowContext(ctx, `SELECT id, status FROM snapshots ORDER BY id DESC LIMIT 1`).Scan(&id, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: the database holds no snapshot", ErrNothingToResume)
	}
	if err != nil {
		return 0, fmt.Errorf("find the snapshot to resume: %w", err)
	}
	if status == "complete" {
		return 0, fmt.Errorf("%w: the newest snapshot, %d, is complete", ErrNothingToResume, id)
	}
	return id, nil
}

// ReopenSnapshot marks snapshot id as running again, for a resumed scan: if
// the resumed scan is interrupted in turn, the snapshot reads as unfinished
// rather than keeping the outcome of the earlier attempt.
func (db *DB) ReopenSnapshot(ctx context.Context, id SnapshotID) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE snapshots SET status = 'running', ended_at = NULL WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("reopen snapshot %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("reopen snapshot %d: %w", id, ErrNoSnapshot)
		}
		return nil
	})
}
