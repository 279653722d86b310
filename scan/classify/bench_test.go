package classify_test

import (
	"testing"

	"github.com/anchorscan/anchorscan/internal/cputime"
	"github.com/anchorscan/anchorscan/scan/classify"
)

// BenchmarkClassify100k classifies a synthetic tenant of 100,000 identities
// (about 88,000 Entra users, Okta users and AD users each) per iteration.
// Besides ns/op it reports identities/s and the process CPU time per
// iteration (cpu-ms/op), which stays meaningful when other work shares the
// machine.
func BenchmarkClassify100k(b *testing.B) {
	in, want := syntheticInput(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart, cpuOK := cputime.Process()
	var n int
	for b.Loop() {
		n = len(classify.Classify(in, classify.Options{}).Identities)
	}
	cpuEnd, _ := cputime.Process()
	if n != len(want) {
		b.Fatalf("classified %d identities, want %d", n, len(want))
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "identities/s")
	if cpuOK {
		b.ReportMetric(float64((cpuEnd-cpuStart).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}
