package okta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/record"
)

// TestNextPageRequestedWhileAPageIsStored runs the collector through the
// SDK against the simulator and holds the first users page in the sink
// until the org has been asked for the second: a collector that requested
// a page only after storing the one before would never get there.
func TestNextPageRequestedWhileAPageIsStored(t *testing.T) {
	const users = 1000 // five pages of 200
	tenant := bigTenant(users, 0, 0)
	wantUsers, _, _ := expectedRecords(tenant)
	asked := make(chan string, 16) // the after= cursor of each users request
	watch := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/users" {
				asked <- r.URL.Query().Get("after")
			}
			next.ServeHTTP(w, r)
		})
	}
	c, _ := fakeOrg(t, tenant, Config{UsersPageSize: 200}, watch)
	sink := &holdFirstUsersPage{asked: asked}
	stats, err := c.Collect(context.Background(), sink)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if sink.sawSecond == "" {
		t.Fatal("the second users page was not requested while the first was stored")
	}
	if want := wantUsers[199].ID; sink.sawSecond != want {
		t.Errorf("the request made while page 1 was stored asked after=%q, want the last id of page 1, %q", sink.sawSecond, want)
	}
	// In order, each page once, each checkpoint naming the page's end.
	got, _, _ := sink.all()
	if diff := cmp.Diff(wantUsers, got); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	var cursors []string
	for _, b := range sink.batches {
		if len(b.OktaUsers) > 0 {
			cursors = append(cursors, b.Checkpoint.Cursor)
		}
	}
	want := []string{wantUsers[199].ID, wantUsers[399].ID, wantUsers[599].ID, wantUsers[799].ID, ""}
	if diff := cmp.Diff(want, cursors); diff != "" {
		t.Errorf("users checkpoints in the order stored (-want +got):\n%s", diff)
	}
	// Reading ahead asks for no page twice and none past the end.
	if n := stats.Counts[CountUsers]; n != users {
		t.Errorf("%d users counted, want %d", n, users)
	}
	close(asked)
	var requested []string
	for a := range asked {
		requested = append(requested, a)
	}
	wantAsked := append([]string{""}, want[:4]...)
	if diff := cmp.Diff(wantAsked, requested); diff != "" {
		t.Errorf("users requests by cursor (-want +got):\n%s", diff)
	}
}

// TestNextPageRequestedBeforeABodyArrives has the org send the headers of
// the second users page and hold its body until the third page is asked
// for: the request for a page must start from its predecessor's Link
// header, not wait for the SDK to read and decode the body.
func TestNextPageRequestedBeforeABodyArrives(t *testing.T) {
	tenant := bigTenant(1000, 0, 0)
	wantUsers, _, _ := expectedRecords(tenant)
	second, third := wantUsers[199].ID, wantUsers[399].ID
	thirdAsked := make(chan struct{})
	var early atomic.Bool
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path + "?" + r.URL.Query().Get("after") {
			case "/api/v1/users?" + third:
				close(thirdAsked)
			case "/api/v1/users?" + second:
				w = &bodyAfter{ResponseWriter: w, wait: func() {
					early.Store(closedWithin(thirdAsked, 30*time.Second))
				}}
			}
			next.ServeHTTP(w, r)
		})
	}
	c, _ := fakeOrg(t, tenant, Config{UsersPageSize: 200}, hold)
	sink := &memorySink{}
	if _, err := c.Collect(context.Background(), sink); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if !early.Load() {
		t.Error("the third users page was not requested while the second page's body was held back")
	}
	got, _, _ := sink.all()
	if diff := cmp.Diff(wantUsers, got); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// bodyAfter sends the status and headers at once and calls wait before the
// body.
type bodyAfter struct {
	http.ResponseWriter
	wait func()
}

func (w *bodyAfter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	w.ResponseWriter.(http.Flusher).Flush()
	w.wait()
}

