package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/demo"
)

func demoCmd(e *env) *cobra.Command {
	var opts demo.Options
	var apply bool
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
			if apply {
				res, err := demo.RunApply(cmd.Context(), opts)
				p.done()
				if err != nil {
					return err
				}
				return printDemoApply(e, res)
			}
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
	f.BoolVar(&apply, "apply", false, "then rehearse the fix: plan, apply, the simulated console import, apply again, rescan")
	return cmd
}

// printDemoApply tells what the rehearsal did and where its evidence is.
func printDemoApply(e *env, res *demo.ApplyResult) error {
	printSummary(e.stdout, res.Scan)
	fmt.Fprintf(e.stdout, "\nPlan: %d identities to fix, sealed %s…\n\nFirst apply (until the manual console steps):\n", len(res.Plan.Identities), res.Plan.Seal[:12])
	if err := res.First.WriteTable(e.stdout); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nSimulated console: the Office 365 import confirmed %d users.\n\nSecond apply:\n", len(res.Import.Imported))
	if err := res.Second.WriteTable(e.stdout); err != nil {
		return err
	}
	before, after := map[classify.Scenario]int{}, map[classify.Scenario]int{}
	for _, f := range res.Before.Identities {
		before[f.Scenario]++
	}
	for _, f := range res.After.Identities {
		after[f.Scenario]++
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nSCENARIO\tBEFORE\tAFTER\t")
	for _, sc := range scenarioOrder {
		if before[sc]+after[sc] > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%d\t\n", sc, before[sc], after[sc])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nDatabase:       %s\nReport:         %s\nWorkbook:       %s\nPlan:           %s\nFindings after: %s\nAfter report:   %s\nJournal:        %s\n",
		res.DBPath, res.HTMLPath, res.XLSXPath, res.PlanPath, res.FindingsAfterPath, res.AfterHTMLPath, res.JournalPath)
	return nil
}
