package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"

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

// insert prepares query once per batch and runs it for each of n rows.
func insert(ctx context.Context, tx *sql.Tx, n int, query string, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := 0; i < n; i++ {
		if _, err := stmt.ExecContext(ctx, args(i)...); err != nil {
			return err
		}
	}
	return nil
}

func insertBatch(ctx context.Context, tx *sql.Tx, id SnapshotID, b *record.Batch) error {
	if err := insert(ctx, tx, len(b.OktaUsers), `INSERT INTO okta_users VALUES (?, ?, ?, ?, ?, ?, ?)`, func(i int) []any {
		u := b.OktaUsers[i]
		return []any{id, u.ID, u.Status, u.Login, u.Email, u.FirstName, u.LastName}
	}); err != nil {
		return fmt.Errorf("okta users: %w", err)
	}
	if err := insert(ctx, tx, len(b.OktaApps), `INSERT INTO okta_apps VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, func(i int) []any {
		a := b.OktaApps[i]
		return []any{id, a.ID, a.Name, a.Label, a.DeactivateUsers, a.MappingID, a.ImmutableIDExpression, a.ImmutableIDPushStatus}
	}); err != nil {
		return fmt.Errorf("okta apps: %w", err)
	}
	if err := insert(ctx, tx, len(b.OktaAppUsers), `INSERT INTO okta_app_users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, func(i int) []any {
		u := b.OktaAppUsers[i]
		return []any{id, u.AppID, u.UserID, u.ExternalID, u.UserName, u.Status, u.SyncState, u.ImmutableID, jsonList(u.Licenses), jsonList(u.Roles)}
	}); err != nil {
		return fmt.Errorf("okta app users: %w", err)
	}
	if err := insert(ctx, tx, len(b.EntraOrgs), `INSERT INTO entra_orgs VALUES (?, ?, ?, ?)`, func(i int) []any {
		o := b.EntraOrgs[i]
		return []any{id, o.TenantID, o.DisplayName, o.InitialDomain}
	}); err != nil {
		return fmt.Errorf("entra organization: %w", err)
	}
	if err := insert(ctx, tx, len(b.EntraDomains), `INSERT INTO entra_domains VALUES (?, ?, ?, ?, ?, ?)`, func(i int) []any {
		d := b.EntraDomains[i]
		return []any{id, d.ID, d.AuthenticationType, d.IsVerified, d.IsInitial, d.IssuerURI}
	}); err != nil {
		return fmt.Errorf("entra domains: %w", err)
	}
	if err := insert(ctx, tx, len(b.EntraUsers), `INSERT INTO entra_users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, func(i int) []any {
		u := b.EntraUsers[i]
		return []any{id, u.ID, u.UserPrincipalName, u.DisplayName, u.Mail, u.AccountEnabled, u.UserType, u.CreationType,
			u.ImmutableID, u.SyncEnabled, u.SecurityID, u.OnPremisesDN, u.OnPremisesSAM}
	}); err != nil {
		return fmt.Errorf("entra users: %w", err)
	}
	if err := insert(ctx, tx, len(b.ADDomains), `INSERT OR IGNORE INTO ad_domains VALUES (?, ?, ?)`, func(i int) []any {
		d := b.ADDomains[i]
		return []any{id, d.Name, d.BaseDN}
	}); err != nil {
		return fmt.Errorf("ad domains: %w", err)
	}
	if err := insert(ctx, tx, len(b.ADUsers), `INSERT INTO ad_users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, func(i int) []any {
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

// recordTables lists every record table with its columns in primary-key
// order; the content hash and the loader walk them in this order.
var recordTables = []struct{ name, columns, order string }{
	{"okta_users", "id, status, login, email, first_name, last_name", "id"},
	{"okta_apps", "id, name, label, deactivate_users, mapping_id, expression, push_status", "id"},
	{"okta_app_users", "app_id, user_id, external_id, user_name, status, sync_state, immutable_id, licenses, roles", "app_id, user_id"},
	{"entra_orgs", "tenant_id, display_name, initial_domain", "tenant_id"},
	{"entra_domains", "id, authentication_type, is_verified, is_initial, issuer_uri", "id"},
	{"entra_users", "id, upn, display_name, mail, account_enabled, user_type, creation_type, immutable_id, sync_enabled, security_id, onprem_dn, onprem_sam", "id"},
	{"ad_domains", "name, base_dn", "base_dn"},
	{"ad_users", "dn, domain, object_guid, consistency_guid, sid, upn, sam, mail, uac, when_changed, usn_changed", "dn"},
}

// ContentHash is a sha256 over every record of the snapshot, table by table in
// key order, each value length-prefixed: two scans that read the same
// directory content have the same hash, whatever order pages arrived in.
func (db *DB) ContentHash(ctx context.Context, id SnapshotID) (string, error) {
	h := sha256.New()
	for _, t := range recordTables {
		if err := hashTable(ctx, db.sql, h, id, t.name, t.columns, t.order); err != nil {
			return "", fmt.Errorf("hash %s: %w", t.name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TableHashes is ContentHash per table, to tell which table two snapshots differ in.
func (db *DB) TableHashes(ctx context.Context, id SnapshotID) (map[string]string, error) {
	out := make(map[string]string, len(recordTables))
	for _, t := range recordTables {
		h := sha256.New()
		if err := hashTable(ctx, db.sql, h, id, t.name, t.columns, t.order); err != nil {
			return nil, fmt.Errorf("hash %s: %w", t.name, err)
		}
		out[t.name] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

func hashTable(ctx context.Context, q *sql.DB, h hash.Hash, id SnapshotID, table, columns, order string) error {
	// table, columns and order come from recordTables, never from input.
	rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM "+table+" WHERE snapshot_id = ? ORDER BY "+order, id)
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
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
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

// LoadInput reads every record of a snapshot into the form classification takes.
func (db *DB) LoadInput(ctx context.Context, id SnapshotID) (classify.Input, error) {
	var in classify.Input
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		return in, err
	}
	in.OktaOrgURL = snap.OktaOrg
	load := func(table, columns, order string, scan func(*sql.Rows) error) error {
		rows, err := db.sql.QueryContext(ctx, "SELECT "+columns+" FROM "+table+" WHERE snapshot_id = ? ORDER BY "+order, id)
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
	err = load(t[0].name, t[0].columns, t[0].order, func(r *sql.Rows) error {
		var u record.OktaUser
		err := r.Scan(&u.ID, &u.Status, &u.Login, &u.Email, &u.FirstName, &u.LastName)
		in.OktaUsers = append(in.OktaUsers, u)
		return err
	})
	if err == nil {
		err = load(t[1].name, t[1].columns, t[1].order, func(r *sql.Rows) error {
			var a record.OktaApp
			err := r.Scan(&a.ID, &a.Name, &a.Label, &a.DeactivateUsers, &a.MappingID, &a.ImmutableIDExpression, &a.ImmutableIDPushStatus)
			in.OktaApps = append(in.OktaApps, a)
			return err
		})
	}
	if err == nil {
		err = load(t[2].name, t[2].columns, t[2].order, func(r *sql.Rows) error {
			var u record.OktaAppUser
			var lic, roles string
			if err := r.Scan(&u.AppID, &u.UserID, &u.ExternalID, &u.UserName, &u.Status, &u.SyncState, &u.ImmutableID, &lic, &roles); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(lic), &u.Licenses); err != nil {
				return fmt.Errorf("app user %s licenses: %w", u.UserID, err)
			}
			if err := json.Unmarshal([]byte(roles), &u.Roles); err != nil {
				return fmt.Errorf("app user %s roles: %w", u.UserID, err)
			}
			in.OktaAppUsers = append(in.OktaAppUsers, u)
			return nil
		})
	}
	if err == nil {
		err = load(t[3].name, t[3].columns, t[3].order, func(r *sql.Rows) error {
			return r.Scan(&in.EntraOrg.TenantID, &in.EntraOrg.DisplayName, &in.EntraOrg.InitialDomain)
		})
	}
	if err == nil {
		err = load(t[4].name, t[4].columns, t[4].order, func(r *sql.Rows) error {
			var d record.EntraDomain
			err := r.Scan(&d.ID, &d.AuthenticationType, &d.IsVerified, &d.IsInitial, &d.IssuerURI)
			in.EntraDomains = append(in.EntraDomains, d)
			return err
		})
	}
	if err == nil {
		err = load(t[5].name, t[5].columns, t[5].order, func(r *sql.Rows) error {
			var u record.EntraUser
			err := r.Scan(&u.ID, &u.UserPrincipalName, &u.DisplayName, &u.Mail, &u.AccountEnabled, &u.UserType, &u.CreationType,
				&u.ImmutableID, &u.SyncEnabled, &u.SecurityID, &u.OnPremisesDN, &u.OnPremisesSAM)
			in.EntraUsers = append(in.EntraUsers, u)
			return err
		})
	}
	if err == nil {
		err = load(t[6].name, t[6].columns, t[6].order, func(r *sql.Rows) error {
			var d record.ADDomain
			err := r.Scan(&d.Name, &d.BaseDN)
			in.ADDomains = append(in.ADDomains, d)
			return err
		})
	}
	if err == nil {
		err = load(t[7].name, t[7].columns, t[7].order, func(r *sql.Rows) error {
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
			if cg != nil {
				u.ConsistencyGUID = append([]byte(nil), cg...)
			}
			in.ADUsers = append(in.ADUsers, u)
			return nil
		})
	}
	return in, err
}
