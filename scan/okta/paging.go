package okta

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/retry"
)

// nextCursor returns the after= cursor of the response's Link rel="next", or
// "" on the last page. The SDK's own resp.Next() would follow the link with
// the configuration's background context, so a cancelled scan would keep
// paging; the collector issues each page itself with After(cursor) instead.
func nextCursor(resp *okta.APIResponse) (string, error) {
	return cursorIn(resp.Header)
}

// cursorIn is nextCursor on a response's headers.
func cursorIn(h http.Header) (string, error) {
	for _, header := range h.Values("Link") {
		// One header may carry several comma-separated links.
		for _, link := range strings.Split(header, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !linkIsNext(params) {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				return "", fmt.Errorf("malformed Link header %q", header)
			}
			u, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				return "", fmt.Errorf("malformed next link in %q: %w", header, err)
			}
			after := u.Query().Get("after")
			if after == "" {
				return "", fmt.Errorf("next link %q has no after cursor", u)
			}
			return after, nil
		}
	}
	return "", nil
}

func linkIsNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "rel") && strings.Trim(strings.TrimSpace(v), `"`) == "next" {
			return true
		}
	}
	return false
}

// fetch issues one idempotent GET through the retry policy: call builds and
// executes the request under the attempt's context (a page is re-issued
// with the same cursor), and every way it can fail is checked as
// checkResponse does. The SDK has already read and closed the body of a
// response it returns, so an abandoned attempt holds no connection.
func fetch[T any](ctx context.Context, r *run, endpoint string, call func(ctx context.Context) (T, *okta.APIResponse, error)) (T, *okta.APIResponse, error) {
	var out T
	var resp *okta.APIResponse
	retries, err := retry.Do(ctx, r.c.retry, func(ctx context.Context) error {
		v, rs, err := call(ctx)
		if checked := checkResponse(ctx, endpoint, rs, err); checked != nil {
			return transient(rs, err, checked)
		}
		out, resp = v, rs
		return nil
	})
	if err == nil {
		r.noteDate(resp)
	}
	r.retries.Add(int64(retries))
	return out, resp, err
}

// readList reads a cursor-linked list from cursor after to its end, in
// order: call issues the SDK request for the page at a cursor, and store
// commits a page's items together with the cursor that follows them ("" on
// the last page) before the next page is handed to it.
//
// The next page is requested as soon as a page's headers name its cursor,
// while that page's body is still read and decoded: the SDK decodes 200
// users in about half a 20 ms round trip, and a chain that waited for it
// would pay both on every page. While a page is stored, only the page after
// it is in flight or held: the one after that is asked for once the reader
// waits for its predecessor.
func readList[T any](ctx context.Context, r *run, path, after string,
	call func(ctx context.Context, after string) ([]T, *okta.APIResponse, error),
	store func(page int, endpoint string, items []T, next string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	l := &listReader[T]{r: r, ctx: ctx, path: path, call: call}
	defer func() {
		// The page requested ahead of a failure is abandoned, and its
		// goroutine waited for, so that no request outlives the read.
		cancel()
		l.wg.Wait()
	}()
	p := l.start(1, after)
	for {
		items, resp, err := p.wait(l)
		if err != nil {
			return err
		}
		next, err := nextCursor(resp)
		if err != nil {
			return fmt.Errorf("okta: %s: %w", p.endpoint, err)
		}
		ahead := p.successor(l, next)
		if err := store(p.page, p.endpoint, items, next); err != nil {
			return err
		}
		if ahead == nil {
			return nil
		}
		p = ahead
	}
}

// listReader is one readList call's state shared by its page requests.
type listReader[T any] struct {
	r    *run
	ctx  context.Context
	path string
	call func(ctx context.Context, after string) ([]T, *okta.APIResponse, error)
	wg   sync.WaitGroup
}

// pageRead is one page of a list: its request, in flight or answered, and
// the request of the page after it once that may start.
type pageRead[T any] struct {
	page     int
	cursor   string
	endpoint string
	cancel   context.CancelFunc
	done     chan struct{}
	items    []T
	resp     *okta.APIResponse
	err      error

	mu sync.Mutex
	// wanted: the reader has stored the page before this one, so this
	// page's successor may be requested.
	wanted bool
	// next is the cursor this page's headers named first; ahead is the
	// request started for it.
	next  string
	ahead *pageRead[T]
}

func (l *listReader[T]) start(page int, cursor string) *pageRead[T] {
	ctx, cancel := context.WithCancel(l.ctx)
	p := &pageRead[T]{page: page, cursor: cursor, endpoint: pageEndpoint(l.path, page, cursor), cancel: cancel, done: make(chan struct{})}
	ctx = context.WithValue(ctx, headersKey{}, func(h http.Header) { p.sawHeaders(l, h) })
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(p.done)
		defer cancel()
		p.items, p.resp, p.err = fetch(ctx, l.r, p.endpoint, func(ctx context.Context) ([]T, *okta.APIResponse, error) {
			return l.call(ctx, cursor)
		})
	}()
	return p
}

// sawHeaders is called with the headers of each successful answer to p's
// request, before its body is read.
func (p *pageRead[T]) sawHeaders(l *listReader[T], h http.Header) {
	next, err := cursorIn(h)
	if err != nil || next == "" {
		return // the reader reports a bad link once the page is read
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next != "" {
		return // a retried request: the first answer's cursor stands
	}
	p.next = next
	if p.wanted {
		p.ahead = l.start(p.page+1, next)
	}
}

// wait marks p wanted, starts its successor if p's headers named it
// already, and returns p's answer.
func (p *pageRead[T]) wait(l *listReader[T]) ([]T, *okta.APIResponse, error) {
	p.mu.Lock()
	p.wanted = true
	if p.next != "" && p.ahead == nil {
		p.ahead = l.start(p.page+1, p.next)
	}
	p.mu.Unlock()
	<-p.done
	return p.items, p.resp, p.err
}

// successor returns the request of the page at cursor next, which p's
// decoded answer names: the one started ahead if it asked for that cursor,
// else a new one. It returns nil after the last page.
func (p *pageRead[T]) successor(l *listReader[T], next string) *pageRead[T] {
	p.mu.Lock()
	ahead := p.ahead
	p.mu.Unlock()
	if ahead != nil && ahead.cursor != next {
		ahead.cancel()
		ahead = nil
	}
	if ahead == nil && next != "" {
		ahead = l.start(p.page+1, next)
	}
	return ahead
}
