//go:build samba

package ad

// The tests in this file run against a real Samba AD domain controller that
// .ci/samba.sh brings up on 127.0.0.1; they are built only with -tags samba.
// Run them with one command:
//
//	.ci/samba.sh test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

// sambaHowTo is what a failing test says when the domain controller is not
// there: no skipping, the test is only built when asked for.
const sambaHowTo = "run `.ci/samba.sh test`, or `.ci/samba.sh start` and then " +
	"`ANCHORSCAN_SAMBA_ENV=/tmp/anchorscan-samba/env go test -tags samba ./scan/ad/`"

// sambaDC is what .ci/samba.sh wrote into its env file.
type sambaDC struct {
	url, bindDN, password, caFile, baseDN, seedOU string
	users                                         int
	roots                                         *x509.CertPool
	seeded                                        map[string]seededUser // by sAMAccountName
}

// seededUser is a seeded user as Samba's ldbsearch printed it.
type seededUser struct {
	dn         string
	objectGUID string // canonical string form, as ldbsearch prints it
	consGUID   []byte // raw mS-DS-ConsistencyGuid; nil when absent
}

func loadSambaDC(t *testing.T) sambaDC {
	t.Helper()
	path := os.Getenv("ANCHORSCAN_SAMBA_ENV")
	if path == "" {
		t.Fatalf("ANCHORSCAN_SAMBA_ENV is not set: %s", sambaHowTo)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the Samba env file: %v; %s", err, sambaHowTo)
	}
	vars := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s line %d: want KEY=VALUE", path, i+1)
		}
		vars[k] = v
	}
	need := func(k string) string {
		v := vars["ANCHORSCAN_SAMBA_"+k]
		if v == "" {
			t.Fatalf("%s has no ANCHORSCAN_SAMBA_%s", path, k)
		}
		return v
	}
	dc := sambaDC{
		url: need("URL"), bindDN: need("BIND_DN"), password: need("PASSWORD"), caFile: need("CA"),
		baseDN: need("BASE_DN"), seedOU: need("SEED_OU"),
	}
	if dc.users, err = strconv.Atoi(need("USERS")); err != nil {
		t.Fatalf("%s: ANCHORSCAN_SAMBA_USERS: %v", path, err)
	}
	pem, err := os.ReadFile(dc.caFile)
	if err != nil {
		t.Fatal(err)
	}
	dc.roots = x509.NewCertPool()
	if !dc.roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", dc.caFile)
	}
	dc.seeded = parseSeeded(t, need("SEEDED"))
	if len(dc.seeded) != dc.users {
		t.Fatalf("ldbsearch listed %d seeded users, the env file says %d", len(dc.seeded), dc.users)
	}
	return dc
}

// parseSeeded reads the LDIF that ldbsearch wrote, unfolding continued lines.
func parseSeeded(t *testing.T, path string) map[string]seededUser {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, " ") && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string]seededUser{}
	var cur seededUser
	var sam string
	flush := func() {
		if cur.dn != "" {
			if sam == "" || cur.objectGUID == "" {
				t.Fatalf("%s: entry %s lacks sAMAccountName or objectGUID", path, cur.dn)
			}
			out[sam] = cur
		}
		cur, sam = seededUser{}, ""
	}
	for _, l := range append(lines, "") {
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "dn: "):
			cur.dn = strings.TrimPrefix(l, "dn: ")
		case strings.HasPrefix(l, "objectGUID: "):
			cur.objectGUID = strings.TrimPrefix(l, "objectGUID: ")
		case strings.HasPrefix(l, "sAMAccountName: "):
			sam = strings.TrimPrefix(l, "sAMAccountName: ")
		case strings.HasPrefix(l, "mS-DS-ConsistencyGuid:: "):
			cur.consGUID, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(l, "mS-DS-ConsistencyGuid:: "))
			if err != nil {
				t.Fatalf("%s: %s: mS-DS-ConsistencyGuid: %v", path, cur.dn, err)
			}
		}
	}
	return out
}

func (dc sambaDC) config() Config {
	return Config{
		URL:       dc.url,
		TLSConfig: &tls.Config{RootCAs: dc.roots, MinVersion: tls.VersionTLS12},
		BindDN:    dc.bindDN,
		Password:  dc.password,
	}
}

