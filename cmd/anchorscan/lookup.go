package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/store"
)

func lookupCmd(e *env) *cobra.Command {
	var dbPath string
	var snapshot int64
	cmd := &cobra.Command{
		Use:   "lookup VALUE",
		Short: "Find who holds an ImmutableID (the value an AADSTS51004 message shows)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := store.OpenReadOnly(ctx, dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			id := store.SnapshotID(snapshot)
			if id == 0 {
				if id, err = db.LatestSnapshot(ctx); err != nil {
					return fmt.Errorf("%s: %w", dbPath, err)
				}
			}
			value := args[0]
			// AD holds raw bytes: every GUID the value can stand for is looked
			// up there, so a mis-encoded value still finds its AD object.
			var raws [][]byte
			for _, r := range anchor.Readings(value) {
				raw := r.GUID.Raw()
				raws = append(raws, raw[:])
			}
			holders, err := db.AnchorHolders(ctx, id, value, raws)
			if err != nil {
				return err
			}
			if len(holders) == 0 {
				fmt.Fprintf(e.stdout, "No record of snapshot %d holds %q.\n", id, value)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tATTRIBUTE\tID\tNAME")
			for _, h := range holders {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Source, h.Field, h.ID, h.Name)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "anchorscan.db", "database file")
	cmd.Flags().Int64Var(&snapshot, "snapshot", 0, "snapshot id (default: the latest)")
	return cmd
}
