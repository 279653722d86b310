package ad

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/go-ldap/ldap/v3"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

// ConsistencyGUIDAttribute is the attribute Entra Connect uses as the source
// anchor when configured to, and the one Admin writes.
const ConsistencyGUIDAttribute = "mS-DS-ConsistencyGuid"

// ErrNotFound means the directory holds no object with the DN asked for.
var ErrNotFound = errors.New("no such object")

// ErrStale means a compare-and-swap found a value other than the one the
// caller expected: someone changed the object since it was read.
var ErrStale = errors.New("stale: the value changed since it was read")

// Admin reads and writes single objects: the AD side of applying a plan. It
// keeps one bound connection, opened on first use and reopened after a
// failure, so a plan of many steps binds once.
type Admin struct {
	endpoint

	mu       sync.Mutex // one operation at a time: keeps re-dialling a dropped connection simple
	conn     *ldap.Conn
	requests int
}

// NewAdmin checks cfg and returns an admin; it does not connect. Only the
// URL, TLS and bind settings of cfg apply.
func NewAdmin(cfg Config) (*Admin, error) {
	e, err := newEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	return &Admin{endpoint: e}, nil
}

// Close ends the connection, if one is open.
func (a *Admin) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil {
		return nil
	}
	err := a.conn.Close()
	a.conn = nil
	if err != nil {
		return fmt.Errorf("ad: close connection to %s: %w", a.network, err)
	}
	return nil
}

// Requests is the number of LDAP operations sent so far, binds included.
func (a *Admin) Requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

// do runs op on a bound connection. go-ldap's single-object operations take
// no context, so ctx ending closes the connection, which unblocks op; the
// next call then dials afresh.
func (a *Admin) do(ctx context.Context, op func(*ldap.Conn) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ad: %s: %w", a.network, err)
	}
	if a.conn != nil && a.conn.IsClosing() {
		a.conn = nil
	}
	if a.conn == nil {
		conn, err := a.dial(ctx, &a.requests)
		if err != nil {
			return err
		}
		a.conn = conn
	}
	conn := a.conn
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	a.requests++
	err := op(conn)
	if !stop() || conn.IsClosing() {
		a.conn = nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return fmt.Errorf("ad: %s: %w", a.network, ctxErr)
	}
	return err
}

// readOne reads attributes of the object at dn, wrapping noSuchObject as
// ErrNotFound.
func (a *Admin) readOne(ctx context.Context, dn string, attributes ...string) (*ldap.Entry, error) {
	if _, err := ldap.ParseDN(dn); err != nil || dn == "" {
		return nil, fmt.Errorf("ad: %q is not a DN: %v", dn, err)
	}
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", attributes, nil)
	var res *ldap.SearchResult
	err := a.do(ctx, func(conn *ldap.Conn) error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("ad: read %s of %q: %w", attributes, dn, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("ad: read %s of %q: %w", attributes, dn, err)
	case len(res.Entries) != 1:
		return nil, fmt.Errorf("ad: read %s of %q: %d entries returned, want 1", attributes, dn, len(res.Entries))
	}
	return res.Entries[0], nil
}

// ConsistencyGUID returns the raw mS-DS-ConsistencyGuid of the object at dn,
// nil when it has none. The bytes are returned as stored, whatever their
// length: AD accepts any octet string there, and a caller checking a
// precondition needs to see exactly what is there.
func (a *Admin) ConsistencyGUID(ctx context.Context, dn string) ([]byte, error) {
	e, err := a.readOne(ctx, dn, ConsistencyGUIDAttribute)
	if err != nil {
		return nil, err
	}
	vals := e.GetEqualFoldRawAttributeValues(ConsistencyGUIDAttribute)
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
		return append([]byte(nil), vals[0]...), nil
	}
	return nil, fmt.Errorf("ad: %q has %d %s values; the attribute is single-valued", dn, len(vals), ConsistencyGUIDAttribute)
}

// ObjectGUID returns the 16 raw objectGUID bytes of the object at dn.
func (a *Admin) ObjectGUID(ctx context.Context, dn string) ([16]byte, error) {
	var g [16]byte
	e, err := a.readOne(ctx, dn, "objectGUID")
	if err != nil {
		return g, err
	}
	vals := e.GetEqualFoldRawAttributeValues("objectGUID")
	if len(vals) != 1 || len(vals[0]) != 16 {
		return g, fmt.Errorf("ad: %q: objectGUID is %d values, want one of 16 bytes", dn, len(vals))
	}
	copy(g[:], vals[0])
	return g, nil
}

// SwapConsistencyGUID sets mS-DS-ConsistencyGuid of the object at dn to next
// if it currently holds old, in one modify request, so the check and the
// write cannot be split by another writer: with old set, {delete old, add
// next}, which the directory refuses as a whole when old is not the value;
// with old nil (or empty), a single add, which it refuses when any value is
// present. next nil (or empty) only deletes old. A refusal is ErrStale.
func (a *Admin) SwapConsistencyGUID(ctx context.Context, dn string, old, next []byte) error {
	if _, err := ldap.ParseDN(dn); err != nil || dn == "" {
		return fmt.Errorf("ad: %q is not a DN: %v", dn, err)
	}
	if len(next) != 0 && len(next) != 16 {
		// AD stores an octet string of any length here; Entra Connect would
		// then sync an anchor no GUID decodes to.
		return fmt.Errorf("ad: refusing to write a %d-byte %s to %q: a source anchor is 16 bytes", len(next), ConsistencyGUIDAttribute, dn)
	}
	if len(old) == 0 && len(next) == 0 {
		return fmt.Errorf("ad: swap of %s on %q from absent to absent: nothing to do", ConsistencyGUIDAttribute, dn)
	}
	req := ldap.NewModifyRequest(dn, nil)
	if len(old) > 0 {
		req.Delete(ConsistencyGUIDAttribute, []string{string(old)})
	}
	if len(next) > 0 {
		req.Add(ConsistencyGUIDAttribute, []string{string(next)})
	}
	err := a.do(ctx, func(conn *ldap.Conn) error { return conn.Modify(req) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute), ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists):
		return fmt.Errorf("ad: %s of %q is not %s as expected, so it was left unchanged: %w (%v)",
			ConsistencyGUIDAttribute, dn, describeValue(old), ErrStale, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("ad: set %s of %q: %w", ConsistencyGUIDAttribute, dn, ErrNotFound)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return fmt.Errorf("ad: set %s of %q: the bind account lacks the right to write this attribute (grant it Write on %s): %w",
			ConsistencyGUIDAttribute, dn, ConsistencyGUIDAttribute, err)
	}
	return fmt.Errorf("ad: set %s of %q: %w", ConsistencyGUIDAttribute, dn, err)
}

// describeValue names an expected attribute value the way an admin can
// compare it: the ImmutableID it makes, and its GUID.
func describeValue(v []byte) string {
	if len(v) == 0 {
		return "absent"
	}
	if g, err := anchor.FromRaw(v); err == nil {
		return fmt.Sprintf("%s (GUID %s)", g.ImmutableID(), g)
	}
	return fmt.Sprintf("the %d bytes %s (base64)", len(v), base64.StdEncoding.EncodeToString(v))
}
