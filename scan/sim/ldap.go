package sim

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

// LDAPOptions configure the fake Active Directory domain controller.
type LDAPOptions struct {
	// BindDN and Password are the one account a simple bind accepts.
	BindDN, Password string
	// TLSConfig nil serves plain LDAP; otherwise LDAPS (TLS from the first
	// byte, as on AD's port 636), or StartTLS when StartTLS is set.
	TLSConfig *tls.Config
	// StartTLS serves plain LDAP that upgrades with the StartTLS extended
	// operation (RFC 4511 §4.14) using TLSConfig, as on AD's port 389.
	StartTLS bool
	// MaxPageSize is AD's LDAP policy of that name: the most entries one
	// page, or one unpaged search, returns. 0 means AD's default, 1000.
	MaxPageSize int
	// DropAfterEntries is a fault: when > 0 the server closes a connection
	// instead of sending its entry number DropAfterEntries+1, so a client
	// sees the connection vanish in the middle of a search. Not available
	// with StartTLS (the server can no longer see the entries in the stream).
	DropAfterEntries int
	// RewriteAttribute is a fault hook: when set, every attribute value list
	// the server is about to send passes through it (dn, attribute name as
	// sent, values), so a test can serve a corrupt objectGUID. Returning no
	// values leaves the attribute out.
	RewriteAttribute func(dn, attribute string, values [][]byte) [][]byte
	// faults injects the ldap Faults rules into searches (see ldapFault).
	faults *faultInjector
}

// ADMaxPageSize is Active Directory's default MaxPageSize LDAP policy.
const ADMaxPageSize = 1000

// OIDs of the controls AD advertises; the paged results control (RFC 2696)
// is the one the fake implements.
const (
	ldapOIDPagedResults = "1.2.840.113556.1.4.319"
	ldapOIDShowDeleted  = "1.2.840.113556.1.4.417"
	ldapOIDServerSort   = "1.2.840.113556.1.4.473"
	ldapOIDDirSync      = "1.2.840.113556.1.4.841"
	ldapOIDBitAnd       = "1.2.840.113556.1.4.803"
	ldapOIDBitOr        = "1.2.840.113556.1.4.804"
)

// AD's diagnostic messages, so that clients print what they would print
// against a real domain controller.
const (
	ldapDiagInvalidCredentials = "80090308: LdapErr: DSID-0C090439, comment: AcceptSecurityContext error, data 52e, v4563"
	ldapDiagBindRequired       = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
	ldapDiagBadCookie          = "00000057: LdapErr: DSID-0C090A71, comment: Error processing control, data 0, v4563"
)

// ldapWhenChanged is the whenChanged every simulated object reports: the
// fixture format carries no timestamps and reports must render the same
// bytes for the same tenant.
const ldapWhenChanged = "20240115093000.0Z"

// ldapBaseUSN is the uSNChanged of the first user; later users count up.
const ldapBaseUSN = 12000

// maxLDAPCursors bounds the paged searches the server remembers; a client
// that never finishes its pages cannot grow the server without limit.
const maxLDAPCursors = 1024

// LDAPServer is a fake Active Directory domain controller speaking LDAP v3
// over st's AD side: simple bind, rootDSE, paged subtree searches with AD's
// limits and binary attributes, and modify of mS-DS-ConsistencyGuid. It runs
// gldap on an internal loopback port behind a byte-forwarding front end that
// owns the public socket: the front end reports the real address of ":0",
// terminates LDAPS, and injects connection faults, none of which gldap
// exposes.
type LDAPServer struct {
	st   *State
	opts LDAPOptions

	gl     *gldap.Server
	glAddr string
	glDone chan error

	mu      sync.Mutex
	index   *ldapIndex
	bound   map[int]bool // gldap connection id → bound with the account
	cursors map[string]*ldapCursor
	order   []string // cursor cookies, oldest first

	front   sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	stopped bool
}

// NewLDAPServer prepares a server over st; Start makes it listen.
func NewLDAPServer(st *State, opts LDAPOptions) (*LDAPServer, error) {
	if st == nil {
		return nil, errors.New("ldap simulator: nil state")
	}
	if opts.BindDN == "" || opts.Password == "" {
		return nil, errors.New("ldap simulator: BindDN and Password are required (AD refuses anonymous reads)")
	}
	if opts.MaxPageSize < 0 || opts.DropAfterEntries < 0 {
		return nil, fmt.Errorf("ldap simulator: MaxPageSize %d and DropAfterEntries %d must not be negative", opts.MaxPageSize, opts.DropAfterEntries)
	}
	if opts.MaxPageSize == 0 {
		opts.MaxPageSize = ADMaxPageSize
	}
	if opts.StartTLS && opts.TLSConfig == nil {
		return nil, errors.New("ldap simulator: StartTLS needs a TLSConfig")
	}
	if opts.StartTLS && opts.DropAfterEntries > 0 {
		return nil, errors.New("ldap simulator: DropAfterEntries cannot be combined with StartTLS")
	}
	s := &LDAPServer{
		st:      st,
		opts:    opts,
		bound:   map[int]bool{},
		cursors: map[string]*ldapCursor{},
		conns:   map[net.Conn]struct{}{},
	}
	gl, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(s.forgetConnection))
	if err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	if err := mux.Bind(s.handleBind); err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	if err := mux.Search(s.handleSearch); err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	if opts.StartTLS {
		if err := mux.ExtendedOperation(s.handleStartTLS, gldap.ExtendedOperationStartTLS); err != nil {
			return nil, fmt.Errorf("ldap simulator: %w", err)
		}
	}
	if err := mux.Modify(s.handleModify); err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	// Creating and deleting objects is no part of what anchorscan does: they
	// are refused with the response type the client waits for.
	for _, register := range []struct {
		add func(gldap.HandlerFunc, ...gldap.Option) error
		app int
	}{
		{mux.Add, gldap.ApplicationAddResponse},
		{mux.Delete, gldap.ApplicationDelResponse},
	} {
		if err := register.add(refuseWith(register.app)); err != nil {
			return nil, fmt.Errorf("ldap simulator: %w", err)
		}
	}
	if err := mux.DefaultRoute(refuseWith(gldap.ApplicationExtendedResponse)); err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	if err := gl.Router(mux); err != nil {
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	s.gl = gl
	return s, nil
}

// Start listens on addr ("127.0.0.1:0" picks a free port; Addr reports it)
// and serves until Stop.
func (s *LDAPServer) Start(addr string) error {
	if err := s.startBackend(); err != nil {
		return fmt.Errorf("ldap simulator: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = s.stopBackend()
		return fmt.Errorf("ldap simulator: listen on %s: %w", addr, err)
	}
	if s.opts.TLSConfig != nil && !s.opts.StartTLS {
		ln = tls.NewListener(ln, s.opts.TLSConfig)
	}
	s.front.Lock()
	s.ln = ln
	s.front.Unlock()
	s.wg.Add(1)
	go s.accept(ln)
	return nil
}

// startBackend runs gldap on a free internal port. gldap listens by itself
// and does not report its address, so the port is picked first; another
// process can take it in between, hence the retries.
func (s *LDAPServer) startBackend() error {
	var lastErr error
	for range 3 {
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("pick internal port: %w", err)
		}
		addr := probe.Addr().String()
		if err := probe.Close(); err != nil {
			return fmt.Errorf("pick internal port: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- s.gl.Run(addr) }()
		if lastErr = waitReachable(addr, done); lastErr == nil {
			s.glAddr, s.glDone = addr, done
			return nil
		}
	}
	return fmt.Errorf("start internal LDAP backend: %w", lastErr)
}

// waitReachable waits until the backend accepts connections or fails.
func waitReachable(addr string, done <-chan error) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("backend stopped during start")
			}
			return err
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			return c.Close()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("internal backend %s not reachable after 5s", addr)
}

