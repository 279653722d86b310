package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asCommandEnv, when set, makes the test binary act as the anchorscan
// command itself: the benchmarks below start it once per command, so that
// each command's time and peak memory are those of a process of its own,
// as an admin runs them.
const asCommandEnv = "ANCHORSCAN_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommandEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// BenchmarkCommands1M runs the whole flow on 1,000,000 generated identities,
// each command in its own process against the simulator in another:
// scan, plan, report --format html, report --format xlsx, then
// report --format json. It reports each command's wall time and peak RSS;
// scan-to-excel-s is the sum of the first four, peak-rss-MiB the largest of
// all. It takes minutes; run it on its own:
//
//	go test -run '^$' -bench Commands1M -benchtime 1x -timeout 60m ./cmd/anchorscan/
func BenchmarkCommands1M(b *testing.B) { benchmarkCommands(b, 1_000_000) }

// BenchmarkCommands100k is the same at a tenth of the size.
func BenchmarkCommands100k(b *testing.B) { benchmarkCommands(b, 100_000) }

func benchmarkCommands(b *testing.B, users int) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		config := filepath.Join(dir, "sim.yaml")
		sim, simDone := startSimulator(b, dir, users, config)
		b.StartTimer()

		db, planFile := filepath.Join(dir, "anchorscan.db"), filepath.Join(dir, "plan.json")
		var scanToExcel time.Duration
		var peak int64
		for _, c := range []struct {
			name string
			args []string
		}{
			{"scan", []string{"scan", "--config", config, "--db", db}},
			{"plan", []string{"plan", "--db", db, "-o", planFile}},
			{"html", []string{"report", "--db", db, "--plan", planFile, "--format", "html", "--out", dir}},
			{"xlsx", []string{"report", "--db", db, "--plan", planFile, "--format", "xlsx", "--out", dir}},
			{"json", []string{"report", "--db", db, "--plan", planFile, "--format", "json", "--out", dir}},
		} {
			took, rss := runTimed(b, dir, c.args...)
			if c.name != "json" {
				scanToExcel += took
			}
			peak = max(peak, rss)
			b.ReportMetric(took.Seconds(), c.name+"-s")
			b.ReportMetric(float64(rss)/(1<<20), c.name+"-rss-MiB")
		}
		b.StopTimer()
		for _, f := range []string{"report.html", "report.xlsx", "findings.json"} {
			if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
				b.Fatalf("%s was not written: %v", f, err)
			}
		}
		if err := sim.Process.Signal(os.Interrupt); err != nil {
			b.Fatal(err)
		}
		state := <-simDone
		b.ReportMetric(scanToExcel.Seconds(), "scan-to-excel-s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
		if state != nil {
			b.ReportMetric(float64(maxRSS(state))/(1<<20), "simulator-rss-MiB")
		}
		b.StartTimer()
	}
}

// startSimulator runs anchorscan sim serve and waits until it has written
// the config file scan reads. The returned channel yields its final state.
func startSimulator(b *testing.B, dir string, users int, config string) (*exec.Cmd, <-chan *os.ProcessState) {
	b.Helper()
	cmd := asCommand(dir, "sim", "serve", "--users", strconv.Itoa(users), "--config-out", config)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan *os.ProcessState, 1)
	serving := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Serving until interrupted") && !ready {
				ready = true
				serving <- true
			}
		}
		if !ready {
			serving <- false
		}
		cmd.Wait()
		done <- cmd.ProcessState
	}()
	if !<-serving {
		<-done
		b.Fatalf("sim serve stopped before serving: %s", stderr.String())
	}
	// A benchmark that fails leaves the simulator running: end it. Once it
	// has ended, Kill only reports os.ErrProcessDone.
	b.Cleanup(func() { cmd.Process.Kill() })
	return cmd, done
}

// runTimed runs one anchorscan command to its end and returns its wall
// time and its peak resident set.
func runTimed(b *testing.B, dir string, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := asCommand(dir, args...)
	var output strings.Builder
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("anchorscan %s: %v\n%s", strings.Join(args, " "), err, output.String())
	}
	return took, maxRSS(cmd.ProcessState)
}

func asCommand(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asCommandEnv+"=1")
	return cmd
}

// maxRSS is the process's peak resident set in bytes (Linux reports KiB).
func maxRSS(state *os.ProcessState) int64 {
	ru, ok := state.SysUsage().(*syscall.Rusage)
	if !ok {
		panic(fmt.Sprintf("no rusage for %v", state))
	}
	return ru.Maxrss << 10
}
