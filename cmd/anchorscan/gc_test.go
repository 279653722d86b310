package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestCollectorTargets(t *testing.T) {
	t.Setenv("GOGC", "") // restored when the test ends
	os.Unsetenv("GOGC")
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	// As scan nests them: reading, then classifying, then back.
	restoreReading := collectLessOften()
	if got := debug.SetGCPercent(readingGCPercent); got != readingGCPercent {
		t.Errorf("GC percent while reading = %d, want %d", got, readingGCPercent)
	}
	restoreClassifying := collectSooner()
	if got := debug.SetGCPercent(singleThreadedGCPercent); got != singleThreadedGCPercent {
		t.Errorf("GC percent while a single goroutine works = %d, want %d", got, singleThreadedGCPercent)
	}
	restoreClassifying()
	if got := debug.SetGCPercent(readingGCPercent); got != readingGCPercent {
		t.Errorf("GC percent after classifying = %d, want the reading target %d back", got, readingGCPercent)
	}
	restoreReading()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after = %d, want the 100 it was", got)
	}

	t.Setenv("GOGC", "200")
	for _, set := range []func() func(){collectSooner, collectLessOften} {
		restore := set()
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("GC percent with GOGC set = %d, want it untouched (100)", got)
		}
		restore()
	}
}