// Addr is the host:port the server listens on, empty before Start.
func (s *LDAPServer) Addr() string {
	s.front.Lock()
	defer s.front.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop closes the listener and every client connection, then the backend.
// It is safe to call more than once.
func (s *LDAPServer) Stop() error {
	s.front.Lock()
	if s.stopped {
		s.front.Unlock()
		return nil
	}
	s.stopped = true
	var errs []error
	if s.ln != nil {
		if err := s.ln.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for c := range s.conns {
		_ = c.Close() // the peer may be gone already
	}
	s.front.Unlock()
	s.wg.Wait()
	if err := s.stopBackend(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ldap simulator: stop: %w", err)
	}
	return nil
}

func (s *LDAPServer) stopBackend() error {
	if s.glDone == nil {
		return nil
	}
	if err := s.gl.Stop(); err != nil {
		return err
	}
	return <-s.glDone
}

// accept forwards every client connection to the backend.
func (s *LDAPServer) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Stop
		}
		if !s.track(c) {
			_ = c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.forward(c)
		}()
	}
}

func (s *LDAPServer) track(c net.Conn) bool {
	s.front.Lock()
	defer s.front.Unlock()
	if s.stopped {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *LDAPServer) untrack(c net.Conn) {
	s.front.Lock()
	defer s.front.Unlock()
	delete(s.conns, c)
}

// forward pipes one client connection to its own backend connection until
// either side ends, then closes both.
func (s *LDAPServer) forward(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("tcp", s.glAddr)
	if err != nil {
		return
	}
	if !s.track(backend) {
		_ = backend.Close()
		return
	}
	defer s.untrack(backend)
	defer backend.Close()

	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		_, _ = io.Copy(backend, client)
		_ = backend.Close() // the client left: end the backend side too
	}()
	if s.opts.DropAfterEntries > 0 || s.opts.faults != nil {
		_ = copyDroppingAfterEntries(client, backend, s.opts.DropAfterEntries)
	} else {
		_, _ = io.Copy(client, backend)
	}
	_ = client.Close()
	<-upDone
}

// errConnectionDropped ends a forwarded connection on purpose.
var errConnectionDropped = errors.New("connection dropped by DropAfterEntries")

// copyDroppingAfterEntries forwards whole LDAP messages from backend to
// client and stops, without forwarding it, at search result entry number
// limit+1 of the connection.
func copyDroppingAfterEntries(client io.Writer, backend io.Reader, limit int) error {
	r := bufio.NewReaderSize(backend, 64<<10)
	// Messages are batched into large writes (one TLS record per entry
	// would slow big searches down) and flushed whenever the backend has
	// nothing more buffered, so no answer waits.
	w := bufio.NewWriterSize(client, 64<<10)
	var buf []byte
	sent := 0
	for {
		msg, err := readLDAPMessage(r, buf[:0])
		if err != nil {
			_ = w.Flush()
			return err
		}
		buf = msg
		if isSearchResultEntry(msg) {
			if limit > 0 && sent == limit {
				_ = w.Flush()
				return errConnectionDropped
			}
			if bytes.Contains(msg, []byte(ldapFaultMarker)) {
				_ = w.Flush()
				return errLDAPFaultDrop
			}
			sent++
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// readLDAPMessage reads one BER-encoded LDAPMessage (tag, definite length,
// content) into dst.
func readLDAPMessage(r *bufio.Reader, dst []byte) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	dst = append(dst, tag, first)
	length := int(first)
	if first&0x80 != 0 {
		n := int(first & 0x7f)
		if n == 0 || n > 4 {
			return nil, fmt.Errorf("unsupported BER length form 0x%02x", first)
		}
		length = 0
		for range n {
			b, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			dst = append(dst, b)
			length = length<<8 | int(b)
		}
	}
	start := len(dst)
	dst = append(dst, make([]byte, length)...)
	if _, err := io.ReadFull(r, dst[start:]); err != nil {
		return nil, err
	}
	return dst, nil
}

// isSearchResultEntry reports whether msg's protocolOp is [APPLICATION 4].
func isSearchResultEntry(msg []byte) bool {
	body, ok := berContent(msg)
	if !ok || len(body) == 0 || body[0] != 0x02 { // messageID INTEGER
		return false
	}
	idLen, hdr, ok := berLength(body[1:])
	if !ok || 1+hdr+idLen >= len(body) {
		return false
	}
	return body[1+hdr+idLen] == 0x64
}

// berContent returns the content octets of the TLV at the start of b.
func berContent(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	n, hdr, ok := berLength(b[1:])
	if !ok || 1+hdr+n > len(b) {
		return nil, false
	}
	return b[1+hdr : 1+hdr+n], true
}

// berLength decodes a definite BER length: value and octets used.
func berLength(b []byte) (int, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, true
	}
	n := int(b[0] & 0x7f)
	if n == 0 || n > 4 || len(b) < 1+n {
		return 0, 0, false
	}
	v := 0
	for _, c := range b[1 : 1+n] {
		v = v<<8 | int(c)
	}
	return v, 1 + n, true
}

// forgetConnection drops a closed connection's bind and paging state.
func (s *LDAPServer) forgetConnection(connID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bound, connID)
	for cookie, c := range s.cursors {
		if c.connID == connID {
			delete(s.cursors, cookie)
		}
	}
}

func (s *LDAPServer) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		resp.SetResultCode(gldap.ResultProtocolError)
		resp.SetDiagnosticMessage(err.Error())
		_ = w.Write(resp)
		return
	}
	ok := false
	switch {
	case m.UserName == "" || m.Password == "":
		// Anonymous or unauthenticated bind (RFC 4513 §5.1): AD accepts it,
		// and then lets the connection read nothing but the rootDSE.
	case strings.EqualFold(normalizeDN(m.UserName), normalizeDN(s.opts.BindDN)) && string(m.Password) == s.opts.Password:
		ok = true
	default:
		resp.SetResultCode(gldap.ResultInvalidCredentials)
		resp.SetDiagnosticMessage(ldapDiagInvalidCredentials)
	}
	// Any bind, even a failed one, resets the connection's identity.
	s.mu.Lock()
	s.bound[r.ConnectionID()] = ok
	s.mu.Unlock()
	_ = w.Write(resp)
}

func (s *LDAPServer) handleStartTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(gldap.ExtendedOperationStartTLS)
	if err := w.Write(resp); err != nil {
		return
	}
	// A failed handshake leaves the connection unusable; the client sees
	// its own handshake error.
	_ = r.StartTLS(s.opts.TLSConfig)
}

