package entra

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
)

// startGraphState serves st (whose changes a test makes) the way startGraph
// serves a tenant.
func startGraphState(t testing.TB, st *sim.State, wrap func(http.Handler) http.Handler) *fakeGraph {
	t.Helper()
	var h http.Handler = sim.NewGraphHandler(st, sim.GraphOptions{Token: testToken})
	if wrap != nil {
		h = wrap(h)
	}
	g := &fakeGraph{}
	g.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.requests = append(g.requests, r.Clone(context.Background()))
		g.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

const deltaPath = "/v1.0/users/delta()"

// changeSink keeps what an incremental read wrote, removals included.
type changeSink struct {
	mu      sync.Mutex
	batches []record.Batch
}

func (s *changeSink) Write(_ context.Context, b record.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := record.Batch{
		EntraOrgs:    slices.Clone(b.EntraOrgs),
		EntraDomains: slices.Clone(b.EntraDomains),
		EntraUsers:   slices.Clone(b.EntraUsers),
	}
	if b.Removed != nil {
		c.Removed = &record.Removals{EntraUsers: slices.Clone(b.Removed.EntraUsers)}
	}
	s.batches = append(s.batches, c)
	return nil
}

// apply patches users (by id) with the batches as the store's change sink
// does: per batch, removals and replaced records out, then records in.
func (s *changeSink) apply(users map[string]record.EntraUser) {
	for _, b := range s.batches {
		if b.Removed != nil {
			for _, id := range b.Removed.EntraUsers {
				delete(users, id)
			}
		}
		for _, u := range b.EntraUsers {
			users[u.ID] = u
		}
	}
}

func byID(users []record.EntraUser) map[string]record.EntraUser {
	m := make(map[string]record.EntraUser, len(users))
	for _, u := range users {
		m[u.ID] = u
	}
	return m
}

// A full collection asks for a users delta link for now, before the users
// list and with its $select, and reports it as the next read's start; a
// read of changes right after finds none and costs four requests.
func TestCollectRecordsDeltaLink(t *testing.T) {
	tenant := exampleTenant(t)
	g := startGraph(t, tenant, nil)
	c := newCollector(t, g, nil)
	stats, err := c.Collect(context.Background(), &memorySink{})
	if err != nil {
		t.Fatal(err)
	}
	link := stats.Sync[SyncDeltaLink]
	u, err := url.Parse(link)
	if err != nil || u.Host != strings.TrimPrefix(g.URL, "https://") || !u.Query().Has("$deltatoken") {
		t.Fatalf("Sync delta link %q is not a delta link on the Graph host %s", link, g.URL)
	}
	if got, want := stats.Sync[SyncTenantID], strings.ToLower(tenant.Entra.TenantID); got != want {
		t.Errorf("Sync tenant %q, want %q", got, want)
	}

	var paths []string
	for _, r := range g.all() {
		paths = append(paths, r.URL.Path)
	}
	latest, list := slices.Index(paths, deltaPath), slices.Index(paths, "/v1.0/users")
	if latest < 0 || list < latest {
		t.Fatalf("requests %v: want the users delta link asked for before the users list", paths)
	}
	q := g.all()[latest].URL.Query()
	if q.Get("$deltatoken") != "latest" {
		t.Errorf("delta link asked for with $deltatoken=%q, want latest", q.Get("$deltatoken"))
	}
	if diff := cmp.Diff(userSelect, strings.Split(q.Get("$select"), ",")); diff != "" {
		t.Errorf("delta $select differs from the users list's (-want +got):\n%s", diff)
	}

	sink := &changeSink{}
	changes, err := c.CollectChanges(context.Background(), sink, stats.Sync)
	if err != nil {
		t.Fatal(err)
	}
	// Organization, domains, one federationConfiguration, one delta page.
	wantCounts := map[string]int{"organizations": 1, "domains": 3, "federationConfigurations": 1, "users": 0, "removed": 0}
	if diff := cmp.Diff(wantCounts, changes.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if changes.Requests != 4 {
		t.Errorf("%d requests for no change, want 4", changes.Requests)
	}
	if changes.Sync[SyncDeltaLink] == "" {
		t.Error("no delta link for the read after")
	}
}

// After the simulator changes Entra users, the changes read from the last
// delta link, applied to the users of the full read, equal a new full read;
// the changed and removed ids are exactly the ones the simulator changed,
// and the read costs the short lists plus ceil(changes/page) delta pages.
func TestCollectChangesMatchesFullRead(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
		wantPage int // the delta page size the simulator serves
	}{
		{name: "default page size", pageSize: 0, wantPage: 200},
		{name: "small pages", pageSize: 7, wantPage: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := sim.NewState(largeTenant(1_000))
			g := startGraphState(t, st, nil)
			c := newCollector(t, g, func(cfg *Config) { cfg.PageSize = tt.pageSize })
			before := &memorySink{}
			full, err := c.Collect(ctx, before)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := st.Mutate(7, 0.2)
			if err != nil {
				t.Fatal(err)
			}
			wantChanged, wantRemoved := sum.Changes.EntraUsers, sum.Changes.EntraUsersRemoved
			if len(wantChanged) == 0 || len(wantRemoved) == 0 {
				t.Fatalf("mutation changed %d and removed %d Entra users; the test needs both", len(wantChanged), len(wantRemoved))
			}

			sink := &changeSink{}
			stats, err := c.CollectChanges(ctx, sink, full.Sync)
			if err != nil {
				t.Fatal(err)
			}
			var gotChanged, gotRemoved []string
			for _, b := range sink.batches {
				for _, u := range b.EntraUsers {
					gotChanged = append(gotChanged, u.ID)
				}
				if b.Removed != nil {
					gotRemoved = append(gotRemoved, b.Removed.EntraUsers...)
				}
			}
			slices.Sort(gotChanged)
			slices.Sort(gotRemoved)
			if diff := cmp.Diff(wantChanged, gotChanged); diff != "" {
				t.Errorf("changed users (-simulator +read):\n%s", diff)
			}
			if diff := cmp.Diff(wantRemoved, gotRemoved); diff != "" {
				t.Errorf("removed users (-simulator +read):\n%s", diff)
			}

			users := byID(before.users())
			sink.apply(users)
			after := &memorySink{}
			if _, err := c.Collect(ctx, after); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(byID(after.users()), users); diff != "" {
				t.Errorf("full read then changes differ from a new full read (-full +incremental):\n%s", diff)
			}
			if diff := cmp.Diff(after.orgs(), sink.batches[0].EntraOrgs); diff != "" {
				t.Errorf("organization (-full +incremental):\n%s", diff)
			}
			if diff := cmp.Diff(after.domains(), sink.batches[1].EntraDomains); diff != "" {
				t.Errorf("domains (-full +incremental):\n%s", diff)
			}

			changes := len(wantChanged) + len(wantRemoved)
			pages := (changes + tt.wantPage - 1) / tt.wantPage
			t.Logf("%d changed, %d removed: %d delta pages, %d requests", len(wantChanged), len(wantRemoved), pages, stats.Requests)
			if got := len(g.received(deltaPath)) - 2; got != pages { // minus the two $deltatoken=latest calls
				t.Errorf("%d delta pages for %d changes, want %d", got, changes, pages)
			}
			if want := 3 + pages; stats.Requests != want {
				t.Errorf("%d requests, want %d (organization, domains, federationConfiguration, %d delta pages)", stats.Requests, want, pages)
			}
			if stats.Counts["users"] != len(wantChanged) || stats.Counts["removed"] != len(wantRemoved) {
				t.Errorf("counts %v, want %d users and %d removed", stats.Counts, len(wantChanged), len(wantRemoved))
			}
			if stats.Sync[SyncDeltaLink] == "" || stats.Sync[SyncDeltaLink] == full.Sync[SyncDeltaLink] {
				t.Errorf("Sync %v: want a new delta link", stats.Sync)
			}

			// The new link carries on from here: nothing changed since.
			again := &changeSink{}
			if _, err := c.CollectChanges(ctx, again, stats.Sync); err != nil {
				t.Fatal(err)
			}
			for _, b := range again.batches {
				if len(b.EntraUsers) > 0 || b.Removed.Len() > 0 {
					t.Errorf("read again with nothing changed: %d users, %d removed", len(b.EntraUsers), b.Removed.Len())
				}
			}
		})
	}
}

