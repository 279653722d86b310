package gctarget

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
	restoreReading := LessOften()
	if got := debug.SetGCPercent(Reading); got != Reading {
		t.Errorf("GC percent while reading = %d, want %d", got, Reading)
	}
	restoreClassifying := Sooner()
	if got := debug.SetGCPercent(SingleThreaded); got != SingleThreaded {
		t.Errorf("GC percent while a single goroutine works = %d, want %d", got, SingleThreaded)
	}
	restoreClassifying()
	if got := debug.SetGCPercent(Reading); got != Reading {
		t.Errorf("GC percent after classifying = %d, want the reading target %d back", got, Reading)
	}
	restoreReading()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after = %d, want the 100 it was", got)
	}

	t.Setenv("GOGC", "200")
	for _, set := range []func() func(){Sooner, LessOften} {
		restore := set()
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("GC percent with GOGC set = %d, want it untouched (100)", got)
		}
		restore()
	}
}
