package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// ApplyResult is what `demo --apply` did and where its artifacts are.
type ApplyResult struct {
	Result
	PlanPath          string
	FindingsAfterPath string
	JournalPath       string
	// AfterHTMLPath is the report of the rescan, with the drift from the
	// first scan.
	AfterHTMLPath string
	AfterXLSXPath string

	Plan *plan.Plan
	// First runs until the manual steps; Second after the simulated console
	// import.
	First, Second *plan.Outcome
	Import        sim.ImportResult
	Before, After classify.Result
	// InitialTenant and FinalTenant are the simulated tenant before and
	// after, for checking what changed.
	InitialTenant, FinalTenant *sim.Tenant
}

// RunApply rehearses the whole workflow on a simulated tenant: scan, plan,
// apply until the manual steps, the console steps an admin would do (the
// O365 import and confirm), apply again, rescan. It writes the scan's
// artifacts, plan.json, findings-after.json, journal.json and after/report.html.
func RunApply(ctx context.Context, opts Options) (*ApplyResult, error) {
	tenant, err := opts.Tenant()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	res := &ApplyResult{
		Result: Result{
			DBPath:   filepath.Join(opts.OutDir, "anchorscan.db"),
			Expected: tenant.Expected,
		},
		PlanPath:          filepath.Join(opts.OutDir, "plan.json"),
		FindingsAfterPath: filepath.Join(opts.OutDir, "findings-after.json"),
		JournalPath:       filepath.Join(opts.OutDir, "journal.json"),
	}
	if res.InitialTenant, err = copyTenant(tenant); err != nil {
		return nil, err
	}
	servers, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		return nil, err
	}
	defer servers.Close()
	sources, err := SimSources(servers)
	if err != nil {
		return nil, err
	}
	db, err := freshDB(ctx, res.DBPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var org, tenantID string
	servers.State.Read(func(t *sim.Tenant) { org, tenantID = t.Okta.Org, t.Entra.TenantID })
	scanOpts := scan.Options{ToolVersion: opts.ToolVersion, OktaOrg: org, OnPage: opts.OnPage, Logger: opts.Logger}

	// Scan and plan.
	res.Scan, err = scan.Run(ctx, db, sources, scanOpts)
	if err != nil {
		return nil, err
	}
	res.Before = res.Scan.Findings
	snap, err := db.Snapshot(ctx, res.Scan.Snapshot)
	if err != nil {
		return nil, err
	}
	in, err := db.LoadInput(ctx, res.Scan.Snapshot)
	if err != nil {
		return nil, err
	}
	res.Plan, err = plan.Generate(snap, in, res.Before, plan.GenerateOptions{ToolVersion: opts.ToolVersion})
	if err != nil {
		return nil, err
	}
	if err := report.WriteFileAtomic(res.PlanPath, res.Plan.Write); err != nil {
		return nil, err
	}
	// The file is what was reviewed: apply what it holds.
	p, err := plan.ReadFile(res.PlanPath)
	if err != nil {
		return nil, err
	}
	// The report a reviewer signs off: findings with each identity's steps,
	// and the workbook's Plan sheet with its Approve column.
	paths, err := report.Render(ctx, db, report.RenderOptions{Snapshot: res.Scan.Snapshot, OutDir: opts.OutDir, Title: "anchorscan demo",
		Steps: p.ReportSteps(), PlanHash: p.Seal, Plan: p.Workbook()})
	if err != nil {
		return nil, err
	}
	res.FindingsPath, res.HTMLPath, res.XLSXPath = paths["json"], paths["html"], paths["xlsx"]

	// Apply, the console steps, apply again.
	targets, closeTargets, err := SimTargets(servers)
	if err != nil {
		return nil, err
	}
	defer closeTargets()
	targets.Tenants = plan.Tenants{OktaOrg: org, EntraTenantID: tenantID}
	applyOpts := plan.ApplyOptions{ToolVersion: opts.ToolVersion}
	if res.First, err = plan.Apply(ctx, p, targets, db, applyOpts); err != nil {
		return nil, fmt.Errorf("first apply: %w", err)
	}
	if res.Import, err = servers.State.ImportO365(); err != nil {
		return nil, fmt.Errorf("simulated console import: %w", err)
	}
	if res.Second, err = plan.Apply(ctx, p, targets, db, applyOpts); err != nil {
		return nil, fmt.Errorf("second apply: %w", err)
	}

	// Rescan and the after artifacts.
	after, err := scan.Run(ctx, db, sources, scanOpts)
	if err != nil {
		return nil, fmt.Errorf("rescan: %w", err)
	}
	res.After = after.Findings
	afterSnap, err := db.Snapshot(ctx, after.Snapshot)
	if err != nil {
		return nil, err
	}
	err = report.WriteFileAtomic(res.FindingsAfterPath, func(w io.Writer) error {
		return report.WriteFindingsJSON(w, afterSnap, res.After)
	})
	if err != nil {
		return nil, err
	}
	journal, err := db.Journal(ctx, p.Seal)
	if err != nil {
		return nil, err
	}
	// Before/after proof: the rescan with the drift from the first scan and
	// the apply journal as evidence.
	afterPaths, err := report.Render(ctx, db, report.RenderOptions{Snapshot: after.Snapshot, Compare: res.Scan.Snapshot,
		OutDir: filepath.Join(opts.OutDir, "after"), Formats: []string{"html", "xlsx"}, Title: "anchorscan demo after apply",
		Journal: plan.JournalRows(p, journal)})
	if err != nil {
		return nil, err
	}
	res.AfterHTMLPath, res.AfterXLSXPath = afterPaths["html"], afterPaths["xlsx"]
	err = report.WriteFileAtomic(res.JournalPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(journal)
	})
	if err != nil {
		return nil, err
	}
	var final *sim.Tenant
	servers.State.Read(func(t *sim.Tenant) { final, err = copyTenant(t) })
	res.FinalTenant = final
	return res, err
}

// SimTargets builds apply's targets on the write adapters pointed at the
// simulator, as SimSources builds the collectors. Tenants is left for the
// caller: a plan names the Okta org the scan recorded.
func SimTargets(s *sim.Servers) (plan.Targets, func(), error) {
	oktaAdmin, err := okta.NewAdmin(okta.Config{OrgURL: s.OktaURL, Token: s.OktaToken, HTTPClient: s.HTTPClient()})
	if err != nil {
		return plan.Targets{}, nil, err
	}
	var tenantID string
	s.State.Read(func(t *sim.Tenant) { tenantID = t.Entra.TenantID })
	graphAdmin, err := entra.NewAdmin(entra.Config{TenantID: tenantID, BaseURL: s.GraphURL, Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: s.HTTPClient()})
	if err != nil {
		return plan.Targets{}, nil, err
	}
	adAdmin, err := ad.NewAdmin(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	if err != nil {
		return plan.Targets{}, nil, err
	}
	return plan.Targets{Okta: oktaAdmin, Graph: graphAdmin, AD: adAdmin}, func() { adAdmin.Close() }, nil
}

func copyTenant(t *sim.Tenant) (*sim.Tenant, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("copy tenant: %w", err)
	}
	var c sim.Tenant
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("copy tenant: %w", err)
	}
	return &c, nil
}
