package ad

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
)

// DefaultPageSize is the page size the collector asks for: AD's default
// MaxPageSize, above which a domain controller returns no more per page.
const DefaultPageSize = 1000

// UserFilter selects user accounts (people, not computers, which are also of
// class user) the way AD administrators and Entra Connect do.
const UserFilter = "(&(objectCategory=person)(objectClass=user))"

// userAttributes are the attributes read per user.
var userAttributes = []string{
	"objectGUID", "mS-DS-ConsistencyGuid", "objectSid", "userPrincipalName", "sAMAccountName",
	"mail", "distinguishedName", "userAccountControl", "whenChanged", "uSNChanged",
}

// Config says which directory to read and how.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection with the StartTLS operation
	// before binding, so the password never crosses the wire in clear.
	StartTLS bool
	// TLSConfig verifies the server for ldaps:// and StartTLS; nil means the
	// system roots. ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// BindDN and Password are a simple bind: AD reads nothing anonymously.
	BindDN, Password string
	// Kerberos, when set, binds with GSSAPI instead of BindDN and Password.
	Kerberos *Kerberos
	// BaseDNs are the naming contexts to read; empty means the rootDSE's
	// defaultNamingContext.
	BaseDNs []string
	// PageSize of the paged results control; 0 means DefaultPageSize.
	PageSize uint32
	// Retry bounds the retries of a page that failed transiently: a busy or
	// unavailable answer (re-sent on the same connection with the same
	// cookie), or a lost connection (see collectBase); the zero value means
	// the defaults.
	Retry retry.Policy
	// Domains optionally names the DNS domain of a base DN; otherwise it is
	// derived from the DN's DC= components.
	Domains map[string]string
}

// Collector reads one AD forest's users.
type Collector struct {
	endpoint
}

// New checks cfg and returns a collector; it does not connect.
func New(cfg Config) (*Collector, error) {
	e, err := newEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	c := &Collector{endpoint: e}
	for _, base := range cfg.BaseDNs {
		if _, err := ldap.ParseDN(base); err != nil || base == "" {
			return nil, fmt.Errorf("ad: base DN %q is not a DN: %v", base, err)
		}
	}
	if c.cfg.PageSize == 0 {
		c.cfg.PageSize = DefaultPageSize
	}
	return c, nil
}

// Name is the source this collector reads.
func (c *Collector) Name() record.Source { return record.SourceAD }

// Collect reads the rootDSE and every user under each base DN, writing one
// batch per page to sink. On error, the batches already written stand and
// the error says where the collection stopped.
//
// An LDAP paged search lives and dies with its connection, so there is no
// cursor to resume from: the collector does not implement scan.Resumer, and
// a resumed scan deletes what it stored for the snapshot and reads AD again.
//
// Stats.Sync is the domain controller's identity and highestCommittedUSN,
// read before the first search (see syncState): a change committed while
// the search runs has a higher USN, so the next CollectChanges reads it
// again rather than missing it.
func (c *Collector) Collect(ctx context.Context, sink record.Sink) (record.Stats, error) {
	stats := record.Stats{Counts: map[string]int{"domains": 0, "users": 0}}
	s := &session{c: c, stats: &stats}
	if err := s.connect(ctx); err != nil {
		return stats, err
	}
	defer s.close()

	root, err := c.readRootDSE(ctx, s.conn, &stats)
	if err != nil {
		return stats, err
	}
	s.dc = root.dc.service
	domains, err := c.domains(root.bases)
	if err != nil {
		return stats, err
	}
	for _, domain := range domains {
		if err := c.collectBase(ctx, s, domain, sink); err != nil {
			return stats, err
		}
		stats.Counts["domains"]++
	}
	if !s.otherDC {
		stats.Sync = syncState(root.bases, root.dc)
	}
	return stats, nil
}

// domains names each base DN's domain.
func (c *Collector) domains(bases []string) ([]record.ADDomain, error) {
	out := make([]record.ADDomain, 0, len(bases))
	for _, base := range bases {
		name, err := c.domainName(base)
		if err != nil {
			return nil, err
		}
		out = append(out, record.ADDomain{Name: name, BaseDN: base})
	}
	return out, nil
}

