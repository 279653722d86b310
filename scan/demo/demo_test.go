package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

func startSim(t *testing.T, users int, opts sim.ServeOptions) *sim.Servers {
	t.Helper()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: users, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { servers.Close() })
	return servers
}

func scanInto(t *testing.T, path string, sources []scan.Source) *scan.Result {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := scan.Run(context.Background(), db, sources, scan.Options{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func contentHash(t *testing.T, path string, id store.SnapshotID) string {
	t.Helper()
	db, err := store.OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := db.Snapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return snap.ContentHash
}

// The config file sim serve writes must reach the same data as the demo's
// direct wiring: same collectors, same content.
func TestConfigFileScanEqualsDirectScan(t *testing.T) {
	servers := startSim(t, 2500, sim.ServeOptions{})
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, servers.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "sim.yaml")
	if err := scan.WriteConfig(cfgPath, SimConfig(servers, caPath)); err != nil {
		t.Fatal(err)
	}
	cfg, err := scan.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	viaConfig, err := cfg.Sources(nil)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := SimSources(servers)
	if err != nil {
		t.Fatal(err)
	}
	a := scanInto(t, filepath.Join(dir, "a.db"), viaConfig)
	b := scanInto(t, filepath.Join(dir, "b.db"), direct)
	if !a.Complete() || !b.Complete() {
		t.Fatalf("incomplete scans: %+v / %+v", a.Sources, b.Sources)
	}
	ha, hb := contentHash(t, filepath.Join(dir, "a.db"), a.Snapshot), contentHash(t, filepath.Join(dir, "b.db"), b.Snapshot)
	if ha != hb || ha == "" {
		t.Errorf("content hash via config %q, direct %q", ha, hb)
	}
	only, err := cfg.Sources([]string{"entra"})
	if err != nil || len(only) != 1 || only[0].Name() != record.SourceEntra {
		t.Errorf("Sources(entra) = %v, %v", only, err)
	}
}

func TestDroppedLDAPConnectionMarksSourceNotComplete(t *testing.T) {
	servers := startSim(t, 2500, sim.ServeOptions{LDAPDropAfterEntries: 1500})
	sources, err := SimSources(servers)
	if err != nil {
		t.Fatal(err)
	}
	res := scanInto(t, filepath.Join(t.TempDir(), "d.db"), sources)
	if res.Complete() {
		t.Fatal("a scan whose LDAP connection dropped is complete")
	}
	for _, s := range res.Sources {
		switch s.Source {
		case record.SourceAD:
			if s.Status == record.StatusComplete || len(s.Errors) == 0 {
				t.Errorf("ad source = %+v, want partial or failed with an error", s)
			} else if !strings.Contains(s.Errors[0], "lost") {
				t.Errorf("ad error does not say the connection was lost: %q", s.Errors[0])
			}
		default:
			if s.Status != record.StatusComplete {
				t.Errorf("%s source = %s, want complete", s.Source, s.Status)
			}
		}
	}
}

func TestLDAPWithWrongPasswordFailsOnlyThatSource(t *testing.T) {
	servers := startSim(t, 200, sim.ServeOptions{})
	servers.LDAPPassword = "wrong-password"
	sources, err := SimSources(servers)
	if err != nil {
		t.Fatal(err)
	}
	res := scanInto(t, filepath.Join(t.TempDir(), "w.db"), sources)
	for _, s := range res.Sources {
		want := record.StatusComplete
		if s.Source == record.SourceAD {
			want = record.StatusFailed
		}
		if s.Status != want {
			t.Errorf("%s: status %s, want %s (%v)", s.Source, s.Status, want, s.Errors)
		}
		for _, e := range s.Errors {
			if strings.Contains(e, "wrong-password") {
				t.Errorf("an error message carries the password: %q", e)
			}
		}
	}
}
