package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// SaveFindings replaces the findings of a snapshot with res, in one transaction.
func (db *DB) SaveFindings(ctx context.Context, id SnapshotID, res classify.Result) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM findings WHERE snapshot_id = ?`, `DELETE FROM org_findings WHERE snapshot_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		details, stop := marshalAhead(res.Identities)
		defer stop()
		err := insert(ctx, tx, len(res.Identities), "findings", 11, func(i int) []any {
			f := &res.Identities[i]
			return []any{id, i, string(f.Scenario), string(f.Severity), f.UPN, f.EntraUserID, f.OktaUserID, f.ADObjectGUID,
				f.EntraAnchor, f.OktaAnchor, <-details}
		})
		if err != nil {
			return fmt.Errorf("findings: %w", err)
		}
		return insert(ctx, tx, len(res.Org), "org_findings", 4, func(i int) []any {
			o := res.Org[i]
			return []any{id, string(o.Code), string(o.Severity), o.Explanation}
		})
	})
	if err != nil {
		return fmt.Errorf("save findings of snapshot %d: %w", id, err)
	}
	return nil
}

// marshalAhead encodes each finding's detail on its own goroutine, in order,
// a few hundred ahead of the inserts: encoding and SQLite then share the
// work between two cores instead of taking turns on one. stop ends the
// encoder when the inserts give up early.
func marshalAhead(fs []classify.Finding) (details <-chan string, stop func()) {
	out := make(chan string, 512)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for i := range fs {
			detail, _ := json.Marshal(&fs[i]) // Finding holds only strings, bools, ints and slices of them
			select {
			case out <- string(detail):
			case <-done:
				return
			}
		}
	}()
	return out, func() { close(done) }
}

// Findings reads the findings of a snapshot in the order they were saved.
func (db *DB) Findings(ctx context.Context, id SnapshotID) (classify.Result, error) {
	var res classify.Result
	err := db.EachFinding(ctx, id, func(f *classify.Finding) error {
		res.Identities = append(res.Identities, *f)
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Org, err = db.OrgFindings(ctx, id)
	return res, err
}

// EachFinding calls fn with each finding of a snapshot, in the order they
// were saved, without holding them all: a report of a million identities
// reads them one at a time. fn must not keep f, whose memory a later call
// may reuse; an error from fn stops the read and is returned.
//
// The rows are read and decoded on a goroutine of their own, a few batches
// ahead of fn: decoding is a seventh of a report's work, and the second
// core would otherwise wait.
func (db *DB) EachFinding(ctx context.Context, id SnapshotID, fn func(f *classify.Finding) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []classify.Finding, 2)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		errc <- db.decodeFindings(ctx, id, batches)
	}()
	stop := func(err error) error {
		cancel()
		for range batches {
			// Let the reader see the cancellation and end.
		}
		<-errc
		return err
	}
	for batch := range batches {
		// The reader may have read every row already: the caller's
		// cancellation still ends the calls.
		if err := ctx.Err(); err != nil {
			return stop(err)
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return stop(err)
			}
		}
	}
	return <-errc
}

// findingBatch is how many findings the reader decodes before handing
// them over.
const findingBatch = 256

// decodeFindings reads and decodes a snapshot's findings in order and sends
// them in batches, until they end, ctx ends, or a row is corrupt.
func (db *DB) decodeFindings(ctx context.Context, id SnapshotID, out chan<- []classify.Finding) error {
	rows, err := db.sql.QueryContext(ctx, `SELECT detail FROM findings WHERE snapshot_id = ? ORDER BY seq`, id)
	if err != nil {
		return fmt.Errorf("read findings of snapshot %d: %w", id, err)
	}
	defer rows.Close()
	batch := make([]classify.Finding, 0, findingBatch)
	send := func() error {
		select {
		case out <- batch:
			batch = make([]classify.Finding, 0, findingBatch)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var detail []byte
	for n := 0; rows.Next(); n++ {
		if err := rows.Scan(&detail); err != nil {
			return err
		}
		batch = append(batch, classify.Finding{})
		if err := json.Unmarshal(detail, &batch[len(batch)-1]); err != nil {
			return fmt.Errorf("snapshot %d: finding %d is corrupt: %w", id, n, err)
		}
		if len(batch) == findingBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return send()
	}
	return nil
}

// FindingCount is the number of identities a snapshot's findings cover.
func (db *DB) FindingCount(ctx context.Context, id SnapshotID) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM findings WHERE snapshot_id = ?`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("count findings of snapshot %d: %w", id, err)
	}
	return n, nil
}

// OrgFindings reads the tenant-wide findings of a snapshot, by code.
func (db *DB) OrgFindings(ctx context.Context, id SnapshotID) ([]classify.OrgFinding, error) {
	var out []classify.OrgFinding
	rows, err := db.sql.QueryContext(ctx, `SELECT code, severity, explanation FROM org_findings WHERE snapshot_id = ? ORDER BY code`, id)
	if err != nil {
		return nil, fmt.Errorf("read org findings of snapshot %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o classify.OrgFinding
		var code, sev string
		if err := rows.Scan(&code, &sev, &o.Explanation); err != nil {
			return nil, err
		}
		o.Code, o.Severity = classify.OrgCode(code), classify.Severity(sev)
		out = append(out, o)
	}
	return out, rows.Err()
}

// AnchorHolder is a record that holds an ImmutableID value.
type AnchorHolder struct {
	Source string // "entra", "okta", "ad"
	ID     string // Entra object id, Okta user id, AD distinguished name
	Name   string // UPN or login
	Field  string // which attribute holds it
}

// AnchorHolders finds every record of a snapshot whose anchor attribute equals
// value exactly (Entra compares case-sensitively, so this does too).
func (db *DB) AnchorHolders(ctx context.Context, id SnapshotID, value string, rawGUIDs [][]byte) ([]AnchorHolder, error) {
	var out []AnchorHolder
	query := func(q string, args []any, src, field string) error {
		rows, err := db.sql.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("look up %s: %w", src, err)
		}
		defer rows.Close()
		for rows.Next() {
			h := AnchorHolder{Source: src, Field: field}
			if err := rows.Scan(&h.ID, &h.Name); err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	}
	if err := query(`SELECT id, upn FROM entra_users WHERE snapshot_id = ? AND immutable_id = ? ORDER BY id`,
		[]any{id, value}, "entra", "onPremisesImmutableId"); err != nil {
		return nil, err
	}
	if err := query(`SELECT au.user_id, au.user_name FROM okta_app_users au JOIN okta_apps a ON a.snapshot_id = au.snapshot_id AND a.id = au.app_id
		WHERE au.snapshot_id = ? AND a.name = 'office365' AND au.immutable_id = ? ORDER BY au.user_id`,
		[]any{id, value}, "okta", "office365 profile.immutableId"); err != nil {
		return nil, err
	}
	for _, raw := range rawGUIDs {
		if err := query(`SELECT dn, upn FROM ad_users WHERE snapshot_id = ? AND object_guid = ? ORDER BY dn`,
			[]any{id, raw}, "ad", "objectGUID"); err != nil {
			return nil, err
		}
		if err := query(`SELECT dn, upn FROM ad_users WHERE snapshot_id = ? AND consistency_guid = ? ORDER BY dn`,
			[]any{id, raw}, "ad", "mS-DS-ConsistencyGuid"); err != nil {
			return nil, err
		}
	}
	return out, nil
}