// refuseWith answers an operation the fake does not implement with
// unwillingToPerform in a response of type app.
func refuseWith(app int) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		_ = w.Write(r.NewResponse(gldap.WithApplicationCode(app), gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
			gldap.WithDiagnosticMessage("the simulated domain controller does not support this operation")))
	}
}

func (s *LDAPServer) isBound(connID int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound[connID]
}

// ldapConsistencyGUID is the one attribute the fake lets clients write.
const ldapConsistencyGUID = "mS-DS-ConsistencyGuid"

// AD's diagnostics for the modify failures the fake reproduces.
const (
	ldapDiagNoSuchAttribute = "00002083: AtrErr: DSID-03151F8E, #1:\n\t0: 00002083: DSID-03151F8E, problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0, Att 9029e2 (mS-DS-ConsistencyGuid)\n"
	ldapDiagValueExists     = "00002083: AtrErr: DSID-03151F8E, #1:\n\t0: 00002083: DSID-03151F8E, problem 1006 (ATT_OR_VALUE_EXISTS), data 0, Att 9029e2 (mS-DS-ConsistencyGuid)\n"
	ldapDiagAccessDenied    = "00000005: SecErr: DSID-03152E29, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n"
)

// ldapModifyError is a modify refused with an LDAP result code.
type ldapModifyError struct {
	code int
	diag string
}

func (e *ldapModifyError) Error() string { return e.diag }

// handleModify applies a modify request's changes to one user's
// mS-DS-ConsistencyGuid with AD's semantics: the changes apply in order and
// atomically, deleting a value that is not there is noSuchAttribute and
// adding a second value to this single-valued attribute is
// attributeOrValueExists, either of which leaves the object unchanged. That
// is what makes {delete old, add new} a compare-and-swap.
func (s *LDAPServer) handleModify(w *gldap.ResponseWriter, r *gldap.Request) {
	reply := func(code int, diag string) {
		_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(diag)))
	}
	m, err := r.GetModifyMessage()
	if err != nil {
		reply(gldap.ResultProtocolError, err.Error())
		return
	}
	if !s.isBound(r.ConnectionID()) {
		reply(gldap.ResultInsufficientAccessRights, ldapDiagAccessDenied)
		return
	}
	changes := make([]ldapChange, 0, len(m.Changes))
	for _, c := range m.Changes {
		ch, err := decodeLDAPChange(c)
		if err != nil {
			var me *ldapModifyError
			if errors.As(err, &me) {
				reply(me.code, me.diag)
			} else {
				reply(gldap.ResultProtocolError, err.Error())
			}
			return
		}
		changes = append(changes, ch)
	}
	target := normalizeDN(m.DN)
	err = s.st.update(func(t *Tenant, rec *changeRecorder) error {
		u := findADUser(&t.AD, target)
		if u == nil {
			return &ldapModifyError{gldap.ResultNoSuchObject,
				fmt.Sprintf("0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'%s'\n", m.DN)}
		}
		var current []byte
		if u.MSDSConsistencyGUID != nil {
			g, err := anchor.ParseGUID(*u.MSDSConsistencyGUID)
			if err != nil {
				return &ldapModifyError{gldap.ResultOther, fmt.Sprintf("simulated AD user %s: msDSConsistencyGuid: %v", u.DistinguishedName, err)}
			}
			raw := g.Raw()
			current = raw[:]
		}
		next, err := applyLDAPChanges(current, changes)
		if err != nil {
			return err
		}
		// AD gives a modified object a new uSNChanged even when the values
		// end up as they were.
		rec.adUser(u.DistinguishedName)
		if next == nil {
			u.MSDSConsistencyGUID = nil
			return nil
		}
		g, err := anchor.FromRaw(next)
		if err != nil {
			return &ldapModifyError{gldap.ResultConstraintViolation, err.Error()}
		}
		canonical := g.String()
		u.MSDSConsistencyGUID = &canonical
		return nil
	})
	var me *ldapModifyError
	switch {
	case errors.As(err, &me):
		reply(me.code, me.diag)
	case err != nil:
		reply(gldap.ResultOther, err.Error())
	default:
		reply(gldap.ResultSuccess, "")
	}
}

// ldapChange is one change of a modify request, values decoded.
type ldapChange struct {
	op     int64
	values [][]byte
}

// decodeLDAPChange checks that c is a change the fake can make. gldap
// v0.1.14 hands a change's value SET over as one string holding the
// BER-encoded values back to back, so they are decoded here.
func decodeLDAPChange(c gldap.Change) (ldapChange, error) {
	attr := c.Modification.Type
	if !strings.EqualFold(attr, ldapConsistencyGUID) {
		return ldapChange{}, &ldapModifyError{gldap.ResultUnwillingToPerform,
			fmt.Sprintf("the simulated domain controller only writes %s, not %s", ldapConsistencyGUID, attr)}
	}
	ch := ldapChange{op: c.Operation}
	switch c.Operation {
	case gldap.AddAttribute, gldap.DeleteAttribute, gldap.ReplaceAttribute:
	default:
		return ldapChange{}, fmt.Errorf("unknown modify operation %d", c.Operation)
	}
	for _, set := range c.Modification.Vals {
		rd := bytes.NewReader([]byte(set))
		for rd.Len() > 0 {
			p, err := ber.ReadPacket(rd)
			if err != nil {
				return ldapChange{}, fmt.Errorf("modify of %s: value: %w", attr, err)
			}
			if p.ClassType != ber.ClassUniversal || p.Tag != ber.TagOctetString {
				return ldapChange{}, fmt.Errorf("modify of %s: value is not an OCTET STRING", attr)
			}
			v := p.Data.Bytes()
			if len(v) != 16 {
				// AD would store any octet string; the fixture format holds a
				// GUID, so the fake refuses what it could not keep.
				return ldapChange{}, &ldapModifyError{gldap.ResultConstraintViolation,
					fmt.Sprintf("00002082: AtrErr: DSID-03151F8E, #1:\n\t0: 00002082: DSID-03151F8E, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9029e2 (%s): value is %d bytes, the simulator stores 16\n", ldapConsistencyGUID, len(v))}
			}
			ch.values = append(ch.values, v)
		}
	}
	if c.Operation == gldap.AddAttribute && len(ch.values) == 0 {
		return ldapChange{}, fmt.Errorf("modify of %s: add without values", attr)
	}
	return ch, nil
}

// applyLDAPChanges returns the single value of the attribute after changes,
// nil when absent, or the error of the first change that cannot apply.
func applyLDAPChanges(current []byte, changes []ldapChange) ([]byte, error) {
	noValue := &ldapModifyError{gldap.ResultNoSuchAttribute, ldapDiagNoSuchAttribute}
	// Samba 4.17 answers a second value for a single-valued attribute, in
	// one change or on top of a stored one, with attributeOrValueExists.
	exists := &ldapModifyError{gldap.ResultAttributeOrValueExists, ldapDiagValueExists}
	for _, ch := range changes {
		switch ch.op {
		case gldap.AddAttribute:
			if current != nil || len(ch.values) > 1 {
				return nil, exists
			}
			current = ch.values[0]
		case gldap.DeleteAttribute:
			if current == nil {
				return nil, noValue
			}
			for _, v := range ch.values {
				if !bytes.Equal(v, current) {
					return nil, noValue
				}
			}
			current = nil
		case gldap.ReplaceAttribute:
			switch len(ch.values) {
			case 0:
				current = nil
			case 1:
				current = ch.values[0]
			default:
				return nil, exists
			}
		}
	}
	return current, nil
}

