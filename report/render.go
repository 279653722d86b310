package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/anchorscan/anchorscan/store"
)

// Formats are the report formats Render writes, by name.
var Formats = []string{"html", "xlsx", "json"}

// RenderOptions choose the snapshot, the formats and what the report shows
// besides the snapshot.
type RenderOptions struct {
	// Snapshot is the snapshot to report; 0 means the latest.
	Snapshot store.SnapshotID
	// Compare, when non-zero, is an earlier snapshot to show the drift from.
	Compare store.SnapshotID
	OutDir  string
	// Formats is a subset of Formats; empty means all.
	Formats []string
	Title   string
	// Plan, Steps and PlanHash come from a plan file when one is given.
	Plan     *XLSXPlan
	Steps    map[string][]ViewStep
	PlanHash string
	Journal  []JournalRow
}

// Render writes the report files of a snapshot into opts.OutDir, reading only
// the store. It returns the path written per format.
func Render(ctx context.Context, db *store.DB, opts RenderOptions) (map[string]string, error) {
	formats := opts.Formats
	if len(formats) == 0 {
		formats = Formats
	}
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("unknown report format %q: choose from %s", f, strings.Join(Formats, ", "))
		}
	}
	id := opts.Snapshot
	if id == 0 {
		latest, err := db.LatestSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		id = latest
	}
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err := db.Findings(ctx, id)
	if err != nil {
		return nil, err
	}
	var drift []DriftEntry
	if opts.Compare != 0 {
		if opts.Compare == id {
			return nil, errors.New("--compare names the same snapshot as --snapshot")
		}
		before, err := db.Findings(ctx, opts.Compare)
		if err != nil {
			return nil, err
		}
		if _, err := db.Snapshot(ctx, opts.Compare); err != nil {
			return nil, err
		}
		drift = Drift(before, res)
	}
	if err := os.MkdirAll(opts.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("create report directory: %w", err)
	}
	paths := map[string]string{}
	for _, f := range formats {
		var write func(io.Writer) error
		switch f {
		case "json":
			write = func(w io.Writer) error { return WriteFindingsJSON(w, snap, res) }
		case "xlsx":
			write = func(w io.Writer) error {
				return WriteXLSX(w, XLSXInput{Snapshot: snap, Findings: res, Plan: opts.Plan, Drift: drift})
			}
		case "html":
			in, err := db.LoadInput(ctx, id)
			if err != nil {
				return nil, err
			}
			v := BuildView(snap, res, in, ViewOptions{Title: opts.Title, Steps: opts.Steps, PlanHash: opts.PlanHash, Drift: drift, Journal: opts.Journal})
			write = func(w io.Writer) error { return WriteHTML(w, v) }
		}
		name := map[string]string{"json": "findings.json", "xlsx": "report.xlsx", "html": "report.html"}[f]
		path := filepath.Join(opts.OutDir, name)
		if err := WriteFileAtomic(path, write); err != nil {
			return nil, err
		}
		paths[f] = path
	}
	return paths, nil
}
