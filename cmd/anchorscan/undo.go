package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/store"
)

func undoCmd(e *env) *cobra.Command {
	var dbPath, outPath string
	cmd := &cobra.Command{
		Use:   "undo JOURNAL-OR-PLAN",
		Short: "Write a sealed plan that reverses what an apply did",
		Long: `undo reads the journal in --db and writes a plan that puts every object an apply
changed back to the value it had, with the values the apply left as preconditions.
JOURNAL-OR-PLAN is the plan file that was applied (every run of it is reversed) or
an apply run id as printed by apply, e.g. 3 or run:3 (runs of that plan up to it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outPath == "" {
				return usageError{fmt.Errorf("-o is required")}
			}
			db, err := store.OpenReadOnly(cmd.Context(), dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			p, entries, err := undoSource(cmd, db, args[0])
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				return fmt.Errorf("the journal in %s holds no step of the plan sealed %s", dbPath, p.Seal)
			}
			u, err := plan.Undo(p, entries, plan.UndoOptions{ToolVersion: toolVersion()})
			if err != nil {
				return err
			}
			if err := report.WriteFileAtomic(outPath, func(w io.Writer) error { return u.Write(w) }); err != nil {
				return err
			}
			steps := 0
			for _, id := range u.Identities {
				steps += len(id.Steps)
			}
			fmt.Fprintf(e.stdout, "Undo plan %s: %d identities, %d steps. Review it, then: anchorscan apply %s\n", outPath, len(u.Identities), steps, outPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbPath, "db", "anchorscan.db", "database file holding the journal")
	f.StringVarP(&outPath, "out", "o", "", "where to write the undo plan")
	return cmd
}

// undoSource resolves JOURNAL-OR-PLAN to the applied plan and its journal.
func undoSource(cmd *cobra.Command, db *store.DB, arg string) (*plan.Plan, []store.JournalEntry, error) {
	ctx := cmd.Context()
	if _, err := os.Stat(arg); err == nil {
		p, err := plan.ReadFile(arg)
		if err != nil {
			return nil, nil, err
		}
		entries, err := db.Journal(ctx, p.Seal)
		return p, entries, err
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(arg, "run:"), 10, 64)
	if err != nil || n <= 0 {
		return nil, nil, usageError{fmt.Errorf("%q is neither a plan file nor an apply run id", arg)}
	}
	run, err := db.ApplyRunInfo(ctx, store.RunID(n))
	if errors.Is(err, store.ErrNoRun) {
		return nil, nil, fmt.Errorf("the database holds no apply run %d", n)
	}
	if err != nil {
		return nil, nil, err
	}
	data, err := db.AppliedPlan(ctx, run.PlanSeal)
	if err != nil {
		return nil, nil, err
	}
	p, err := plan.Read(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("the plan of run %d in the database: %w", n, err)
	}
	all, err := db.Journal(ctx, p.Seal)
	if err != nil {
		return nil, nil, err
	}
	var entries []store.JournalEntry
	for _, e := range all {
		if e.RunID <= run.ID {
			entries = append(entries, e)
		}
	}
	return p, entries, nil
}