// findADUser is the user whose normalized DN is dnNorm, or nil.
func findADUser(ad *AD, dnNorm string) *ADUser {
	for i := range ad.Users {
		if normalizeDN(ad.Users[i].DistinguishedName) == dnNorm {
			return &ad.Users[i]
		}
	}
	return nil
}

func (s *LDAPServer) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	done := func(code int, diag string, controls ...gldap.Control) {
		resp := r.NewSearchDoneResponse(gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(diag))
		if len(controls) > 0 {
			resp.SetControls(controls...)
		}
		_ = w.Write(resp)
	}
	m, err := r.GetSearchMessage()
	if err != nil {
		done(gldap.ResultProtocolError, err.Error())
		return
	}
	filter, err := compileLDAPFilter(m.Filter)
	if err != nil {
		done(gldap.ResultProtocolError, err.Error())
		return
	}
	sel := newAttrSelection(m.Attributes, m.TypesOnly)
	if m.BaseDN == "" && m.Scope == gldap.BaseObject {
		idx, err := s.currentIndex()
		if err != nil {
			done(gldap.ResultOther, err.Error())
			return
		}
		if root := idx.rootDSE(); filter.matches(root) == ldapTrue {
			if err := s.writeEntry(w, r, root, sel); err != nil {
				return
			}
		}
		done(gldap.ResultSuccess, "")
		return
	}
	connID := r.ConnectionID()
	if !s.isBound(connID) {
		done(gldap.ResultOperationsError, ldapDiagBindRequired)
		return
	}
	fault, ok := s.ldapFault(r, done)
	if !ok {
		return
	}
	idx, err := s.currentIndex()
	if err != nil {
		done(gldap.ResultOther, err.Error())
		return
	}

	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	var cur *ldapCursor
	if paging != nil && len(paging.Cookie) > 0 {
		cur = s.takeCursor(connID, paging.Cookie)
		if cur == nil {
			done(gldap.ResultUnwillingToPerform, ldapDiagBadCookie)
			return
		}
	}
	if paging != nil && paging.PagingSize == 0 {
		// RFC 2696 §3: a page size of 0 abandons the paged search.
		done(gldap.ResultSuccess, "", &gldap.ControlPaging{})
		return
	}
	if cur == nil {
		var code int
		var diag string
		cur, code, diag = idx.newCursor(connID, m, filter, sel)
		if cur == nil {
			done(code, diag)
			return
		}
	}

	limit := s.opts.MaxPageSize
	clientLimit := false
	if paging != nil {
		limit = min(int(paging.PagingSize), s.opts.MaxPageSize)
	} else if m.SizeLimit > 0 && int(m.SizeLimit) < limit {
		limit, clientLimit = int(m.SizeLimit), true
	}
	dropAt := -1
	if fault.action == faultReset {
		dropAt = int(fault.cut * float64(limit))
	}
	for sent := 0; sent < limit; sent++ {
		if sent == dropAt {
			break
		}
		e := cur.next()
		if e == nil {
			break
		}
		if err := s.writeEntry(w, r, e, cur.sel); err != nil {
			return // the client is gone
		}
	}
	if dropAt >= 0 {
		_ = w.Write(r.NewSearchResponseEntry(ldapFaultMarker))
		return
	}
	more := cur.peek() != nil
	switch {
	case paging != nil && more:
		done(gldap.ResultSuccess, "", &gldap.ControlPaging{Cookie: s.saveCursor(cur)})
	case paging != nil:
		done(gldap.ResultSuccess, "", &gldap.ControlPaging{})
	case more && clientLimit:
		done(gldap.ResultSizeLimitExceeded, "")
	case more:
		// AD ends an unpaged search at MaxPageSize entries with this code.
		done(gldap.ResultSizeLimitExceeded, fmt.Sprintf("more than MaxPageSize (%d) entries match; use the paged results control", s.opts.MaxPageSize))
	default:
		done(gldap.ResultSuccess, "")
	}
}

// writeEntry sends e with the selected attributes, binary values as their
// raw bytes.
func (s *LDAPServer) writeEntry(w *gldap.ResponseWriter, r *gldap.Request, e ldapEntry, sel attrSelection) error {
	dn := e.entryDN()
	resp := r.NewSearchResponseEntry(dn)
	for _, a := range sel.pick(e) {
		vals := e.values(a.lower)
		if s.opts.RewriteAttribute != nil {
			vals = s.opts.RewriteAttribute(dn, a.name, vals)
		}
		if len(vals) == 0 {
			continue
		}
		var strs []string
		if !sel.typesOnly {
			strs = make([]string, len(vals))
			for i, v := range vals {
				strs[i] = string(v)
			}
		}
		resp.AddAttribute(a.name, strs)
	}
	return w.Write(resp)
}

// saveCursor stores cur for the next page and returns its cookie.
func (s *LDAPServer) saveCursor(cur *ldapCursor) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur.cookie == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // never fails on supported platforms
		cur.cookie = string(b)
	}
	if _, known := s.cursors[cur.cookie]; !known {
		s.order = append(s.order, cur.cookie)
	}
	s.cursors[cur.cookie] = cur
	for len(s.cursors) > maxLDAPCursors && len(s.order) > 0 {
		delete(s.cursors, s.order[0])
		s.order = s.order[1:]
	}
	if len(s.order) > 2*maxLDAPCursors {
		// Drop cookies of finished searches from the eviction queue.
		live := s.order[:0]
		for _, c := range s.order {
			if _, ok := s.cursors[c]; ok {
				live = append(live, c)
			}
		}
		s.order = live
	}
	return []byte(cur.cookie)
}

// takeCursor removes and returns the cursor of cookie, if it belongs to
// connID: AD's cookies are only valid on the connection that got them.
func (s *LDAPServer) takeCursor(connID int, cookie []byte) *ldapCursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.cursors[string(cookie)]
	if !ok || cur.connID != connID {
		return nil
	}
	delete(s.cursors, string(cookie))
	return cur
}

// currentIndex returns the index for the state's current version, building
// it when the tenant changed.
func (s *LDAPServer) currentIndex() (*ldapIndex, error) {
	version := s.st.Version()
	s.mu.Lock()
	idx := s.index
	s.mu.Unlock()
	if idx != nil && idx.version == version {
		return idx, idx.err
	}
	var built *ldapIndex
	s.st.readChanges(func(t *Tenant, c *changeLog) { built = buildLDAPIndex(&t.AD, c, version) })
	s.mu.Lock()
	s.index = built
	s.mu.Unlock()
	return built, built.err
}

