package ad

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// adminTenant has two users: "plain" without a ConsistencyGuid and
// "anchored" with one.
func adminTenant() *sim.Tenant {
	cg := "3ab39606-c642-489b-84b6-58c038d3ef39"
	return &sim.Tenant{Format: sim.FormatV1, AD: sim.AD{
		Domains: []sim.ADDomain{{Name: "corp.contoso.example", BaseDN: testBase}},
		Users: []sim.ADUser{
			{
				DistinguishedName: "CN=plain,OU=Staff," + testBase, ObjectGUID: "5a1b2c3d-36fa-4ab8-9b17-851c5fda6f15",
				SAMAccountName: "plain", UserAccountControl: 512,
			},
			{
				DistinguishedName: "CN=anchored,OU=Staff," + testBase, ObjectGUID: "6b1c2d3e-36fa-4ab8-9b17-851c5fda6f15",
				MSDSConsistencyGUID: &cg, SAMAccountName: "anchored", UserAccountControl: 512,
			},
		},
	}}
}

var (
	plainDN    = "CN=plain,OU=Staff," + testBase
	anchoredDN = "CN=anchored,OU=Staff," + testBase
	missingDN  = "CN=nobody,OU=Staff," + testBase
)

func raw(t testing.TB, guid string) []byte {
	t.Helper()
	g, err := anchor.ParseGUID(guid)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Raw()
	return r[:]
}

func newTestAdmin(t testing.TB, cfg Config) *Admin {
	t.Helper()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatalf("NewAdmin: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

func TestAdminReads(t *testing.T) {
	a := newTestAdmin(t, startServer(t, adminTenant(), sim.LDAPOptions{}))
	ctx := context.Background()

	t.Run("ConsistencyGUID", func(t *testing.T) {
		tests := []struct {
			name    string
			dn      string
			want    []byte
			wantErr error
		}{
			{name: "absent", dn: plainDN},
			{name: "present", dn: anchoredDN, want: raw(t, "3ab39606-c642-489b-84b6-58c038d3ef39")},
			{name: "DN in another case", dn: strings.ToLower(anchoredDN), want: raw(t, "3ab39606-c642-489b-84b6-58c038d3ef39")},
			{name: "no such object", dn: missingDN, wantErr: ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := a.ConsistencyGUID(ctx, tt.dn)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
					t.Errorf("got %x, want %x", got, tt.want)
				}
			})
		}
	})

	t.Run("ObjectGUID", func(t *testing.T) {
		got, err := a.ObjectGUID(ctx, anchoredDN)
		if err != nil {
			t.Fatal(err)
		}
		if want := raw(t, "6b1c2d3e-36fa-4ab8-9b17-851c5fda6f15"); !bytes.Equal(got[:], want) {
			t.Errorf("got %x, want %x", got, want)
		}
		if _, err := a.ObjectGUID(ctx, missingDN); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missingDN) {
			t.Errorf("missing object: %v, want ErrNotFound naming %s", err, missingDN)
		}
	})

	// Every read above went over one bound connection.
	if n := a.Requests(); n != 7 {
		t.Errorf("Requests() = %d, want 1 bind and 6 searches", n)
	}
}

