package main

import (
	"fmt"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/internal/gctarget"
	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/store"
)

func reportCmd(e *env) *cobra.Command {
	var dbPath, planPath string
	var opts report.RenderOptions
	var snapshot, compare int64
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render a snapshot from the database as HTML, Excel and JSON",
		Long: `report reads only the database, never the live directories, so the same snapshot
always renders the same report. --compare adds the drift from an earlier snapshot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer gctarget.Sooner()()
			if opts.OutDir == "" {
				return usageError{fmt.Errorf("--out DIR is required")}
			}
			opts.Snapshot, opts.Compare = store.SnapshotID(snapshot), store.SnapshotID(compare)
			if planPath != "" {
				p, err := plan.ReadFile(planPath)
				if err != nil {
					return err
				}
				if opts.Snapshot == 0 {
					opts.Snapshot = store.SnapshotID(p.Snapshot.ID)
				} else if int64(opts.Snapshot) != p.Snapshot.ID {
					return fmt.Errorf("plan %s was made from snapshot %d, not %d", planPath, p.Snapshot.ID, opts.Snapshot)
				}
				// Each view of the plan is as large as the plan: only the
				// formats that show it get one.
				opts.PlanHash = p.Seal
				if wants(opts.Formats, "html") {
					opts.Steps = p.ReportSteps()
				}
				if wants(opts.Formats, "xlsx") {
					opts.Plan = p.Workbook()
				}
			}
			db, err := store.OpenReadOnly(cmd.Context(), dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			paths, err := report.Render(cmd.Context(), db, opts)
			if err != nil {
				return err
			}
			formats := make([]string, 0, len(paths))
			for f := range paths {
				formats = append(formats, f)
			}
			sort.Strings(formats)
			for _, f := range formats {
				fmt.Fprintf(e.stdout, "%-4s %s\n", f, paths[f])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbPath, "db", "anchorscan.db", "database file")
	f.Int64Var(&snapshot, "snapshot", 0, "snapshot id (default: the latest)")
	f.Int64Var(&compare, "compare", 0, "an earlier snapshot id to show the drift from")
	f.StringVar(&opts.OutDir, "out", "", "directory for the report files")
	f.StringSliceVar(&opts.Formats, "format", nil, "formats: html,xlsx,json (default: all)")
	f.StringVar(&opts.Title, "title", "", "report title")
	f.StringVar(&planPath, "plan", "", "a plan file: show its steps per identity and add the Plan sheet with the Approve column")
	return cmd
}

// wants reports whether the --format list asks for format; an empty list
// asks for all.
func wants(formats []string, format string) bool {
	return len(formats) == 0 || slices.Contains(formats, format)
}