// ldapIndex is an immutable view of the AD side of one state version. Paged
// searches keep the index they started on, so their pages stay consistent
// while the tenant changes underneath.
type ldapIndex struct {
	version uint64
	domains []*ldapDomain
	users   []ldapUser
	byDN    map[string]int // normalized DN → index in users
	err     error          // first invalid fixture value; searches fail with it
	// highestUSN is the DC's highestCommittedUSN at this version.
	highestUSN int64
}

type ldapDomain struct {
	name      string
	baseDN    string
	baseNorm  string
	category  [][]byte // objectCategory of users in this forest
	forestDN  string
	domainObj *ldapMapEntry
	users     []int32
}

type ldapUser struct {
	dn, dnNorm  string
	domain      *ldapDomain
	guid        [16]byte
	consistency []byte // nil when absent
	sid         []byte
	sidString   string
	upn, sam    string
	mail        string
	uac         int
	usn         int64
	whenChanged string
	// deleted marks a tombstone: served only with the Show Deleted control,
	// with the few attributes AD keeps on a deleted object.
	deleted         bool
	lastKnownParent string
}

// buildLDAPIndex indexes the AD side and, from the change log c, each
// user's uSNChanged and whenChanged and the tombstones of deleted users.
func buildLDAPIndex(ad *AD, c *changeLog, version uint64) *ldapIndex {
	idx := &ldapIndex{version: version, byDN: make(map[string]int, len(ad.Users)), highestUSN: c.usn}
	for _, d := range ad.Domains {
		norm := normalizeDN(d.BaseDN)
		dom := &ldapDomain{name: d.Name, baseDN: d.BaseDN, baseNorm: norm}
		idx.domains = append(idx.domains, dom)
	}
	for _, dom := range idx.domains {
		// The forest root is the shortest configured base DN this domain
		// lies under: corp.contoso.example and contoso.example share one
		// schema, emea.fabrikam.example has its own.
		dom.forestDN = dom.baseDN
		for _, other := range idx.domains {
			if len(other.baseNorm) < len(normalizeDN(dom.forestDN)) && dnUnder(dom.baseNorm, other.baseNorm) {
				dom.forestDN = other.baseDN
			}
		}
		dom.category = [][]byte{[]byte("CN=Person,CN=Schema,CN=Configuration," + dom.forestDN)}
		dom.domainObj = newMapEntry(dom.baseDN, []ldapAttrValues{
			{"objectClass", strValues("top", "domain", "domainDNS")},
			{"objectCategory", strValues("CN=Domain-DNS,CN=Schema,CN=Configuration," + dom.forestDN)},
			{"distinguishedName", strValues(dom.baseDN)},
			{"name", strValues(rdnValue(dom.baseDN))},
			{"dc", strValues(rdnValue(dom.baseDN))},
		})
	}
	idx.users = make([]ldapUser, 0, len(ad.Users))
	for i := range ad.Users {
		u := &ad.Users[i]
		norm := normalizeDN(u.DistinguishedName)
		dom := idx.domainOf(norm)
		if dom == nil {
			continue // outside every naming context this DC holds
		}
		fail := func(field string, err error) {
			if idx.err == nil {
				idx.err = fmt.Errorf("simulated AD user %s: %s: %w", u.DistinguishedName, field, err)
			}
		}
		g, err := anchor.ParseGUID(u.ObjectGUID)
		if err != nil {
			fail("objectGUID", err)
			continue
		}
		lu := ldapUser{
			dn: u.DistinguishedName, dnNorm: norm, domain: dom,
			guid: g.Raw(), upn: u.UserPrincipalName, sam: u.SAMAccountName, mail: u.Mail,
			uac: u.UserAccountControl, usn: c.adBaseUSN[norm], whenChanged: ldapWhenChanged,
		}
		if st, ok := c.ad[norm]; ok && !st.Removed {
			lu.usn, lu.whenChanged = st.USN, st.At.Format(ldapTimeLayout)
		}
		if u.MSDSConsistencyGUID != nil {
			cg, err := anchor.ParseGUID(*u.MSDSConsistencyGUID)
			if err != nil {
				fail("msDSConsistencyGuid", err)
				continue
			}
			raw := cg.Raw()
			lu.consistency = raw[:]
		}
		if u.ObjectSID != "" {
			lu.sid, err = encodeSID(u.ObjectSID)
			if err != nil {
				fail("objectSid", err)
				continue
			}
			lu.sidString = u.ObjectSID
		}
		if _, dup := idx.byDN[norm]; dup {
			fail("distinguishedName", errors.New("two users have this DN"))
			continue
		}
		idx.byDN[norm] = len(idx.users)
		dom.users = append(dom.users, int32(len(idx.users)))
		idx.users = append(idx.users, lu)
	}
	idx.addTombstones(c.tombstones)
	return idx
}

// ldapTimeLayout is AD's GeneralizedTime as whenChanged carries it.
const ldapTimeLayout = "20060102150405.0Z"

// addTombstones indexes deleted users. They are candidates of every search
// of their domain but match only with the Show Deleted control.
func (idx *ldapIndex) addTombstones(tombstones []DeletedADUser) {
	for _, ts := range tombstones {
		norm := normalizeDN(ts.DN)
		dom := idx.domainOf(norm)
		if dom == nil {
			continue
		}
		g, err := anchor.ParseGUID(ts.ObjectGUID)
		if err != nil {
			continue // recorded from a user that had a valid objectGUID
		}
		lu := ldapUser{
			dn: ts.DN, dnNorm: norm, domain: dom, guid: g.Raw(), sam: ts.SAMAccountName,
			usn: ts.USN, whenChanged: ts.At.Format(ldapTimeLayout), deleted: true, lastKnownParent: ts.LastKnownParent,
		}
		if sid, err := encodeSID(ts.ObjectSID); err == nil {
			lu.sid, lu.sidString = sid, ts.ObjectSID
		}
		dom.users = append(dom.users, int32(len(idx.users)))
		idx.users = append(idx.users, lu)
	}
}

// domainOf is the domain with the longest base DN that dn lies under.
func (idx *ldapIndex) domainOf(dnNorm string) *ldapDomain {
	var best *ldapDomain
	for _, d := range idx.domains {
		if dnUnder(dnNorm, d.baseNorm) && (best == nil || len(d.baseNorm) > len(best.baseNorm)) {
			best = d
		}
	}
	return best
}

