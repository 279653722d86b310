package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/doctor"
)

func doctorCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check connectivity, TLS, credentials, permissions and the federation set-up of each configured directory",
		Long: `doctor checks each configured directory in turn and prints one line per check:
PASS, FAIL (with the fix) or WARN (a risk, or a permission that cannot be seen
without writing). It exits 0 when no check fails; WARN does not fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, e)
			if err != nil {
				return err
			}
			r := doctor.NewReport(doctor.PrintTo(e.stdout))
			doctor.Run(cmd.Context(), cfg, doctor.Options{Prompt: e.stderr}, r)
			if n := r.Failed(); n > 0 {
				return fmt.Errorf("%d of %d checks failed: see the fix under each FAIL", n, len(r.Checks))
			}
			fmt.Fprintf(e.stdout, "\nAll %d checks passed or warned.\n", len(r.Checks))
			return nil
		},
	}
	scan.AddConfigFlags(cmd.Flags())
	return cmd
}
