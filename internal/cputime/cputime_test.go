//go:build unix

package cputime

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestProcessGrowsWithWork burns CPU on this goroutine until the process's
// CPU time has moved by at least 20 ms: a reader that returned a constant, or
// the wall clock of another process, would never get there.
func TestProcessGrowsWithWork(t *testing.T) {
	start, ok := Process()
	if !ok {
		t.Fatal("Process does not know the CPU time on a unix system")
	}
	sum := sha256.Sum256([]byte("anchorscan"))
	for i := 0; ; i++ {
		for range 10_000 {
			sum = sha256.Sum256(sum[:])
		}
		now, _ := Process()
		if now-start >= 20*time.Millisecond {
			if now < start {
				t.Fatalf("CPU time went backwards: %v then %v", start, now)
			}
			return
		}
		if i > 10_000 {
			t.Fatalf("CPU time still %v after %d rounds of hashing", now-start, i)
		}
	}
}
