package ad

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
)

const (
	testBindDN   = "CN=anchorscan-reader,CN=Users,DC=corp,DC=contoso,DC=example"
	testPassword = "s3cret-bind-password"
	testBase     = "DC=corp,DC=contoso,DC=example"
)

// memorySink keeps every batch it is given.
type memorySink struct {
	mu      sync.Mutex
	batches []record.Batch
	onWrite func(record.Batch) error
}

func (s *memorySink) Write(_ context.Context, b record.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, b)
	if s.onWrite != nil {
		return s.onWrite(b)
	}
	return nil
}

func (s *memorySink) users() []record.ADUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.ADUser
	for _, b := range s.batches {
		out = append(out, b.ADUsers...)
	}
	return out
}

func (s *memorySink) pageSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, len(b.ADUsers))
	}
	return out
}

func exampleTenant(t testing.TB) *sim.Tenant {
	t.Helper()
	data, err := os.ReadFile("../sim/testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	var tenant sim.Tenant
	if err := json.Unmarshal(data, &tenant); err != nil {
		t.Fatalf("example tenant: %v", err)
	}
	return &tenant
}

// generatedTenant has n users in corp.contoso.example.
func generatedTenant(n int) *sim.Tenant {
	t := &sim.Tenant{Format: sim.FormatV1, AD: sim.AD{Domains: []sim.ADDomain{{Name: "corp.contoso.example", BaseDN: testBase}}}}
	t.AD.Users = make([]sim.ADUser, 0, n)
	for i := range n {
		name := fmt.Sprintf("user%06d", i)
		t.AD.Users = append(t.AD.Users, sim.ADUser{
			DistinguishedName:  "CN=" + name + ",OU=Staff," + testBase,
			ObjectGUID:         fmt.Sprintf("%08x-36fa-4ab8-9b17-851c5fda6f15", 0x10000000+i),
			ObjectSID:          fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 5000+i),
			UserPrincipalName:  name + "@contoso.example",
			SAMAccountName:     name,
			Mail:               name + "@contoso.example",
			UserAccountControl: 512,
		})
	}
	return t
}

// startServer runs the simulated DC over tenant and returns a Config for it.
func startServer(t testing.TB, tenant *sim.Tenant, opts sim.LDAPOptions) Config {
	t.Helper()
	opts.BindDN, opts.Password = testBindDN, testPassword
	srv, err := sim.NewLDAPServer(sim.NewState(tenant), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop LDAP simulator: %v", err)
		}
	})
	scheme := "ldap"
	if opts.TLSConfig != nil && !opts.StartTLS {
		scheme = "ldaps"
	}
	return Config{URL: scheme + "://" + srv.Addr(), BindDN: testBindDN, Password: testPassword}
}

func collect(t testing.TB, cfg Config) (*memorySink, record.Stats, error) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sink := &memorySink{}
	stats, err := c.Collect(context.Background(), sink)
	return sink, stats, err
}

