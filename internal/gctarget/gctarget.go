// Package gctarget holds the collector targets anchorscan's commands set for
// each phase of their work, so that the commands and the benchmarks that
// measure them use the same ones.
package gctarget

import (
	"os"
	"runtime/debug"
)

// SingleThreaded is the collector's target for plan and report,
// and for scan once its sources are read. Each holds a snapshot's records
// while it works through its identities on one goroutine, so the collector
// runs on the other core almost for free, while the default target (100)
// lets the heap grow to twice what is live between collections. Measured
// at 100,000 identities: report --format html 7.45 → 7.67 s and 548 → 416
// MB peak RSS; plan 2.93 → 3.08 s and 362 → 299 MB.
const SingleThreaded = 50

// Reading is the collector's target while scan reads its sources.
// What is live then is a few pages per source, tens of megabytes, so the
// default target collected dozens of times a second (5,100 times in a
// 1,000,000-identity scan's first two minutes) and took a tenth of the
// CPU that the SDKs' decoding needs. Measured at 100,000 identities: scan
// 18.1 → 15.1 s.
const Reading = 400

// Sooner lowers the collector's target to SingleThreaded, unless GOGC says
// otherwise. It returns what restores the previous target.
func Sooner() (restore func()) { return set(SingleThreaded) }

// LessOften raises the collector's target to Reading, unless GOGC says
// otherwise. It returns what restores the previous target.
func LessOften() (restore func()) { return set(Reading) }

func set(percent int) (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	before := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(before) }
}
