//go:build unix

// Package cputime reads the CPU time the process has used, for benchmarks
// that report work done beside wall time.
package cputime

import (
	"syscall"
	"time"
)

// Process is the user+system CPU time of the whole process, GC included:
// on a shared machine it measures the work where wall time measures the
// neighbours. ok is false where the platform does not say.
func Process() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