// holdFirstUsersPage is a checkpoint-keeping sink whose first users page
// waits until the org receives the request after it.
type holdFirstUsersPage struct {
	memorySink
	asked     chan string
	held      bool
	sawSecond string
}

func (s *holdFirstUsersPage) Write(ctx context.Context, b record.Batch) error {
	if len(b.OktaUsers) > 0 && !s.held {
		s.held = true
		var seen []string
		timeout := time.After(30 * time.Second)
		for s.sawSecond == "" {
			select {
			case a := <-s.asked:
				seen = append(seen, a)
				if a != "" {
					s.sawSecond = a
				}
			case <-timeout:
				return fmt.Errorf("still storing page 1 after 30 s: the org was asked only for %q", seen)
			}
		}
		// Put them back for the test's count of every request.
		for _, a := range seen {
			s.asked <- a
		}
	}
	return s.memorySink.Write(ctx, b)
}

// fakePages answers readList's page calls from a list of pages named by
// cursor, calling the transport's header hook as the SDK's transport would,
// and records the order in which calls began and which have ended.
type fakePages struct {
	mu    sync.Mutex
	pages map[string][]int  // cursor → items
	next  map[string]string // cursor → the cursor of the page after
	begun []string
	ended map[string]chan struct{}
	fail  map[string]error
}

func newFakePages(n, per int) *fakePages {
	f := &fakePages{pages: map[string][]int{}, next: map[string]string{}, ended: map[string]chan struct{}{}, fail: map[string]error{}}
	cursor := ""
	for p := range n {
		items := make([]int, per)
		for i := range items {
			items[i] = p*per + i
		}
		f.pages[cursor] = items
		f.ended[cursor] = make(chan struct{})
		next := ""
		if p < n-1 {
			next = fmt.Sprintf("c%d", p+1)
		}
		f.next[cursor] = next
		cursor = next
	}
	return f
}

func (f *fakePages) call(ctx context.Context, after string) ([]int, *okta.APIResponse, error) {
	f.mu.Lock()
	f.begun = append(f.begun, after)
	f.mu.Unlock()
	defer close(f.ended[after])
	h := http.Header{}
	if next := f.next[after]; next != "" {
		h.Set("Link", `<https://example.okta.com/api/v1/users?after=`+next+`&limit=2>; rel="next"`)
	}
	if saw, ok := ctx.Value(headersKey{}).(func(http.Header)); ok {
		saw(h)
	}
	if err := f.fail[after]; err != nil {
		return nil, nil, err
	}
	resp := &okta.APIResponse{Response: &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader("[1]"))}}
	return f.pages[after], resp, nil
}

func (f *fakePages) began() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.begun)
}

// closedWithin reports whether ch is closed within d.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// testRun is a run with the default retry policy and no sink: readList
// needs no more of a collector when the calls are fakes.
func testRun() *run {
	return &run{c: &Collector{}, counts: map[string]int{}}
}

