package report_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/store"
)

// chromiumPath is Debian's chromium, which .ci/chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless chromium with a fresh profile that does not
// phone home (the background services would try to reach Google, and those
// connections are refused here), and opens one tab.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is needed for the HTML report's browser test and is not at %s (%v): run .ci/chromium.sh to install it", chromiumPath, err)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	// Open the tab now, so a listener sees every event of the navigation.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// pageEvents records what the page did that a report must never do.
type pageEvents struct {
	mu       sync.Mutex
	requests []string
	problems []string // console errors, exceptions, error log entries (CSP violations among them)
	dialogs  []string
}

func (p *pageEvents) add(list *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, s)
}

func (p *pageEvents) snapshot() (requests, problems, dialogs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests), slices.Clone(p.problems), slices.Clone(p.dialogs)
}

func listenPage(t testing.TB, ctx context.Context) *pageEvents {
	t.Helper()
	ev := &pageEvents{}
	err := chromedp.Listen(ctx, func(e any) {
		switch e := e.(type) {
		case *network.EventRequestWillBeSent:
			ev.add(&ev.requests, e.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				ev.add(&ev.problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			ev.add(&ev.problems, "exception: "+msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				ev.add(&ev.problems, fmt.Sprintf("log %s %s: %s", e.Entry.Level, e.Entry.Source, e.Entry.Text))
			}
		case *page.EventJavascriptDialogOpening:
			ev.add(&ev.dialogs, string(e.Type)+": "+e.Message)
			// A listener must not send commands itself; dismiss the dialog
			// from elsewhere so the page does not hang on it.
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	return ev
}

// demoReport scans a generated tenant with the real collectors against the
// simulator, then renders its report from the store alone, as `anchorscan
// report` does.
func demoReport(t testing.TB, users int) (path string, res classify.Result, in classify.Input) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	run, err := demo.Run(ctx, demo.Options{Users: users, Seed: 1, OutDir: dir, ToolVersion: "browser-test"})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	db, err := store.OpenReadOnly(ctx, run.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := run.Scan.Snapshot
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = db.Findings(ctx, id); err != nil {
		t.Fatal(err)
	}
	if in, err = db.LoadInput(ctx, id); err != nil {
		t.Fatal(err)
	}
	v := report.BuildView(snap, res, in, report.ViewOptions{})
	path = filepath.Join(dir, "report.html")
	if err := report.WriteFileAtomic(path, func(w io.Writer) error { return report.WriteHTML(w, v) }); err != nil {
		t.Fatal(err)
	}
	return path, res, in
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: path}).String()
}

// shownRow is a row of the identity table as the page renders it.
type shownRow struct {
	I    int    `json:"i"`
	UPN  string `json:"upn"`
	Name string `json:"name"`
}

// collectRowsJS scrolls the virtualized table from top to bottom and
// returns every row it rendered: the table draws only the rows in view.
const collectRowsJS = `(async () => {
  const vp = document.getElementById('viewport');
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const seen = new Map();
  vp.scrollTop = 0; await frame();
  for (let guard = 0; guard < 10000; guard++) {
    for (const row of document.querySelectorAll('#window .row')) {
      const c = row.children;
      seen.set(row.dataset.i, {i: Number(row.dataset.i), upn: c[0].textContent, name: c[1].textContent});
    }
    if (vp.scrollTop + vp.clientHeight >= vp.scrollHeight - 1) break;
    vp.scrollTop += vp.clientHeight; await frame();
  }
  vp.scrollTop = 0; await frame();
  return [...seen.values()].sort((a, b) => a.i - b.i);
})()`

func shownRows(t testing.TB, ctx context.Context) []shownRow {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]shownRow](collectRowsJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the table's rows: %v", err)
	}
	return rows
}

// shownCount is the number of identities the table says match the filters.
func shownCount(t testing.TB, ctx context.Context) int {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('count').dataset.shown`))
	if err != nil {
		t.Fatalf("read the table's count: %v", err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("table count %q: %v", s, err)
	}
	return n
}

// search types q into the search box like a person, replacing what was
// there, and waits until the table has applied it.
func search(t testing.TB, ctx context.Context, q string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => { const q = document.getElementById('q'); q.value = ''; q.focus(); })()`),
		chromedp.SendKeys(chromedp.ID("q"), q),
		waitQuery(strings.ToLower(strings.TrimSpace(q))),
	)
	if err != nil {
		t.Fatalf("search for %q: %v", q, err)
	}
}

func waitQuery(q string) chromedp.Action[chromedp.Void] {
	quoted := strconv.Quote(q) // a Go quoted string is a valid JS string literal for this text
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](`document.getElementById('count').dataset.query === `+quoted,
			chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return chromedp.Void{}, err
	}
}

