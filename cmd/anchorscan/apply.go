package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/store"
)

func applyCmd(e *env) *cobra.Command {
	var configPath, dbPath, approvals string
	var yes bool
	var opts plan.ApplyOptions
	cmd := &cobra.Command{
		Use:   "apply PLAN",
		Short: "Execute a reviewed plan: per-object preconditions, journal, resume",
		Long: `apply executes exactly the steps of a sealed plan file against the configured
directories. Before each change it re-reads the object and skips the identity as
stale when anything differs from what the plan expects. Every step is journaled
in --db; running the same plan again resumes it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return usageError{fmt.Errorf("--config is required")}
			}
			if opts.Limit < 0 || opts.Concurrency < 0 || opts.WritesPerSecond < 0 {
				return usageError{fmt.Errorf("--limit, --concurrency and --writes-per-second must not be negative")}
			}
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return err
			}
			if approvals != "" {
				if opts.Approved, err = readApprovals(p, approvals); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "%s approves %d identities of the plan's %d.\n", approvals, countApproved(opts.Approved), len(p.Identities))
			}
			cfg, err := scan.LoadConfig(configPath)
			if err != nil {
				return err
			}
			targets, closeTargets, err := configTargets(cfg, e.stderr)
			if err != nil {
				return err
			}
			defer closeTargets()
			if !opts.DryRun && !yes {
				ok, err := confirm(cmd, e, p)
				if err != nil || !ok {
					return err
				}
			}
			db, err := store.Open(cmd.Context(), dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			opts.Progress = e.stderr
			opts.ToolVersion = toolVersion()
			out, err := plan.Apply(cmd.Context(), p, targets, db, opts)
			if out != nil {
				if werr := out.WriteTable(e.stdout); werr != nil {
					return werr
				}
				if !opts.DryRun {
					fmt.Fprintf(e.stdout, "\nJournal: run %d in %s. Undo plan: anchorscan undo %s --db %s -o undo.json\n", out.RunID, dbPath, args[0], dbPath)
				}
			}
			if err != nil {
				return err
			}
			if out.Failed > 0 {
				return fmt.Errorf("%d identities failed (see the table above)", out.Failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "config file naming the directories (see \"anchorscan sim serve\")")
	f.StringVar(&dbPath, "db", "anchorscan.db", "database file holding the journal")
	f.BoolVar(&opts.DryRun, "dry-run", false, "check every precondition live and report what would run; write nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&approvals, "approvals", "", "apply only the identities approved (Approve = Yes on every step) in this workbook, made for this plan")
	f.IntVar(&opts.Limit, "limit", 0, "apply at most N identities (0: all)")
	f.IntVar(&opts.Concurrency, "concurrency", 4, "identities worked on at once")
	f.Float64Var(&opts.WritesPerSecond, "writes-per-second", 10, "pace of writes across all identities (0: unpaced)")
	return cmd
}

// configTargets builds apply's targets from a config: the write adapters,
// and the tenants the config names, which the plan must match.
func configTargets(cfg *scan.Config, prompt io.Writer) (plan.Targets, func(), error) {
	var t plan.Targets
	closer := func() {}
	// Interfaces are set only for configured systems: a nil *okta.Admin in
	// an interface would not compare equal to nil.
	if cfg.Okta != nil {
		cc, err := cfg.Okta.ClientConfig()
		if err != nil {
			return t, closer, err
		}
		a, err := okta.NewAdmin(cc)
		if err != nil {
			return t, closer, err
		}
		t.Okta, t.Tenants.OktaOrg = a, cfg.Okta.OrgURL
	}
	if cfg.Entra != nil {
		cc, err := cfg.Entra.ClientConfig(prompt)
		if err != nil {
			return t, closer, err
		}
		a, err := entra.NewAdmin(cc)
		if err != nil {
			return t, closer, err
		}
		t.Graph, t.Tenants.EntraTenantID = a, cfg.Entra.TenantID
	}
	if cfg.AD != nil {
		cc, err := cfg.AD.ClientConfig()
		if err != nil {
			return t, closer, err
		}
		a, err := ad.NewAdmin(cc)
		if err != nil {
			return t, closer, err
		}
		t.AD, closer = a, func() { a.Close() }
	}
	return t, closer, nil
}

// confirm shows what the plan will do and asks.
func confirm(cmd *cobra.Command, e *env, p *plan.Plan) (bool, error) {
	steps := 0
	for _, id := range p.Identities {
		steps += len(id.Steps)
	}
	fmt.Fprintf(e.stdout, "Plan %s… for Okta %s, Entra tenant %s: %d org steps, %d identities, %d steps.\n",
		p.Seal[:12], p.Tenants.OktaOrg, p.Tenants.EntraTenantID, len(p.OrgSteps)+len(p.OrgRestore), len(p.Identities), steps)
	fmt.Fprint(e.stdout, "Apply it? Type yes to go on: ")
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("no answer on standard input: use --yes to apply without asking")
	}
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		fmt.Fprintln(e.stdout, "Nothing applied.")
		return false, nil
	}
	return true, nil
}

// readApprovals reads the approved identities from a workbook made for p.
func readApprovals(p *plan.Plan, path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	defer f.Close()
	approved, err := p.ReadApprovals(f)
	if err != nil {
		return nil, fmt.Errorf("approvals %s: %w", path, err)
	}
	return approved, nil
}

func countApproved(m map[string]bool) int {
	n := 0
	for k, ok := range m {
		if ok && k != plan.OrgKey {
			n++
		}
	}
	return n
}
