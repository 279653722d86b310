package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
)

const testToken = "entra-test-token-5f1c9a"

func exampleTenant(t testing.TB) *sim.Tenant {
	t.Helper()
	tenant, err := sim.LoadFixtureFile("../sim/testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

// largeTenant has n federated members; every third has no anchor and every
// fifth is synced, so both states of each optional field occur on every page.
func largeTenant(n int) *sim.Tenant {
	tenant := &sim.Tenant{Format: sim.FormatV1, Entra: sim.Entra{
		TenantID:      "0b5f3c1e-7d1a-4c59-9a8e-2f6b1d4c8e70",
		InitialDomain: "big.onmicrosoft.com",
		Domains: []sim.EntraDomain{
			{ID: "big.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exkbig"},
			{ID: "big.onmicrosoft.com", AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
		},
	}}
	synced := true
	tenant.Entra.Users = make([]sim.EntraUser, n)
	for i := range tenant.Entra.Users {
		u := sim.EntraUser{
			ID:                fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			UserPrincipalName: fmt.Sprintf("user%06d@big.example", i),
			DisplayName:       fmt.Sprintf("User %d", i),
			Mail:              fmt.Sprintf("user%06d@big.example", i),
			AccountEnabled:    true,
			UserType:          "Member",
		}
		if i%3 != 0 {
			anchor := fmt.Sprintf("QW5jaG9y%06d==", i)
			u.OnPremisesImmutableID = &anchor
		}
		if i%5 == 0 {
			u.OnPremisesSyncEnabled = &synced
		}
		tenant.Entra.Users[i] = u
	}
	return tenant
}

// fakeGraph is the simulator's Graph on a TLS loopback server, behind an
// optional wrapper that can break responses, and a log of what it received.
type fakeGraph struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

func startGraph(t testing.TB, tenant *sim.Tenant, wrap func(http.Handler) http.Handler) *fakeGraph {
	t.Helper()
	return startGraphState(t, sim.NewState(tenant), wrap)
}

// received returns the requests whose path is path.
func (g *fakeGraph) received(path string) []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*http.Request
	for _, r := range g.requests {
		if r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (g *fakeGraph) all() []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*http.Request(nil), g.requests...)
}

func newCollector(t testing.TB, g *fakeGraph, edit func(*Config)) *Collector {
	t.Helper()
	cfg := Config{
		BaseURL:    g.URL + "/v1.0",
		Credential: NewStaticToken(testToken),
		HTTPClient: g.Client(), // trusts the test server's CA
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// memorySink keeps copies of every batch, in order.
type memorySink struct {
	mu      sync.Mutex
	batches []record.Batch
	onWrite func(record.Batch) error
}

func (s *memorySink) Write(_ context.Context, b record.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, record.Batch{
		EntraOrgs:    append([]record.EntraOrg(nil), b.EntraOrgs...),
		EntraDomains: append([]record.EntraDomain(nil), b.EntraDomains...),
		EntraUsers:   append([]record.EntraUser(nil), b.EntraUsers...),
	})
	if s.onWrite != nil {
		return s.onWrite(b)
	}
	return nil
}

func (s *memorySink) orgs() (out []record.EntraOrg) {
	for _, b := range s.batches {
		out = append(out, b.EntraOrgs...)
	}
	return out
}

func (s *memorySink) domains() (out []record.EntraDomain) {
	for _, b := range s.batches {
		out = append(out, b.EntraDomains...)
	}
	return out
}

func (s *memorySink) users() (out []record.EntraUser) {
	for _, b := range s.batches {
		out = append(out, b.EntraUsers...)
	}
	return out
}

// userPages is the size of each batch that carried users.
func (s *memorySink) userPages() (sizes []int) {
	for _, b := range s.batches {
		if len(b.EntraUsers) > 0 {
			sizes = append(sizes, len(b.EntraUsers))
		}
	}
	return sizes
}

// expectedUsers is what the collector must produce for the fixture's users:
// the fixture carries no creationType or on-premises DN/SAM, so those are
// null in Graph and empty here.
func expectedUsers(tenant *sim.Tenant) []record.EntraUser {
	var out []record.EntraUser
	for _, u := range tenant.Entra.Users {
		out = append(out, record.EntraUser{
			ID:                u.ID,
			UserPrincipalName: u.UserPrincipalName,
			DisplayName:       u.DisplayName,
			Mail:              u.Mail,
			AccountEnabled:    u.AccountEnabled,
			UserType:          u.UserType,
			ImmutableID:       deref(u.OnPremisesImmutableID),
			SyncEnabled:       deref(u.OnPremisesSyncEnabled),
			SecurityID:        deref(u.OnPremisesSecurityIdentifier),
		})
	}
	return out
}

func TestCollectExampleTenant(t *testing.T) {
	tenant := exampleTenant(t)
	g := startGraph(t, tenant, nil)
	c := newCollector(t, g, func(cfg *Config) { cfg.TenantID = "48E61BD8-AAFD-43D9-91C1-C7DE8CD8E6E2" })
	sink := &memorySink{}
	stats, err := c.Collect(context.Background(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != record.SourceEntra {
		t.Errorf("Name() = %q", c.Name())
	}

	wantOrg := []record.EntraOrg{{TenantID: "48e61bd8-aafd-43d9-91c1-c7de8cd8e6e2", DisplayName: "Contoso", InitialDomain: "contoso.onmicrosoft.com"}}
	if diff := cmp.Diff(wantOrg, sink.orgs()); diff != "" {
		t.Errorf("organization (-want +got):\n%s", diff)
	}
	wantDomains := []record.EntraDomain{
		{ID: "contoso.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exkchylatw2mg5oxvlen"},
		{ID: "contoso.onmicrosoft.com", AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
		{ID: "cloud.contoso.example", AuthenticationType: "Managed", IsVerified: true},
	}
	if diff := cmp.Diff(wantDomains, sink.domains()); diff != "" {
		t.Errorf("domains (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(expectedUsers(tenant), sink.users()); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}

	// The cases a classifier depends on, spelled out: anchor null vs set,
	// sync true vs null, a guest.
	byUPN := map[string]record.EntraUser{}
	for _, u := range sink.users() {
		byUPN[u.UserPrincipalName] = u
	}
	checks := []struct {
		name string
		upn  string
		ok   func(record.EntraUser) bool
	}{
		{"anchor set", "ok-ad@contoso.example", func(u record.EntraUser) bool { return u.ImmutableID == "Pqlfffo2uEqbF4UcX9pvFQ==" }},
		{"anchor null", "missing-ad@contoso.example", func(u record.EntraUser) bool { return u.ImmutableID == "" }},
		{"anchor not base64", "encoded@contoso.example", func(u record.EntraUser) bool { return u.ImmutableID == "0c9e4327-97df-4af9-afa3-b17edeaf1d0f" }},
		{"synced", "synced@contoso.example", func(u record.EntraUser) bool {
			return u.SyncEnabled && u.SecurityID == "S-1-5-21-1004336348-1177238915-682003330-1109"
		}},
		{"sync null", "ok-ad@contoso.example", func(u record.EntraUser) bool { return !u.SyncEnabled && u.SecurityID == "" }},
		{"guest", "guest-partner_contoso.example#EXT#@contoso.onmicrosoft.com", func(u record.EntraUser) bool { return u.UserType == "Guest" }},
	}
	for _, tt := range checks {
		u, found := byUPN[tt.upn]
		if !found || !tt.ok(u) {
			t.Errorf("%s: %s read as %+v (found %v)", tt.name, tt.upn, u, found)
		}
	}

	wantStats := record.Stats{
		// organization, domains, one federationConfiguration, the users
		// delta link ($deltatoken=latest), one users page
		Requests: 5,
		Counts:   map[string]int{"organizations": 1, "domains": 3, "federationConfigurations": 1, "users": len(tenant.Entra.Users)},
	}
	if diff := cmp.Diff(wantStats, stats, cmpopts.IgnoreFields(record.Stats{}, "Sync")); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if n := len(g.all()); n != stats.Requests {
		t.Errorf("server saw %d requests, stats say %d", n, stats.Requests)
	}
}

// The Azure token provider sends no Authorization header to a host outside
// its allow-list, without an error: every request must carry the token.
func TestCollectSendsBearerToken(t *testing.T) {
	g := startGraph(t, exampleTenant(t), nil)
	if _, err := newCollector(t, g, nil).Collect(context.Background(), &memorySink{}); err != nil {
		t.Fatal(err)
	}
	reqs := g.all()
	if len(reqs) == 0 {
		t.Fatal("no requests reached the server")
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("%s %s: Authorization %q, want the bearer token", r.Method, r.URL, got)
		}
	}
}

func TestCollectSelectsAnchorAndPageSize(t *testing.T) {
	g := startGraph(t, exampleTenant(t), nil)
	if _, err := newCollector(t, g, nil).Collect(context.Background(), &memorySink{}); err != nil {
		t.Fatal(err)
	}
	reqs := g.received("/v1.0/users")
	if len(reqs) != 1 {
		t.Fatalf("%d /users requests, want 1", len(reqs))
	}
	q := reqs[0].URL.Query()
	if diff := cmp.Diff(userSelect, strings.Split(q.Get("$select"), ",")); diff != "" {
		t.Errorf("$select (-want +got):\n%s", diff)
	}
	if q.Get("$top") != "999" {
		t.Errorf("$top = %q, want 999", q.Get("$top"))
	}
}

func TestCollectPaging(t *testing.T) {
	tests := []struct {
		name      string
		users     int
		pageSize  int
		wantPages []int
	}{
		{name: "2,500 users at 999", users: 2500, pageSize: 0, wantPages: []int{999, 999, 502}},
		{name: "exact multiple", users: 1998, pageSize: 999, wantPages: []int{999, 999}},
		{name: "small pages", users: 25, pageSize: 10, wantPages: []int{10, 10, 5}},
		{name: "empty tenant", users: 0, pageSize: 0, wantPages: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := largeTenant(tt.users)
			g := startGraph(t, tenant, nil)
			c := newCollector(t, g, func(cfg *Config) { cfg.PageSize = tt.pageSize })
			sink := &memorySink{}
			stats, err := c.Collect(context.Background(), sink)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPages, sink.userPages()); diff != "" {
				t.Errorf("user batches (-want +got):\n%s", diff)
			}
			// Requests for users are exactly ceil(users/pageSize), at least one.
			wantUserRequests := max(len(tt.wantPages), 1)
			if got := len(g.received("/v1.0/users")); got != wantUserRequests {
				t.Errorf("%d /users requests, want %d", got, wantUserRequests)
			}
			// Organization, domains, one federationConfiguration and the
			// users delta link, then the users pages.
			if stats.Requests != 4+wantUserRequests {
				t.Errorf("stats.Requests = %d, want %d", stats.Requests, 4+wantUserRequests)
			}
			if diff := cmp.Diff(expectedUsers(tenant), sink.users()); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectHostileDisplayNames(t *testing.T) {
	hostile := []string{
		`<script>alert("x")</script>`,
		"tab\there\nnewline\x00nul",
		`"quoted" \backslash\ 'single'`,
		"=HYPERLINK(\"http://evil.example\")",
		"émoji 👩‍💻 \u2028 RTL \u202e",
	}
	tenant := exampleTenant(t)
	for i, s := range hostile {
		tenant.Entra.Users[i].DisplayName = s
	}
	g := startGraph(t, tenant, nil)
	sink := &memorySink{}
	if _, err := newCollector(t, g, nil).Collect(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	got := sink.users()
	for i, s := range hostile {
		if got[i].DisplayName != s {
			t.Errorf("displayName %q read as %q", s, got[i].DisplayName)
		}
	}
}

func TestCollectCancellation(t *testing.T) {
	t.Run("cancelled before start", func(t *testing.T) {
		g := startGraph(t, exampleTenant(t), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newCollector(t, g, nil).Collect(ctx, &memorySink{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if n := len(g.all()); n != 0 {
			t.Errorf("%d requests sent after cancellation", n)
		}
	})
	t.Run("cancelled between pages", func(t *testing.T) {
		g := startGraph(t, largeTenant(2500), nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := &memorySink{onWrite: func(b record.Batch) error {
			if len(b.EntraUsers) > 0 {
				cancel()
			}
			return nil
		}}
		stats, err := newCollector(t, g, nil).Collect(ctx, sink)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if got := len(g.received("/v1.0/users")); got != 1 {
			t.Errorf("%d /users requests, want 1: collection must stop at the cancelled page", got)
		}
		if stats.Counts["users"] != 999 {
			t.Errorf("stats count %d users, want the 999 read", stats.Counts["users"])
		}
	})
}

// breakNth replaces the nth response (1-based) for path with what breaker
// writes, given the real response.
func breakNth(path string, n int, breaker func(w http.ResponseWriter, real *httptest.ResponseRecorder)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		var mu sync.Mutex
		seen := 0
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if r.URL.Path == path {
				seen++
			}
			hit := r.URL.Path == path && seen == n
			mu.Unlock()
			if !hit {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			breaker(w, rec)
		})
	}
}

func respond(status int, contentType, body string) func(http.ResponseWriter, *httptest.ResponseRecorder) {
	return func(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestCollectFailuresAreErrors(t *testing.T) {
	const odataJSON = "application/json;odata.metadata=minimal"
	tests := []struct {
		name      string
		tenant    *sim.Tenant
		wrap      func(http.Handler) http.Handler
		token     string
		wantErr   []string // substrings of the error
		wantUsers int      // users written before the failure
	}{
		{
			name: "second users page truncated", tenant: largeTenant(2500),
			wrap: breakNth("/v1.0/users", 2, func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
				body := real.Body.Bytes()
				w.Header().Set("Content-Type", real.Header().Get("Content-Type"))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(body[:len(body)/2])
			}),
			wantErr: []string{"GET /users page 2", "HTTP 200", "unreadable response body"}, wantUsers: 999,
		},
		{
			name: "second users page cut mid-stream", tenant: largeTenant(2500),
			wrap: breakNth("/v1.0/users", 2, func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
				body := real.Body.Bytes()
				w.Header().Set("Content-Type", real.Header().Get("Content-Type"))
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(body[:len(body)/2])
				panic(http.ErrAbortHandler) // drop the connection, as a reset would
			}),
			wantErr: []string{"GET /users page 2"}, wantUsers: 999,
		},
		{
			name: "users page is not JSON", tenant: largeTenant(2500),
			wrap:    breakNth("/v1.0/users", 2, respond(200, "text/html", "<html><body>Service Unavailable</body></html>")),
			wantErr: []string{"GET /users page 2", "HTTP 200"}, wantUsers: 999,
		},
		{
			name: "users page without value", tenant: largeTenant(2500),
			wrap:    breakNth("/v1.0/users", 2, respond(200, odataJSON, `{"@odata.context":"x"}`)),
			wantErr: []string{"GET /users page 2", "no value array"}, wantUsers: 999,
		},
		{
			name: "user without id", tenant: exampleTenant(t),
			wrap:    breakNth("/v1.0/users", 1, respond(200, odataJSON, `{"value":[{"userPrincipalName":"x@contoso.example"}]}`)),
			wantErr: []string{"GET /users", "no id"},
		},
		{
			name: "500 with OData body", tenant: exampleTenant(t),
			wrap: breakNth("/v1.0/users", 1, respond(500, odataJSON,
				`{"error":{"code":"UnknownError","message":"Something broke","innerError":{"request-id":"r-1"}}}`)),
			wantErr: []string{"GET /users", "HTTP 500", "UnknownError", "Something broke", "r-1"},
		},
		{
			name: "500 with an HTML body", tenant: exampleTenant(t),
			wrap:    breakNth("/v1.0/domains", 1, respond(500, "text/html", "<h1>oops</h1>")),
			wantErr: []string{"GET /domains", "HTTP 500"},
		},
		{
			name: "error body without message", tenant: exampleTenant(t),
			wrap:    breakNth("/v1.0/domains/contoso.example/federationConfiguration", 1, respond(400, odataJSON, `{"error":{"code":"Boom"}}`)),
			wantErr: []string{"GET /domains/contoso.example/federationConfiguration", "HTTP 400", "Boom"},
		},
		{
			name: "error body without code or message", tenant: exampleTenant(t),
			wrap:    breakNth("/v1.0/organization", 1, respond(403, odataJSON, `{"error":{}}`)),
			wantErr: []string{"GET /organization", "HTTP 403", "without error.code or error.message"},
		},
		{
			name: "empty 200", tenant: exampleTenant(t),
			wrap:    breakNth("/v1.0/organization", 1, respond(200, odataJSON, "")),
			wantErr: []string{"GET /organization", "empty response body"},
		},
		{
			name: "wrong token", tenant: exampleTenant(t), token: "not-the-token",
			wantErr: []string{"GET /organization", "HTTP 401", "InvalidAuthenticationToken"},
		},
		{
			name: "nextLink to another host", tenant: largeTenant(1500),
			wrap: breakNth("/v1.0/users", 1, respond(200, odataJSON,
				`{"@odata.nextLink":"https://graph.microsoft.us/v1.0/users?$skiptoken=x","value":[]}`)),
			wantErr: []string{"GET /users", "leaves the configured Graph host"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGraph(t, tt.tenant, tt.wrap)
			c := newCollector(t, g, func(cfg *Config) {
				if tt.token != "" {
					cfg.Credential = NewStaticToken(tt.token)
				}
				// One attempt: retries heal these one-off breakages
				// (TestCollectRetriesTransientFailures); here the error must name the page.
				cfg.Retry = retry.Policy{Attempts: 1}
			})
			sink := &memorySink{}
			stats, err := c.Collect(context.Background(), sink)
			if err == nil {
				t.Fatalf("no error; wrote %d users", len(sink.users()))
			}
			t.Logf("error: %v", err)
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			var ge *GraphError
			if !errors.As(err, &ge) {
				t.Errorf("error %T is not a *GraphError", err)
			}
			if got := len(sink.users()); got != tt.wantUsers || stats.Counts["users"] != tt.wantUsers {
				t.Errorf("wrote %d users, stats say %d, want %d", got, stats.Counts["users"], tt.wantUsers)
			}
		})
	}
}

func TestCollectRefusesAnotherTenant(t *testing.T) {
	g := startGraph(t, exampleTenant(t), nil)
	c := newCollector(t, g, func(cfg *Config) { cfg.TenantID = "11111111-2222-3333-4444-555555555555" })
	sink := &memorySink{}
	_, err := c.Collect(context.Background(), sink)
	if err == nil || !strings.Contains(err.Error(), "11111111-2222-3333-4444-555555555555") {
		t.Fatalf("error = %v, want one naming the configured tenant", err)
	}
	if len(sink.batches) != 0 {
		t.Errorf("wrote %d batches from the wrong tenant", len(sink.batches))
	}
}

func TestCollectSinkErrorStops(t *testing.T) {
	g := startGraph(t, largeTenant(2500), nil)
	full := errors.New("disk full")
	sink := &memorySink{onWrite: func(b record.Batch) error {
		if len(b.EntraUsers) > 0 {
			return full
		}
		return nil
	}}
	_, err := newCollector(t, g, nil).Collect(context.Background(), sink)
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "users page 1") {
		t.Fatalf("error = %v, want the sink's error naming users page 1", err)
	}
	if got := len(g.received("/v1.0/users")); got != 1 {
		t.Errorf("%d /users requests after the sink failed, want 1", got)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	cred := NewStaticToken(testToken)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no credential", cfg: Config{}, wantErr: "Credential is required"},
		{name: "plain http", cfg: Config{Credential: cred, BaseURL: "http://127.0.0.1:8080/v1.0"}, wantErr: "https"},
		{name: "relative", cfg: Config{Credential: cred, BaseURL: "/v1.0"}, wantErr: "https"},
		{name: "query", cfg: Config{Credential: cred, BaseURL: "https://graph.microsoft.com/v1.0?x=1"}, wantErr: "query"},
		{name: "page too large", cfg: Config{Credential: cred, PageSize: 1000}, wantErr: "1..999"},
		{name: "negative page", cfg: Config{Credential: cred, PageSize: -1}, wantErr: "1..999"},
		{name: "defaults", cfg: Config{Credential: cred}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.base.String() != DefaultBaseURL || c.pageSize != MaxPageSize {
					t.Errorf("defaults: base %s page %d", c.base, c.pageSize)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStaticTokenNeverPrints(t *testing.T) {
	tok := NewStaticToken(testToken)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("credential", "cred", tok, "config", Config{Credential: tok})
	jsonOut, err := json.Marshal(Config{Credential: tok})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", tok),
		"%+v":  fmt.Sprintf("%+v", tok),
		"%#v":  fmt.Sprintf("%#v", tok),
		"%s":   fmt.Sprintf("%s", tok),
		"%q":   fmt.Sprintf("%q", tok),
		"%x":   fmt.Sprintf("%x", tok),
		"cfg":  fmt.Sprintf("%+v", Config{Credential: tok}),
		"slog": logged.String(),
		"json": string(jsonOut),
	}
	for name, out := range outputs {
		if strings.Contains(out, testToken) || strings.Contains(out, fmt.Sprintf("%x", testToken)) {
			t.Errorf("%s prints the token: %s", name, out)
		}
	}
	got, err := tok.GetToken(context.Background(), policyOptions())
	if err != nil || got.Token != testToken {
		t.Errorf("GetToken = %q, %v; want the token", got.Token, err)
	}
	if _, err := NewStaticToken("").GetToken(context.Background(), policyOptions()); err == nil {
		t.Error("an empty static token was handed out")
	}
}

func policyOptions() policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
}

// The SDK's retry middleware stays in the pipeline: a throttled page is
// retried after Retry-After, and the retry is counted as a request.
func TestCollectRetriesThrottledPage(t *testing.T) {
	tenant := largeTenant(1500)
	g := startGraph(t, tenant, breakNth("/v1.0/users", 2, func(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
		w.Header().Set("Retry-After", "0")
		respond(http.StatusTooManyRequests, "application/json",
			`{"error":{"code":"TooManyRequests","message":"Too many requests"}}`)(w, nil)
	}))
	sink := &memorySink{}
	stats, err := newCollector(t, g, nil).Collect(context.Background(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(g.received("/v1.0/users")); got != 3 {
		t.Errorf("%d /users requests, want 3 (two pages, one retry)", got)
	}
	// Organization, domains, federationConfiguration, the users delta
	// link, and three /users requests.
	if stats.Requests != 7 {
		t.Errorf("stats.Requests = %d, want 7", stats.Requests)
	}
	if diff := cmp.Diff(expectedUsers(tenant), sink.users()); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// TestTokenProviderAllowListIgnoresPort pins the SDK behaviour newGraphClient
// relies on: the allow-list is matched against the URL's hostname without
// its port, and a miss yields no token and no error.
func TestTokenProviderAllowListIgnoresPort(t *testing.T) {
	target, err := url.Parse("https://127.0.0.1:8443/v1.0/users")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		hosts     []string
		wantToken string
	}{
		{name: "hostname", hosts: []string{"127.0.0.1"}, wantToken: testToken},
		{name: "host with port matches nothing", hosts: []string{"127.0.0.1:8443"}, wantToken: ""},
		{name: "graph hosts only", hosts: graphHosts, wantToken: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := kiotaazure.NewAzureIdentityAccessTokenProviderWithScopesAndValidHosts(NewStaticToken(testToken), nil, tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.GetAuthorizationToken(context.Background(), target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantToken {
				t.Errorf("token = %q, want %q", got, tt.wantToken)
			}
		})
	}
}
