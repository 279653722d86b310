package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func readFindings(t *testing.T, path string) report.FindingsDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc report.FindingsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("findings.json: %v", err)
	}
	return doc
}

// labelsOf maps identity key → scenario, for findings and for expected labels.
func labelsOf(doc report.FindingsDoc) map[string]string {
	m := make(map[string]string, len(doc.Identities))
	for _, f := range doc.Identities {
		m[plan.IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)] = string(f.Scenario)
	}
	return m
}

func expectedLabels(exp *sim.Expected) map[string]string {
	m := make(map[string]string, len(exp.Identities))
	for _, l := range exp.Identities {
		m[plan.IdentityKey(l.EntraUserID, l.OktaUserID, l.ADObjectGUID)] = l.Scenario
	}
	return m
}

func TestDemoOnExampleFixtureMatchesLabels(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "example-tenant.json")
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "demo", "--tenant", fixture, "--out", out)
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	tenant, err := sim.LoadFixtureFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	doc := readFindings(t, filepath.Join(out, "findings.json"))
	if doc.FormatVersion != 1 || doc.Status != "complete" {
		t.Errorf("findings.json formatVersion %d status %q", doc.FormatVersion, doc.Status)
	}
	if diff := cmp.Diff(expectedLabels(tenant.Expected), labelsOf(doc)); diff != "" {
		t.Errorf("scenarios differ from the fixture's labels (-want +got):\n%s", diff)
	}
	var org []string
	for _, o := range doc.OrgFindings {
		org = append(org, string(o.Code))
	}
	want := append([]string(nil), tenant.Expected.Org...)
	sort.Strings(org)
	sort.Strings(want)
	if diff := cmp.Diff(want, org); diff != "" {
		t.Errorf("org codes differ (-want +got):\n%s", diff)
	}
	for _, sc := range []string{"OK", "ENCODING_MISMATCH", "UNKNOWN_MISMATCH"} {
		if !strings.Contains(stdout, sc) {
			t.Errorf("summary does not mention %s:\n%s", sc, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "anchorscan.db")); err != nil {
		t.Errorf("demo wrote no database: %v", err)
	}
}

func TestDemoOnGeneratedTenantMatchesEveryLabel(t *testing.T) {
	const users = 3000
	tenant, err := sim.Generate(sim.GenerateOptions{Users: users, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "demo", "--users", "3000", "--seed", "42", "--out", out)
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	doc := readFindings(t, filepath.Join(out, "findings.json"))
	want, got := expectedLabels(tenant.Expected), labelsOf(doc)
	if len(got) != len(want) {
		t.Errorf("%d identities found, %d labelled", len(got), len(want))
	}
	wrong := 0
	for k, w := range want {
		if got[k] != w {
			if wrong < 10 {
				t.Errorf("identity %s: scenario %q, labelled %q", k, got[k], w)
			}
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d identities differ from their labels", wrong, len(want))
	}
	seen := map[string]bool{}
	for _, s := range got {
		seen[s] = true
	}
	for _, sc := range scenarioOrder {
		if !seen[string(sc)] {
			t.Errorf("scenario %s absent from the generated tenant's findings", sc)
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag", []string{"demo", "--bogus"}},
		{"convert without value", []string{"convert"}},
		{"scan without config", []string{"scan"}},
		{"tenant and users", []string{"demo", "--tenant", "x.json", "--users", "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
		})
	}
}

func TestDemoRejectsBadFixture(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format": "anchorscan-tenant/v1", "okta": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI(t, "demo", "--tenant", bad, "--out", out)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, "bad.json") {
		t.Errorf("error does not name the file: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "findings.json")); err == nil {
		t.Error("findings.json written for a bad fixture")
	}
}

func TestConvertPrintsEveryForm(t *testing.T) {
	code, stdout, stderr := runCLI(t, "convert", "3ab39606-c642-489b-84b6-58c038d3ef39")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "BpazOkLGm0iEtljAONPvOQ==") {
		t.Errorf("convert output lacks the ImmutableID:\n%s", stdout)
	}
}

func TestReportAndLookupReadTheDemoDatabase(t *testing.T) {
	fixture := filepath.Join("..", "..", "testdata", "example-tenant.json")
	out := t.TempDir()
	if code, stdout, stderr := runCLI(t, "demo", "--tenant", fixture, "--out", out); code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, name := range []string{"report.html", "report.xlsx", "findings.json"} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Errorf("demo did not write %s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, fi.Mode().Perm())
		}
	}
	db := filepath.Join(out, "anchorscan.db")

	again := filepath.Join(t.TempDir(), "again")
	code, stdout, stderr := runCLI(t, "report", "--db", db, "--out", again, "--format", "json")
	if code != 0 {
		t.Fatalf("report exit %d\n%s\n%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(labelsOf(readFindings(t, filepath.Join(out, "findings.json"))), labelsOf(readFindings(t, filepath.Join(again, "findings.json")))); diff != "" {
		t.Errorf("report from the database differs from the demo's findings:\n%s", diff)
	}
	if code, _, stderr := runCLI(t, "report", "--db", db, "--out", again, "--format", "pdf"); code == 0 || !strings.Contains(stderr, "pdf") {
		t.Errorf("unknown format: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "report", "--db", db, "--out", again, "--snapshot", "1", "--compare", "1"); code == 0 {
		t.Errorf("comparing a snapshot with itself succeeded: %s", stderr)
	}

	// ok-ad's anchor: held by its Entra user and sent by Okta, and it is the
	// AD user's objectGUID.
	code, stdout, stderr = runCLI(t, "lookup", "--db", db, "Pqlfffo2uEqbF4UcX9pvFQ==")
	if code != 0 {
		t.Fatalf("lookup exit %d: %s", code, stderr)
	}
	for _, want := range []string{"3cd49c6d-00b7-4439-932a-b4141082be29", "00utlmfhatxriapc6uir", "CN=ok-ad,OU=Staff,DC=corp,DC=contoso,DC=example"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("lookup output lacks %s:\n%s", want, stdout)
		}
	}
	// The same GUID written as a canonical string still finds the AD object.
	code, stdout, _ = runCLI(t, "lookup", "--db", db, "7d5fa93e-36fa-4ab8-9b17-851c5fda6f15")
	if code != 0 || !strings.Contains(stdout, "CN=ok-ad") {
		t.Errorf("lookup by GUID string: exit %d\n%s", code, stdout)
	}
}

func TestSimExportWritesALoadableFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenant.json")
	if code, _, stderr := runCLI(t, "sim", "export", "--users", "300", "--seed", "9", "-o", path); code != 0 {
		t.Fatalf("sim export: %s", stderr)
	}
	loaded, err := sim.LoadFixtureFile(path)
	if err != nil {
		t.Fatal(err)
	}
	generated, err := sim.Generate(sim.GenerateOptions{Users: 300, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Expected.Identities) != len(generated.Expected.Identities) || loaded.Entra.TenantID != generated.Entra.TenantID {
		t.Errorf("exported tenant differs from the generated one")
	}
}
