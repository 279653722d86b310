package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/classify"
)

// scenarioOrder is the decision table's order, used for every summary.
var scenarioOrder = []classify.Scenario{
	classify.OutOfScope, classify.NotInEntra, classify.UnfederatedUPN, classify.OrphanEntra,
	classify.AnchorConflict, classify.MultipleADSources, classify.MissingAnchorAD, classify.MissingAnchorCloud,
	classify.NotAssigned, classify.OktaAnchorEmpty, classify.OK, classify.SyncManagedMismatch,
	classify.EncodingMismatch, classify.OktaAssignmentStale, classify.EntraAnchorStale, classify.UnknownMismatch,
}

// printSummary writes the sources' outcome and the count per scenario.
func printSummary(w io.Writer, res *scan.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tREAD\tREQUESTS\tDURATION\tERROR")
	for _, s := range res.Sources {
		msg := ""
		if len(s.Errors) > 0 {
			msg = s.Errors[0]
		}
		read := "whole"
		if s.Incremental {
			read = "changes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Source, s.Status, read, s.Requests, s.Ended.Sub(s.Started).Round(time.Millisecond), msg)
	}
	tw.Flush()
	fmt.Fprintln(w)

	counts := map[classify.Scenario]int{}
	for _, f := range res.Findings.Identities {
		counts[f.Scenario]++
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SCENARIO\tIDENTITIES\t")
	for _, sc := range scenarioOrder {
		fmt.Fprintf(tw, "%s\t%d\t\n", sc, counts[sc])
	}
	fmt.Fprintf(tw, "total\t%d\t\n", len(res.Findings.Identities))
	tw.Flush()
	if len(res.Findings.Org) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Org findings:")
		for _, o := range res.Findings.Org {
			fmt.Fprintf(w, "  %s (%s): %s\n", o.Code, o.Severity, o.Explanation)
		}
	}
}
