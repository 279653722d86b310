package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// Servers are the three fakes running on loopback over one State.
type Servers struct {
	State *State

	OktaURL  string // https://127.0.0.1:port
	GraphURL string // https://127.0.0.1:port/v1.0
	LDAPURL  string // ldaps://127.0.0.1:port

	// Credentials the fakes accept; fresh random values on every Start.
	OktaToken    string
	GraphToken   string
	LDAPBindDN   string
	LDAPPassword string

	// CACertPEM is the self-signed CA the three servers' certificate chains to.
	CACertPEM []byte

	okta, graph *http.Server
	ldap        *LDAPServer

	oktaFaults, graphFaults, ldapFaults *faultInjector
}

// ServeOptions choose where the fakes listen.
type ServeOptions struct {
	// Host is the address to listen on; only loopback is allowed.
	Host string
	// OktaPort, GraphPort, LDAPPort: 0 picks a free port.
	OktaPort, GraphPort, LDAPPort int
	// LDAPDropAfterEntries, when positive, makes the LDAP server close the
	// connection mid-search after that many entries: a fault for tests.
	LDAPDropAfterEntries int
	// Faults are the failures the servers inject (see Faults), each server
	// drawing from its own random stream seeded from FaultSeed.
	Faults    []Faults
	FaultSeed uint64
	// OktaOAuth registers OAuth 2.0 service apps with the Okta fake, each
	// granted its scopes, beside the SSWS token.
	OktaOAuth OktaOAuthOptions
}

// Start runs the fake Okta, Graph and LDAP servers over st on loopback, all
// three over TLS with a throw-away CA, as the real services are.
func Start(ctx context.Context, st *State, opts ServeOptions) (*Servers, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("simulator host %q: only a loopback address is allowed", host)
	}
	caPEM, serverTLS, err := selfSignedTLS(host)
	if err != nil {
		return nil, fmt.Errorf("simulator certificate: %w", err)
	}
	s := &Servers{
		State:        st,
		CACertPEM:    caPEM,
		OktaToken:    randomSecret("okta"),
		GraphToken:   randomSecret("graph"),
		LDAPPassword: randomSecret("ldap"),
	}
	st.Read(func(t *Tenant) {
		if len(t.AD.Domains) > 0 {
			s.LDAPBindDN = "CN=anchorscan-reader,CN=Users," + t.AD.Domains[0].BaseDN
		} else {
			s.LDAPBindDN = "CN=anchorscan-reader,CN=Users,DC=example,DC=invalid"
		}
	})

	oktaLn, err := tls.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(opts.OktaPort)), serverTLS)
	if err != nil {
		return nil, fmt.Errorf("okta simulator: %w", err)
	}
	graphLn, err := tls.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(opts.GraphPort)), serverTLS)
	if err != nil {
		oktaLn.Close()
		return nil, fmt.Errorf("graph simulator: %w", err)
	}
	if err := s.startFaults(opts); err != nil {
		oktaLn.Close()
		graphLn.Close()
		return nil, err
	}
	s.okta = &http.Server{Handler: s.oktaFaults.wrap(NewOktaHandler(st, OktaOptions{Token: s.OktaToken, OAuth: opts.OktaOAuth}), oktaErrors{}), ReadHeaderTimeout: 10 * time.Second}
	s.graph = &http.Server{Handler: s.graphFaults.wrap(NewGraphHandler(st, GraphOptions{Token: s.GraphToken}), graphErrors{}), ReadHeaderTimeout: 10 * time.Second}
	go s.okta.Serve(oktaLn)
	go s.graph.Serve(graphLn)
	s.OktaURL = "https://" + oktaLn.Addr().String()
	s.GraphURL = "https://" + graphLn.Addr().String() + "/v1.0"

	s.ldap, err = NewLDAPServer(st, LDAPOptions{BindDN: s.LDAPBindDN, Password: s.LDAPPassword, TLSConfig: serverTLS,
		DropAfterEntries: opts.LDAPDropAfterEntries, faults: s.ldapFaults})
	if err == nil {
		err = s.ldap.Start(net.JoinHostPort(host, fmt.Sprint(opts.LDAPPort)))
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ldap simulator: %w", err)
	}
	s.LDAPURL = "ldaps://" + s.ldap.Addr()
	return s, nil
}

// Close stops the three servers.
func (s *Servers) Close() error {
	var errs []error
	if s.okta != nil {
		errs = append(errs, s.okta.Close())
	}
	if s.graph != nil {
		errs = append(errs, s.graph.Close())
	}
	if s.ldap != nil {
		errs = append(errs, s.ldap.Stop())
	}
	return errors.Join(errs...)
}

// ClientTLS returns a client TLS configuration that trusts the fakes' CA.
func (s *Servers) ClientTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// HTTPClient returns an HTTP client that trusts the fakes' CA.
func (s *Servers) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.ClientTLS()
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

func randomSecret(prefix string) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return prefix + "-sim-" + hex.EncodeToString(b)
}

// selfSignedTLS makes a CA and a server certificate for host, valid for a day.
func selfSignedTLS(host string) (caPEM []byte, cfg *tls.Config, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "anchorscan simulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(host)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cfg = &tls.Config{
		MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{leafDER, caDER},
			PrivateKey:  key,
		}},
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cfg, nil
}
