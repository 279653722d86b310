package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

// Sink returns a record.Sink that writes each batch into snapshot id in one
// transaction. It is safe for concurrent use by several collectors.
func (db *DB) Sink(id SnapshotID) record.Sink {
	return &sink{db: db, id: id}
}

type sink struct {
	db *DB
	id SnapshotID
}

func (s *sink) Write(ctx context.Context, b record.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		return insertBatch(ctx, tx, s.id, &b)
	})
	if err != nil {
		return fmt.Errorf("store batch: %w", err)
	}
	return nil
}

// rowsPerInsert rows go in one INSERT statement: SQLite's per-statement cost
// through database/sql dominates single-row inserts.
const rowsPerInsert = 32

// insert writes n rows into table, rowsPerInsert at a time; args gives the
// values of row i in column order.
func insert(ctx context.Context, tx *sql.Tx, n int, table string, columns int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	one := "(" + strings.Repeat("?, ", columns-1) + "?)"
	build := func(rows int) string {
		return "INSERT INTO " + table + " VALUES " + strings.Repeat(one+", ", rows-1) + one
	}
	full, err := tx.PrepareContext(ctx, build(min(n, rowsPerInsert)))
	if err != nil {
		return err
	}
	defer full.Close()
	vals := make([]any, 0, rowsPerInsert*columns)
	for start := 0; start < n; start += rowsPerInsert {
		end := min(start+rowsPerInsert, n)
		vals = vals[:0]
		for i := start; i < end; i++ {
			vals = append(vals, args(i)...)
		}
		stmt := full
		if end-start < min(n, rowsPerInsert) {
			if stmt, err = tx.PrepareContext(ctx, build(end-start)); err != nil {
				return err
			}
			defer stmt.Close()
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return err
		}
	}
	return nil
}

func insertBatch(ctx context.Context, tx *sql.Tx, id SnapshotID, b *record.Batch) error {
	if err := insert(ctx, tx, len(b.OktaUsers), "okta_users", 7, func(i int) []any {
		u := b.OktaUsers[i]
		return []any{id, u.ID, u.Status, u.Login, u.Email, u.FirstName, u.LastName}
	}); err != nil {
		return fmt.Errorf("okta users: %w", err)
	}
	if err := insert(ctx, tx, len(b.OktaApps), "okta_apps", 8, func(i int) []any {
		a := b.OktaApps[i]
		return []any{id, a.ID, a.Name, a.Label, a.DeactivateUsers, a.MappingID, a.ImmutableIDExpression, a.ImmutableIDPushStatus}
	}); err != nil {
		return fmt.Errorf("okta apps: %w", err)
	}
	if err := insert(ctx, tx, len(b.OktaAppUsers), "okta_app_users", 10, func(i int) []any {
		u := b.OktaAppUsers[i]
		return []any{id, u.AppID, u.UserID, u.ExternalID, u.UserName, u.Status, u.SyncState, u.ImmutableID, jsonList(u.Licenses), jsonList(u.Roles)}
	}); err != nil {
		return fmt.Errorf("okta app users: %w", err)
	}
	if err := insert(ctx, tx, len(b.EntraOrgs), "entra_orgs", 4, func(i int) []any {
		o := b.EntraOrgs[i]
		return []any{id, o.TenantID, o.DisplayName, o.InitialDomain}
	}); err != nil {
		return fmt.Errorf("entra organization: %w", err)
	}
	if err := insert(ctx, tx, len(b.EntraDomains), "entra_domains", 6, func(i int) []any {
		d := b.EntraDomains[i]
		return []any{id, d.ID, d.AuthenticationType, d.IsVerified, d.IsInitial, d.IssuerURI}
	}); err != nil {
		return fmt.Errorf("entra domains: %w", err)
	}
	if err := insert(ctx, tx, len(b.EntraUsers), "entra_users", 13, func(i int) []any {
		u := b.EntraUsers[i]
		return []any{id, u.ID, u.UserPrincipalName, u.DisplayName, u.Mail, u.AccountEnabled, u.UserType, u.CreationType,
			u.ImmutableID, u.SyncEnabled, u.SecurityID, u.OnPremisesDN, u.OnPremisesSAM}
	}); err != nil {
		return fmt.Errorf("entra users: %w", err)
	}
	if err := insert(ctx, tx, len(b.ADDomains), "ad_domains", 3, func(i int) []any {
		d := b.ADDomains[i]
		return []any{id, d.Name, d.BaseDN}
	}); err != nil {
		return fmt.Errorf("ad domains: %w", err)
	}
	if err := insert(ctx, tx, len(b.ADUsers), "ad_users", 12, func(i int) []any {
		u := b.ADUsers[i]
		var cg any
		if u.ConsistencyGUID != nil {
			cg = u.ConsistencyGUID
		}
		return []any{id, u.DistinguishedName, u.Domain, u.ObjectGUID[:], cg, u.ObjectSID, u.UserPrincipalName,
			u.SAMAccountName, u.Mail, u.UserAccountControl, u.WhenChanged, u.USNChanged}
	}); err != nil {
		return fmt.Errorf("ad users: %w", err)
	}
	return nil
}

