package demo

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// peakHeap samples the Go heap in use while a benchmark runs; the simulator
// runs in the same process, so the figure covers it too (an upper bound on
// what the scan alone needs).
type peakHeap struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startPeakHeap() *peakHeap {
	p := &peakHeap{stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if v := ms.HeapInuse + ms.StackInuse; v > p.peak.Load() {
				p.peak.Store(v)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Lap returns the peak since the last Lap (or the start) and starts the
// next lap from the heap in use now.
func (p *peakHeap) Lap() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return p.peak.Swap(ms.HeapInuse + ms.StackInuse)
}

func (p *peakHeap) Stop() uint64 {
	close(p.stop)
	p.wg.Wait()
	return p.peak.Load()
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkScan100k scans a generated 100,000-identity tenant through the
// three fake servers with the real collectors into SQLite, and classifies it.
//
//	go test -run '^$' -bench Scan100k -benchtime 1x ./scan/demo/
func BenchmarkScan100k(b *testing.B) {
	benchmarkScan(b, 100_000)
}

func benchmarkScan(b *testing.B, users int) {
	tenant, err := sim.Generate(sim.GenerateOptions{Users: users, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	identities := len(tenant.Expected.Identities)
	servers, err := sim.Start(context.Background(), sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer servers.Close()
	// The simulator lives in this process: its heap is measured first and
	// reported apart, so that scan-heap-MiB is what the scan itself added.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse + ms.StackInuse
	b.ResetTimer()
	var res *scan.Result
	var peak uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		sources, err := SimSources(servers)
		if err != nil {
			b.Fatal(err)
		}
		db, err := store.Open(context.Background(), filepath.Join(dir, "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		ph := startPeakHeap()
		b.StartTimer()
		res, err = scan.Run(context.Background(), db, sources, scan.Options{ToolVersion: "bench"})
		b.StopTimer()
		if p := ph.Stop(); p > peak {
			peak = p
		}
		if err != nil {
			b.Fatal(err)
		}
		if !res.Complete() {
			b.Fatalf("scan incomplete: %+v", res.Sources)
		}
		if len(res.Findings.Identities) != identities {
			b.Fatalf("%d findings for %d identities", len(res.Findings.Identities), identities)
		}
		db.Close()
		b.StartTimer()
	}
	b.StopTimer()
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(identities)/perOp, "identities/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(baseline)/(1<<20), "simulator-heap-MiB")
	b.ReportMetric(float64(peak-baseline)/(1<<20), "scan-heap-MiB")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MiB")
	for _, s := range res.Sources {
		b.ReportMetric(float64(s.Requests), string(s.Source)+"-requests")
	}
}
