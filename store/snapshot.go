package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anchorscan/anchorscan/scan/record"
)

// SnapshotID identifies one scan in the database.
type SnapshotID int64

// Snapshot is a scan's metadata.
type Snapshot struct {
	ID          SnapshotID
	ToolVersion string
	StartedAt   time.Time
	EndedAt     time.Time // zero while running
	// Status is "running", or "complete" when every source completed, or
	// "partial" when any source is partial or failed.
	Status      string
	ContentHash string // sha256 over every record of the snapshot, hex
	OktaOrg     string
	EntraTenant string
	ADDomains   []string
	Sources     []record.SourceRun
}

// ErrNoSnapshot is returned when the database holds no (such) snapshot.
var ErrNoSnapshot = errors.New("no such snapshot")

const timeFormat = time.RFC3339Nano

// BeginSnapshot records the start of a scan and returns its id.
func (db *DB) BeginSnapshot(ctx context.Context, toolVersion string, started time.Time) (SnapshotID, error) {
	var id SnapshotID
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO snapshots (tool_version, started_at) VALUES (?, ?)`,
			toolVersion, started.UTC().Format(timeFormat))
		if err != nil {
			return err
		}
		n, err := res.LastInsertId()
		id = SnapshotID(n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("begin snapshot: %w", err)
	}
	return id, nil
}

// FinishSnapshot records how each source ended, the tenants the records
// belong to and the content hash, and closes the snapshot.
func (db *DB) FinishSnapshot(ctx context.Context, id SnapshotID, runs []record.SourceRun, ended time.Time) error {
	hash, err := db.ContentHash(ctx, id)
	if err != nil {
		return err
	}
	return db.FinishSnapshotHashed(ctx, id, runs, ended, hash)
}

// FinishSnapshotHashed is FinishSnapshot with the content hash computed
// beforehand (ContentHash), so that a caller can hash while it does other work.
func (db *DB) FinishSnapshotHashed(ctx context.Context, id SnapshotID, runs []record.SourceRun, ended time.Time, hash string) error {
	status := "complete"
	for _, r := range runs {
		if r.Status != record.StatusComplete {
			status = "partial"
		}
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range runs {
			counts, err := json.Marshal(r.Counts)
			if err != nil {
				return err
			}
			errs := r.Errors
			if errs == nil {
				errs = []string{}
			}
			errJSON, err := json.Marshal(errs)
			if err != nil {
				return err
			}
			syncState := r.Sync
			if syncState == nil {
				syncState = map[string]string{}
			}
			syncJSON, err := json.Marshal(syncState)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO source_runs
				(snapshot_id, source, status, requests, counts, started_at, ended_at, errors, sync_state, incremental)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, string(r.Source), string(r.Status), r.Requests, string(counts),
				r.Started.UTC().Format(timeFormat), r.Ended.UTC().Format(timeFormat), string(errJSON),
				string(syncJSON), r.Incremental); err != nil {
				return fmt.Errorf("record source %s: %w", r.Source, err)
			}
		}
		var tenant string
		row := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT tenant_id FROM entra_orgs WHERE snapshot_id = ? LIMIT 1), '')`, id)
		if err := row.Scan(&tenant); err != nil {
			return err
		}
		var domains []string
		rows, err := tx.QueryContext(ctx, `SELECT name FROM ad_domains WHERE snapshot_id = ? ORDER BY name`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return err
			}
			domains = append(domains, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE snapshots SET ended_at = ?, status = ?, content_hash = ?, entra_tenant = ?, ad_domains = ? WHERE id = ?`,
			ended.UTC().Format(timeFormat), status, hash, tenant, strings.Join(domains, ","), id)
		return err
	})
}

// SetOktaOrg records the Okta org URL the snapshot was read from.
func (db *DB) SetOktaOrg(ctx context.Context, id SnapshotID, org string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE snapshots SET okta_org = ? WHERE id = ?`, org, id)
		return err
	})
}

// Snapshot reads one snapshot's metadata.
func (db *DB) Snapshot(ctx context.Context, id SnapshotID) (*Snapshot, error) {
	s := &Snapshot{ID: id}
	var started string
	var ended, hash sql.NullString
	var domains string
	err := db.sql.QueryRowContext(ctx, `SELECT tool_version, started_at, ended_at, status, content_hash, okta_org, entra_tenant, ad_domains
		FROM snapshots WHERE id = ?`, id).Scan(&s.ToolVersion, &started, &ended, &s.Status, &hash, &s.OktaOrg, &s.EntraTenant, &domains)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("snapshot %d: %w", id, ErrNoSnapshot)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot %d: %w", id, err)
	}
	s.StartedAt, _ = time.Parse(timeFormat, started)
	if ended.Valid {
		s.EndedAt, _ = time.Parse(timeFormat, ended.String)
	}
	s.ContentHash = hash.String
	if domains != "" {
		s.ADDomains = strings.Split(domains, ",")
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT source, status, requests, counts, started_at, ended_at, errors, sync_state, incremental
		FROM source_runs WHERE snapshot_id = ? ORDER BY source`, id)
	if err != nil {
		return nil, fmt.Errorf("read sources of snapshot %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r record.SourceRun
		var src, status, counts, st, en, errs, syncState string
		if err := rows.Scan(&src, &status, &r.Requests, &counts, &st, &en, &errs, &syncState, &r.Incremental); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(syncState), &r.Sync); err != nil {
			return nil, fmt.Errorf("snapshot %d source %s: sync state: %w", id, src, err)
		}
		if len(r.Sync) == 0 {
			r.Sync = nil
		}
		r.Source, r.Status = record.Source(src), record.Status(status)
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, fmt.Errorf("snapshot %d source %s: counts: %w", id, src, err)
		}
		if err := json.Unmarshal([]byte(errs), &r.Errors); err != nil {
			return nil, fmt.Errorf("snapshot %d source %s: errors: %w", id, src, err)
		}
		r.Started, _ = time.Parse(timeFormat, st)
		r.Ended, _ = time.Parse(timeFormat, en)
		s.Sources = append(s.Sources, r)
	}
	return s, rows.Err()
}

// SnapshotOrLatest returns snapshot id, or the newest finished one when id
// is 0, as the commands' --snapshot flag means.
func (db *DB) SnapshotOrLatest(ctx context.Context, id SnapshotID) (*Snapshot, error) {
	if id == 0 {
		latest, err := db.LatestSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		id = latest
	}
	return db.Snapshot(ctx, id)
}

// LatestSnapshot returns the id of the newest finished snapshot.
func (db *DB) LatestSnapshot(ctx context.Context) (SnapshotID, error) {
	var id sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, `SELECT MAX(id) FROM snapshots WHERE ended_at IS NOT NULL`).Scan(&id); err != nil {
		return 0, fmt.Errorf("find latest snapshot: %w", err)
	}
	if !id.Valid {
		return 0, ErrNoSnapshot
	}
	return SnapshotID(id.Int64), nil
}