func TestCollectExampleTenant(t *testing.T) {
	tenant := exampleTenant(t)
	withConsistency := "wrong-domain"
	cg := "8c4ac332-975f-4717-ad7b-ba4a4e968fff"
	for i := range tenant.AD.Users {
		if tenant.AD.Users[i].SAMAccountName == withConsistency {
			tenant.AD.Users[i].MSDSConsistencyGUID = &cg
		}
	}
	cfg := startServer(t, tenant, sim.LDAPOptions{})
	sink, stats, err := collect(t, cfg)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}

	if len(sink.batches) != 1 {
		t.Fatalf("%d batches, want 1 page", len(sink.batches))
	}
	wantDomains := []record.ADDomain{{Name: "corp.contoso.example", BaseDN: testBase}}
	if diff := cmp.Diff(wantDomains, sink.batches[0].ADDomains); diff != "" {
		t.Errorf("domains (-want +got):\n%s", diff)
	}
	// bind, rootDSE, one page
	if stats.Requests != 3 {
		t.Errorf("Requests = %d, want 3", stats.Requests)
	}
	if stats.Counts["users"] != len(tenant.AD.Users) || stats.Counts["domains"] != 1 {
		t.Errorf("Counts = %v, want %d users in 1 domain", stats.Counts, len(tenant.AD.Users))
	}

	got := map[string]record.ADUser{}
	for _, u := range sink.users() {
		got[u.DistinguishedName] = u
	}
	for _, fu := range tenant.AD.Users {
		u, ok := got[fu.DistinguishedName]
		if !ok {
			t.Errorf("%s not collected", fu.DistinguishedName)
			continue
		}
		g, err := anchor.ParseGUID(fu.ObjectGUID)
		if err != nil {
			t.Fatal(err)
		}
		want := record.ADUser{
			Domain:             "corp.contoso.example",
			DistinguishedName:  fu.DistinguishedName,
			ObjectGUID:         g.Raw(),
			ObjectSID:          fu.ObjectSID,
			UserPrincipalName:  fu.UserPrincipalName,
			SAMAccountName:     fu.SAMAccountName,
			Mail:               fu.Mail,
			UserAccountControl: fu.UserAccountControl,
			WhenChanged:        u.WhenChanged,
			USNChanged:         u.USNChanged,
		}
		if fu.MSDSConsistencyGUID != nil {
			c, err := anchor.ParseGUID(*fu.MSDSConsistencyGUID)
			if err != nil {
				t.Fatal(err)
			}
			raw := c.Raw()
			want.ConsistencyGUID = raw[:]
		}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("%s (-want +got):\n%s", fu.DistinguishedName, diff)
		}
		if !strings.HasSuffix(u.WhenChanged, "Z") || u.USNChanged == 0 {
			t.Errorf("%s: whenChanged %q, uSNChanged %d; want a generalized time and a USN", u.DistinguishedName, u.WhenChanged, u.USNChanged)
		}
	}

	// The fixture's own expectations: the Okta AD app users' externalIds.
	vectors := []struct {
		dn, immutableID, consistency string
	}{
		{"CN=ok-ad,OU=Staff," + testBase, "Pqlfffo2uEqbF4UcX9pvFQ==", ""},
		{"CN=wrong-domain,OU=Staff," + testBase, "lP9PmrXP6k+jpYW40FAKtw==", "MsNKjF+XF0ete7pKTpaP/w=="},
	}
	for _, v := range vectors {
		u := got[v.dn]
		if id := base64.StdEncoding.EncodeToString(u.ObjectGUID[:]); id != v.immutableID {
			t.Errorf("%s: base64(objectGUID) = %s, want %s", v.dn, id, v.immutableID)
		}
		if id := base64.StdEncoding.EncodeToString(u.ConsistencyGUID); id != v.consistency {
			t.Errorf("%s: base64(mS-DS-ConsistencyGuid) = %q, want %q", v.dn, id, v.consistency)
		}
		if v.consistency == "" && u.ConsistencyGUID != nil {
			t.Errorf("%s: ConsistencyGUID = %x, want nil when absent", v.dn, u.ConsistencyGUID)
		}
	}
}

func TestCollectPaging(t *testing.T) {
	tests := []struct {
		name     string
		users    int
		pageSize uint32
		want     []int
	}{
		{"default page size", 2500, 0, []int{1000, 1000, 500}},
		{"asking above AD's MaxPageSize still gets 1000", 2500, 5000, []int{1000, 1000, 500}},
		{"small pages", 25, 10, []int{10, 10, 5}},
		{"empty domain writes its domain record", 0, 0, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := startServer(t, generatedTenant(tt.users), sim.LDAPOptions{})
			cfg.PageSize = tt.pageSize
			sink, stats, err := collect(t, cfg)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if diff := cmp.Diff(tt.want, sink.pageSizes()); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if want := 2 + len(tt.want); stats.Requests != want {
				t.Errorf("Requests = %d, want %d (bind, rootDSE, %d pages)", stats.Requests, want, len(tt.want))
			}
			seen := map[[16]byte]int{}
			for _, u := range sink.users() {
				seen[u.ObjectGUID]++
			}
			if len(seen) != tt.users {
				t.Errorf("%d distinct users, want %d", len(seen), tt.users)
			}
			for g, n := range seen {
				if n != 1 {
					t.Errorf("user %x read %d times", g, n)
				}
			}
			if n := len(sink.batches[0].ADDomains); n != 1 {
				t.Errorf("first batch has %d domain records, want 1", n)
			}
			for i, b := range sink.batches[1:] {
				if len(b.ADDomains) != 0 {
					t.Errorf("batch %d repeats the domain record", i+2)
				}
			}
		})
	}
}