// Whenever the stored link cannot be followed, CollectChanges returns
// record.ErrResync without writing anything; other failures are not.
func TestCollectChangesResync(t *testing.T) {
	const odataJSON = "application/json;odata.metadata=minimal"
	tests := []struct {
		name       string
		wrap       func(http.Handler) http.Handler
		edit       func(st *sim.State, since map[string]string)
		wantResync bool
		wantErr    string
	}{
		{name: "expired delta token", edit: func(st *sim.State, _ map[string]string) { st.ExpireDeltaTokens() },
			wantResync: true, wantErr: "syncStateNotFound"},
		{name: "410 gone", wrap: breakNth(deltaPath, 2, respond(http.StatusGone, odataJSON,
			`{"error":{"code":"resyncRequired","message":"Resync required."}}`)),
			wantResync: true, wantErr: "HTTP 410"},
		{name: "no delta link", edit: func(_ *sim.State, since map[string]string) { delete(since, SyncDeltaLink) },
			wantResync: true, wantErr: "no users delta link"},
		{name: "delta link to another host", edit: func(_ *sim.State, since map[string]string) {
			since[SyncDeltaLink] = "https://graph.microsoft.us/v1.0/users/delta()?$deltatoken=x"
		}, wantResync: true, wantErr: "leaves the configured Graph host"},
		{name: "another tenant", edit: func(_ *sim.State, since map[string]string) {
			since[SyncTenantID] = "11111111-2222-3333-4444-555555555555"
		}, wantResync: true, wantErr: "11111111-2222-3333-4444-555555555555"},
		{name: "server error is no resync", wrap: breakNth(deltaPath, 2, respond(http.StatusInternalServerError, odataJSON,
			`{"error":{"code":"UnknownError","message":"Something broke"}}`)),
			wantResync: false, wantErr: "HTTP 500"},
		{name: "other 400 is no resync", wrap: breakNth(deltaPath, 2, respond(http.StatusBadRequest, odataJSON,
			`{"error":{"code":"Request_BadRequest","message":"Bad request"}}`)),
			wantResync: false, wantErr: "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := sim.NewState(exampleTenant(t))
			g := startGraphState(t, st, tt.wrap)
			c := newCollector(t, g, func(cfg *Config) { cfg.Retry = retry.Policy{Attempts: 1} })
			full, err := c.Collect(context.Background(), &memorySink{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(st, full.Sync)
			}
			sink := &changeSink{}
			_, err = c.CollectChanges(context.Background(), sink, full.Sync)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, record.ErrResync); got != tt.wantResync {
				t.Errorf("errors.Is(%v, ErrResync) = %v, want %v", err, got, tt.wantResync)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not name %q", err, tt.wantErr)
			}
			if len(sink.batches) != 0 {
				t.Errorf("wrote %d batches before failing on the first delta page", len(sink.batches))
			}
		})
	}
}

