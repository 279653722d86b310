package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan/sim"
)

// secretForms are the ways a secret could leak into a file: as is, base64
// in its variants, and hex.
func secretForms(secret string) []string {
	b := []byte(secret)
	return []string{
		secret,
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
	}
}

// runCommand runs one command the way run() does, for commands the lead
// registers in run.go separately (doctor, config).
func runCommand(t *testing.T, cmd func(*env) *cobra.Command, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr}
	c := cmd(e)
	c.SetArgs(args)
	c.SetOut(&stdout)
	c.SetErr(&stderr)
	c.SilenceUsage, c.SilenceErrors = true, true
	if err := c.ExecuteContext(context.Background()); err != nil {
		stderr.WriteString("anchorscan: " + err.Error() + "\n")
		return exitError, stdout.String(), stderr.String()
	}
	return exitOK, stdout.String(), stderr.String()
}

// Secrets configured for the simulator never reach a file anchorscan
// writes, nor its output, in any usual encoding; and every file it writes
// is readable by its owner only.
func TestSecretsStayOutOfEveryArtifact(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 300, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer servers.Close()
	secrets := map[string]string{"okta token": servers.OktaToken, "graph token": servers.GraphToken, "ldap password": servers.LDAPPassword}
	for name, s := range secrets {
		if len(s) < 20 {
			t.Fatalf("%s %q is too short to be recognisable", name, s)
		}
	}

	// Inputs: the config names the secrets by file and by variable; it and
	// the files holding secrets are the only places they may be.
	in := t.TempDir()
	writeInput := func(name, content string) string {
		p := filepath.Join(in, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caPath := writeInput("ca.pem", string(servers.CACertPEM))
	oktaTokenFile := writeInput("okta-token", servers.OktaToken+"\n")
	ldapPasswordFile := writeInput("ldap-password", servers.LDAPPassword)
	t.Setenv("SECRETS_TEST_GRAPH_TOKEN", servers.GraphToken)
	var tenantID string
	servers.State.Read(func(tn *sim.Tenant) { tenantID = tn.Entra.TenantID })
	cfg := writeInput("anchorscan.yaml", strings.Join([]string{
		"okta:",
		"  orgUrl: " + servers.OktaURL,
		"  tokenFile: " + oktaTokenFile,
		"  caFile: " + caPath,
		"entra:",
		"  tenantId: " + tenantID,
		"  graphUrl: " + servers.GraphURL,
		"  auth: static",
		"  tokenEnv: SECRETS_TEST_GRAPH_TOKEN",
		"  caFile: " + caPath,
		"ad:",
		"  url: " + servers.LDAPURL,
		"  bindDN: " + servers.LDAPBindDN,
		"  passwordFile: " + ldapPasswordFile,
		"  caFile: " + caPath,
		"",
	}, "\n"))

	out := t.TempDir()
	db := filepath.Join(out, "anchorscan.db")
	planPath := filepath.Join(out, "plan.json")
	var outputs []string
	step := func(wantCodes []int, code int, stdout, stderr string, args ...string) {
		t.Helper()
		outputs = append(outputs, "$ anchorscan "+strings.Join(args, " ")+"\n"+stdout+stderr)
		for _, c := range wantCodes {
			if code == c {
				return
			}
		}
		t.Fatalf("anchorscan %s: exit %d, want one of %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCodes, stdout, stderr)
	}
	cli := func(wantCodes []int, args ...string) {
		t.Helper()
		code, stdout, stderr := runCLI(t, args...)
		step(wantCodes, code, stdout, stderr, args...)
	}
	ok := []int{exitOK}

	cli(ok, "demo", "--users", "200", "--out", filepath.Join(out, "demo"), "--apply")
	code, stdout, stderr := runCommand(t, doctorCmd, "--config", cfg)
	step(ok, code, stdout, stderr, "doctor", "--config", cfg)
	cli(ok, "scan", "--config", cfg, "--db", db)
	cli(ok, "plan", "--db", db, "-o", planPath)
	// Some identities stop at manual steps or fail on purpose-built traps;
	// what matters here is what apply writes, so exit 1 is accepted.
	cli([]int{exitOK, exitError}, "apply", planPath, "--config", cfg, "--db", db, "--yes")
	cli(ok, "report", "--db", db, "--out", filepath.Join(out, "report"), "--plan", planPath)
	cli(ok, "scan", "--config", cfg, "--db", db)
	code, stdout, stderr = runCommand(t, configCmd, "init", "-o", filepath.Join(out, "example.yaml"))
	step(ok, code, stdout, stderr, "config", "init")

	logs := filepath.Join(t.TempDir(), "stdout-and-stderr.log")
	if err := os.WriteFile(logs, []byte(strings.Join(outputs, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	files := 0
	check := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range secrets {
			for _, form := range secretForms(s) {
				if bytes.Contains(data, []byte(form)) {
					t.Errorf("%s holds the %s (as %q)", path, name, form)
				}
			}
		}
	}
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o; anchorscan's files must be 0600", path, perm)
		}
		check(path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check(logs)
	// The artifacts exist: a test that searched nothing would pass.
	for _, want := range []string{"anchorscan.db", "plan.json", "report/report.html", "report/report.xlsx", "report/findings.json", "demo/anchorscan.db", "example.yaml"} {
		if _, err := os.Stat(filepath.Join(out, want)); err != nil {
			t.Errorf("expected artifact: %v", err)
		}
	}
	t.Logf("searched %d files and %d bytes of output", files, len(strings.Join(outputs, "")))
}