// TestReadListReadsAtMostOnePageAhead stores each page only once the
// fake org has answered the page after it, and checks that by then no
// request for the page after that one had begun: the reader keeps one page
// in flight beyond the one being stored, not the whole list.
func TestReadListReadsAtMostOnePageAhead(t *testing.T) {
	f := newFakePages(6, 2)
	r := testRun()
	var got []int
	var nexts []string
	err := readList(context.Background(), r, "/api/v1/users", "", f.call, func(page int, endpoint string, items []int, next string) error {
		if next != "" {
			if !closedWithin(f.ended[next], 30*time.Second) {
				return fmt.Errorf("page %d: the page after it (%s) was never requested while it was stored", page, next)
			}
			// A reader that ran ahead would start the request within
			// microseconds of the headers; nothing signals its absence, so
			// the check gives it a moment.
			if after := f.next[next]; after != "" {
				for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if slices.Contains(f.began(), after) {
						return fmt.Errorf("page %d: the page after %s was requested while page %d was still being stored", page, next, page)
					}
				}
			}
		}
		got = append(got, items...)
		nexts = append(nexts, next)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
	if want := []string{"c1", "c2", "c3", "c4", "c5", ""}; !slices.Equal(nexts, want) {
		t.Errorf("cursors stored with the pages %q, want %q", nexts, want)
	}
	if want := []string{"", "c1", "c2", "c3", "c4", "c5"}; !slices.Equal(f.began(), want) {
		t.Errorf("pages requested %q, want each once in order %q", f.began(), want)
	}
}

// TestReadListFailures: a page that cannot be read ends the list with its
// error after the pages before it are stored, and a failure to store ends
// it before the page read ahead is stored; either way every request has
// ended when readList returns.
func TestReadListFailures(t *testing.T) {
	t.Run("a page fails", func(t *testing.T) {
		f := newFakePages(5, 2)
		f.fail["c3"] = errors.New("connection reset by peer")
		r := testRun()
		r.c.retry.Attempts = 1
		var stored []string
		err := readList(context.Background(), r, "/api/v1/users", "", f.call, func(page int, _ string, _ []int, next string) error {
			stored = append(stored, next)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "after=c3") {
			t.Fatalf("err = %v, want the failure of the page after c3, named", err)
		}
		if want := []string{"c1", "c2", "c3"}; !slices.Equal(stored, want) {
			t.Errorf("stored pages ending at %q, want %q: the pages before the failure", stored, want)
		}
		assertAllEnded(t, f)
	})
	t.Run("storing fails", func(t *testing.T) {
		f := newFakePages(5, 2)
		r := testRun()
		errFull := errors.New("disk full")
		var stored int
		err := readList(context.Background(), r, "/api/v1/users", "", f.call, func(page int, _ string, _ []int, _ string) error {
			if page == 2 {
				return errFull
			}
			stored++
			return nil
		})
		if !errors.Is(err, errFull) {
			t.Fatalf("err = %v, want the sink's", err)
		}
		if stored != 1 {
			t.Errorf("%d pages stored, want 1: none after the failed one", stored)
		}
		assertAllEnded(t, f)
	})
}

// assertAllEnded checks that every request that began has ended.
func assertAllEnded(t *testing.T, f *fakePages) {
	t.Helper()
	for _, a := range f.began() {
		select {
		case <-f.ended[a]:
		default:
			t.Errorf("the request for page after=%q outlived readList", a)
		}
	}
}

// TestAppUsersReadBeforeSettings holds the office365 app's provisioning
// feature until the org is asked for an app's users: the app-user lists,
// the longest chains once the users list is partitioned, must not wait for
// the O365 settings or for the other app template to be listed.
func TestAppUsersReadBeforeSettings(t *testing.T) {
	tenant := bigTenant(300, 300, 300)
	_, wantApps, wantAppUsers := expectedRecords(tenant)
	appUsersAsked := make(chan struct{})
	var once sync.Once
	var early atomic.Bool
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/users") && strings.HasPrefix(r.URL.Path, "/api/v1/apps/"):
				once.Do(func() { close(appUsersAsked) })
			case strings.HasSuffix(r.URL.Path, "/features/USER_PROVISIONING"):
				early.Store(closedWithin(appUsersAsked, 30*time.Second))
			}
			next.ServeHTTP(w, r)
		})
	}
	c, _ := fakeOrg(t, tenant, Config{}, hold)
	sink := &memorySink{}
	if _, err := c.Collect(context.Background(), sink); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if !early.Load() {
		t.Error("no app's users were asked for while the office365 settings were held back")
	}
	_, apps, appUsers := sink.all()
	if diff := cmp.Diff(wantApps, apps, cmpopts.IgnoreFields(record.OktaApp{}, "MappingID"), sortApps); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAppUsers, appUsers, cmpopts.EquateEmpty(), sortAppUsers); diff != "" {
		t.Errorf("app users (-want +got):\n%s", diff)
	}
}