func TestDeltaChanges(t *testing.T) {
	user := func(id, upn string) models.Userable {
		u := models.NewUser()
		u.SetId(&id)
		u.SetUserPrincipalName(&upn)
		return u
	}
	gone := func(id string) models.Userable {
		u := models.NewUser()
		u.SetId(&id)
		u.SetAdditionalData(map[string]any{"@removed": map[string]any{"reason": "changed"}})
		return u
	}
	tests := []struct {
		name        string
		page        []models.Userable
		wantChanged []string // UPNs
		wantRemoved []string
		wantErr     string
	}{
		{name: "changed and removed", page: []models.Userable{user("a", "a@x"), gone("b")},
			wantChanged: []string{"a@x"}, wantRemoved: []string{"b"}},
		{name: "changed then removed is removed", page: []models.Userable{user("a", "a@x"), gone("a")},
			wantRemoved: []string{"a"}},
		{name: "removed then restored is changed", page: []models.Userable{gone("a"), user("a", "a@x")},
			wantChanged: []string{"a@x"}},
		{name: "changed twice keeps the last", page: []models.Userable{user("a", "old@x"), user("a", "new@x")},
			wantChanged: []string{"new@x"}},
		{name: "empty page", page: []models.Userable{}},
		{name: "user without id", page: []models.Userable{models.NewUser()}, wantErr: "user 0 of the page has no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed, removed, err := deltaChanges("GET /users/delta", tt.page)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var upns []string
			for _, u := range changed {
				upns = append(upns, u.UserPrincipalName)
			}
			if diff := cmp.Diff(tt.wantChanged, upns); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
		})
	}
}