// session is the collector's connection, replaced when it is lost.
type session struct {
	c     *Collector
	conn  *ldap.Conn
	stop  func() bool
	stats *record.Stats
	// dc is the dsServiceName of the domain controller the read began on;
	// when set, a reconnect reads the rootDSE again to see whether it
	// reached the same one (a DNS name can lead to any DC of the domain).
	dc string
	// otherDC says a reconnect reached another domain controller: the
	// records are still a whole read, but the USN read at the start is
	// another DC's and cannot be the start of the next change read.
	otherDC bool
	// sameDC makes reaching another domain controller an error: a change
	// read cannot continue on another DC's USNs.
	sameDC bool
}

func (s *session) connect(ctx context.Context) error {
	conn, err := s.c.dial(ctx, &s.stats.Requests)
	if err != nil {
		return err
	}
	s.conn = conn
	// go-ldap's operations do not take a context: closing the connection is
	// what unblocks a read when ctx ends.
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	return nil
}

// reconnect replaces a lost connection and notes whether it reached
// another domain controller than the read began on.
func (s *session) reconnect(ctx context.Context) error {
	s.close()
	if err := s.connect(ctx); err != nil {
		return err
	}
	if s.dc == "" {
		return nil
	}
	root, err := s.c.readRootDSE(ctx, s.conn, s.stats)
	if err != nil {
		return err
	}
	if root.dc.service != s.dc {
		s.otherDC = true
		if s.sameDC {
			return &otherDCError{was: s.dc, now: root.dc.service}
		}
	}
	return nil
}

// otherDCError is a reconnect that reached another domain controller during
// a change read.
type otherDCError struct{ was, now string }

func (e *otherDCError) Error() string {
	return fmt.Sprintf("ad: reconnected to domain controller %q during a change read begun on %q, whose USNs it does not share", e.now, e.was)
}

func (e *otherDCError) Unwrap() error { return record.ErrResync }

func (s *session) close() {
	if s.conn != nil {
		s.stop()
		s.conn.Close()
		s.conn = nil
	}
}

// rootDSE is what the collector reads from the rootDSE before any search.
type rootDSE struct {
	// bases are the configured base DNs, else the defaultNamingContext.
	bases []string
	// namingContexts are the partitions the DC holds: deleted objects of
	// a base DN live under its partition's root, not under the base.
	namingContexts []string
	dc             dcPosition
}

// dcPosition is where a domain controller's change numbering stands. USNs
// are local to one DC, so a USN means nothing without the DC it came from.
type dcPosition struct {
	// service is the DC's dsServiceName, the DN of its NTDS Settings
	// object; "" when the server does not report one (not AD).
	service string
	// usn is highestCommittedUSN; valid only when known.
	usn   int64
	known bool
}

// baseDNs are the configured ones, else the rootDSE's defaultNamingContext.
func (c *Collector) baseDNs(ctx context.Context, conn *ldap.Conn, stats *record.Stats) ([]string, error) {
	root, err := c.readRootDSE(ctx, conn, stats)
	return root.bases, err
}

// readRootDSE reads the rootDSE in one operation. It is read even with base
// DNs configured: it is how a wrong server shows itself (no naming
// contexts) before any user search, and it carries the USN high-water mark.
func (c *Collector) readRootDSE(ctx context.Context, conn *ldap.Conn, stats *record.Stats) (rootDSE, error) {
	stats.Requests++
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "namingContexts", "dnsHostName", "dsServiceName", "highestCommittedUSN"}, nil))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return rootDSE{}, fmt.Errorf("ad: read rootDSE of %s: %w", c.network, ctxErr)
		}
		return rootDSE{}, fmt.Errorf("ad: read rootDSE of %s: %w", c.network, err)
	}
	var root rootDSE
	var defaultNC string
	if len(res.Entries) == 1 {
		e := res.Entries[0]
		defaultNC = e.GetAttributeValue("defaultNamingContext")
		root.namingContexts = e.GetAttributeValues("namingContexts")
		root.dc.service = e.GetAttributeValue("dsServiceName")
		if v := e.GetAttributeValue("highestCommittedUSN"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return rootDSE{}, fmt.Errorf("ad: rootDSE of %s: highestCommittedUSN %q is not a number", c.network, v)
			}
			root.dc.usn, root.dc.known = n, root.dc.service != ""
		}
	}
	switch {
	case len(c.cfg.BaseDNs) > 0:
		root.bases = c.cfg.BaseDNs
	case defaultNC != "":
		root.bases = []string{defaultNC}
	default:
		return rootDSE{}, fmt.Errorf("ad: rootDSE of %s has no defaultNamingContext; set BaseDNs", c.network)
	}
	return root, nil
}

