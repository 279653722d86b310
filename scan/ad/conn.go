package ad

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// endpoint is the checked where-and-how of a Config that the collector and
// the admin share: one place decides how anchorscan connects and binds.
type endpoint struct {
	cfg     Config
	network string // host:port to dial
	host    string
	ldaps   bool
}

// newEndpoint checks the URL, TLS and bind settings of cfg.
func newEndpoint(cfg Config) (endpoint, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return endpoint{}, fmt.Errorf("ad: URL %q: %w", cfg.URL, err)
	}
	e := endpoint{cfg: cfg, host: u.Hostname()}
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if port == "" {
			port = "636"
		}
		e.ldaps = true
	default:
		return endpoint{}, fmt.Errorf("ad: URL %q: scheme must be ldap or ldaps", cfg.URL)
	}
	if e.host == "" {
		return endpoint{}, fmt.Errorf("ad: URL %q has no host", cfg.URL)
	}
	if cfg.StartTLS && e.ldaps {
		return endpoint{}, fmt.Errorf("ad: URL %q is already ldaps; StartTLS applies to ldap:// only", cfg.URL)
	}
	if cfg.Kerberos == nil && (cfg.BindDN == "" || cfg.Password == "") {
		// go-ldap would send an unauthenticated bind, which AD accepts and
		// then refuses every search with a confusing operationsError.
		return endpoint{}, errors.New("ad: BindDN and Password are required")
	}
	e.network = net.JoinHostPort(e.host, port)
	return e, nil
}

// dial connects, starts TLS as configured and binds, counting the LDAP
// operations it sends in *requests.
func (e *endpoint) dial(ctx context.Context, requests *int) (*ldap.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", e.network)
	if err != nil {
		return nil, fmt.Errorf("ad: connect to %s: %w", e.network, err)
	}
	if e.ldaps {
		tc := tls.Client(raw, e.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("ad: TLS handshake with %s: %w", e.network, err)
		}
		raw = tc
	}
	conn := ldap.NewConn(raw, e.ldaps)
	conn.Start()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fail := func(err error) (*ldap.Conn, error) {
		conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("ad: %s: %w", e.network, ctxErr)
		}
		return nil, err
	}
	if e.cfg.StartTLS {
		*requests++
		if err := conn.StartTLS(e.tlsConfig()); err != nil {
			return fail(fmt.Errorf("ad: StartTLS with %s: %w", e.network, err))
		}
	}
	*requests++
	if k := e.cfg.Kerberos; k != nil {
		if err := k.gssapiBind(conn, e.host); err != nil {
			return fail(err)
		}
		return conn, nil
	}
	if err := conn.Bind(e.cfg.BindDN, e.cfg.Password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fail(fmt.Errorf("ad: bind as %q to %s: invalid credentials (wrong password, or the account is locked, disabled or expired): %w", e.cfg.BindDN, e.network, err))
		}
		return fail(fmt.Errorf("ad: bind as %q to %s: %w", e.cfg.BindDN, e.network, err))
	}
	return conn, nil
}

func (e *endpoint) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.cfg.TLSConfig != nil {
		cfg = e.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = e.host
	}
	return cfg
}
