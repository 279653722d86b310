package doctor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// startSim runs the simulator over a generated tenant changed by edit, and
// returns the configuration sim serve would write for it.
func startSim(t *testing.T, edit func(*sim.Tenant)) (*scan.Config, *sim.Servers) {
	t.Helper()
	t.Setenv("HOME", t.TempDir()) // keep ~/.okta/okta.yaml out
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 60, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(tenant)
	}
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { servers.Close() })
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, servers.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return demo.SimConfig(servers, caPath), servers
}

func run(t *testing.T, cfg *scan.Config) *Report {
	t.Helper()
	var out strings.Builder
	r := NewReport(PrintTo(&out))
	Run(context.Background(), cfg, Options{}, r)
	t.Logf("doctor output:\n%s", out.String())
	return r
}

func TestDoctorGreenAgainstSimulator(t *testing.T) {
	cfg, _ := startSim(t, func(tn *sim.Tenant) {
		for i := range tn.Okta.Apps {
			if tn.Okta.Apps[i].Name == "office365" {
				tn.Okta.Apps[i].DeactivateUsers = "DISABLED"
			}
		}
	})
	r := run(t, cfg)
	if n := r.Failed(); n != 0 {
		t.Fatalf("%d checks failed against the simulator", n)
	}
	for _, want := range []struct{ source, name string }{
		{"okta", "reach and TLS"}, {"okta", "authentication"}, {"okta", "read users"}, {"okta", "read apps"},
		{"okta", "office365 app"}, {"okta", "read app users"}, {"okta", "read features"}, {"okta", "read mappings"},
		{"okta", "deactivate users"}, {"okta", "apply permissions"},
		{"entra", "reach and TLS"}, {"entra", "authentication"}, {"entra", "read users"}, {"entra", "read domains"},
		{"entra", "apply permissions"},
		{"ad", "reach and TLS"}, {"ad", "bind"}, {"ad", "read rootDSE"}, {"ad", "read objectGUID"},
	} {
		c, ok := r.Find(want.source, want.name)
		if !ok {
			t.Errorf("no %s %q check", want.source, want.name)
		} else if want.name == "deactivate users" && c.Status != Pass {
			t.Errorf("deactivate users = %s with Deactivate Users DISABLED", c.Status)
		}
	}
	fed := 0
	for _, c := range r.Checks {
		if c.Source == "entra" && strings.HasPrefix(c.Name, "federation ") && c.Status == Pass {
			fed++
		}
	}
	if fed == 0 {
		t.Error("no federated domain passed the issuer check")
	}
}

// otherCA writes a CA certificate that did not sign the simulator's.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "not the simulator's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDoctorNamesTheFailingCheckAndTheFix(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*sim.Tenant)
		breakCfg   func(*scan.Config)
		source     string
		check      string
		status     Status
		detail     string
		fix        string
		notChecked string // a later check of that source that must not run
	}{
		{name: "wrong Okta token", breakCfg: func(c *scan.Config) { c.Okta.Token = "00wrong-token" },
			source: "okta", check: "authentication", status: Fail, detail: "HTTP 401", fix: "API token is wrong", notChecked: "read apps"},
		{name: "wrong LDAP password", breakCfg: func(c *scan.Config) { c.AD.Password = "wrong-password" },
			source: "ad", check: "bind", status: Fail, detail: "invalid credentials", fix: "its password", notChecked: "read rootDSE"},
		{name: "untrusted CA", breakCfg: func(c *scan.Config) { c.Okta.CAFile = otherCAPath },
			source: "okta", check: "reach and TLS", status: Fail, detail: "unknown authority", fix: "okta.caFile", notChecked: "authentication"},
		{name: "untrusted CA for LDAPS", breakCfg: func(c *scan.Config) { c.AD.CAFile = otherCAPath },
			source: "ad", check: "reach and TLS", status: Fail, detail: "unknown authority", fix: "ad.caFile", notChecked: "bind"},
		{name: "Deactivate Users enabled",
			edit: func(tn *sim.Tenant) {
				for i := range tn.Okta.Apps {
					if tn.Okta.Apps[i].Name == "office365" {
						tn.Okta.Apps[i].DeactivateUsers = "ENABLED"
					}
				}
			},
			source: "okta", check: "deactivate users", status: Warn, detail: "ENABLED", fix: "turn it off"},
		{name: "federated domain whose issuer is not Okta",
			edit: func(tn *sim.Tenant) {
				for i := range tn.Entra.Domains {
					if strings.EqualFold(tn.Entra.Domains[i].AuthenticationType, "Federated") {
						tn.Entra.Domains[i].IssuerURI = "http://adfs.example.com/adfs/services/trust"
					}
				}
			},
			source: "entra", check: "federation *", status: Fail, detail: "not Okta", fix: "federate it with Okta"},
	}
	otherCAPath = otherCA(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := startSim(t, tt.edit)
			if tt.breakCfg != nil {
				tt.breakCfg(cfg)
			}
			r := run(t, cfg)
			var got *Check
			for i, c := range r.Checks {
				if c.Source == tt.source && (c.Name == tt.check || strings.HasSuffix(tt.check, "*") && strings.HasPrefix(c.Name, strings.TrimSuffix(tt.check, "*"))) && c.Status == tt.status {
					got = &r.Checks[i]
				}
			}
			if got == nil {
				t.Fatalf("no %s %s %q check", tt.status, tt.source, tt.check)
			}
			if !strings.Contains(got.Detail, tt.detail) || !strings.Contains(got.Fix, tt.fix) {
				t.Errorf("check = %q\nwant detail with %q and fix with %q", got.String(), tt.detail, tt.fix)
			}
			if tt.notChecked != "" {
				if _, ran := r.Find(tt.source, tt.notChecked); ran {
					t.Errorf("%s %q ran after %q failed", tt.source, tt.notChecked, tt.check)
				}
			}
			if (r.Failed() == 0) != (tt.status == Warn) {
				t.Errorf("Failed() = %d with a %s", r.Failed(), tt.status)
			}
		})
	}
}

var otherCAPath string