// domainName is the configured DNS name of base, or its DC= components
// joined with dots.
func (c *Collector) domainName(base string) (string, error) {
	if name, ok := c.cfg.Domains[base]; ok && name != "" {
		return name, nil
	}
	dn, err := ldap.ParseDN(base)
	if err != nil {
		return "", fmt.Errorf("ad: base DN %q: %w", base, err)
	}
	var labels []string
	for _, rdn := range dn.RDNs {
		for _, atv := range rdn.Attributes {
			if strings.EqualFold(atv.Type, "DC") {
				labels = append(labels, atv.Value)
			}
		}
	}
	if len(labels) == 0 {
		return "", fmt.Errorf("ad: base DN %q has no DC= components to derive a DNS domain from; name it in Domains", base)
	}
	return strings.ToLower(strings.Join(labels, ".")), nil
}

// collectBase pages through the users under one base DN, one batch per
// page, the domain with the first.
func (c *Collector) collectBase(ctx context.Context, s *session, domain record.ADDomain, sink record.Sink) error {
	domainStored := false
	q := pagedSearch{what: "search of " + domain.BaseDN, base: domain.BaseDN, filter: UserFilter, attributes: userAttributes}
	return c.search(ctx, s, q, func(page int, entries []*ldap.Entry) (int, error) {
		var batch record.Batch
		for _, e := range entries {
			u, err := toUser(e, domain.Name)
			if err != nil {
				return 0, fmt.Errorf("ad: search of %s, page %d: %w", domain.BaseDN, page, err)
			}
			batch.ADUsers = append(batch.ADUsers, u)
		}
		if !domainStored {
			batch.ADDomains = []record.ADDomain{domain}
			domainStored = true
		}
		if batch.Len() == 0 {
			return 0, nil
		}
		if err := sink.Write(ctx, batch); err != nil {
			return 0, fmt.Errorf("ad: store page %d of %s: %w", page, domain.BaseDN, err)
		}
		s.stats.Counts["users"] += len(batch.ADUsers)
		return len(batch.ADUsers), nil
	})
}

// pagedSearch is one paged subtree search.
type pagedSearch struct {
	what       string // "search of DC=…", for errors
	base       string
	filter     string
	attributes []string
	controls   []ldap.Control // besides the paging control
}

// search runs q page by page, handing the entries of each page to page
// with the page's number; page returns how many it took as new.
//
// A page answered busy or unavailable is asked for again on the same
// connection with the same cookie. A lost connection takes its paged search
// with it: the collector reconnects and searches again from the start,
// handing page only the entries it has not handed over yet (it remembers
// their objectGUIDs, 16 bytes each), so a retry neither loses nor repeats an
// entry.
func (c *Collector) search(ctx context.Context, s *session, q pagedSearch, page func(n int, entries []*ldap.Entry) (int, error)) error {
	var paging *ldap.ControlPaging
	var req *ldap.SearchRequest
	restart := func() {
		paging = ldap.NewControlPaging(c.cfg.PageSize)
		req = ldap.NewSearchRequest(q.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			q.filter, q.attributes, append([]ldap.Control{paging}, q.controls...))
	}
	restart()
	seen := map[[16]byte]struct{}{}
	received := 0
	// failures counts failed attempts since a page last brought an entry
	// not handed over before: the budget spans the re-reading of pages
	// after a reconnect, so a connection that always drops at the same
	// point ends the read instead of re-reading the base forever.
	failures := 0
	lost := false
	for n := 1; ; n++ {
		var entries []*ldap.Entry
		var cookie []byte
		policy := c.cfg.Retry
		policy.Attempts = policy.MaxAttempts() - failures
		retries, err := retry.Do(ctx, policy, func(actx context.Context) error {
			if lost {
				if err := s.reconnect(ctx); err != nil {
					var other *otherDCError
					if errors.As(err, &other) {
						return err
					}
					return retry.Transient(err, 0)
				}
				restart()
				lost = false
			}
			s.stats.Requests++
			var err error
			entries, cookie, err = c.readPage(actx, s.conn, req, &received)
			if err == nil {
				return nil
			}
			switch {
			case ctx.Err() != nil:
				return fmt.Errorf("ad: %s stopped after %d entries: %w", q.what, received, ctx.Err())
			case actx.Err() != nil:
				// The page did not arrive in time; the search on this
				// connection is in an unknown state.
				lost = true
				return retry.Transient(fmt.Errorf("ad: %s, page %d: no answer: %w", q.what, n, actx.Err()), 0)
			case s.conn.IsClosing() || ldap.IsErrorWithCode(err, ldap.ErrorNetwork):
				lost = true
				return retry.Transient(fmt.Errorf("ad: connection to %s lost during the %s after %d entries (page %d): %w",
					c.network, q.what, received, n, err), 0)
			case ldap.IsErrorAnyOf(err, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable):
				return retry.Transient(fmt.Errorf("ad: %s, page %d: %w", q.what, n, err), 0)
			}
			return fmt.Errorf("ad: %s, page %d: %w", q.what, n, err)
		})
		s.stats.Retries += retries
		failures += retries
		if err != nil {
			return err
		}
		fresh := entries[:0]
		for _, e := range entries {
			guid := e.GetEqualFoldRawAttributeValue("objectGUID")
			if len(guid) != 16 {
				// Not deduplicated: the conversion refuses it with the DN.
				fresh = append(fresh, e)
				continue
			}
			if _, dup := seen[[16]byte(guid)]; !dup {
				seen[[16]byte(guid)] = struct{}{}
				fresh = append(fresh, e)
			}
		}
		took, err := page(n, fresh)
		if err != nil {
			return err
		}
		if took > 0 {
			failures = 0
		}
		if len(cookie) == 0 {
			return nil
		}
		paging.SetCookie(cookie)
	}
}