func TestCollectBaseDNsAndDomainNames(t *testing.T) {
	tenant := generatedTenant(3)
	emea := "DC=emea,DC=contoso,DC=example"
	tenant.AD.Domains = append(tenant.AD.Domains, sim.ADDomain{Name: "emea.contoso.example", BaseDN: emea})
	tenant.AD.Users = append(tenant.AD.Users, sim.ADUser{
		DistinguishedName: "CN=eve,OU=Staff," + emea, ObjectGUID: "a1bcdcf0-9697-4f02-b224-85470e652593",
		ObjectSID: "S-1-5-21-1-2-3-1200", SAMAccountName: "eve", UserAccountControl: 512,
	})
	tests := []struct {
		name    string
		bases   []string
		domains map[string]string
		want    map[string]int // domain name → users
	}{
		{"rootDSE default naming context", nil, nil, map[string]int{"corp.contoso.example": 3}},
		{"both domains, names from DC components", []string{testBase, emea}, nil,
			map[string]int{"corp.contoso.example": 3, "emea.contoso.example": 1}},
		{"configured name", []string{emea}, map[string]string{emea: "EMEA.example"}, map[string]int{"EMEA.example": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := startServer(t, tenant, sim.LDAPOptions{})
			cfg.BaseDNs, cfg.Domains = tt.bases, tt.domains
			sink, _, err := collect(t, cfg)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			got := map[string]int{}
			for _, u := range sink.users() {
				got[u.Domain]++
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("users per domain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectWrongPassword(t *testing.T) {
	cfg := startServer(t, generatedTenant(1), sim.LDAPOptions{})
	cfg.Password = "not-the-password"
	sink, _, err := collect(t, cfg)
	if err == nil {
		t.Fatal("Collect with a wrong password succeeded")
	}
	for _, want := range []string{"invalid credentials", testBindDN} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), cfg.Password) {
		t.Errorf("error %q reveals the password", err)
	}
	if len(sink.batches) != 0 {
		t.Errorf("wrote %d batches after a failed bind", len(sink.batches))
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it.
func testCA(t testing.TB) (server *tls.Config, roots *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "anchorscan test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "dc01.corp.contoso.example"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(caCert)
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}, roots
}

func TestCollectTLS(t *testing.T) {
	serverTLS, roots := testCA(t)
	_, otherRoots := testCA(t)
	tests := []struct {
		name     string
		startTLS bool
		roots    *x509.CertPool
		wantErr  string
	}{
		{"LDAPS with the CA trusted", false, roots, ""},
		{"LDAPS with an untrusted CA", false, otherRoots, "certificate"},
		{"StartTLS with the CA trusted", true, roots, ""},
		{"StartTLS with an untrusted CA", true, otherRoots, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := startServer(t, generatedTenant(3), sim.LDAPOptions{TLSConfig: serverTLS, StartTLS: tt.startTLS})
			cfg.StartTLS = tt.startTLS
			cfg.TLSConfig = &tls.Config{RootCAs: tt.roots, MinVersion: tls.VersionTLS12}
			if !tt.startTLS && !strings.HasPrefix(cfg.URL, "ldaps://") {
				t.Fatalf("URL %s, want ldaps", cfg.URL)
			}
			sink, _, err := collect(t, cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Collect: %v", err)
				}
				if n := len(sink.users()); n != 3 {
					t.Errorf("read %d users over TLS, want 3", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Collect: %v, want an error about the %s", err, tt.wantErr)
			}
			// go-ldap's StartTLS flattens the handshake error into text.
			var unknown x509.UnknownAuthorityError
			if !tt.startTLS && !errors.As(err, &unknown) {
				t.Errorf("error %v does not wrap x509.UnknownAuthorityError", err)
			}
		})
	}
}

func TestCollectConnectionDropped(t *testing.T) {
	cfg := startServer(t, generatedTenant(2500), sim.LDAPOptions{DropAfterEntries: 1500})
	cfg.Retry = retry.Policy{Base: time.Millisecond} // every reconnect drops at the same entry
	sink, stats, err := collect(t, cfg)
	if err == nil {
		t.Fatalf("Collect succeeded with %d users over a connection dropped after 1500 entries", len(sink.users()))
	}
	want := "lost during the search of " + testBase + " after "
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
	// Only complete pages reach the store.
	if diff := cmp.Diff([]int{1000}, sink.pageSizes()); diff != "" {
		t.Errorf("pages written (-want +got):\n%s", diff)
	}
	if stats.Counts["users"] != 1000 {
		t.Errorf("Counts[users] = %d, want the 1000 of the complete page", stats.Counts["users"])
	}
}

func TestCollectShortObjectGUID(t *testing.T) {
	tenant := generatedTenant(5)
	victim := tenant.AD.Users[3].DistinguishedName
	cfg := startServer(t, tenant, sim.LDAPOptions{RewriteAttribute: func(dn, attr string, vals [][]byte) [][]byte {
		if dn == victim && attr == "objectGUID" {
			return [][]byte{vals[0][:15]}
		}
		return vals
	}})
	_, _, err := collect(t, cfg)
	if err == nil {
		t.Fatal("Collect accepted a 15-byte objectGUID")
	}
	for _, want := range []string{victim, "objectGUID is 15 bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCollectCancel(t *testing.T) {
	t.Run("between pages", func(t *testing.T) {
		cfg := startServer(t, generatedTenant(2500), sim.LDAPOptions{})
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := &memorySink{onWrite: func(record.Batch) error { cancel(); return nil }}
		_, err = c.Collect(ctx, sink)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Collect after cancel: %v, want context.Canceled", err)
		}
		if n := len(sink.batches); n != 1 {
			t.Errorf("%d batches written, want 1 (the page before the cancel)", n)
		}
	})
	t.Run("server that never answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close() // hold the connection open, say nothing
			}
		}()
		c, err := New(Config{URL: "ldap://" + ln.Addr().String(), BindDN: testBindDN, Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.Collect(ctx, &memorySink{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Collect against a silent server: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Collect took %v to notice the deadline", d)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{URL: "ldaps://dc01.corp.contoso.example", BindDN: testBindDN, Password: testPassword}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"http scheme", func(c *Config) { c.URL = "https://dc01" }, "scheme must be ldap or ldaps"},
		{"no host", func(c *Config) { c.URL = "ldap://" }, "no host"},
		{"StartTLS on ldaps", func(c *Config) { c.StartTLS = true }, "already ldaps"},
		{"no password", func(c *Config) { c.Password = "" }, "BindDN and Password"},
		{"bad base DN", func(c *Config) { c.BaseDNs = []string{"not a dn"} }, `base DN "not a dn"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.modify(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Errorf("New(valid config): %v", err)
	}
}

func TestDomainNameWithoutDCComponents(t *testing.T) {
	c, err := New(Config{URL: "ldap://dc01", BindDN: testBindDN, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.domainName("O=Contoso"); err == nil || !strings.Contains(err.Error(), "no DC= components") {
		t.Errorf("domainName(O=Contoso): %v, want an error about DC components", err)
	}
}