// chooseFilter picks an option of a filter's select by its label, as a
// person choosing from the list would, and fires its change event.
func chooseFilter(t testing.TB, ctx context.Context, id, label string) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
  const s = document.getElementById(%q);
  const o = [...s.options].find(o => (o.dataset.name ?? '') === %q);
  if (!o) return false;
  s.value = o.value;
  s.dispatchEvent(new Event('change', {bubbles: true}));
  return true;
})()`, id, label)
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil || !ok {
		t.Fatalf("choose %q in %s: found=%v err=%v", label, id, ok, err)
	}
}

// matches is the report's search rule: a case-insensitive substring of the
// UPN, display name, record ids, DN or anchors.
func matches(f *classify.Finding, q string) bool {
	fields := append([]string{f.UPN, f.DisplayName, f.EntraUserID, f.OktaUserID, f.ADObjectGUID, f.ADDN,
		f.EntraAnchor, f.OktaAnchor}, f.ExpectedAnchor...)
	for _, s := range fields {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

func expectedRows(res classify.Result, keep func(f *classify.Finding) bool) []int {
	var out []int
	for i := range res.Identities {
		f := &res.Identities[i]
		if keep(f) {
			out = append(out, i)
		}
	}
	return out
}

func rowIndexes(rows []shownRow) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = r.I
	}
	return out
}

func TestHTMLReportInBrowser(t *testing.T) {
	path, res, in := demoReport(t, 10_000)
	logins := map[string]string{}
	for _, u := range in.OktaUsers {
		logins[u.ID] = u.Login
	}
	entraUPN := map[string]string{}
	for _, u := range in.EntraUsers {
		entraUPN[u.ID] = u.UserPrincipalName
	}

	ctx := newBrowser(t)
	events := listenPage(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(fileURL(path)), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`))); err != nil {
		t.Fatalf("open the report: %v", err)
	}
	if n := shownCount(t, ctx); n != len(res.Identities) {
		t.Fatalf("table shows %d identities at first, want all %d", n, len(res.Identities))
	}

	t.Run("scenario filter", func(t *testing.T) {
		chooseFilter(t, ctx, "f-scenario", string(classify.EncodingMismatch))
		want := expectedRows(res, func(f *classify.Finding) bool { return f.Scenario == classify.EncodingMismatch })
		if len(want) == 0 {
			t.Fatal("the generated tenant has no ENCODING_MISMATCH identity")
		}
		if n := shownCount(t, ctx); n != len(want) {
			t.Errorf("ENCODING_MISMATCH shows %d identities, want %d", n, len(want))
		}
		rows := shownRows(t, ctx)
		if got := rowIndexes(rows); !slices.Equal(got, want) {
			t.Errorf("ENCODING_MISMATCH rows %v, want %v", got, want)
		}
		for _, r := range rows {
			if r.UPN != res.Identities[r.I].UPN {
				t.Errorf("row %d shows UPN %q, want %q", r.I, r.UPN, res.Identities[r.I].UPN)
			}
		}
	})

	t.Run("search within the filter", func(t *testing.T) {
		first := res.Identities[slices.IndexFunc(res.Identities, func(f classify.Finding) bool { return f.Scenario == classify.EncodingMismatch })]
		q := strings.ToUpper(first.UPN[:3]) // the search ignores case
		search(t, ctx, q)
		want := expectedRows(res, func(f *classify.Finding) bool {
			return f.Scenario == classify.EncodingMismatch && matches(f, strings.ToLower(q))
		})
		if got := rowIndexes(shownRows(t, ctx)); !slices.Equal(got, want) {
			t.Errorf("ENCODING_MISMATCH and %q: rows %v, want %v", q, got, want)
		}
		// Narrowing to one identity by its Entra object id.
		search(t, ctx, first.EntraUserID)
		if got := rowIndexes(shownRows(t, ctx)); len(got) != 1 || res.Identities[got[0]].EntraUserID != first.EntraUserID {
			t.Errorf("search by Entra id %s: rows %v", first.EntraUserID, got)
		}
	})

	t.Run("detail shows the three sources", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#window .row`)), chromedp.WaitVisible(chromedp.ID("detail"))); err != nil {
			t.Fatalf("open an identity: %v", err)
		}
		sel, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#window .row.selected').dataset.i`))
		if err != nil {
			t.Fatal(err)
		}
		i, _ := strconv.Atoi(sel)
		f := res.Identities[i]
		text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("detail")))
		if err != nil {
			t.Fatal(err)
		}
		for what, want := range map[string]string{
			"AD objectGUID": f.ADObjectGUID, "AD DN": f.ADDN, "Okta login": logins[f.OktaUserID],
			"Entra UPN": entraUPN[f.EntraUserID], "Entra ImmutableID": f.EntraAnchor, "Okta ImmutableID": f.OktaAnchor,
			"explanation": f.Explanation,
		} {
			if want == "" || !strings.Contains(text, want) {
				t.Errorf("detail of %s lacks the %s %q", f.UPN, what, want)
			}
		}
		// The decoded GUIDs the script computes from base64 are anchor.Describe's.
		decoded, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#detail table.decoded`)))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{f.EntraAnchor, f.OktaAnchor} {
			for _, c := range anchor.Describe(v).Candidates {
				if !strings.Contains(decoded, c.GUID.String()) {
					t.Errorf("decoded anchors of %s lack %s, a reading of %q: %q", f.UPN, c.GUID, v, decoded)
				}
			}
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("detail-close")), chromedp.WaitNotVisible(chromedp.ID("detail"))); err != nil {
			t.Fatalf("close the detail: %v", err)
		}
	})

	t.Run("hostile display names are text", func(t *testing.T) {
		chooseFilter(t, ctx, "f-scenario", "")
		for _, name := range []string{`<img src=x onerror=alert(1)>`, `</script><script>alert(2)</script>`, `=HYPERLINK("http://x")`} {
			search(t, ctx, name)
			rows := shownRows(t, ctx)
			idx := slices.IndexFunc(rows, func(r shownRow) bool { return r.Name == name })
			if idx < 0 {
				t.Errorf("no row shows the display name %q as text; rows: %v", name, rows)
				continue
			}
			if err := chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(fmt.Sprintf(`#window .row[data-i="%d"]`, rows[idx].I))),
				chromedp.WaitVisible(chromedp.ID("detail"))); err != nil {
				t.Fatalf("open %q: %v", name, err)
			}
			text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("detail-body")))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, name) {
				t.Errorf("detail does not show the display name %q as text", name)
			}
			if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b"), chromedp.WaitNotVisible(chromedp.ID("detail"))); err != nil {
				t.Fatalf("close the detail with Escape: %v", err)
			}
		}
		// Give an injected image time to fail and fire its handler.
		if err := chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.images.length, document.scripts.length, document.querySelectorAll('#window script, #detail script').length]`))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(counts, []int{0, 4, 0}) {
			t.Errorf("page has %d images, %d scripts, %d scripts in the table or detail; want 0, 4 (three data blocks and the script), 0", counts[0], counts[1], counts[2])
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatal("screenshot is not a PNG")
		}
		shot := filepath.Join(t.TempDir(), "report.png")
		if err := os.WriteFile(shot, png, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", shot)
	})

	requests, problems, dialogs := events.snapshot()
	for _, r := range requests {
		if r != fileURL(path) {
			t.Errorf("the report made a request other than its own file: %s", r)
		}
	}
	if len(requests) == 0 {
		t.Error("saw no request at all: the network listener is not working")
	}
	for _, p := range problems {
		t.Errorf("page logged a problem: %s", p)
	}
	for _, d := range dialogs {
		t.Errorf("page opened a JavaScript dialog: %s", d)
	}
}

// BenchmarkHTMLReport100k renders the report of 100,000 identities and
// measures its size and how long headless chromium takes from navigation to
// the first table row.
func BenchmarkHTMLReport100k(b *testing.B) {
	in, res := report.GeneratedForTest(b, 100_000)
	v := report.BuildView(report.SnapshotForTest(), res, in, report.ViewOptions{})
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := report.WriteHTML(&buf, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "html-bytes")
	path := filepath.Join(b.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}

	ctx := newBrowser(b)
	events := listenPage(b, ctx)
	// Navigate without waiting for the load event (chromedp.Navigate
	// would), so the wall time ends when the first row is in the DOM.
	start := time.Now()
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			res, err := cdp.Call(ctx, tg, page.Navigate, page.NavigateParams{URL: fileURL(path)})
			if err == nil && res.ErrorText != "" {
				err = fmt.Errorf("navigate: %s", res.ErrorText)
			}
			return err
		}),
		chromedp.WaitReady(chromedp.CSS(`#window .row`)))
	elapsed := time.Since(start)
	if err != nil {
		b.Fatalf("open the report: %v", err)
	}
	b.ReportMetric(float64(elapsed.Milliseconds()), "ms-to-first-row")
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`))); err != nil {
		b.Fatalf("wait for the search and detail data: %v", err)
	}
	// The page's own clock, from navigation start: its marks, and when
	// chromium painted the first row's text (Element Timing).
	timings, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`new Promise(resolve => {
  const nav = performance.getEntriesByType('navigation')[0], out = {};
  out.responseEnd = nav.responseEnd; out.domInteractive = nav.domInteractive;
  out.domContentLoaded = nav.domContentLoadedEventEnd; out.loadEventEnd = nav.loadEventEnd;
  for (const m of performance.getEntriesByType('mark')) out[m.name] = m.startTime;
  const done = () => resolve(out);
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) out['painted-' + e.identifier] = e.renderTime || e.loadTime;
    done();
  }).observe({type: 'element', buffered: true});
  setTimeout(done, 2000);
})`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("page timings (ms since navigation start): %v", timings)
	if ms, ok := timings["anchorscan-first-rows"]; ok {
		b.ReportMetric(ms, "page-ms-first-row")
	} else {
		b.Error("the page set no anchorscan-first-rows mark")
	}
	if ms, ok := timings["painted-first-row"]; ok {
		b.ReportMetric(ms, "page-ms-first-row-painted")
	}
	if _, problems, _ := events.snapshot(); len(problems) > 0 {
		b.Errorf("page logged problems: %v", problems)
	}
	if n := shownCount(b, ctx); n != len(res.Identities) {
		b.Errorf("table shows %d identities, want %d", n, len(res.Identities))
	}
}