// rootDSE is the entry a base search of "" returns: what a client reads to
// find the naming contexts and the server's capabilities.
func (idx *ldapIndex) rootDSE() *ldapMapEntry {
	var defaultNC, forest, host string
	var contexts []string
	for _, d := range idx.domains {
		contexts = append(contexts, d.baseDN)
	}
	if len(idx.domains) > 0 {
		d := idx.domains[0]
		defaultNC, forest = d.baseDN, d.forestDN
		host = "dc01." + d.name
	} else {
		forest, host = "DC=example,DC=invalid", "dc01.example.invalid"
	}
	config := "CN=Configuration," + forest
	schema := "CN=Schema," + config
	contexts = append(contexts, config, schema)
	site := "CN=DC01,CN=Servers,CN=Default-First-Site-Name,CN=Sites," + config
	highestUSN := idx.highestUSN
	return newMapEntry("", []ldapAttrValues{
		{"currentTime", strValues(time.Now().UTC().Format("20060102150405.0Z"))},
		{"subschemaSubentry", strValues("CN=Aggregate," + schema)},
		{"dsServiceName", strValues("CN=NTDS Settings," + site)},
		{"namingContexts", strValues(contexts...)},
		{"defaultNamingContext", strValues(defaultNC)},
		{"schemaNamingContext", strValues(schema)},
		{"configurationNamingContext", strValues(config)},
		{"rootDomainNamingContext", strValues(forest)},
		{"supportedControl", strValues(ldapOIDPagedResults, ldapOIDShowDeleted, ldapOIDServerSort, ldapOIDDirSync)},
		{"supportedLDAPVersion", strValues("3", "2")},
		{"supportedLDAPPolicies", strValues("MaxPageSize", "MaxResultSetSize", "MaxQueryDuration")},
		{"highestCommittedUSN", strValues(strconv.FormatInt(highestUSN, 10))},
		{"supportedSASLMechanisms", strValues("GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5")},
		{"dnsHostName", strValues(host)},
		{"serverName", strValues(site)},
		{"isSynchronized", strValues("TRUE")},
		{"isGlobalCatalogReady", strValues("TRUE")},
		{"domainFunctionality", strValues("7")},
		{"forestFunctionality", strValues("7")},
		{"domainControllerFunctionality", strValues("7")},
	})
}

// ldapCursor is one search in progress: where in the candidate list the
// next page starts, so that a page costs what it returns, not a rescan.
type ldapCursor struct {
	cookie string
	connID int
	idx    *ldapIndex
	filter *ldapFilter
	sel    attrSelection

	scope    gldap.Scope
	baseNorm string
	wholeDom bool // subtree of the domain root: every candidate is in scope

	// showDeleted is the Show Deleted control: tombstones are returned.
	showDeleted bool

	first      []ldapEntry // entries before the users (the domain object)
	candidates []int32
	pos        int
	peeked     ldapEntry
}

// newCursor resolves the search base; a base outside every domain, or one
// holding nothing, is noSuchObject as in AD.
func (idx *ldapIndex) newCursor(connID int, m *gldap.SearchMessage, filter *ldapFilter, sel attrSelection) (*ldapCursor, int, string) {
	base := normalizeDN(m.BaseDN)
	dom := idx.domainOf(base)
	noObject := func(matched string) (*ldapCursor, int, string) {
		return nil, gldap.ResultNoSuchObject, fmt.Sprintf("0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'%s'\n", matched)
	}
	if dom == nil {
		return noObject("")
	}
	cur := &ldapCursor{connID: connID, idx: idx, filter: filter, sel: sel, scope: m.Scope, baseNorm: base}
	for _, c := range m.Controls {
		if c.GetControlType() == ldapOIDShowDeleted {
			cur.showDeleted = true
		}
	}
	isRoot := base == dom.baseNorm
	switch m.Scope {
	case gldap.BaseObject:
		if isRoot {
			cur.first = []ldapEntry{dom.domainObj}
		} else if i, ok := idx.byDN[base]; ok {
			cur.first = []ldapEntry{&idx.users[i]}
		} else {
			return noObject(dom.baseDN)
		}
		return cur, 0, ""
	case gldap.WholeSubtree:
		if isRoot {
			cur.first = []ldapEntry{dom.domainObj}
			cur.wholeDom = true
		}
	case gldap.SingleLevel:
	default:
		return nil, gldap.ResultProtocolError, fmt.Sprintf("unknown search scope %d", m.Scope)
	}
	cur.candidates = dom.users
	if !isRoot && !idx.holdsAnythingUnder(dom, base) {
		return noObject(dom.baseDN)
	}
	return cur, 0, ""
}

// holdsAnythingUnder reports whether base names a user or a container of
// users: the simulator keeps no OU objects, only the DNs that imply them.
func (idx *ldapIndex) holdsAnythingUnder(dom *ldapDomain, base string) bool {
	for _, i := range dom.users {
		if dnUnder(idx.users[i].dnNorm, base) {
			return true
		}
	}
	return false
}

// next returns the next entry in scope that matches the filter, or nil.
func (c *ldapCursor) next() ldapEntry {
	e := c.peek()
	c.peeked = nil
	return e
}

// peek finds the next match without consuming it.
func (c *ldapCursor) peek() ldapEntry {
	if c.peeked != nil {
		return c.peeked
	}
	for len(c.first) > 0 {
		e := c.first[0]
		c.first = c.first[1:]
		if c.filter.matches(e) == ldapTrue {
			c.peeked = e
			return e
		}
	}
	for c.pos < len(c.candidates) {
		u := &c.idx.users[c.candidates[c.pos]]
		c.pos++
		if (u.deleted && !c.showDeleted) || !c.inScope(u) {
			continue
		}
		if c.filter.matches(u) == ldapTrue {
			c.peeked = u
			return u
		}
	}
	return nil
}

func (c *ldapCursor) inScope(u *ldapUser) bool {
	switch c.scope {
	case gldap.WholeSubtree:
		return c.wholeDom || dnUnder(u.dnNorm, c.baseNorm)
	case gldap.SingleLevel:
		return parentDN(u.dnNorm) == c.baseNorm
	}
	return false
}

// ldapEntry is what a search can return: a user, a domain object or the
// rootDSE. Attribute names passed in are lower case.
type ldapEntry interface {
	entryDN() string
	values(lower string) [][]byte
	attributeNames() []ldapAttrName
}

// ldapAttrName is an attribute's name as sent and its lower-case key.
type ldapAttrName struct{ name, lower string }

func attrNames(names ...string) []ldapAttrName {
	out := make([]ldapAttrName, len(names))
	for i, n := range names {
		out[i] = ldapAttrName{n, strings.ToLower(n)}
	}
	return out
}

var (
	ldapUserAttributes = attrNames("objectClass", "cn", "distinguishedName", "name", "objectCategory",
		"objectGUID", "mS-DS-ConsistencyGuid", "objectSid", "sAMAccountName", "userPrincipalName", "mail",
		"userAccountControl", "whenChanged", "uSNChanged")
	ldapUserClasses = strValues("top", "person", "organizationalPerson", "user")
	// ldapTombstoneAttributes are what AD keeps on a deleted user (without
	// the Recycle Bin): objectCategory, UPN, mail and the anchors' other
	// attributes are stripped.
	ldapTombstoneAttributes = attrNames("objectClass", "cn", "distinguishedName", "name", "objectGUID", "objectSid",
		"sAMAccountName", "isDeleted", "lastKnownParent", "whenChanged", "uSNChanged")
	ldapTombstoneKeeps = func() map[string]bool {
		m := map[string]bool{}
		for _, a := range ldapTombstoneAttributes {
			m[a.lower] = true
		}
		return m
	}()
	// ldapCanonicalNames spells attribute names as AD returns them,
	// whatever case the client asked in.
	ldapCanonicalNames = func() map[string]string {
		m := map[string]string{}
		for _, a := range append(append([]ldapAttrName{}, ldapUserAttributes...), ldapTombstoneAttributes...) {
			m[a.lower] = a.name
		}
		return m
	}()
)