// interruptedSink keeps what it is given, with the checkpoints, and fails
// the users page failAt (1-based; 0 never), as a crash would.
type interruptedSink struct {
	memorySink
	checkpoints map[string]record.Checkpoint
	userPages   int
	failAt      int
}

var errInterrupted = errors.New("interrupted")

func (s *interruptedSink) Write(ctx context.Context, b record.Batch) error {
	if len(b.EntraUsers) > 0 {
		s.userPages++
		if s.userPages == s.failAt {
			return errInterrupted
		}
	}
	if b.Checkpoint != nil {
		s.checkpoints[b.Checkpoint.List] = *b.Checkpoint
	}
	return s.memorySink.Write(ctx, b)
}

// A users list resumed after a crash reports the delta link asked for
// before the list first started, not a new one: a user changed between the
// crash and the resume, on a page stored before the crash, then reaches
// the snapshot through the next incremental read.
func TestResumedCollectKeepsItsDeltaLink(t *testing.T) {
	ctx := context.Background()
	tenant := largeTenant(2_500)
	g := startGraphState(t, sim.NewState(tenant), nil)
	c := newCollector(t, g, nil)
	sink := &interruptedSink{checkpoints: map[string]record.Checkpoint{}, failAt: 2}
	if _, err := c.Collect(ctx, sink); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted collection: %v", err)
	}
	stored := sink.checkpoints[listUsersDelta].Cursor
	if stored == "" || sink.checkpoints[listUsers].Done() {
		t.Fatalf("checkpoints after the crash %+v: want a delta link and an unfinished users list", sink.checkpoints)
	}

	// user 1 is on the stored first page; moving its UPN to the managed
	// initial domain is a change Entra accepts.
	admin, err := NewAdmin(Config{BaseURL: g.URL + "/v1.0", Credential: NewStaticToken(testToken), HTTPClient: g.Client()})
	if err != nil {
		t.Fatal(err)
	}
	moved := tenant.Entra.Users[1]
	if err := admin.UpdateUser(ctx, moved.ID, UserPatch{UserPrincipalName: "user000001@big.onmicrosoft.com"}); err != nil {
		t.Fatal(err)
	}

	sink.failAt = 0
	resumed, err := c.CollectFrom(ctx, sink, sink.checkpoints)
	if err != nil {
		t.Fatal(err)
	}
	if got := resumed.Sync[SyncDeltaLink]; got != stored {
		t.Errorf("resumed Sync delta link %q, want the one stored before the crash %q", got, stored)
	}
	latest := 0
	for _, r := range g.received(deltaPath) {
		if r.URL.Query().Get("$deltatoken") == "latest" {
			latest++
		}
	}
	if latest != 1 {
		t.Errorf("%d $deltatoken=latest requests, want 1: the resumed list must not ask again", latest)
	}

	changes := &changeSink{}
	if _, err := c.CollectChanges(ctx, changes, resumed.Sync); err != nil {
		t.Fatal(err)
	}
	users := byID(sink.users())
	if users[moved.ID].UserPrincipalName != moved.UserPrincipalName {
		t.Fatalf("the stored first page holds %+v, want the UPN before the move", users[moved.ID])
	}
	changes.apply(users)
	full := &memorySink{}
	if _, err := c.Collect(ctx, full); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(byID(full.users()), users); diff != "" {
		t.Errorf("resumed read plus changes differ from a full read (-full +resumed):\n%s", diff)
	}
}
