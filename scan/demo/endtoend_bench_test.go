package demo

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/internal/gctarget"
	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// BenchmarkEndToEnd1M runs the whole pipeline on 1,000,000 generated
// identities: scan of the simulator with the real collectors, classify,
// plan, HTML and Excel, then findings.json; scan-to-excel-s is the time of
// all but the last. Everything, the simulator too, runs in this process,
// which reports each phase's heap; BenchmarkCommands1M in cmd/anchorscan
// runs each command in a process of its own and reports its RSS. It takes
// minutes; run it on its own:
//
//	go test -run '^$' -bench EndToEnd1M -benchtime 1x -timeout 60m ./scan/demo/
func BenchmarkEndToEnd1M(b *testing.B) { benchmarkEndToEnd(b, 1_000_000) }

// BenchmarkEndToEnd100k is the same at a tenth of the size.
func BenchmarkEndToEnd100k(b *testing.B) { benchmarkEndToEnd(b, 100_000) }

func benchmarkEndToEnd(b *testing.B, users int) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tenant, err := sim.Generate(sim.GenerateOptions{Users: users, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		servers, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		tenant = nil
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		baseline := ms.HeapInuse + ms.StackInuse
		ph := startPeakHeap()
		dir := b.TempDir()
		b.StartTimer()

		// Each phase runs as its command would, in a process of its own:
		// scan, then plan reading the store, then report reading the plan
		// file. Between phases only the files are shared, so each phase's
		// peak is what that command needs; the overall peak adds what the
		// earlier phases left for the collector.
		var phasePeak uint64
		var scanToExcel time.Duration // the phases: all but findings.json
		phase := time.Now()
		lap := func(name string) {
			took := time.Since(phase)
			if name != "json" {
				scanToExcel += took
			}
			b.ReportMetric(took.Seconds(), name+"-s")
			// Collected first, so that the next phase's peak does not
			// count this one's garbage.
			runtime.GC()
			p := ph.Lap()
			phasePeak = max(phasePeak, p)
			b.ReportMetric(float64(p)/(1<<20), name+"-peak-MiB")
			phase = time.Now()
		}
		dbPath, planPath := filepath.Join(dir, "e2e.db"), filepath.Join(dir, "plan.json")
		identities, snapshot := scanPhase(b, ctx, servers, dbPath)
		lap("scan-classify")
		planPhase(b, ctx, dbPath, snapshot, planPath)
		lap("plan")
		reportPhase(b, ctx, dbPath, planPath, dir, "html")
		lap("html")
		reportPhase(b, ctx, dbPath, planPath, dir, "xlsx")
		lap("xlsx")
		reportPhase(b, ctx, dbPath, planPath, dir, "json")
		lap("json")
		b.StopTimer()
		b.ReportMetric(scanToExcel.Seconds(), "scan-to-excel-s")
		peak := max(ph.Stop(), phasePeak)
		servers.Close()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(baseline)/(1<<20), "simulator-heap-MiB")
		b.ReportMetric(float64(peak-baseline)/(1<<20), "pipeline-heap-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MiB")
		b.ReportMetric(float64(identities), "identities")
		b.StartTimer()
	}
}

// scanLikeTheCommand sets the collector's targets as anchorscan scan does
// for the scan that opts starts, and returns what restores them.
func scanLikeTheCommand(opts *scan.Options) (restore func()) {
	opts.Classifying = gctarget.Sooner
	return gctarget.LessOften()
}

// scanPhase is anchorscan scan: it returns how many identities the snapshot
// holds and its id, and keeps nothing else.
func scanPhase(b *testing.B, ctx context.Context, servers *sim.Servers, dbPath string) (int, store.SnapshotID) {
	sources, err := SimSources(servers)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var org string
	servers.State.Read(func(t *sim.Tenant) { org = t.Okta.Org })
	opts := scan.Options{ToolVersion: "bench", OktaOrg: org}
	// Only the target from classification on, as the command sets it: the
	// simulator shares this heap, and gctarget.Reading, meant for the few
	// pages a scan holds, would let its tenant grow the heap fivefold.
	opts.Classifying = gctarget.Sooner
	res, err := scan.Run(ctx, db, sources, opts)
	if err != nil || !res.Complete() {
		b.Fatalf("scan: %v %+v", err, res)
	}
	return len(res.Findings.Identities), res.Snapshot
}

// planPhase is anchorscan plan -o planPath.
func planPhase(b *testing.B, ctx context.Context, dbPath string, id store.SnapshotID, planPath string) {
	defer gctarget.Sooner()()
	db, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p, err := plan.FromStore(ctx, db, id, plan.GenerateOptions{ToolVersion: "bench", Now: time.Unix(0, 0)})
	if err != nil {
		b.Fatal(err)
	}
	if err := report.WriteFileAtomic(planPath, p.Write); err != nil {
		b.Fatal(err)
	}
}

// reportPhase is anchorscan report --plan planPath --format formats.
func reportPhase(b *testing.B, ctx context.Context, dbPath, planPath, out string, formats ...string) {
	defer gctarget.Sooner()()
	p, err := plan.ReadFile(planPath)
	if err != nil {
		b.Fatal(err)
	}
	opts := report.RenderOptions{Snapshot: store.SnapshotID(p.Snapshot.ID), OutDir: out, Formats: formats, PlanHash: p.Seal}
	if slices.Contains(formats, "html") {
		opts.Steps = p.ReportSteps()
	}
	if slices.Contains(formats, "xlsx") {
		opts.Plan = p.Workbook()
	}
	p = nil
	db, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := report.Render(ctx, db, opts); err != nil {
		b.Fatal(err)
	}
}