func (u *ldapUser) entryDN() string { return u.dn }

func (u *ldapUser) attributeNames() []ldapAttrName {
	if u.deleted {
		return ldapTombstoneAttributes
	}
	return ldapUserAttributes
}

func (u *ldapUser) values(lower string) [][]byte {
	if u.deleted && !ldapTombstoneKeeps[lower] {
		return nil
	}
	one := func(s string) [][]byte {
		if s == "" {
			return nil // AD stores no empty strings: the attribute is absent
		}
		return [][]byte{[]byte(s)}
	}
	switch lower {
	case "objectclass":
		return ldapUserClasses
	case "objectcategory":
		return u.domain.category
	case "cn", "name":
		return one(rdnValue(u.dn))
	case "distinguishedname":
		return one(u.dn)
	case "objectguid":
		return [][]byte{u.guid[:]}
	case "ms-ds-consistencyguid":
		if u.consistency == nil {
			return nil
		}
		return [][]byte{u.consistency}
	case "objectsid":
		if u.sid == nil {
			return nil
		}
		return [][]byte{u.sid}
	case "samaccountname":
		return one(u.sam)
	case "userprincipalname":
		return one(u.upn)
	case "mail":
		return one(u.mail)
	case "useraccountcontrol":
		return one(strconv.Itoa(u.uac))
	case "whenchanged":
		return one(u.whenChanged)
	case "usnchanged":
		return one(strconv.FormatInt(u.usn, 10))
	case "isdeleted":
		if u.deleted {
			return strValues("TRUE")
		}
	case "lastknownparent":
		return one(u.lastKnownParent)
	}
	return nil
}

// ldapMapEntry is an entry with a fixed attribute set: rootDSE, domains.
type ldapMapEntry struct {
	dn    string
	names []ldapAttrName
	vals  map[string][][]byte
}

type ldapAttrValues struct {
	name   string
	values [][]byte
}

func newMapEntry(dn string, attrs []ldapAttrValues) *ldapMapEntry {
	e := &ldapMapEntry{dn: dn, vals: make(map[string][][]byte, len(attrs))}
	for _, a := range attrs {
		lower := strings.ToLower(a.name)
		e.names = append(e.names, ldapAttrName{a.name, lower})
		e.vals[lower] = a.values
	}
	return e
}

func (e *ldapMapEntry) entryDN() string                { return e.dn }
func (e *ldapMapEntry) attributeNames() []ldapAttrName { return e.names }
func (e *ldapMapEntry) values(lower string) [][]byte {
	if v, ok := e.vals[lower]; ok {
		return v
	}
	if lower == "objectclass" && e.dn == "" {
		// AD matches (objectClass=*) on the rootDSE without returning it.
		return strValues("top")
	}
	return nil
}

func strValues(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// attrSelection is the attribute list of a search request.
type attrSelection struct {
	all, none bool
	names     []ldapAttrName // as requested
	typesOnly bool
}

func newAttrSelection(requested []string, typesOnly bool) attrSelection {
	sel := attrSelection{typesOnly: typesOnly}
	if len(requested) == 0 {
		sel.all = true
		return sel
	}
	for _, a := range requested {
		switch a {
		case "*":
			sel.all = true
		case "1.1":
			// RFC 4511 §4.5.1.8: no attributes, unless others are listed.
		case "+":
			// Operational attributes: the fake returns none beyond "*".
		default:
			lower := strings.ToLower(a)
			name := a
			if c, ok := ldapCanonicalNames[lower]; ok {
				name = c
			}
			sel.names = append(sel.names, ldapAttrName{name, lower})
		}
	}
	sel.none = !sel.all && len(sel.names) == 0
	return sel
}

// pick lists the attributes of e to send.
func (sel attrSelection) pick(e ldapEntry) []ldapAttrName {
	switch {
	case sel.none:
		return nil
	case !sel.all:
		return sel.names
	case len(sel.names) == 0:
		return e.attributeNames()
	}
	out := append([]ldapAttrName(nil), e.attributeNames()...)
	for _, n := range sel.names {
		dup := false
		for _, o := range out {
			dup = dup || o.lower == n.lower
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}

// ldapResult is the three-valued result of a filter (RFC 4511 §4.5.1.7):
// an assertion on an attribute the entry does not have is Undefined, and
// NOT Undefined stays Undefined.
type ldapResult int

const (
	ldapFalse ldapResult = iota
	ldapTrue
	ldapUndefined
)

// ldapFilter is a search filter compiled once per search: attribute names
// lower-cased, assertion values decoded.
type ldapFilter struct {
	tag     ber.Tag
	attr    string
	value   []byte
	number  int64
	numeric bool
	rule    string
	initial []byte
	any     [][]byte
	final   []byte
	subs    []*ldapFilter
}

// compileLDAPFilter parses the string form gldap hands over (RFC 4515),
// using go-ldap's parser so that escapes decode as any client encoded them.
func compileLDAPFilter(s string) (*ldapFilter, error) {
	if s == "" {
		s = "(objectClass=*)"
	}
	p, err := ldap.CompileFilter(s)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", s, err)
	}
	return convertFilter(p)
}

func convertFilter(p *ber.Packet) (*ldapFilter, error) {
	f := &ldapFilter{tag: p.Tag}
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr, ldap.FilterNot:
		for _, c := range p.Children {
			sub, err := convertFilter(c)
			if err != nil {
				return nil, err
			}
			f.subs = append(f.subs, sub)
		}
	case ldap.FilterPresent:
		f.attr = strings.ToLower(string(p.Data.Bytes()))
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return nil, errors.New("malformed attribute value assertion")
		}
		f.attr = strings.ToLower(string(p.Children[0].Data.Bytes()))
		f.value = p.Children[1].Data.Bytes()
		f.prepareValue()
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return nil, errors.New("malformed substring filter")
		}
		f.attr = strings.ToLower(string(p.Children[0].Data.Bytes()))
		for _, c := range p.Children[1].Children {
			v := bytes.ToLower(c.Data.Bytes())
			switch c.Tag {
			case ldap.FilterSubstringsInitial:
				f.initial = v
			case ldap.FilterSubstringsAny:
				f.any = append(f.any, v)
			case ldap.FilterSubstringsFinal:
				f.final = v
			}
		}
	case ldap.FilterExtensibleMatch:
		for _, c := range p.Children {
			switch c.Tag {
			case 1:
				f.rule = string(c.Data.Bytes())
			case 2:
				f.attr = strings.ToLower(string(c.Data.Bytes()))
			case 3:
				f.value = c.Data.Bytes()
			}
		}
		f.prepareValue()
	default:
		return nil, fmt.Errorf("unsupported filter choice %d", p.Tag)
	}
	return f, nil
}

// prepareValue decodes the assertion by the attribute's syntax once.
func (f *ldapFilter) prepareValue() {
	switch ldapSyntaxOf(f.attr) {
	case syntaxInteger:
		if n, err := strconv.ParseInt(string(f.value), 10, 64); err == nil {
			f.number, f.numeric = n, true
		}
	case syntaxSID:
		// AD also accepts the S-1-… string form in a filter.
		if sid, err := encodeSID(string(f.value)); err == nil {
			f.value = sid
		}
	}
}