// readPage runs one search request and returns its entries and the cookie
// for the next page, empty after the last.
func (c *Collector) readPage(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest, received *int) ([]*ldap.Entry, []byte, error) {
	// A cancelled search context makes go-ldap stop without an error, so
	// the caller checks ctx itself.
	resp := conn.SearchAsync(ctx, req, 256)
	var entries []*ldap.Entry
	var cookie []byte
	for resp.Next() {
		if e := resp.Entry(); e != nil {
			*received++
			entries = append(entries, e)
			continue
		}
		if ctrl, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
			cookie = ctrl.Cookie
		}
	}
	if err := resp.Err(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if conn.IsClosing() {
		// The stream ended without SearchResultDone.
		return nil, nil, ldap.NewError(ldap.ErrorNetwork, errors.New("connection closed before the search completed"))
	}
	return entries, cookie, nil
}

// toUser converts one entry, refusing binary attributes of the wrong size:
// a truncated objectGUID would silently become a wrong ImmutableID.
func toUser(e *ldap.Entry, domain string) (record.ADUser, error) {
	u := record.ADUser{
		Domain:            domain,
		DistinguishedName: e.GetEqualFoldAttributeValue("distinguishedName"),
		UserPrincipalName: e.GetEqualFoldAttributeValue("userPrincipalName"),
		SAMAccountName:    e.GetEqualFoldAttributeValue("sAMAccountName"),
		Mail:              e.GetEqualFoldAttributeValue("mail"),
		WhenChanged:       e.GetEqualFoldAttributeValue("whenChanged"),
	}
	if u.DistinguishedName == "" {
		u.DistinguishedName = e.DN
	}
	guids := e.GetEqualFoldRawAttributeValues("objectGUID")
	if len(guids) != 1 {
		return u, fmt.Errorf("AD user %s: %d objectGUID values, want exactly 1", e.DN, len(guids))
	}
	if len(guids[0]) != 16 {
		return u, fmt.Errorf("AD user %s: objectGUID is %d bytes, want 16", e.DN, len(guids[0]))
	}
	copy(u.ObjectGUID[:], guids[0])
	if cg := e.GetEqualFoldRawAttributeValues("mS-DS-ConsistencyGuid"); len(cg) > 0 {
		if len(cg) != 1 || len(cg[0]) != 16 {
			return u, fmt.Errorf("AD user %s: mS-DS-ConsistencyGuid is %d bytes in %d values, want one of 16 bytes", e.DN, len(cg[0]), len(cg))
		}
		u.ConsistencyGUID = append([]byte(nil), cg[0]...)
	}
	if sid := e.GetEqualFoldRawAttributeValue("objectSid"); len(sid) > 0 {
		s, err := decodeSID(sid)
		if err != nil {
			return u, fmt.Errorf("AD user %s: objectSid: %w", e.DN, err)
		}
		u.ObjectSID = s
	}
	if v := e.GetEqualFoldAttributeValue("userAccountControl"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return u, fmt.Errorf("AD user %s: userAccountControl %q is not a number", e.DN, v)
		}
		u.UserAccountControl = n
	}
	if v := e.GetEqualFoldAttributeValue("uSNChanged"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return u, fmt.Errorf("AD user %s: uSNChanged %q is not a number", e.DN, v)
		}
		u.USNChanged = n
	}
	return u, nil
}
