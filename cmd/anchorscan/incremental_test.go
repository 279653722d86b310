package main

import (
	"path/filepath"
	"regexp"
	"testing"
)

// `scan --incremental` after a change to 1% of the tenant reads only the
// changes of every source and ends with the content a full scan reads; with
// no full scan before it, it says to run one.
func TestScanIncrementalCLI(t *testing.T) {
	servers, cfgPath := simWithConfig(t, 2000, 4)
	dir := filepath.Dir(cfgPath)
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