// TestSambaCollect reads every user of the domain over LDAPS with the CA
// verified, and checks each seeded user's ImmutableID against the GUID
// Samba's own ldbsearch printed.
func TestSambaCollect(t *testing.T) {
	dc := loadSambaDC(t)
	c, err := New(dc.config()) // no BaseDNs: the rootDSE's defaultNamingContext, whose search also returns referrals
	if err != nil {
		t.Fatal(err)
	}
	sink := &memorySink{}
	start := time.Now()
	stats, err := c.Collect(context.Background(), sink)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	t.Logf("collected %d users in %d pages, %d LDAP operations, in %v", stats.Counts["users"], len(sink.batches), stats.Requests, time.Since(start).Round(time.Millisecond))

	sizes := sink.pageSizes()
	if len(sizes) < 2 {
		t.Errorf("%d pages (%v), want at least 2: more than %d users must take the paging path", len(sizes), sizes, DefaultPageSize)
	}
	for i, n := range sizes {
		if n > DefaultPageSize {
			t.Errorf("page %d has %d users, more than the page size %d", i+1, n, DefaultPageSize)
		}
	}
	if d := sink.batches[0].ADDomains; len(d) != 1 || d[0].Name != "corp.anchorscan.test" || !strings.EqualFold(d[0].BaseDN, dc.baseDN) {
		t.Errorf("domains %+v, want corp.anchorscan.test at %s", d, dc.baseDN)
	}

	users := sink.users()
	if len(users) < dc.users || stats.Counts["users"] != len(users) {
		t.Fatalf("read %d users (stats say %d), want at least the %d seeded", len(users), stats.Counts["users"], dc.users)
	}
	seen := map[string]bool{}
	withConsistency := 0
	for _, u := range users {
		want, ok := dc.seeded[u.SAMAccountName]
		if !ok {
			continue // Administrator, Guest, krbtgt
		}
		if seen[u.SAMAccountName] {
			t.Errorf("%s read twice", u.SAMAccountName)
		}
		seen[u.SAMAccountName] = true
		g, err := anchor.ParseGUID(want.objectGUID)
		if err != nil {
			t.Fatalf("ldbsearch's objectGUID %q of %s: %v", want.objectGUID, want.dn, err)
		}
		fromLDAP := base64.StdEncoding.EncodeToString(u.ObjectGUID[:])
		if fromLDAP != g.ImmutableID() {
			t.Errorf("%s: ImmutableID from the raw objectGUID %s, but Samba's GUID %s makes %s",
				u.SAMAccountName, fromLDAP, want.objectGUID, g.ImmutableID())
		}
		if !strings.EqualFold(u.DistinguishedName, want.dn) {
			t.Errorf("%s: DN %q, ldbsearch says %q", u.SAMAccountName, u.DistinguishedName, want.dn)
		}
		if !bytes.Equal(u.ConsistencyGUID, want.consGUID) {
			t.Errorf("%s: mS-DS-ConsistencyGuid %x, ldbsearch says %x", u.SAMAccountName, u.ConsistencyGUID, want.consGUID)
		}
		if u.ConsistencyGUID != nil {
			withConsistency++
		}
	}
	if len(seen) != dc.users {
		t.Errorf("read %d of the %d seeded users", len(seen), dc.users)
	}
	if want := (dc.users + 2) / 3; withConsistency != want {
		t.Errorf("%d seeded users with mS-DS-ConsistencyGuid, want %d (every third)", withConsistency, want)
	}
}

