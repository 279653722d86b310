package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// `scan --resume` completes a snapshot whose Okta source stopped halfway to
// the content of a clean scan, in the same snapshot.
func TestScanResumeCLI(t *testing.T) {
	servers, cfgPath := simWithConfig(t, 2000, 3)
	dir := filepath.Dir(cfgPath)

	// A clean scan through the CLI, for the content to compare with.
	cleanDB := filepath.Join(dir, "clean.db")
	if code, stdout, stderr := runCLI(t, "scan", "--config", cfgPath, "--db", cleanDB); code != 0 {
		t.Fatalf("clean scan exit %d\n%s\n%s", code, stdout, stderr)
	}
	wantHash := snapshotHash(t, cleanDB)

	// The interrupted scan: Okta stops answering after 5 of its 10 users
	// pages. It runs through the library with a short retry budget; the
	// CLI's defaults would wait out minutes of a hung server.
	if err := servers.SetFaults([]sim.Faults{{Server: sim.ServerOkta, Path: "/api/v1/users", StopAfter: 5}}); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "anchorscan.db")
	partial := scanWithShortRetries(t, servers, dbPath)

	// Nothing to resume is an error, not a new scan.
	emptyDB := filepath.Join(dir, "empty.db")
	if code, _, stderr := runCLI(t, "scan", "--resume", "--config", cfgPath, "--db", emptyDB); code != 1 || !strings.Contains(stderr, "nothing to resume") {
		t.Errorf("scan --resume on an empty database: exit %d, stderr %q; want 1 and nothing to resume", code, stderr)
	}

	if err := servers.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "scan", "--resume", "--config", cfgPath, "--db", dbPath)
	if code != 0 {
		t.Fatalf("scan --resume exit %d\n%s\n%s", code, stdout, stderr)
	}
	if want := fmt.Sprintf("Snapshot %d", partial); !strings.Contains(stdout, want) {
		t.Errorf("scan --resume output does not name the resumed snapshot (%q):\n%s", want, stdout)
	}
	if got := snapshotHash(t, dbPath); got != wantHash {
		t.Errorf("resumed content hash %s, clean scan's %s", got, wantHash)
	}
}

// scanWithShortRetries scans the simulator into dbPath and returns the
// snapshot, which must be partial.
func scanWithShortRetries(t *testing.T, s *sim.Servers, dbPath string) store.SnapshotID {
	t.Helper()
	short := retry.Policy{Attempts: 2, Base: 10 * time.Millisecond, AttemptTimeout: 500 * time.Millisecond}
	o, err := okta.New(okta.Config{OrgURL: s.OktaURL, Token: s.OktaToken, HTTPClient: s.HTTPClient(), Retry: short})
	if err != nil {
		t.Fatal(err)
	}
	var tenantID string
	s.State.Read(func(t *sim.Tenant) { tenantID = t.Entra.TenantID })
	e, err := entra.New(entra.Config{TenantID: tenantID, BaseURL: s.GraphURL, Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ad.New(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := scan.Run(context.Background(), db, []scan.Source{o, e, a}, scan.Options{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Sources {
		if r.Source == record.SourceOkta && r.Status != record.StatusPartial {
			t.Fatalf("okta status %s after its server stopped, want partial", r.Status)
		}
	}
	return res.Snapshot
}

// simWithConfig serves a generated tenant of users identities and writes a
// config file that reaches it, trusting its CA, in a new temporary directory.
func simWithConfig(t *testing.T, users int, seed int64) (*sim.Servers, string) {
	t.Helper()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: users, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { servers.Close() })
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, servers.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "anchorscan.yaml")
	if err := scan.WriteConfig(cfgPath, demo.SimConfig(servers, caPath)); err != nil {
		t.Fatal(err)
	}
	return servers, cfgPath
}

func snapshotHash(t *testing.T, dbPath string) string {
	t.Helper()
	db, err := store.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.LatestSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := db.Snapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status != "complete" {
		t.Fatalf("snapshot %d of %s is %s", id, dbPath, snap.Status)
	}
	return snap.ContentHash
}
