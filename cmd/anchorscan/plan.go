package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/internal/gctarget"
	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/store"
)

func planCmd(e *env) *cobra.Command {
	var dbPath, out, parking string
	var snapshot int64
	var scenarios, only []string
	var allowPartial bool
	cmd := &cobra.Command{
		Use:   "plan -o plan.json",
		Short: "Write a sealed fix plan for a snapshot's findings",
		Long: "Write a sealed fix plan for a snapshot's findings. Review it with `anchorscan plan show`, " +
			"run it with `anchorscan apply`, or export it with `anchorscan plan export --powershell`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer gctarget.Sooner()()
			if out == "" {
				return usageError{fmt.Errorf("-o FILE is required: where to write the plan")}
			}
			ctx := cmd.Context()
			db, err := store.OpenReadOnly(ctx, dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			p, err := plan.FromStore(ctx, db, store.SnapshotID(snapshot), plan.GenerateOptions{
				ToolVersion: toolVersion(), ParkingDomain: parking,
				Scenarios: scenarios, Only: only, AllowPartial: allowPartial,
			})
			if err != nil {
				return fmt.Errorf("%s: %w", dbPath, err)
			}
			if err := report.WriteFileAtomic(out, p.Write); err != nil {
				return err
			}
			steps := 0
			for i := range p.Identities {
				steps += len(p.Identities[i].Steps)
			}
			fmt.Fprintf(e.stdout, "Plan for snapshot %d: %d identities, %d steps, %d org steps; seal %s\nWrote %s. Review it with: anchorscan plan show %s\n",
				p.Snapshot.ID, len(p.Identities), steps, len(p.OrgSteps)+len(p.OrgRestore), p.Seal, out, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbPath, "db", "anchorscan.db", "database file")
	f.Int64Var(&snapshot, "snapshot", 0, "snapshot id (default: the latest)")
	f.StringSliceVar(&scenarios, "scenario", nil, "only identities of these scenario codes (repeatable, comma-separated)")
	f.StringSliceVar(&only, "only", nil, "only identities with these UPNs, ignoring case (repeatable, comma-separated)")
	f.BoolVar(&allowPartial, "allow-partial", false, "plan from a snapshot whose sources did not all complete")
	f.StringVar(&parking, "parking-domain", "", "managed domain to park UPNs on (default: the tenant's initial *.onmicrosoft.com domain)")
	f.StringVarP(&out, "output", "o", "", "plan file to write")
	cmd.AddCommand(planShowCmd(e), planExportCmd(e))
	return cmd
}

func planShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show PLAN",
		Short: "Print a plan for review, grouped by scenario",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return err
			}
			return plan.Show(e.stdout, p)
		},
	}
}

func planExportCmd(e *env) *cobra.Command {
	var powershell bool
	var out string
	cmd := &cobra.Command{
		Use:   "export --powershell PLAN [-o script.ps1]",
		Short: "Write a PowerShell script equivalent to a plan, checking each precondition before each change",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if !powershell {
				return usageError{fmt.Errorf("choose an export format: --powershell")}
			}
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return err
			}
			write := func(w io.Writer) error { return plan.ExportPowerShell(w, p) }
			if out == "" || out == "-" {
				return write(e.stdout)
			}
			if err := report.WriteFileAtomic(out, write); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "Wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&powershell, "powershell", false, "export as a PowerShell script (Microsoft.Graph cmdlets and Okta REST calls)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "script file to write (default: standard output)")
	return cmd
}
