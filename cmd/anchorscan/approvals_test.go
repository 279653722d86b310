package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// approveOnly marks Approve = Yes on every Plan row of the identity whose UPN
// is upn, as a reviewer would in Excel.
func approveOnly(t *testing.T, path, upn string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Plan")
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for i, row := range rows {
		if i >= 4 && len(row) > 1 && strings.EqualFold(row[1], upn) {
			if err := f.SetCellStr("Plan", "J"+strconv.Itoa(i+1), "Yes"); err != nil {
				t.Fatal(err)
			}
			marked++
		}
	}
	if marked == 0 {
		t.Fatalf("no Plan row for %s", upn)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
}

func entraUser(st *sim.State, upnPrefix string) sim.EntraUser {
	var u sim.EntraUser
	st.Read(func(t *sim.Tenant) {
		for _, x := range t.Entra.Users {
			if strings.HasPrefix(x.UserPrincipalName, upnPrefix) {
				u = x
			}
		}
	})
	return u
}

// The sign-off workflow: scan, plan, report with the Plan sheet, a reviewer
// approves one identity, apply --approvals applies exactly that one.
func TestApplyAppliesOnlyApprovedIdentities(t *testing.T) {
	tenant, err := sim.LoadFixtureFile(filepath.Join("..", "..", "testdata", "example-tenant.json"))
	if err != nil {
		t.Fatal(err)
	}
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer servers.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, servers.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sim.yaml")
	simCfg := demo.SimConfig(servers, ca)
	// The plan belongs to the org the fixture names; the simulator serves it
	// on loopback.
	if err := scan.WriteConfig(cfg, simCfg); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "a.db")
	mustRun := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		return stdout
	}
	mustRun("scan", "--config", cfg, "--db", db)
	planPath := filepath.Join(dir, "plan.json")
	mustRun("plan", "--db", db, "-o", planPath)
	out := filepath.Join(dir, "review")
	mustRun("report", "--db", db, "--plan", planPath, "--out", out, "--format", "xlsx,html")
	workbook := filepath.Join(out, "report.xlsx")
	approveOnly(t, workbook, "stale-entra@contoso.example")

	staleBefore, encodedBefore := entraUser(servers.State, "stale-entra@"), entraUser(servers.State, "encoded@")
	code, stdout, stderr := runCLI(t, "apply", planPath, "--config", cfg, "--db", db, "--approvals", workbook, "--yes", "--writes-per-second", "0")
	if code != 0 {
		t.Fatalf("apply exit %d\n%s\n%s", code, stdout, stderr)
	}
	staleAfter, encodedAfter := entraUser(servers.State, "stale-entra@"), entraUser(servers.State, "encoded@")
	if *staleAfter.OnPremisesImmutableID == *staleBefore.OnPremisesImmutableID {
		t.Errorf("the approved identity was not applied: ImmutableID still %q", *staleAfter.OnPremisesImmutableID)
	}
	if staleAfter.UserPrincipalName != "stale-entra@contoso.example" {
		t.Errorf("approved identity left on %s", staleAfter.UserPrincipalName)
	}
	if *encodedAfter.OnPremisesImmutableID != *encodedBefore.OnPremisesImmutableID {
		t.Errorf("an identity nobody approved was changed")
	}

	// A workbook made for another plan is refused before anything runs.
	otherPlan := filepath.Join(dir, "other.json")
	mustRun("plan", "--db", db, "--only", "encoded@contoso.example", "-o", otherPlan)
	code, _, stderr = runCLI(t, "apply", otherPlan, "--config", cfg, "--db", db, "--approvals", workbook, "--yes")
	if code == 0 || !strings.Contains(stderr, "made for plan") {
		t.Errorf("apply with another plan's workbook: exit %d, stderr %q", code, stderr)
	}
	if after := entraUser(servers.State, "encoded@"); *after.OnPremisesImmutableID != *encodedBefore.OnPremisesImmutableID {
		t.Errorf("a refused apply changed the directory")
	}
}