func TestAdminSwapConsistencyGUID(t *testing.T) {
	current := raw(t, "3ab39606-c642-489b-84b6-58c038d3ef39")
	next := raw(t, "8c4ac332-975f-4717-ad7b-ba4a4e968fff")
	wrong := raw(t, "0d2e7f1a-975f-4717-ad7b-ba4a4e968fff")
	tests := []struct {
		name      string
		dn        string
		old, next []byte
		wantErr   error
		errSays   []string // substrings the message must contain
		after     []byte   // the value afterwards
	}{
		{name: "right old value", dn: anchoredDN, old: current, next: next, after: next},
		{
			name: "wrong old value", dn: anchoredDN, old: wrong, next: next, wantErr: ErrStale, after: current,
			errSays: []string{anchoredDN, "Gn8uDV+XF0ete7pKTpaP/w==", "0d2e7f1a-975f-4717-ad7b-ba4a4e968fff"},
		},
		{
			name: "expected absent but a value is there", dn: anchoredDN, next: next, wantErr: ErrStale, after: current,
			errSays: []string{anchoredDN, "not absent"},
		},
		{name: "set where absent", dn: plainDN, next: next, after: next},
		{
			name: "expected a value where none is", dn: plainDN, old: current, next: next, wantErr: ErrStale,
			errSays: []string{plainDN, "BpazOkLGm0iEtljAONPvOQ=="},
		},
		{name: "clear with the right old value", dn: anchoredDN, old: current},
		{name: "clear with a wrong old value", dn: anchoredDN, old: wrong, wantErr: ErrStale, after: current},
		{name: "no such object", dn: missingDN, old: current, next: next, wantErr: ErrNotFound, errSays: []string{missingDN}},
		{name: "new value not 16 bytes", dn: anchoredDN, old: current, next: []byte("short"), errSays: []string{"5-byte"}, after: current},
		{name: "absent to absent", dn: plainDN, errSays: []string{"nothing to do"}},
		{name: "not a DN", dn: "plain", old: current, next: next, errSays: []string{`"plain" is not a DN`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAdmin(t, startServer(t, adminTenant(), sim.LDAPOptions{}))
			ctx := context.Background()
			err := a.SwapConsistencyGUID(ctx, tt.dn, tt.old, tt.next)
			wantFail := tt.wantErr != nil || len(tt.errSays) > 0
			switch {
			case !wantFail && err != nil:
				t.Fatalf("swap: %v", err)
			case wantFail && err == nil:
				t.Fatal("swap succeeded, want an error")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("swap: %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.errSays {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if tt.wantErr == ErrNotFound || tt.dn == "plain" {
				return
			}
			got, err := a.ConsistencyGUID(ctx, tt.dn)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.after) {
				t.Errorf("afterwards %x, want %x", got, tt.after)
			}
		})
	}
}

func TestAdminWrongPassword(t *testing.T) {
	cfg := startServer(t, adminTenant(), sim.LDAPOptions{})
	cfg.Password = "not-the-password"
	a := newTestAdmin(t, cfg)
	_, err := a.ConsistencyGUID(context.Background(), anchoredDN)
	if err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Fatalf("err = %v, want invalid credentials", err)
	}
	if strings.Contains(err.Error(), cfg.Password) {
		t.Errorf("error %q contains the password", err)
	}
}

// TestAdminRecoversAfterCancel checks that an operation whose context ended
// leaves the admin usable: the next call dials again.
func TestAdminRecoversAfterCancel(t *testing.T) {
	a := newTestAdmin(t, startServer(t, adminTenant(), sim.LDAPOptions{}))
	if _, err := a.ConsistencyGUID(context.Background(), anchoredDN); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.ConsistencyGUID(ctx, anchoredDN); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v, want context.Canceled", err)
	}
	// Simulate a connection the server dropped: the next call must redial.
	a.mu.Lock()
	a.conn.Close()
	a.mu.Unlock()
	got, err := a.ConsistencyGUID(context.Background(), anchoredDN)
	if err != nil {
		t.Fatalf("read after a dropped connection: %v", err)
	}
	if want := raw(t, "3ab39606-c642-489b-84b6-58c038d3ef39"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}

func TestNewAdminRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no password", Config{URL: "ldaps://dc01", BindDN: testBindDN}, "BindDN and Password are required"},
		{"bad scheme", Config{URL: "http://dc01", BindDN: testBindDN, Password: "x"}, "scheme must be ldap or ldaps"},
		{"StartTLS on ldaps", Config{URL: "ldaps://dc01", StartTLS: true, BindDN: testBindDN, Password: "x"}, "already ldaps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAdmin(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewAdmin: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
