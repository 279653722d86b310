package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/anchorscan/anchorscan/scan/record"
)

// progress reports records stored per source: one rewritten line on a
// terminal, a plain line every few seconds otherwise (logs stay readable).
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	counts map[record.Source]int
	last   time.Time
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	return &progress{w: w, tty: tty, counts: map[record.Source]int{}}
}

func (p *progress) page(src record.Source, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[src] = n
	interval := 2 * time.Second
	if p.tty {
		interval = 100 * time.Millisecond
	}
	if time.Since(p.last) < interval {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("okta %d  entra %d  ad %d records", p.counts[record.SourceOkta], p.counts[record.SourceEntra], p.counts[record.SourceAD])
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
	} else {
		fmt.Fprintln(p.w, "progress:", line)
	}
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && !p.last.IsZero() {
		fmt.Fprintln(p.w)
	}
}