// TestSambaSwapConsistencyGUID proves the compare-and-swap against a real
// directory: the right old value swaps, a wrong one is refused and leaves
// the value alone. It restores what it changed.
func TestSambaSwapConsistencyGUID(t *testing.T) {
	dc := loadSambaDC(t)
	ctx := context.Background()
	admin, err := NewAdmin(dc.config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// A second connection verifies, so no state of the writer's can hide
	// what the directory holds.
	verifier, err := NewAdmin(dc.config())
	if err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	reread := func(t *testing.T, dn string, want []byte) {
		t.Helper()
		got, err := verifier.ConsistencyGUID(ctx, dn)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: mS-DS-ConsistencyGuid now %x, want %x", dn, got, want)
		}
	}
	randomGUID := func() []byte {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}

	anchored, plain := dc.seeded["seed00000"], dc.seeded["seed00001"]
	if anchored.consGUID == nil || plain.consGUID != nil {
		t.Fatalf("seed00000 should have an mS-DS-ConsistencyGuid and seed00001 none: %+v %+v", anchored, plain)
	}

	t.Run("objectGUID", func(t *testing.T) {
		got, err := admin.ObjectGUID(ctx, anchored.dn)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := anchor.ParseGUID(anchored.objectGUID)
		if want := g.Raw(); got != want {
			t.Errorf("objectGUID %x, ldbsearch's %s is %x", got, anchored.objectGUID, want)
		}
	})

	t.Run("with a value", func(t *testing.T) {
		current, err := admin.ConsistencyGUID(ctx, anchored.dn)
		if err != nil {
			t.Fatal(err)
		}
		if len(current) != 16 {
			t.Fatalf("%s holds %x, want a 16-byte value", anchored.dn, current)
		}
		next, wrong := randomGUID(), randomGUID()
		err = admin.SwapConsistencyGUID(ctx, anchored.dn, wrong, next)
		if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), anchored.dn) {
			t.Fatalf("swap from a wrong old value: %v, want ErrStale naming %s", err, anchored.dn)
		}
		reread(t, anchored.dn, current)
		if err := admin.SwapConsistencyGUID(ctx, anchored.dn, nil, next); !errors.Is(err, ErrStale) {
			t.Fatalf("swap expecting no value: %v, want ErrStale", err)
		}
		reread(t, anchored.dn, current)
		if err := admin.SwapConsistencyGUID(ctx, anchored.dn, current, next); err != nil {
			t.Fatalf("swap from the right old value: %v", err)
		}
		reread(t, anchored.dn, next)
		if err := admin.SwapConsistencyGUID(ctx, anchored.dn, next, current); err != nil {
			t.Fatalf("swap back: %v", err)
		}
		reread(t, anchored.dn, current)
	})

	t.Run("without a value", func(t *testing.T) {
		reread(t, plain.dn, nil)
		next := randomGUID()
		if err := admin.SwapConsistencyGUID(ctx, plain.dn, randomGUID(), next); !errors.Is(err, ErrStale) {
			t.Fatalf("swap expecting a value where none is: %v, want ErrStale", err)
		}
		reread(t, plain.dn, nil)
		if err := admin.SwapConsistencyGUID(ctx, plain.dn, nil, next); err != nil {
			t.Fatalf("set where absent: %v", err)
		}
		reread(t, plain.dn, next)
		if err := admin.SwapConsistencyGUID(ctx, plain.dn, next, nil); err != nil {
			t.Fatalf("clear: %v", err)
		}
		reread(t, plain.dn, nil)
	})

	t.Run("no such object", func(t *testing.T) {
		dn := "CN=nobody," + dc.seedOU
		if _, err := admin.ConsistencyGUID(ctx, dn); !errors.Is(err, ErrNotFound) {
			t.Errorf("read: %v, want ErrNotFound", err)
		}
		if err := admin.SwapConsistencyGUID(ctx, dn, nil, randomGUID()); !errors.Is(err, ErrNotFound) {
			t.Errorf("swap: %v, want ErrNotFound", err)
		}
	})
}

// TestSambaRefusals: a wrong password and an unverifiable certificate fail
// before any user is read, saying why.
func TestSambaRefusals(t *testing.T) {
	dc := loadSambaDC(t)
	_, untrusted := testCA(t)
	tests := []struct {
		name   string
		modify func(*Config)
		check  func(error) bool
		want   string
	}{
		{
			name:   "wrong password",
			modify: func(c *Config) { c.Password += "-wrong" },
			check:  func(err error) bool { return strings.Contains(err.Error(), "invalid credentials") },
			want:   "invalid credentials",
		},
		{
			name:   "untrusted CA",
			modify: func(c *Config) { c.TLSConfig = &tls.Config{RootCAs: untrusted} },
			check: func(err error) bool {
				var unknown x509.UnknownAuthorityError
				return errors.As(err, &unknown)
			},
			want: "x509.UnknownAuthorityError",
		},
		{
			name:   "system roots by default",
			modify: func(c *Config) { c.TLSConfig = nil },
			check: func(err error) bool {
				var unknown x509.UnknownAuthorityError
				return errors.As(err, &unknown)
			},
			want: "x509.UnknownAuthorityError",
		},
		{
			name:   "certificate for another host",
			modify: func(c *Config) { c.TLSConfig.ServerName = "dc9.elsewhere.test" },
			check: func(err error) bool {
				var host x509.HostnameError
				return errors.As(err, &host)
			},
			want: "x509.HostnameError",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := dc.config()
			tt.modify(&cfg)
			sink, _, err := collect(t, cfg)
			if err == nil {
				t.Fatal("Collect succeeded")
			}
			if !tt.check(err) {
				t.Fatalf("Collect: %v, want %s", err, tt.want)
			}
			if strings.Contains(err.Error(), dc.password) {
				t.Errorf("error %q contains the password", err)
			}
			if n := len(sink.users()); n != 0 {
				t.Errorf("%d users read despite the failure", n)
			}
		})
	}
	// The same refusals reach an admin.
	cfg := dc.config()
	cfg.Password = "wrong-" + fmt.Sprint(time.Now().UnixNano())
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.ObjectGUID(context.Background(), dc.seeded["seed00000"].dn); err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Errorf("admin with a wrong password: %v, want invalid credentials", err)
	}
}
