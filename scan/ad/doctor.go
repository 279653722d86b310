package ad

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/anchorscan/anchorscan/scan/record"
)

// Conn is a bound connection for doctor's checks.
type Conn struct {
	c       *Collector
	conn    *ldap.Conn
	Network string
}

// Bind connects, starts TLS as configured and binds: the first thing every
// scan does.
func (c *Collector) Bind(ctx context.Context) (*Conn, error) {
	var requests int
	conn, err := c.dial(ctx, &requests)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, conn: conn, Network: c.network}, nil
}

// Close ends the connection.
func (k *Conn) Close() error { return k.conn.Close() }

// BaseDNs reads the rootDSE and returns the naming contexts a scan would
// read: the configured ones, else defaultNamingContext.
func (k *Conn) BaseDNs(ctx context.Context) ([]string, error) {
	return k.c.baseDNs(ctx, k.conn, &record.Stats{Counts: map[string]int{}})
}

// ReadOneUserGUID reads one user under base and returns its objectGUID,
// which must be the 16 raw bytes a scan turns into the ImmutableID.
func (k *Conn) ReadOneUserGUID(ctx context.Context, base string) (dn string, guid []byte, err error) {
	// A size limit of one, not paging: a paged search would read them all.
	res, err := k.conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, 0, false,
		UserFilter, []string{"objectGUID"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		if res == nil || len(res.Entries) == 0 {
			return "", nil, fmt.Errorf("ad: search users under %s on %s: %w", base, k.Network, err)
		}
	}
	if res == nil || len(res.Entries) == 0 {
		return "", nil, fmt.Errorf("ad: no user object under %s on %s is visible to this account", base, k.Network)
	}
	e := res.Entries[0]
	return e.DN, e.GetRawAttributeValue("objectGUID"), nil
}
