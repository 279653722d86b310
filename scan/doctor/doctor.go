package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

// The outcomes. WARN does not fail a run.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Warn Status = "WARN"
)

// Check is one line of the report.
type Check struct {
	Source string // okta, entra, ad
	Name   string // reach, authentication, read users, …
	Status Status
	Detail string // what was seen
	Fix    string // what to do, for FAIL and WARN
}

// String renders the check as doctor prints it: one line, and the fix
// indented under it.
func (c Check) String() string {
	s := fmt.Sprintf("%-4s %-5s %-26s %s", c.Status, c.Source, c.Name, c.Detail)
	if c.Fix != "" && c.Status != Pass {
		s += "\n     fix: " + c.Fix
	}
	return s
}

// Report collects checks and passes each to a printer as it is made.
type Report struct {
	Checks []Check
	print  func(Check)
}

// NewReport returns a report that calls print for every check (nil: none).
func NewReport(print func(Check)) *Report {
	if print == nil {
		print = func(Check) {}
	}
	return &Report{print: print}
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
	r.print(c)
}

// Failed counts the FAIL checks.
func (r *Report) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == Fail {
			n++
		}
	}
	return n
}

// Find returns the check of source and name, if made.
func (r *Report) Find(source, name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Source == source && c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// PrintTo returns a printer writing each check to w.
func PrintTo(w io.Writer) func(Check) {
	return func(c Check) { fmt.Fprintln(w, c.String()) }
}

// checkTimeout bounds each network check, so that a black-holed address
// fails in seconds instead of the OS's connect timeout.
const checkTimeout = 15 * time.Second

// reach connects to hostport and, when tlsCfg is not nil, completes a TLS
// handshake with it. It returns the check's detail, or an error with the fix.
func reach(ctx context.Context, hostport, serverName string, tlsCfg *tls.Config, caKey string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return "", "check the URL and port, DNS, and that a firewall or proxy lets this machine reach " + hostport, fmt.Errorf("connect to %s: %w", hostport, err)
	}
	defer raw.Close()
	if tlsCfg == nil {
		return "TCP connection to " + hostport, "", nil
	}
	cfg := tlsCfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return "", tlsFix(err, caKey, serverName), fmt.Errorf("TLS handshake with %s: %w", hostport, err)
	}
	st := tc.ConnectionState()
	verified := "certificate verified"
	if cfg.InsecureSkipVerify {
		verified = "certificate NOT verified (ldapInsecureSkipVerify)"
	}
	return fmt.Sprintf("%s: %s, %s", hostport, tls.VersionName(st.Version), verified), "", nil
}

// tlsFix says what to do about a failed handshake.
func tlsFix(err error, caKey, host string) string {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return "the server's certificate is issued by a CA this machine does not trust: set " + caKey + " to a PEM file with that CA (for a TLS-inspecting proxy, its CA)"
	case errors.As(err, &hostErr):
		return "the certificate does not name " + host + ": connect by a name it holds (see its subjectAltName), or reissue it with that name"
	case errors.As(err, &invalid):
		return "the certificate is expired or not valid for server authentication: renew it on the server"
	}
	return "check that the port speaks TLS (ldaps:// on 636, https on 443) and that no proxy intercepts it"
}

// claimsOf decodes the payload of a JWT without verifying it: doctor only
// reads which roles and scopes a token it was just issued carries.
func claimsOf(token string) (roles, scopes []string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, nil, false
	}
	var claims struct {
		Roles []string `json:"roles"`
		Scp   string   `json:"scp"`
	}
	if err := jsonUnmarshal(payload, &claims); err != nil {
		return nil, nil, false
	}
	return claims.Roles, strings.Fields(claims.Scp), true
}
