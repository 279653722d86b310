package okta

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
)

// sortedAppUsers orders app users by app and user: the app lists are read
// concurrently, so their pages interleave differently from run to run.
func sortedAppUsers(in []record.OktaAppUser) []record.OktaAppUser {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b record.OktaAppUser) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.UserID, b.UserID))
	})
	return out
}

// A page that fails once (truncated, 5xx, empty, closed connection) is asked
// for again with the same cursor: the scan reads every record exactly once.
func TestCollectRetriesTransientFailures(t *testing.T) {
	tests := []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{name: "truncated users page", wrap: breakNth("/api/v1/users", 2, func(w http.ResponseWriter, body []byte, h http.Header) {
			writeWith(w, h, http.StatusOK, body[:len(body)/2])
		})},
		{name: "503 on app users", wrap: breakNth("/api/v1/apps/0oabigo365/users", 1, func(w http.ResponseWriter, _ []byte, h http.Header) {
			writeWith(w, h, http.StatusServiceUnavailable, []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"x","errorCauses":[]}`))
		})},
		{name: "empty 200", wrap: breakNth("/api/v1/users", 1, func(w http.ResponseWriter, _ []byte, h http.Header) {
			writeWith(w, h, http.StatusOK, nil)
		})},
		{name: "connection reset mid-body", wrap: breakNth("/api/v1/users", 3, func(w http.ResponseWriter, body []byte, _ http.Header) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
			_, _ = conn.Write(body[:len(body)/3])
			conn.Close()
		})},
	}
	clean, _ := fakeOrg(t, bigTenant(450, 600, 10), Config{}, nil)
	baseline := &memorySink{}
	if _, err := clean.Collect(context.Background(), baseline); err != nil {
		t.Fatal(err)
	}
	wantUsers, _, wantAppUsers := baseline.all()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fakeOrg(t, bigTenant(450, 600, 10), Config{Retry: retry.Policy{Base: time.Millisecond}}, tt.wrap)
			sink := &memorySink{}
			stats, err := c.Collect(context.Background(), sink)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			users, _, appUsers := sink.all()
			if !gocmp.Equal(users, wantUsers) || !gocmp.Equal(sortedAppUsers(appUsers), sortedAppUsers(wantAppUsers)) {
				t.Errorf("read %d users and %d app users, want the %d and %d of a clean run", len(users), len(appUsers), len(wantUsers), len(wantAppUsers))
			}
			if stats.Retries < 1 {
				t.Errorf("stats.Retries = %d, want at least 1", stats.Retries)
			}
		})
	}
}

// A page that keeps failing ends the collection after the policy's attempts,
// naming the page and its cursor.
func TestCollectGivesUp(t *testing.T) {
	var served atomic.Int64
	always500 := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/users" && r.URL.Query().Get("after") != "" {
				served.Add(1)
				writeWith(w, http.Header{"Content-Type": {"application/json"}}, http.StatusBadGateway, []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"x","errorCauses":[]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	c, _ := fakeOrg(t, bigTenant(450, 600, 10), Config{Retry: retry.Policy{Attempts: 3, Base: time.Millisecond}}, always500)
	_, err := c.Collect(context.Background(), &memorySink{})
	if err == nil {
		t.Fatal("Collect succeeded with every second users page failing")
	}
	for _, want := range []string{"gave up after 3 attempts", "GET /api/v1/users (page 2, after=", "HTTP 502"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := served.Load(); n != 3 {
		t.Errorf("the failing page was asked for %d times, want 3", n)
	}
}

func TestRateLimitWait(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{name: "reset after date", header: http.Header{"Date": {date.Format(http.TimeFormat)}, "X-Rate-Limit-Reset": {"1767323050"}}, want: 5 * time.Second},
		{name: "reset passed", header: http.Header{"Date": {date.Format(http.TimeFormat)}, "X-Rate-Limit-Reset": {"1767323040"}}, want: 0},
		{name: "retry-after wins", header: http.Header{"Retry-After": {"7"}, "X-Rate-Limit-Reset": {"1767323050"}}, want: 7 * time.Second},
		{name: "no headers", header: http.Header{}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rateLimitWait(tt.header, date); got != tt.want {
				t.Errorf("rateLimitWait = %v, want %v", got, tt.want)
			}
		})
	}
}