type ldapSyntax int

const (
	syntaxString ldapSyntax = iota // case-ignore string
	syntaxBinary
	syntaxSID
	syntaxInteger
	syntaxCategory
)

func ldapSyntaxOf(lower string) ldapSyntax {
	switch lower {
	case "objectguid", "ms-ds-consistencyguid":
		return syntaxBinary
	case "objectsid":
		return syntaxSID
	case "useraccountcontrol", "usnchanged", "usncreated", "highestcommittedusn", "supportedldapversion":
		return syntaxInteger
	case "objectcategory":
		return syntaxCategory
	}
	return syntaxString
}

func (f *ldapFilter) matches(e ldapEntry) ldapResult {
	switch f.tag {
	case ldap.FilterAnd:
		res := ldapTrue
		for _, s := range f.subs {
			switch s.matches(e) {
			case ldapFalse:
				return ldapFalse
			case ldapUndefined:
				res = ldapUndefined
			}
		}
		return res
	case ldap.FilterOr:
		res := ldapFalse
		for _, s := range f.subs {
			switch s.matches(e) {
			case ldapTrue:
				return ldapTrue
			case ldapUndefined:
				res = ldapUndefined
			}
		}
		return res
	case ldap.FilterNot:
		if len(f.subs) != 1 {
			return ldapUndefined
		}
		switch f.subs[0].matches(e) {
		case ldapTrue:
			return ldapFalse
		case ldapFalse:
			return ldapTrue
		}
		return ldapUndefined
	case ldap.FilterPresent:
		if len(e.values(f.attr)) > 0 {
			return ldapTrue
		}
		return ldapFalse
	}
	vals := e.values(f.attr)
	if len(vals) == 0 {
		return ldapUndefined
	}
	for _, v := range vals {
		if f.matchValue(v) {
			return ldapTrue
		}
	}
	return ldapFalse
}

func (f *ldapFilter) matchValue(v []byte) bool {
	syntax := ldapSyntaxOf(f.attr)
	switch f.tag {
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch:
		switch syntax {
		case syntaxBinary, syntaxSID:
			return bytes.Equal(v, f.value)
		case syntaxInteger:
			n, err := strconv.ParseInt(string(v), 10, 64)
			return err == nil && f.numeric && n == f.number
		case syntaxCategory:
			if !bytes.Contains(f.value, []byte("=")) {
				// "person" stands for the class whose category this is.
				return strings.EqualFold(string(f.value), categoryShortName(string(v)))
			}
		}
		return bytes.EqualFold(v, f.value)
	case ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		var cmp int
		if syntax == syntaxInteger {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || !f.numeric {
				return false
			}
			cmp = compareInt(n, f.number)
		} else {
			cmp = bytes.Compare(bytes.ToLower(v), bytes.ToLower(f.value))
		}
		if f.tag == ldap.FilterGreaterOrEqual {
			return cmp >= 0
		}
		return cmp <= 0
	case ldap.FilterSubstrings:
		s := bytes.ToLower(v)
		if !bytes.HasPrefix(s, f.initial) {
			return false
		}
		s = s[len(f.initial):]
		for _, a := range f.any {
			i := bytes.Index(s, a)
			if i < 0 {
				return false
			}
			s = s[i+len(a):]
		}
		return bytes.HasSuffix(s, f.final)
	case ldap.FilterExtensibleMatch:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || !f.numeric {
			return false
		}
		switch f.rule {
		case ldapOIDBitAnd:
			return n&f.number == f.number
		case ldapOIDBitOr:
			return n&f.number != 0
		}
	}
	return false
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// categoryShortName turns "CN=Person,CN=Schema,…" into "person" and
// "CN=Domain-DNS,…" into "domaindns": the class's lDAPDisplayName, modulo
// case, which is what AD lets a filter say instead of the DN.
func categoryShortName(categoryDN string) string {
	return strings.ReplaceAll(strings.ToLower(rdnValue(categoryDN)), "-", "")
}

// normalizeDN lower-cases dn and drops the spaces around its separators,
// enough to compare the DNs clients send with the fixture's.
func normalizeDN(dn string) string {
	if dn == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(dn))
	start := 0
	for i := 0; i <= len(dn); i++ {
		if i < len(dn) && (dn[i] != ',' || isEscaped(dn, i)) {
			continue
		}
		rdn := strings.TrimSpace(dn[start:i])
		if typ, val, ok := strings.Cut(rdn, "="); ok {
			rdn = strings.TrimSpace(typ) + "=" + strings.TrimSpace(val)
		}
		if start > 0 {
			b.WriteByte(',')
		}
		b.WriteString(rdn)
		start = i + 1
	}
	return strings.ToLower(b.String())
}

// dnUnder reports whether dn equals base or lies below it (both normalized).
func dnUnder(dn, base string) bool {
	if base == "" {
		return true
	}
	if dn == base {
		return true
	}
	return len(dn) > len(base) && strings.HasSuffix(dn, base) && dn[len(dn)-len(base)-1] == ',' &&
		!isEscaped(dn, len(dn)-len(base)-1)
}

// parentDN strips the first RDN, honouring escaped commas.
func parentDN(dn string) string {
	for i := 0; i < len(dn); i++ {
		if dn[i] == ',' && !isEscaped(dn, i) {
			return dn[i+1:]
		}
	}
	return ""
}

// rdnValue is the value of dn's first RDN ("ok-ad" of "CN=ok-ad,OU=…"),
// with escapes left as they are.
func rdnValue(dn string) string {
	first := dn
	for i := 0; i < len(dn); i++ {
		if dn[i] == ',' && !isEscaped(dn, i) {
			first = dn[:i]
			break
		}
	}
	if _, v, ok := strings.Cut(first, "="); ok {
		return strings.TrimSpace(v)
	}
	return first
}

// isEscaped reports whether dn[i] is preceded by an odd run of backslashes.
func isEscaped(dn string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && dn[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// encodeSID turns "S-1-5-21-…" into AD's binary form: revision, number of
// sub-authorities, 48-bit big-endian identifier authority, then each
// sub-authority as a little-endian uint32.
func encodeSID(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") {
		return nil, fmt.Errorf("SID %q: want S-<revision>-<authority>[-<sub-authority>…]", s)
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return nil, fmt.Errorf("SID %q: revision: %w", s, err)
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return nil, fmt.Errorf("SID %q: identifier authority: %w", s, err)
	}
	subs := parts[3:]
	if len(subs) > 15 {
		return nil, fmt.Errorf("SID %q: %d sub-authorities, at most 15 allowed", s, len(subs))
	}
	out := make([]byte, 8, 8+4*len(subs))
	out[0], out[1] = byte(rev), byte(len(subs))
	var a [8]byte
	binary.BigEndian.PutUint64(a[:], auth)
	copy(out[2:8], a[2:])
	for i, p := range subs {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("SID %q: sub-authority %d: %w", s, i+1, err)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(v))
	}
	return out, nil
}
