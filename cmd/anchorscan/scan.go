package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/internal/gctarget"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/store"
)

func scanCmd(e *env) *cobra.Command {
	var dbPath string
	var sources []string
	var resume, incremental bool
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Snapshot the configured sources into the database and classify every identity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer gctarget.LessOften()()
			cfg, err := loadConfig(cmd, e)
			if err != nil {
				return err
			}
			srcs, err := cfg.Sources(sources)
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			org := ""
			if cfg.Okta != nil {
				org = cfg.Okta.OrgURL
			}
			p := newProgress(e.stderr)
			res, err := scan.Run(cmd.Context(), db, srcs, scan.Options{
				Resume:      resume,
				Incremental: incremental,
				ToolVersion: toolVersion(), OktaOrg: org, OnPage: p.page, Logger: e.log,
				Classifying: gctarget.Sooner,
			})
			p.done()
			if res != nil {
				fmt.Fprintf(e.stdout, "Snapshot %d in %s\n\n", res.Snapshot, dbPath)
				printSummary(e.stdout, res)
			}
			if err != nil {
				return err
			}
			if !res.Complete() {
				return fmt.Errorf("snapshot %d is partial: a source did not finish (see the table above); plan will refuse it", res.Snapshot)
			}
			return nil
		},
	}
	f := cmd.Flags()
	scan.AddConfigFlags(f)
	f.StringVar(&dbPath, "db", "anchorscan.db", "database file")
	f.BoolVar(&resume, "resume", false, "continue the newest snapshot if it is unfinished or partial, from its last stored page, instead of starting a new one")
	f.BoolVar(&incremental, "incremental", false, "build the new snapshot from the newest complete one plus what changed since (Graph delta, Okta lastUpdated and System Log, AD uSNChanged); a source that cannot is read whole")
	f.StringSliceVar(&sources, "sources", nil, "sources to scan: okta,entra,ad (default: every configured one)")
	return cmd
}
