package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan/demo"
)

func demoCmd(e *env) *cobra.Command {
	var opts demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan a simulated tenant on loopback with the real collectors and write the artifacts",
		Long: `demo starts simulated Okta, Microsoft Graph and LDAP servers on 127.0.0.1, scans them
with the same collectors a real scan uses, classifies every identity and writes
anchorscan.db and findings.json into --out. No credentials, no network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.TenantFile != "" && cmd.Flags().Changed("users") {
				return usageError{fmt.Errorf("--tenant and --users exclude each other")}
			}
			p := newProgress(e.stderr)
			opts.OnPage = p.page
			opts.ToolVersion = toolVersion()
			opts.Logger = e.log
			res, err := demo.Run(cmd.Context(), opts)
			p.done()
			if err != nil {
				return err
			}
			printSummary(e.stdout, res.Scan)
			if res.Expected != nil {
				matched, total := demo.CompareExpected(res.Scan.Findings.Identities, res.Expected)
				fmt.Fprintf(e.stdout, "\nExpected labels: %d of %d identities classified as labelled.\n", matched, total)
			}
			fmt.Fprintf(e.stdout, "\nDatabase: %s\nFindings: %s\nReport:   %s\nWorkbook: %s\n", res.DBPath, res.FindingsPath, res.HTMLPath, res.XLSXPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Users, "users", 1000, "number of identities to generate")
	f.Int64Var(&opts.Seed, "seed", 1, "seed of the generated tenant")
	f.StringVar(&opts.TenantFile, "tenant", "", "load this anchorscan-tenant/v1 fixture instead of generating one")
	f.StringVar(&opts.OutDir, "out", "anchorscan-demo", "directory for the artifacts")
	return cmd
}
