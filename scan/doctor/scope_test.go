package doctor

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// An OAuth service app that was not granted okta.apps.read: doctor passes
// authentication and the users read, then names the apps check and the
// scope to grant.
func TestDoctorNamesAMissingOktaScope(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	granted := []string{"okta.users.read", "okta.profileMappings.read"}
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 60, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{
		OktaOAuth: sim.OktaOAuthOptions{Clients: []sim.OktaOAuthClient{{ClientID: "0oaserviceapp", PublicKey: &key.PublicKey, Scopes: granted}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer servers.Close()
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, servers.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := demo.SimConfig(servers, caPath)
	cfg.Okta.Token = ""
	cfg.Okta.Auth, cfg.Okta.ClientID, cfg.Okta.PrivateKey, cfg.Okta.Scopes = "privateKey", "0oaserviceapp", keyPEM, granted

	r := run(t, cfg)
	if c, ok := r.Find("okta", "authentication"); !ok || c.Status != Pass {
		t.Errorf("authentication with the service app = %+v, want PASS", c)
	}
	var failed []Check
	for _, c := range r.Checks {
		if c.Source == "okta" && c.Status == Fail {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		t.Fatal("doctor passed a service app that may not read apps")
	}
	if c := failed[0]; !strings.Contains(c.Name, "apps") || !strings.Contains(c.Detail+c.Fix, "okta.apps.read") {
		t.Errorf("first failing check = %q, want the apps check naming okta.apps.read", c.String())
	}
	if r.Failed() == 0 {
		t.Error("Failed() = 0 with a missing scope")
	}
}
