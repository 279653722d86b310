// Package demo runs anchorscan end to end on a simulated tenant: it starts the
// fake Okta, Graph and LDAP servers on loopback and scans them with the same
// collectors and scan runner a real scan uses, then writes the artifacts.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// Options choose the simulated tenant and where the artifacts go.
type Options struct {
	// TenantFile is a fixture to load; when empty a tenant is generated.
	TenantFile string
	Users      int
	Seed       int64
	OutDir     string

	ToolVersion string
	OnPage      func(src record.Source, records int)
	Logger      *slog.Logger
}

// Result says where the artifacts are and what the scan found.
type Result struct {
	DBPath       string
	FindingsPath string
	HTMLPath     string
	XLSXPath     string
	Scan         *scan.Result
	Expected     *sim.Expected
}

// Tenant loads or generates the tenant the options describe.
func (o Options) Tenant() (*sim.Tenant, error) {
	if o.TenantFile != "" {
		return sim.LoadFixtureFile(o.TenantFile)
	}
	users := o.Users
	if users <= 0 {
		users = 1000
	}
	return sim.Generate(sim.GenerateOptions{Users: users, Seed: o.Seed})
}

// Run performs the demo.
func Run(ctx context.Context, opts Options) (*Result, error) {
	tenant, err := opts.Tenant()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	expected := tenant.Expected
	servers, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		return nil, err
	}
	defer servers.Close()

	sources, err := SimSources(servers)
	if err != nil {
		return nil, err
	}
	res := &Result{
		DBPath:       filepath.Join(opts.OutDir, "anchorscan.db"),
		FindingsPath: filepath.Join(opts.OutDir, "findings.json"),
		Expected:     expected,
	}
	db, err := freshDB(ctx, res.DBPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var org string
	servers.State.Read(func(t *sim.Tenant) { org = t.Okta.Org })
	res.Scan, err = scan.Run(ctx, db, sources, scan.Options{
		ToolVersion: opts.ToolVersion,
		OktaOrg:     org,
		Classify:    classify.Options{},
		OnPage:      opts.OnPage,
		Logger:      opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	paths, err := report.Render(ctx, db, report.RenderOptions{Snapshot: res.Scan.Snapshot, OutDir: opts.OutDir, Title: "anchorscan demo"})
	if err != nil {
		return nil, err
	}
	res.FindingsPath, res.HTMLPath, res.XLSXPath = paths["json"], paths["html"], paths["xlsx"]
	return res, nil
}

// SimSources builds the three real collectors pointed at the simulator.
func SimSources(s *sim.Servers) ([]scan.Source, error) {
	oktaSrc, err := okta.New(okta.Config{OrgURL: s.OktaURL, Token: s.OktaToken, HTTPClient: s.HTTPClient()})
	if err != nil {
		return nil, err
	}
	var tenantID string
	s.State.Read(func(t *sim.Tenant) { tenantID = t.Entra.TenantID })
	entraSrc, err := entra.New(entra.Config{TenantID: tenantID, BaseURL: s.GraphURL, Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: s.HTTPClient()})
	if err != nil {
		return nil, err
	}
	adSrc, err := ad.New(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	if err != nil {
		return nil, err
	}
	return []scan.Source{oktaSrc, entraSrc, adSrc}, nil
}

// SimConfig is the scan configuration that reaches the simulator s, trusting
// the CA certificate written at caPath.
func SimConfig(s *sim.Servers, caPath string) *scan.Config {
	var tenantID string
	s.State.Read(func(t *sim.Tenant) { tenantID = t.Entra.TenantID })
	return &scan.Config{
		Okta:  &scan.OktaConfig{OrgURL: s.OktaURL, Token: s.OktaToken, CAFile: caPath},
		Entra: &scan.EntraConfig{TenantID: tenantID, GraphURL: s.GraphURL, Token: s.GraphToken, CAFile: caPath},
		AD:    &scan.ADConfig{URL: s.LDAPURL, BindDN: s.LDAPBindDN, Password: s.LDAPPassword, CAFile: caPath},
	}
}

// freshDB opens a new database at path, removing one left there before: a
// demo starts clean so that its findings are this run's only.
func freshDB(ctx context.Context, path string) (*store.DB, error) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("remove old demo database: %w", err)
		}
	}
	return store.Open(ctx, path)
}