func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// recordTables lists every record table with its columns; the first keys
// columns identify a record. The content hash and the loader walk each
// table in key order.
var recordTables = []struct {
	name, columns string
	keys          int
}{
	{"okta_users", "id, status, login, email, first_name, last_name", 1},
	{"okta_apps", "id, name, label, deactivate_users, mapping_id, expression, push_status", 1},
	{"okta_app_users", "app_id, user_id, external_id, user_name, status, sync_state, immutable_id, licenses, roles", 2},
	{"entra_orgs", "tenant_id, display_name, initial_domain", 1},
	{"entra_domains", "id, authentication_type, is_verified, is_initial, issuer_uri", 1},
	{"entra_users", "id, upn, display_name, mail, account_enabled, user_type, creation_type, immutable_id, sync_enabled, security_id, onprem_dn, onprem_sam", 1},
	{"ad_domains", "base_dn, name", 1},
	{"ad_users", "dn, domain, object_guid, consistency_guid, sid, upn, sam, mail, uac, when_changed, usn_changed", 1},
}

// orderBy is the ORDER BY clause of a record table: its key columns.
func orderBy(columns string, keys int) string {
	return strings.Join(strings.Split(columns, ", ")[:keys], ", ")
}

// ContentHash is a sha256 over every record of the snapshot, table by table in
// key order, each value length-prefixed: two scans that read the same
// directory content have the same hash, whatever order pages arrived in. It
// fails when a record appears twice: a source that delivered a page twice
// must not pass for a complete one.
func (db *DB) ContentHash(ctx context.Context, id SnapshotID) (string, error) {
	q, err := db.reader(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, t := range recordTables {
		if err := hashTable(ctx, q, h, id, t.name, t.columns, t.keys); err != nil {
			return "", fmt.Errorf("hash %s: %w", t.name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TableHashes is ContentHash per table, to tell which table two snapshots differ in.
func (db *DB) TableHashes(ctx context.Context, id SnapshotID) (map[string]string, error) {
	q, err := db.reader(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(recordTables))
	for _, t := range recordTables {
		h := sha256.New()
		if err := hashTable(ctx, q, h, id, t.name, t.columns, t.keys); err != nil {
			return nil, fmt.Errorf("hash %s: %w", t.name, err)
		}
		out[t.name] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

func hashTable(ctx context.Context, q *sql.DB, h hash.Hash, id SnapshotID, table, columns string, keys int) error {
	// table and columns come from recordTables, never from input.
	rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM "+table+" WHERE snapshot_id = ? ORDER BY "+orderBy(columns, keys), id)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	fmt.Fprintf(h, "table %s\n", table)
	var lenBuf [8]byte
	var prevKey []byte
	first := true
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		key := appendKey(nil, vals[:keys])
		if !first && bytes.Equal(key, prevKey) {
			return fmt.Errorf("record %s appears twice", strings.ReplaceAll(string(key), "\x00", "/"))
		}
		first, prevKey = false, key
		for _, v := range vals {
			if v == nil {
				binary.BigEndian.PutUint64(lenBuf[:], ^uint64(0))
				h.Write(lenBuf[:])
				continue
			}
			binary.BigEndian.PutUint64(lenBuf[:], uint64(len(v)))
			h.Write(lenBuf[:])
			h.Write(v)
		}
	}
	return rows.Err()
}

// appendKey joins key values with NUL, which no key value holds.
func appendKey(dst []byte, vals []sql.RawBytes) []byte {
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, v...)
	}
	return dst
}

// LoadInput reads every record of a snapshot into the form classification takes.
func (db *DB) LoadInput(ctx context.Context, id SnapshotID) (classify.Input, error) {
	var in classify.Input
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		return in, err
	}
	in.OktaOrgURL = snap.OktaOrg
	// Records are read on the reader pool: its connections can read two
	// tables at once, and the writer's page cache, filled by the scan that
	// just wrote the snapshot, is not churned through again.
	q, err := db.reader(ctx)
	if err != nil {
		return in, err
	}
	// The long lists are sized before they are read: grown by append, a
	// list of a million records passes through copies of itself.
	counts := map[string]int{}
	for _, t := range []string{"okta_users", "okta_app_users", "entra_users", "ad_users"} {
		var n int
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+t+" WHERE snapshot_id = ?", id).Scan(&n); err != nil {
			return in, fmt.Errorf("count %s: %w", t, err)
		}
		counts[t] = n
	}
	in.OktaUsers = sized[record.OktaUser](counts["okta_users"])
	in.OktaAppUsers = sized[record.OktaAppUser](counts["okta_app_users"])
	in.EntraUsers = sized[record.EntraUser](counts["entra_users"])
	in.ADUsers = sized[record.ADUser](counts["ad_users"])
	load := func(table, columns string, keys int, scan func(*sql.Rows) error) error {
		rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM "+table+" WHERE snapshot_id = ? ORDER BY "+orderBy(columns, keys), id)
		if err != nil {
			return fmt.Errorf("load %s: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("load %s: %w", table, err)
			}
		}
		return rows.Err()
	}
	t := recordTables
	// The Okta tables and the Entra and AD ones are read on two
	// connections at once: reading a million records is mostly decoding,
	// which two cores halve.
	loadOkta := func(share *sharer) error {
		err := load(t[0].name, t[0].columns, t[0].keys, func(r *sql.Rows) error {
			var u record.OktaUser
			err := r.Scan(&u.ID, &u.Status, &u.Login, &u.Email, &u.FirstName, &u.LastName)
			u.Status = share.value(u.Status)
			in.OktaUsers = append(in.OktaUsers, u)
			return err
		})
		if err == nil {
			err = load(t[1].name, t[1].columns, t[1].keys, func(r *sql.Rows) error {
				var a record.OktaApp
				err := r.Scan(&a.ID, &a.Name, &a.Label, &a.DeactivateUsers, &a.MappingID, &a.ImmutableIDExpression, &a.ImmutableIDPushStatus)
				in.OktaApps = append(in.OktaApps, a)
				return err
			})
		}
		if err == nil {
			err = load(t[2].name, t[2].columns, t[2].keys, func(r *sql.Rows) error {
				var u record.OktaAppUser
				var lic, roles string
				if err := r.Scan(&u.AppID, &u.UserID, &u.ExternalID, &u.UserName, &u.Status, &u.SyncState, &u.ImmutableID, &lic, &roles); err != nil {
					return err
				}
				var err error
				if u.Licenses, err = share.list(lic); err != nil {
					return fmt.Errorf("app user %s licenses: %w", u.UserID, err)
				}
				if u.Roles, err = share.list(roles); err != nil {
					return fmt.Errorf("app user %s roles: %w", u.UserID, err)
				}
				u.AppID, u.Status, u.SyncState = share.value(u.AppID), share.value(u.Status), share.value(u.SyncState)
				in.OktaAppUsers = append(in.OktaAppUsers, u)
				return nil
			})
		}
		return err
	}
	loadEntraAD := func(share *sharer) error {
		err := load(t[3].name, t[3].columns, t[3].keys, func(r *sql.Rows) error {
			return r.Scan(&in.EntraOrg.TenantID, &in.EntraOrg.DisplayName, &in.EntraOrg.InitialDomain)
		})
		if err == nil {
			err = load(t[4].name, t[4].columns, t[4].keys, func(r *sql.Rows) error {
				var d record.EntraDomain
				err := r.Scan(&d.ID, &d.AuthenticationType, &d.IsVerified, &d.IsInitial, &d.IssuerURI)
				in.EntraDomains = append(in.EntraDomains, d)
				return err
			})
		}
		if err == nil {
			err = load(t[5].name, t[5].columns, t[5].keys, func(r *sql.Rows) error {
				var u record.EntraUser
				err := r.Scan(&u.ID, &u.UserPrincipalName, &u.DisplayName, &u.Mail, &u.AccountEnabled, &u.UserType, &u.CreationType,
					&u.ImmutableID, &u.SyncEnabled, &u.SecurityID, &u.OnPremisesDN, &u.OnPremisesSAM)
				u.UserType, u.CreationType = share.value(u.UserType), share.value(u.CreationType)
				in.EntraUsers = append(in.EntraUsers, u)
				return err
			})
		}
		if err == nil {
			err = load(t[6].name, t[6].columns, t[6].keys, func(r *sql.Rows) error {
				var d record.ADDomain
				err := r.Scan(&d.BaseDN, &d.Name)
				in.ADDomains = append(in.ADDomains, d)
				return err
			})
		}
		if err == nil {
			err = load(t[7].name, t[7].columns, t[7].keys, func(r *sql.Rows) error {
				var u record.ADUser
				var guid, cg []byte
				if err := r.Scan(&u.DistinguishedName, &u.Domain, &guid, &cg, &u.ObjectSID, &u.UserPrincipalName, &u.SAMAccountName,
					&u.Mail, &u.UserAccountControl, &u.WhenChanged, &u.USNChanged); err != nil {
					return err
				}
				if len(guid) != 16 {
					return fmt.Errorf("ad user %q: objectGUID has %d bytes, want 16", u.DistinguishedName, len(guid))
				}
				copy(u.ObjectGUID[:], guid)
				u.Domain = share.value(u.Domain)
				if cg != nil {
					u.ConsistencyGUID = append([]byte(nil), cg...)
				}
				in.ADUsers = append(in.ADUsers, u)
				return nil
			})
		}
		return err
	}
	var g errgroup.Group
	g.Go(func() error { return loadOkta(newSharer()) })
	g.Go(func() error { return loadEntraAD(newSharer()) })
	return in, g.Wait()
}

// sized is an empty list with room for n records; nil when n is 0, as a
// list loaded from an empty table always was.
func sized[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}
