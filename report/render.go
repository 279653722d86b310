package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/anchorscan/anchorscan/scan/classify"
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
	snap, err := db.SnapshotOrLatest(ctx, opts.Snapshot)
	if err != nil {
		return nil, err
	}
	id := snap.ID
	// Every format reads the findings one at a time: a million of them
	// held at once would take gigabytes. Only drift holds both lists.
	each := func(fn func(*classify.Finding) error) error { return db.EachFinding(ctx, id, fn) }
	org, err := db.OrgFindings(ctx, id)
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
		after, err := db.Findings(ctx, id)
		if err != nil {
			return nil, err
		}
		drift = Drift(before, after)
	}
	if err := os.MkdirAll(opts.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("create report directory: %w", err)
	}
	paths := map[string]string{}
	for _, f := range formats {
		var write func(io.Writer) error
		switch f {
		case "json":
			write = func(w io.Writer) error { return WriteFindingsJSONEach(w, snap, org, each) }
		case "xlsx":
			count, err := db.FindingCount(ctx, id)
			if err != nil {
				return nil, err
			}
			write = func(w io.Writer) error {
				return WriteXLSX(w, XLSXInput{Snapshot: snap, Findings: classify.Result{Org: org},
					EachFinding: each, FindingCount: count, Plan: opts.Plan, Drift: drift})
			}
		case "html":
			v, err := streamView(ctx, db, snap, org, ViewOptions{Title: opts.Title, Steps: opts.Steps, PlanHash: opts.PlanHash, Drift: drift, Journal: opts.Journal})
			if err != nil {
				return nil, err
			}
			// The records the view was made from are garbage now, two
			// thirds of the heap at a million identities. Collected and
			// their pages given back before the page is encoded, they do
			// not sit under the encoder's large buffers: at 1,000,000
			// identities the command's peak RSS was 3.45 GiB, 0.7 of it
			// freed pages not yet returned.
			debug.FreeOSMemory()
			write = func(w io.Writer) error { return WriteHTML(w, v) }
		}
		name := map[string]string{"json": "findings.json", "xlsx": "report.xlsx", "html": "report.html"}[f]
		path := filepath.Join(opts.OutDir, name)
		if err := WriteFileAtomic(path, write); err != nil {
			return nil, err
		}
		paths[f] = path
		// What one format built is garbage before the next begins: a
		// collection now keeps the next from growing the heap past it.
		runtime.GC()
	}
	return paths, nil
}

// streamView builds the HTML view of a snapshot reading its findings one
// at a time: with the records it needs for the detail, holding every
// finding too would double what a large snapshot takes.
func streamView(ctx context.Context, db *store.DB, snap *store.Snapshot, org []classify.OrgFinding, opts ViewOptions) (*View, error) {
	in, err := db.LoadInput(ctx, snap.ID)
	if err != nil {
		return nil, err
	}
	b := NewViewBuilder(snap, org, in, opts)
	if err := db.EachFinding(ctx, snap.ID, b.Add); err != nil {
		return nil, err
	}
	return b.View(), nil
}
