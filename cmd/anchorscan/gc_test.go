package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestCollectSooner(t *testing.T) {
	t.Setenv("GOGC", "") // restored when the test ends
	os.Unsetenv("GOGC")
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	restore := collectSooner()
	if got := debug.SetGCPercent(singleThreadedGCPercent); got != singleThreadedGCPercent {
		t.Errorf("GC percent while a command runs = %d, want %d", got, singleThreadedGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after = %d, want the 100 it was", got)
	}

	t.Setenv("GOGC", "200")
	restore = collectSooner()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent with GOGC set = %d, want it untouched (100)", got)
	}
	restore()
}
