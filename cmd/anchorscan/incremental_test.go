package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// `scan --incremental` after a change to 1% of the tenant reads only the
// changes of every source and ends with the content a full scan reads; with
// no full scan before it, it says to run one.
func TestScanIncrementalCLI(t *testing.T) {
	ctx := context.Background()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 2000, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer servers.Close()
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, servers.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "anchorscan.yaml")
	if err := scan.WriteConfig(cfgPath, demo.SimConfig(servers, caPath)); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "anchorscan.db")

	if code, _, stderr := runCLI(t, "scan", "--incremental", "--config", cfgPath, "--db", dbPath); code != 1 || !regexp.MustCompile(`run a full scan first`).MatchString(stderr) {
		t.Fatalf("scan --incremental on an empty database: exit %d, stderr %q; want 1 and a hint to run a full scan", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "scan", "--config", cfgPath, "--db", dbPath); code != 0 {
		t.Fatalf("full scan exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := servers.State.Mutate(3, 0.01); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "scan", "--incremental", "--config", cfgPath, "--db", dbPath)
	if code != 0 {
		t.Fatalf("scan --incremental exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, src := range []string{"okta", "entra", "ad"} {
		if !regexp.MustCompile(`(?m)^` + src + `\s+complete\s+changes\s`).MatchString(stdout) {
			t.Errorf("scan --incremental did not read only the changes of %s:\n%s", src, stdout)
		}
	}
	incHash := snapshotHash(t, dbPath)
	if code, stdout, stderr := runCLI(t, "scan", "--config", cfgPath, "--db", dbPath); code != 0 {
		t.Fatalf("second full scan exit %d\n%s\n%s", code, stdout, stderr)
	}
	if fullHash := snapshotHash(t, dbPath); fullHash != incHash {
		t.Errorf("incremental snapshot's content hash %s, a full scan's %s", incHash, fullHash)
	}
}
