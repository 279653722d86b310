package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/anchorscan/anchorscan/scan/record"
)

// changedTables are the record tables an incremental scan carries over from
// the snapshot before it and then patches with what changed: the long lists.
// The short ones (apps, the organisation, domains) are read whole every time.
var changedTables = map[record.Source][]string{
	record.SourceOkta:  {"okta_users", "okta_app_users"},
	record.SourceEntra: {"entra_users"},
	record.SourceAD:    {"ad_users"},
}

// CopySourceRecords copies the long record lists of source src from snapshot
// from into snapshot to, in one transaction: the base an incremental read
// patches.
func (db *DB) CopySourceRecords(ctx context.Context, from, to SnapshotID, src record.Source) error {
	tables, ok := changedTables[src]
	if !ok {
		return fmt.Errorf("copy records: unknown source %q", src)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range tables {
			cols := columnsOf(table)
			// table and cols come from recordTables, never from input.
			q := "INSERT INTO " + table + " (snapshot_id, " + cols + ") SELECT ?, " + cols + " FROM " + table + " WHERE snapshot_id = ?"
			if _, err := tx.ExecContext(ctx, q, to, from); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy %s records of snapshot %d into %d: %w", src, from, to, err)
	}
	return nil
}

func columnsOf(table string) string {
	for _, t := range recordTables {
		if t.name == table {
			return t.columns
		}
	}
	panic("store: no record table " + table)
}

// ChangeSink returns a record.Sink for an incremental read of source src into
// snapshot id, which holds the source's records copied from the snapshot
// before (CopySourceRecords). A record in a batch replaces the stored one
// with its key, and Batch.Removed deletes; each batch is one transaction.
func (db *DB) ChangeSink(id SnapshotID, src record.Source) record.Sink {
	return &changeSink{db: db, id: id, src: src}
}

type changeSink struct {
	db  *DB
	id  SnapshotID
	src record.Source
}

func (s *changeSink) Write(ctx context.Context, b record.Batch) error {
	if b.Len() == 0 && b.Removed.Len() == 0 {
		return nil
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.remove(ctx, tx, &b); err != nil {
			return err
		}
		return insertBatch(ctx, tx, s.id, &b)
	})
	if err != nil {
		return fmt.Errorf("store %s changes: %w", s.src, err)
	}
	return nil
}

// remove deletes the records the batch replaces or removes, by key. AD
// users go by objectGUID and by DN: a user deleted and re-created under the
// same name has a new GUID, and a renamed one keeps its GUID.
func (s *changeSink) remove(ctx context.Context, tx *sql.Tx, b *record.Batch) error {
	var oktaUsers, entraUsers []any
	var appUsers [][2]any
	var adGUIDs, adDNs []any
	for _, u := range b.OktaUsers {
		oktaUsers = append(oktaUsers, u.ID)
	}
	for _, u := range b.OktaAppUsers {
		appUsers = append(appUsers, [2]any{u.AppID, u.UserID})
	}
	for _, u := range b.EntraUsers {
		entraUsers = append(entraUsers, u.ID)
	}
	for _, u := range b.ADUsers {
		adGUIDs = append(adGUIDs, u.ObjectGUID[:])
		adDNs = append(adDNs, u.DistinguishedName)
	}
	if r := b.Removed; r != nil {
		for _, id := range r.OktaUsers {
			oktaUsers = append(oktaUsers, id)
		}
		for _, k := range r.OktaAppUsers {
			appUsers = append(appUsers, [2]any{k.AppID, k.UserID})
		}
		for _, id := range r.EntraUsers {
			entraUsers = append(entraUsers, id)
		}
		for _, g := range r.ADUsers {
			adGUIDs = append(adGUIDs, g[:])
		}
	}
	if r := b.Removed; r != nil && len(r.OktaAppUsersOf) > 0 {
		apps := make([]any, len(r.OktaAppUsersOf))
		for i, id := range r.OktaAppUsersOf {
			apps[i] = id
		}
		if err := deleteIn(ctx, tx, s.id, "okta_app_users", "app_id", apps); err != nil {
			return err
		}
	}
	if err := deleteIn(ctx, tx, s.id, "okta_users", "id", oktaUsers); err != nil {
		return err
	}
	if err := deleteIn(ctx, tx, s.id, "entra_users", "id", entraUsers); err != nil {
		return err
	}
	if err := deleteIn(ctx, tx, s.id, "ad_users", "object_guid", adGUIDs); err != nil {
		return err
	}
	if err := deleteIn(ctx, tx, s.id, "ad_users", "dn", adDNs); err != nil {
		return err
	}
	for start := 0; start < len(appUsers); start += deleteChunk {
		chunk := appUsers[start:min(start+deleteChunk, len(appUsers))]
		args := []any{s.id}
		for _, k := range chunk {
			args = append(args, k[0], k[1])
		}
		q := "DELETE FROM okta_app_users WHERE snapshot_id = ? AND (app_id, user_id) IN (VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)), ", ") + ")"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("remove okta app users: %w", err)
		}
	}
	return nil
}

// deleteChunk keys go in one DELETE: far below SQLite's parameter limit, and
// each statement is one pass over the snapshot's rows.
const deleteChunk = 500

func deleteIn(ctx context.Context, tx *sql.Tx, id SnapshotID, table, column string, keys []any) error {
	for start := 0; start < len(keys); start += deleteChunk {
		chunk := keys[start:min(start+deleteChunk, len(keys))]
		// table and column are constants of this file.
		q := "DELETE FROM " + table + " WHERE snapshot_id = ? AND " + column + " IN (" +
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")"
		if _, err := tx.ExecContext(ctx, q, append([]any{id}, chunk...)...); err != nil {
			return fmt.Errorf("remove from %s: %w", table, err)
		}
	}
	return nil
}

// LatestCompleteSnapshot returns the newest snapshot whose every source
// completed: the only kind an incremental scan may build on, since a change
// feed says what changed, not what an interrupted read missed.
func (db *DB) LatestCompleteSnapshot(ctx context.Context) (SnapshotID, error) {
	var id sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, `SELECT MAX(id) FROM snapshots WHERE status = 'complete'`).Scan(&id); err != nil {
		return 0, fmt.Errorf("find latest complete snapshot: %w", err)
	}
	if !id.Valid {
		return 0, ErrNoSnapshot
	}
	return SnapshotID(id.Int64), nil
}
