package okta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
)

const testToken = "00sim-test-token"

// isolateSDK keeps the developer's ~/.okta/okta.yaml and OKTA_* variables
// out of the test, as the collector keeps them out of a scan.
func isolateSDK(t testing.TB) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OKTA_") {
			t.Setenv(k, "") // registers the restore
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func loadExampleTenant(t testing.TB) *sim.Tenant {
	t.Helper()
	tenant, err := sim.LoadFixtureFile(filepath.Join("..", "sim", "testdata", "example-tenant.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

// fakeOrg serves tenant through the fake Okta API over TLS, optionally
// behind wrap, and returns a collector for it.
func fakeOrg(t testing.TB, tenant *sim.Tenant, cfg Config, wrap func(http.Handler) http.Handler) (*Collector, *httptest.Server) {
	t.Helper()
	isolateSDK(t)
	var h http.Handler = sim.NewOktaHandler(sim.NewState(tenant), sim.OktaOptions{Token: testToken})
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	if cfg.OrgURL == "" {
		cfg.OrgURL = srv.URL
	}
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	cfg.HTTPClient = srv.Client()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// memorySink keeps every batch it is given.
type memorySink struct {
	mu      sync.Mutex
	batches []record.Batch
}

func (s *memorySink) Write(_ context.Context, b record.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, b)
	return nil
}

func (s *memorySink) all() (users []record.OktaUser, apps []record.OktaApp, appUsers []record.OktaAppUser) {
	for _, b := range s.batches {
		users = append(users, b.OktaUsers...)
		apps = append(apps, b.OktaApps...)
		appUsers = append(appUsers, b.OktaAppUsers...)
	}
	return users, apps, appUsers
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// expectedRecords is what a complete read of tenant must produce.
func expectedRecords(tenant *sim.Tenant) (users []record.OktaUser, apps []record.OktaApp, appUsers []record.OktaAppUser) {
	for _, u := range tenant.Okta.Users {
		users = append(users, record.OktaUser{ID: u.ID, Status: u.Status, Login: u.Login, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName})
	}
	appName := map[string]string{}
	// The collector reads office365 instances first, then active_directory.
	for _, name := range []string{"office365", "active_directory"} {
		for _, a := range tenant.Okta.Apps {
			if a.Name != name {
				continue
			}
			appName[a.ID] = a.Name
			app := record.OktaApp{ID: a.ID, Name: a.Name, Label: a.Label, DeactivateUsers: a.DeactivateUsers}
			if a.ImmutableIDMapping != nil {
				app.ImmutableIDExpression = a.ImmutableIDMapping.Expression
				app.ImmutableIDPushStatus = a.ImmutableIDMapping.PushStatus
			}
			apps = append(apps, app)
		}
	}
	for _, app := range apps {
		for _, au := range tenant.Okta.AppUsers {
			if au.AppID != app.ID {
				continue
			}
			syncState := "DISABLED"
			if appName[au.AppID] == "office365" && au.Status == "PROVISIONED" {
				syncState = "SYNCHRONIZED"
			}
			appUsers = append(appUsers, record.OktaAppUser{
				AppID: au.AppID, UserID: au.UserID, ExternalID: deref(au.ExternalID), UserName: au.UserName,
				Status: au.Status, SyncState: syncState, ImmutableID: deref(au.Profile.ImmutableID),
				Licenses: au.Profile.Licenses, Roles: au.Profile.Roles,
			})
		}
	}
	return users, apps, appUsers
}

func TestCollectExampleTenant(t *testing.T) {
	tenant := loadExampleTenant(t)
	wantUsers, wantApps, wantAppUsers := expectedRecords(tenant)
	c, _ := fakeOrg(t, tenant, Config{}, nil)

	sink := &memorySink{}
	stats, err := c.Collect(context.Background(), sink)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	users, apps, appUsers := sink.all()
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	// The mapping id is the fake's own; it is checked for presence below.
	if diff := cmp.Diff(wantApps, apps, cmpopts.IgnoreFields(record.OktaApp{}, "MappingID"), sortApps); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	for _, a := range apps {
		if (a.Name == "office365") != (a.MappingID != "") {
			t.Errorf("app %s (%s): MappingID %q; want one exactly for office365", a.ID, a.Name, a.MappingID)
		}
	}
	if diff := cmp.Diff(wantAppUsers, appUsers, cmpopts.EquateEmpty(), sortAppUsers); diff != "" {
		t.Errorf("app users (-want +got):\n%s", diff)
	}
	wantCounts := map[string]int{CountUsers: len(wantUsers), CountApps: len(wantApps), CountAppUsers: len(wantAppUsers)}
	if diff := cmp.Diff(wantCounts, stats.Counts); diff != "" {
		t.Errorf("stats counts (-want +got):\n%s", diff)
	}
	// users 1, apps 2 (one per template), O365 feature 1 + mapping list 1 +
	// mapping 1, app users one page per app (3 apps).
	if want := 1 + 2 + 3 + 3; stats.Requests != want {
		t.Errorf("stats.Requests = %d, want %d", stats.Requests, want)
	}
}

// bigTenant has users Okta users, all assigned to one O365 app, the first
// adUsers of them also to one AD app.
func bigTenant(users, o365Users, adUsers int) *sim.Tenant {
	t := &sim.Tenant{Format: sim.FormatV1, Okta: sim.Okta{Org: "https://big.okta.com"}}
	t.Okta.Apps = []sim.OktaApp{
		{ID: "0oabigo365", Name: "office365", Label: "Microsoft Office 365", DeactivateUsers: "ENABLED",
			ImmutableIDMapping: &sim.Mapping{Expression: "hasDirectoryUser()?findDirectoryUser().externalId:null", PushStatus: "PUSH"}},
		{ID: "0oabigad", Name: "active_directory", Label: "big.example"},
	}
	for i := range users {
		id := fmt.Sprintf("00ubig%014d", i)
		login := fmt.Sprintf("user%d@big.example", i)
		t.Okta.Users = append(t.Okta.Users, sim.OktaUser{ID: id, Status: "ACTIVE", Login: login, Email: login, FirstName: "User", LastName: strconv.Itoa(i)})
		if i < adUsers {
			ext := fmt.Sprintf("AD%020d==", i)
			t.Okta.AppUsers = append(t.Okta.AppUsers, sim.OktaAppUser{AppID: "0oabigad", UserID: id, AppUserID: fmt.Sprintf("0uabigad%012d", i), ExternalID: &ext, UserName: login, Status: "ACTIVE"})
		}
		if i < o365Users {
			anchor := fmt.Sprintf("AD%020d==", i)
			ext := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			t.Okta.AppUsers = append(t.Okta.AppUsers, sim.OktaAppUser{AppID: "0oabigo365", UserID: id, AppUserID: fmt.Sprintf("0uabigo%013d", i), ExternalID: &ext, UserName: login, Status: "PROVISIONED",
				Profile: sim.AppUserProfile{ImmutableID: &anchor, Licenses: []string{"ENTERPRISEPACK"}, Roles: []string{}}})
		}
	}
	return t
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func TestCollectPaging(t *testing.T) {
	const users, o365Users, adUsers = 1050, 1050, 1001
	tests := []struct {
		name                    string
		usersPage, appUsersPage int
	}{
		{name: "Okta maxima", usersPage: 200, appUsersPage: 500},
		{name: "defaults", usersPage: 0, appUsersPage: 0},
		{name: "exact multiples", usersPage: 150, appUsersPage: 350},
		{name: "small pages", usersPage: 64, appUsersPage: 97},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := bigTenant(users, o365Users, adUsers)
			wantUsers, wantApps, wantAppUsers := expectedRecords(tenant)
			var perPath sync.Map
			count := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n, _ := perPath.LoadOrStore(r.URL.Path, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
					next.ServeHTTP(w, r)
				})
			}
			c, _ := fakeOrg(t, tenant, Config{UsersPageSize: tt.usersPage, AppUsersPageSize: tt.appUsersPage}, count)
			sink := &memorySink{}
			stats, err := c.Collect(context.Background(), sink)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}

			usersPage, appUsersPage := orDefault(tt.usersPage, 200), orDefault(tt.appUsersPage, 500)
			wantPages := map[string]int{
				"/api/v1/users":                                      ceilDiv(users, usersPage),
				"/api/v1/apps":                                       2,
				"/api/v1/apps/0oabigo365/users":                      ceilDiv(o365Users, appUsersPage),
				"/api/v1/apps/0oabigad/users":                        ceilDiv(adUsers, appUsersPage),
				"/api/v1/apps/0oabigo365/features/USER_PROVISIONING": 1,
				"/api/v1/mappings":                                   1,
				"/api/v1/mappings/prmbigo365":                        1,
			}
			gotPages := map[string]int{}
			perPath.Range(func(k, v any) bool { gotPages[k.(string)] = int(v.(*atomic.Int64).Load()); return true })
			if diff := cmp.Diff(wantPages, gotPages); diff != "" {
				t.Errorf("requests per path (-want +got):\n%s", diff)
			}
			wantRequests := 0
			for _, n := range wantPages {
				wantRequests += n
			}
			if stats.Requests != wantRequests {
				t.Errorf("stats.Requests = %d, want %d", stats.Requests, wantRequests)
			}

			// One batch per page, none empty, nothing lost or doubled.
			if want := wantRequests - 3; len(sink.batches) != want { // feature and mapping requests write no batch
				t.Errorf("%d batches, want one per page: %d", len(sink.batches), want)
			}
			for i, b := range sink.batches {
				if b.Len() == 0 {
					t.Errorf("batch %d is empty", i)
				}
			}
			gotUsers, gotApps, gotAppUsers := sink.all()
			if diff := cmp.Diff(wantUsers, gotUsers); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantApps, gotApps, cmpopts.IgnoreFields(record.OktaApp{}, "MappingID"), sortApps); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantAppUsers, gotAppUsers, cmpopts.EquateEmpty(), sortAppUsers); diff != "" {
				t.Errorf("app users (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectStopsWhenCancelled(t *testing.T) {
	tenant := bigTenant(2000, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var usersPages atomic.Int64
	sink := &notifySink{after: 400, reached: make(chan struct{})}
	// The third users page is where the operator presses Ctrl-C, once the
	// two before it are stored (it is asked for while the second is still
	// decoded); the fake would answer it, so the cancellation must come from
	// the context.
	cancelOnThird := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/users" && usersPages.Add(1) == 3 {
				closedWithin(sink.reached, 30*time.Second)
				cancel()
				<-r.Context().Done() // the client gives up on this request
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	c, _ := fakeOrg(t, tenant, Config{}, cancelOnThird)
	start := time.Now()
	stats, err := c.Collect(ctx, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect error = %v, want context.Canceled", err)
	}
	// Whichever list noticed first reports it: the app lists run beside.
	if !strings.Contains(err.Error(), "GET /api/v1/") {
		t.Errorf("error %q does not name the endpoint", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Collect took %v after cancellation", d)
	}
	if got := usersPages.Load(); got != 3 {
		t.Errorf("%d users requests, want 3: paging went on after cancellation", got)
	}
	// The app lists run beside the users list, so other requests may have
	// been made; the users read before the cancellation must be counted.
	if stats.Requests < 3 || stats.Counts[CountUsers] != 400 {
		t.Errorf("stats = %+v, want at least 3 requests and the 400 users read before", stats)
	}
}

// notifySink is a memorySink that closes reached once it holds after users.
type notifySink struct {
	memorySink
	after   int
	users   int
	reached chan struct{}
}

func (s *notifySink) Write(ctx context.Context, b record.Batch) error {
	err := s.memorySink.Write(ctx, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.users
	s.users += len(b.OktaUsers)
	if before < s.after && s.users >= s.after {
		close(s.reached)
	}
	return err
}

// sortAppUsers compares app users regardless of the order the concurrent
// lists delivered them in.
var sortAppUsers = cmpopts.SortSlices(func(a, b record.OktaAppUser) bool {
	if a.AppID != b.AppID {
		return a.AppID < b.AppID
	}
	return a.UserID < b.UserID
})

// sortApps compares apps regardless of the order the two templates,
// listed concurrently, delivered them in.
var sortApps = cmpopts.SortSlices(func(a, b record.OktaApp) bool { return a.ID < b.ID })

// breakNth replaces the body of the nth response to path with what mangle
// makes of it.
func breakNth(path string, nth int64, mangle func(w http.ResponseWriter, body []byte, header http.Header)) func(http.Handler) http.Handler {
	return breakNthWhere(func(r *http.Request) bool { return r.URL.Path == path }, nth, mangle)
}

// breakNthWhere is breakNth on the requests match accepts.
func breakNthWhere(match func(*http.Request) bool, nth int64, mangle func(w http.ResponseWriter, body []byte, header http.Header)) func(http.Handler) http.Handler {
	var n atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) || n.Add(1) != nth {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			h := rec.Header().Clone()
			h.Del("Content-Length")
			mangle(w, rec.Body.Bytes(), h)
		})
	}
}

func writeWith(w http.ResponseWriter, h http.Header, status int, body []byte) {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func TestCollectBrokenResponses(t *testing.T) {
	tests := []struct {
		name  string
		token string
		wrap  func(http.Handler) http.Handler
		// every string must appear in the error
		want []string
	}{
		{
			name: "truncated second users page",
			wrap: breakNth("/api/v1/users", 2, func(w http.ResponseWriter, body []byte, h http.Header) {
				writeWith(w, h, http.StatusOK, body[:len(body)/2])
			}),
			want: []string{"GET /api/v1/users (page 2, after=00ubig00000000000199)", "unreadable response", "unexpected end of JSON input"},
		},
		{
			name: "body shorter than its Content-Length",
			wrap: breakNth("/api/v1/users", 2, func(w http.ResponseWriter, body []byte, h http.Header) {
				h.Set("Content-Length", strconv.Itoa(len(body)))
				writeWith(w, h, http.StatusOK, body[:len(body)-10])
			}),
			want: []string{"GET /api/v1/users (page 2", "unexpected EOF"},
		},
		{
			name: "HTML instead of JSON",
			wrap: breakNth("/api/v1/users", 2, func(w http.ResponseWriter, _ []byte, h http.Header) {
				h.Set("Content-Type", "text/html; charset=utf-8")
				writeWith(w, h, http.StatusOK, []byte("<html><body>Service unavailable</body></html>"))
			}),
			want: []string{"GET /api/v1/users (page 2", `Content-Type "text/html; charset=utf-8"`},
		},
		{
			name: "empty 200 body",
			wrap: breakNth("/api/v1/users", 2, func(w http.ResponseWriter, _ []byte, h http.Header) {
				writeWith(w, h, http.StatusOK, nil)
			}),
			want: []string{"GET /api/v1/users (page 2", "empty body"},
		},
		{
			// The header the reader starts the next page from: the page
			// must fail by name, not be read past or read short.
			name: "malformed Link header on the second users page",
			wrap: breakNth("/api/v1/users", 2, func(w http.ResponseWriter, body []byte, h http.Header) {
				h.Set("Link", `https://big.okta.com/api/v1/users?after=x; rel="next"`)
				writeWith(w, h, http.StatusOK, body)
			}),
			want: []string{"GET /api/v1/users (page 2, after=00ubig00000000000199)", "malformed Link header"},
		},
		{
			name: "truncated app users page",
			wrap: breakNth("/api/v1/apps/0oabigo365/users", 1, func(w http.ResponseWriter, body []byte, h http.Header) {
				writeWith(w, h, http.StatusOK, body[:len(body)-1])
			}),
			want: []string{"GET /api/v1/apps/0oabigo365/users (page 1)", "unreadable response"},
		},
		{
			name: "truncated apps page",
			wrap: breakNthWhere(func(r *http.Request) bool {
				return r.URL.Path == "/api/v1/apps" && r.URL.Query().Get("filter") == `name eq "active_directory"`
			}, 1, func(w http.ResponseWriter, body []byte, h http.Header) {
				writeWith(w, h, http.StatusOK, body[:len(body)-3])
			}),
			want: []string{`GET /api/v1/apps?filter=name eq "active_directory" (page 1)`, "unreadable response"},
		},
		{
			name: "server error",
			wrap: breakNth("/api/v1/mappings", 1, func(w http.ResponseWriter, _ []byte, h http.Header) {
				writeWith(w, h, http.StatusInternalServerError, []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"x","errorCauses":[]}`))
			}),
			want: []string{"GET /api/v1/mappings?targetId=0oabigo365", "HTTP 500", "E0000009: Internal Server Error"},
		},
		{
			name:  "wrong token",
			token: "not-the-token",
			want:  []string{"(page 1)", "authentication failed", "E0000011: Invalid token provided"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One attempt: the retries would heal these one-off breakages
			// (TestCollectRetriesTransientFailures); here the error must name the page.
			c, _ := fakeOrg(t, bigTenant(450, 600, 10), Config{Token: tt.token, Retry: retry.Policy{Attempts: 1}}, tt.wrap)
			_, err := c.Collect(context.Background(), &memorySink{})
			if err == nil {
				t.Fatal("Collect succeeded on a broken response")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.token != "" && !errors.Is(err, ErrAuthentication) {
				t.Errorf("error %v is not ErrAuthentication", err)
			}
			if strings.Contains(err.Error(), testToken) || (tt.token != "" && strings.Contains(err.Error(), tt.token)) {
				t.Errorf("error %q leaks the token", err)
			}
		})
	}
}

func TestCollectRetriesRateLimited(t *testing.T) {
	var served atomic.Int64
	throttleFirst := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if served.Add(1) == 1 {
				now := time.Now()
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				// Reset now: the SDK waits reset - Date + 1 = 1 s.
				w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Unix(), 10))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"x","errorCauses":[]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	tenant := loadExampleTenant(t)
	c, _ := fakeOrg(t, tenant, Config{}, throttleFirst)
	sink := &memorySink{}
	stats, err := c.Collect(context.Background(), sink)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if stats.Counts[CountUsers] != len(tenant.Okta.Users) {
		t.Errorf("read %d users, want %d", stats.Counts[CountUsers], len(tenant.Okta.Users))
	}
	if want := 1 + 1 + 2 + 3 + 3; stats.Requests != want { // the 429 counts as a request
		t.Errorf("stats.Requests = %d, want %d", stats.Requests, want)
	}
}

func TestCollectIgnoresAmbientOktaConfig(t *testing.T) {
	tenant := loadExampleTenant(t)
	_, srv := fakeOrg(t, tenant, Config{}, nil) // isolates first; the ambient config is set after
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".okta"), 0o700); err != nil {
		t.Fatal(err)
	}
	yaml := "okta:\n  client:\n    orgUrl: https://elsewhere.okta.com\n    token: yaml-token\n    proxy:\n      host: 192.0.2.1\n      port: 3128\n    requestTimeout: 1\n"
	if err := os.WriteFile(filepath.Join(home, ".okta", "okta.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OKTA_CLIENT_TOKEN", "env-token")
	t.Setenv("OKTA_CLIENT_ORGURL", "https://elsewhere.okta.com")
	t.Setenv("OKTA_CLIENT_AUTHORIZATIONMODE", "Bearer")
	t.Setenv("OKTA_CLIENT_CACHE_ENABLED", "true")
	t.Setenv("OKTA_DEBUG", "true")

	c, err := New(Config{OrgURL: srv.URL, Token: testToken, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	// Two scans: a cache left on would answer the second from memory.
	for i := range 2 {
		stats, err := c.Collect(context.Background(), &memorySink{})
		if err != nil {
			t.Fatalf("scan %d: %v", i, err)
		}
		if stats.Requests != 9 || stats.Counts[CountUsers] != len(tenant.Okta.Users) {
			t.Errorf("scan %d: stats %+v, want 9 requests and %d users", i, stats, len(tenant.Okta.Users))
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	isolateSDK(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no org", cfg: Config{Token: "t"}, want: "not an absolute URL"},
		{name: "relative org", cfg: Config{OrgURL: "contoso.okta.com", Token: "t"}, want: "not an absolute URL"},
		{name: "plain http", cfg: Config{OrgURL: "http://contoso.okta.com", Token: "t"}, want: "must use https"},
		{name: "no token", cfg: Config{OrgURL: "https://contoso.okta.com"}, want: "token is empty"},
		{name: "users page too big", cfg: Config{OrgURL: "https://contoso.okta.com", Token: "t", UsersPageSize: 201}, want: "UsersPageSize 201 is outside 1..200"},
		{name: "negative app users page", cfg: Config{OrgURL: "https://contoso.okta.com", Token: "t", AppUsersPageSize: -1}, want: "AppUsersPageSize -1 is outside 1..500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) error = %v, want one containing %q", tt.cfg, err, tt.want)
			}
		})
	}
}

func TestCollectorName(t *testing.T) {
	isolateSDK(t)
	c, err := New(Config{OrgURL: "https://contoso.okta.com", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != record.SourceOkta {
		t.Errorf("Name() = %q, want %q", c.Name(), record.SourceOkta)
	}
}

func TestConvertAppUserRejectsWrongProfileTypes(t *testing.T) {
	tests := []struct {
		name    string
		profile map[string]any
		want    string
	}{
		{name: "numeric immutableId", profile: map[string]any{"immutableId": 42.0}, want: "profile.immutableId is a number, not a string"},
		{name: "licenses as string", profile: map[string]any{"licenses": "ENTERPRISEPACK"}, want: "profile.licenses is a string, not an array of strings"},
		{name: "role not a string", profile: map[string]any{"roles": []any{"a", true}}, want: "profile.roles[1] is a boolean, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "00u1"
			_, err := convertAppUser("0oa1", &okta.AppUser{Id: &id, Profile: tt.profile})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNextCursor(t *testing.T) {
	tests := []struct {
		name    string
		links   []string
		want    string
		wantErr string
	}{
		{name: "last page", links: []string{`<https://o.example/api/v1/users?limit=200>; rel="self"`}},
		{name: "separate headers", links: []string{`<https://o.example/api/v1/users?limit=200>; rel="self"`, `<https://o.example/api/v1/users?after=00u9&limit=200>; rel="next"`}, want: "00u9"},
		{name: "one header", links: []string{`<https://o.example/api/v1/users?limit=2>; rel="self", <https://o.example/api/v1/users?after=00u%2B1&limit=2>; rel="next"`}, want: "00u+1"},
		{name: "next without cursor", links: []string{`<https://o.example/api/v1/users?limit=2>; rel="next"`}, wantErr: "has no after cursor"},
		{name: "malformed", links: []string{`https://o.example/api/v1/users?after=x; rel="next"`}, wantErr: "malformed Link header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tt.links {
				h.Add("Link", l)
			}
			got, err := nextCursor(&okta.APIResponse{Response: &http.Response{Header: h, Body: io.NopCloser(bytes.NewReader(nil))}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("nextCursor = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
