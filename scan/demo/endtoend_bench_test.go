package demo

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// BenchmarkEndToEnd1M runs the whole pipeline on 1,000,000 generated
// identities: scan of the simulator with the real collectors, classify,
// plan, HTML and Excel. It takes minutes; run it on its own:
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

		phase := time.Now()
		lap := func(name string) {
			b.ReportMetric(time.Since(phase).Seconds(), name+"-s")
			phase = time.Now()
		}
		sources, err := SimSources(servers)
		if err != nil {
			b.Fatal(err)
		}
		db, err := store.Open(ctx, filepath.Join(dir, "e2e.db"))
		if err != nil {
			b.Fatal(err)
		}
		var org string
		servers.State.Read(func(t *sim.Tenant) { org = t.Okta.Org })
		res, err := scan.Run(ctx, db, sources, scan.Options{ToolVersion: "bench", OktaOrg: org})
		if err != nil || !res.Complete() {
			b.Fatalf("scan: %v %+v", err, res)
		}
		lap("scan-classify")
		snap, err := db.Snapshot(ctx, res.Snapshot)
		if err != nil {
			b.Fatal(err)
		}
		// The records are loaded in a closure so they can be collected
		// before the reports load their own.
		p, err := func() (*plan.Plan, error) {
			in, err := db.LoadInput(ctx, res.Snapshot)
			if err != nil {
				return nil, err
			}
			return plan.Generate(snap, in, res.Findings, plan.GenerateOptions{ToolVersion: "bench", Now: time.Unix(0, 0)})
		}()
		if err != nil {
			b.Fatal(err)
		}
		if err := report.WriteFileAtomic(filepath.Join(dir, "plan.json"), p.Write); err != nil {
			b.Fatal(err)
		}
		lap("plan")
		if _, err := report.Render(ctx, db, report.RenderOptions{Snapshot: res.Snapshot, OutDir: dir, Formats: []string{"html"},
			Steps: p.ReportSteps(), PlanHash: p.Seal}); err != nil {
			b.Fatal(err)
		}
		lap("html")
		if _, err := report.Render(ctx, db, report.RenderOptions{Snapshot: res.Snapshot, OutDir: dir, Formats: []string{"xlsx", "json"},
			Plan: p.Workbook()}); err != nil {
			b.Fatal(err)
		}
		lap("xlsx-json")
		b.StopTimer()
		peak := ph.Stop()
		db.Close()
		servers.Close()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(baseline)/(1<<20), "simulator-heap-MiB")
		b.ReportMetric(float64(peak-baseline)/(1<<20), "pipeline-heap-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MiB")
		b.ReportMetric(float64(len(res.Findings.Identities)), "identities")
		b.StartTimer()
	}
}
