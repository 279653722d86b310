package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/okta/okta-sdk-golang/v5/okta"
)

// oktaListAll pages ListUsers with the given query through the SDK,
// following the next cursor itself (resp.Next ignores the context).
func oktaListAll(t testing.TB, api *okta.APIClient, query func(okta.ApiListUsersRequest) okta.ApiListUsersRequest) []okta.User {
	t.Helper()
	var all []okta.User
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("more than 10,000 pages: the cursor does not advance")
		}
		req := query(api.UserAPI.ListUsers(context.Background()).Limit(200))
		if after != "" {
			req = req.After(after)
		}
		users, resp, err := req.Execute()
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		all = append(all, users...)
		if after = oktaNextAfter(t, resp.Header); after == "" {
			return all
		}
	}
}

func oktaUserIDs(users []okta.User) []string {
	ids := make([]string, 0, len(users))
	for _, u := range users {
		ids = append(ids, u.GetId())
	}
	sort.Strings(ids)
	return ids
}

func TestOktaUsersLastUpdatedFilterReturnsExactlyTheChanged(t *testing.T) {
	s := startIncremental(t)
	api := oktaSDK(t, s)
	full := oktaListAll(t, api, func(r okta.ApiListUsersRequest) okta.ApiListUsersRequest { return r })
	var wantAll int
	s.State.Read(func(tn *Tenant) { wantAll = len(tn.Okta.Users) })
	if len(full) != wantAll {
		t.Fatalf("full listing: %d users, want %d", len(full), wantAll)
	}
	var highWater time.Time
	created := map[time.Time]int{}
	for _, u := range full {
		if u.LastUpdated.After(highWater) {
			highWater = *u.LastUpdated
		}
		if u.LastUpdated.Before(*u.Created) {
			t.Errorf("user %s: lastUpdated %v before created %v", u.GetId(), u.LastUpdated, u.Created)
		}
		created[*u.Created]++
	}
	if len(created) < wantAll*9/10 {
		t.Errorf("only %d distinct created times for %d users: partitions by created would be lopsided", len(created), wantAll)
	}

	sum, err := s.State.Mutate(7, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Changes.OktaUsers) == 0 || len(sum.Changes.OktaUsersRemoved) == 0 {
		t.Fatalf("the mutation changed no Okta user or removed none: %+v", sum.Counts)
	}
	since := highWater.UTC().Format(oktaTimeLayout)
	changed := oktaListAll(t, api, func(r okta.ApiListUsersRequest) okta.ApiListUsersRequest {
		return r.Filter(`lastUpdated gt "` + since + `"`)
	})
	if diff := cmp.Diff(sum.Changes.OktaUsers, oktaUserIDs(changed)); diff != "" {
		t.Errorf("filter lastUpdated gt %s (-changed by Mutate +returned):\n%s", since, diff)
	}
	for _, u := range changed {
		if !u.LastUpdated.After(highWater) {
			t.Errorf("user %s returned with lastUpdated %v, not after %v", u.GetId(), u.LastUpdated, highWater)
		}
	}

	suspended := oktaListAll(t, api, func(r okta.ApiListUsersRequest) okta.ApiListUsersRequest {
		return r.Filter(`status eq "SUSPENDED" and lastUpdated gt "` + since + `"`)
	})
	for _, u := range suspended {
		if u.GetStatus() != "SUSPENDED" || !slices.Contains(sum.Changes.OktaUsers, u.GetId()) {
			t.Errorf("status eq SUSPENDED and lastUpdated gt: got %s (%s), not a suspended changed user", u.GetId(), u.GetStatus())
		}
	}
	if sum.Counts[MutationOktaUserStatus] > 0 && len(suspended) == 0 {
		t.Error("status changes were made but no changed user is SUSPENDED")
	}
}

// TestOktaUsersCreatedPartitionsCoverAll pages four created ranges in
// parallel, as a partitioned reader would, and checks that together they
// return every user exactly once, in created order, also after users were
// added and removed.
func TestOktaUsersCreatedPartitionsCoverAll(t *testing.T) {
	s := startIncremental(t)
	api := oktaSDK(t, s)
	if _, err := s.State.Mutate(11, 0.01); err != nil {
		t.Fatal(err)
	}
	bounds := []string{"2017-09-01T00:00:00.000Z", "2020-05-01T00:00:00.000Z", "2023-01-01T00:00:00.000Z"}
	var searches []string
	for i := 0; i <= len(bounds); i++ {
		var clauses []string
		if i > 0 {
			clauses = append(clauses, `created ge "`+bounds[i-1]+`"`)
		}
		if i < len(bounds) {
			clauses = append(clauses, `created lt "`+bounds[i]+`"`)
		}
		searches = append(searches, strings.Join(clauses, " and "))
	}
	results := make([][]okta.User, len(searches))
	var wg sync.WaitGroup
	for i, expr := range searches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = oktaListAll(t, api, func(r okta.ApiListUsersRequest) okta.ApiListUsersRequest {
				return r.Search(expr).SortBy("created").SortOrder("asc")
			})
		}()
	}
	wg.Wait()

	seen := map[string]int{}
	for i, part := range results {
		if len(part) == 0 {
			t.Errorf("partition %q is empty: the bounds do not split the users", searches[i])
		}
		for k, u := range part {
			seen[u.GetId()]++
			if k > 0 && u.Created.Before(*part[k-1].Created) {
				t.Errorf("partition %q: %s (created %v) after %s (created %v): not in created order",
					searches[i], u.GetId(), u.Created, part[k-1].GetId(), part[k-1].Created)
			}
		}
	}
	var want []string
	s.State.Read(func(tn *Tenant) {
		for _, u := range tn.Okta.Users {
			want = append(want, u.ID)
		}
	})
	sort.Strings(want)
	var got []string
	for id, n := range seen {
		if n != 1 {
			t.Errorf("user %s returned by %d partitions, want exactly 1", id, n)
		}
		got = append(got, id)
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("partitions do not cover the users exactly (-all users +returned):\n%s", diff)
	}

	desc := oktaListAll(t, api, func(r okta.ApiListUsersRequest) okta.ApiListUsersRequest {
		return r.Search(searches[1]).SortBy("created").SortOrder("desc")
	})
	asc := oktaUserIDsInOrder(results[1])
	slices.Reverse(asc)
	if diff := cmp.Diff(asc, oktaUserIDsInOrder(desc)); diff != "" {
		t.Errorf("sortOrder=desc is not the reverse of asc (-reversed asc +desc):\n%s", diff)
	}
	byID := oktaListAll(t, api, func(r okta.ApiListUsersRequest) okta.ApiListUsersRequest {
		return r.Search(`status eq "ACTIVE"`).SortBy("id")
	})
	ids := oktaUserIDsInOrder(byID)
	if !slices.IsSorted(ids) || len(ids) == 0 {
		t.Errorf("search sortBy=id: %d users, sorted %v", len(ids), slices.IsSorted(ids))
	}
	for _, u := range byID {
		if u.GetStatus() != "ACTIVE" {
			t.Errorf("search status eq ACTIVE returned %s with status %s", u.GetId(), u.GetStatus())
		}
	}
}

func oktaUserIDsInOrder(users []okta.User) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.GetId()
	}
	return ids
}

func TestOktaUsersQueryErrors(t *testing.T) {
	srv := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{})
	tests := []struct {
		name      string
		query     string
		wantCode  string
		wantCause string
	}{
		{name: "filter on an unsupported attribute", query: "filter=" + url.QueryEscape(`profile.login eq "a@b.example"`), wantCode: "E0000031", wantCause: `profile.login eq "a@b.example"`},
		{name: "filter created is search only", query: "filter=" + url.QueryEscape(`created lt "2020-01-01T00:00:00.000Z"`), wantCode: "E0000031", wantCause: "created lt"},
		{name: "search with or", query: "search=" + url.QueryEscape(`status eq "ACTIVE" or status eq "SUSPENDED"`), wantCode: "E0000031", wantCause: "or is not supported"},
		{name: "search date not a date", query: "search=" + url.QueryEscape(`created lt "yesterday"`), wantCode: "E0000031", wantCause: `"yesterday" is not a date-time`},
		{name: "search operator not supported", query: "search=" + url.QueryEscape(`status ne "ACTIVE"`), wantCode: "E0000031", wantCause: `status ne "ACTIVE"`},
		{name: "sortBy without search", query: "sortBy=created", wantCode: "E0000031", wantCause: "search only"},
		{name: "filter and search together", query: "filter=" + url.QueryEscape(`status eq "ACTIVE"`) + "&search=" + url.QueryEscape(`status eq "ACTIVE"`), wantCode: "E0000031", wantCause: "cannot be combined"},
		{name: "sortBy unsupported", query: "search=" + url.QueryEscape(`status eq "ACTIVE"`) + "&sortBy=lastLogin", wantCode: "E0000031", wantCause: `"lastLogin"`},
		{name: "sortOrder unsupported", query: "search=" + url.QueryEscape(`status eq "ACTIVE"`) + "&sortOrder=up", wantCode: "E0000031", wantCause: `"up"`},
		{name: "search cursor forged", query: "search=" + url.QueryEscape(`status eq "ACTIVE"`) + "&after=00uforged", wantCode: "E0000001", wantCause: "cursor"},
		{name: "q prefix search", query: "q=al", wantCode: "E0000031", wantCause: "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, "/api/v1/users?"+tt.query)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
			}
			var e oktaErrorJSON
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if e.ErrorCode != tt.wantCode || len(e.ErrorCauses) == 0 || !strings.Contains(oktaCauses(e), tt.wantCause) {
				t.Errorf("error %s (%s), want %s naming %q: %s", e.ErrorCode, e.ErrorSummary, tt.wantCode, tt.wantCause, body)
			}
		})
	}
}

// oktaMembershipFilter selects the System Log events of assignment changes.
var oktaMembershipFilter = fmt.Sprintf(`eventType eq "%s" or eventType eq "%s" or eventType eq "%s"`,
	oktaEventAppUserAdd, oktaEventAppUserRemove, oktaEventAppUserUpdate)

// oktaLogAll pages ListLogEvents through the SDK.
func oktaLogAll(t testing.TB, api *okta.APIClient, since time.Time, filter string, limit int32) ([]okta.LogEvent, int) {
	t.Helper()
	var all []okta.LogEvent
	after := ""
	pages := 0
	for ; ; pages++ {
		if pages > 1000 {
			t.Fatal("more than 1,000 pages: the cursor does not advance")
		}
		req := api.SystemLogAPI.ListLogEvents(context.Background()).Since(since).Filter(filter).Limit(limit)
		if after != "" {
			req = req.After(after)
		}
		events, resp, err := req.Execute()
		if err != nil {
			t.Fatalf("ListLogEvents: %v", err)
		}
		all = append(all, events...)
		if after = oktaNextAfter(t, resp.Header); after == "" {
			return all, pages + 1
		}
	}
}

func logTargets(e okta.LogEvent) map[string]*okta.LogTarget {
	m := map[string]*okta.LogTarget{}
	for i := range e.Target {
		m[e.Target[i].GetType()] = &e.Target[i]
	}
	return m
}

func TestOktaSystemLogListsAppUserChanges(t *testing.T) {
	s := startIncremental(t)
	api := oktaSDK(t, s)
	since := time.Now().UTC().Add(-time.Second)
	if events, _ := oktaLogAll(t, api, since, oktaMembershipFilter, 1000); len(events) != 0 {
		t.Fatalf("a fresh simulator logs %d membership events, want 0", len(events))
	}
	sum, err := s.State.Mutate(7, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	events, pages := oktaLogAll(t, api, since, oktaMembershipFilter, 2)
	if pages < 2 {
		t.Errorf("limit 2 served %d events in %d page(s): paging not exercised", len(events), pages)
	}
	var got []AppUserKey
	for _, e := range events {
		tg := logTargets(e)
		app, user, appUser := tg["AppInstance"], tg["User"], tg["AppUser"]
		if app.GetId() == "" || user.GetId() == "" || !strings.HasPrefix(appUser.GetId(), "0ua") {
			t.Errorf("event %s %s: targets %+v lack the AppInstance, User or 0ua AppUser", e.GetUuid(), e.GetEventType(), e.Target)
		}
		if e.Published == nil || e.Published.Before(since) {
			t.Errorf("event %s published %v, before since %v", e.GetUuid(), e.Published, since)
		}
		got = append(got, AppUserKey{AppID: app.GetId(), UserID: user.GetId()})
	}
	sortAppUserKeys(got)
	got = slices.Compact(got)
	if diff := cmp.Diff(sum.Changes.OktaAppUsers, got); diff != "" {
		t.Errorf("membership events (-changed by Mutate +logged):\n%s", diff)
	}

	// An assignment through the API is logged with the new app user's id.
	var appID, userID string
	s.State.Read(func(tn *Tenant) {
		assigned := map[string]bool{}
		for _, a := range tn.Okta.Apps {
			if a.Name == "office365" {
				appID = a.ID
			}
		}
		for _, au := range tn.Okta.AppUsers {
			if au.AppID == appID {
				assigned[au.UserID] = true
			}
		}
		for _, u := range tn.Okta.Users {
			if !assigned[u.ID] {
				userID = u.ID
				break
			}
		}
	})
	before := time.Now().UTC().Add(-time.Millisecond)
	au := okta.NewAppUserAssignRequest(userID)
	if _, _, err := api.ApplicationUsersAPI.AssignUserToApplication(context.Background(), appID).AppUser(*au).Execute(); err != nil {
		t.Fatalf("assign %s to %s: %v", userID, appID, err)
	}
	all, _ := oktaLogAll(t, api, before, `eventType eq "`+oktaEventAppUserAdd+`"`, 100)
	var added []okta.LogEvent
	for _, e := range all {
		if tg := logTargets(e); tg["AppInstance"].GetId() == appID && tg["User"].GetId() == userID {
			added = append(added, e)
		}
	}
	if len(added) != 1 {
		t.Fatalf("after one assignment: %d add events, want 1", len(added))
	}
	var wantAppUserID string
	s.State.Read(func(tn *Tenant) {
		for _, au := range tn.Okta.AppUsers {
			if au.AppID == appID && au.UserID == userID {
				wantAppUserID = au.AppUserID
			}
		}
	})
	if got := logTargets(added[0])["AppUser"].GetId(); got != wantAppUserID || got == "" {
		t.Errorf("add event AppUser target %q, want the new app user id %q", got, wantAppUserID)
	}
}

func TestOktaSystemLogErrors(t *testing.T) {
	srv := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{})
	tests := []struct {
		name, query, wantCode, wantCause string
	}{
		{name: "filter on another attribute", query: "filter=" + url.QueryEscape(`target.id eq "00u1"`), wantCode: "E0000031", wantCause: "target.id"},
		{name: "filter with a broken clause", query: "filter=" + url.QueryEscape(`eventType eq "a" or eventType "b"`), wantCode: "E0000031", wantCause: `eventType "b"`},
		{name: "since not a date", query: "since=yesterday", wantCode: "E0000001", wantCause: "since"},
		{name: "until before since", query: "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", wantCode: "E0000001", wantCause: "until"},
		{name: "forged cursor", query: "after=1234", wantCode: "E0000001", wantCause: "cursor"},
		{name: "sortOrder", query: "sortOrder=NEWEST", wantCode: "E0000001", wantCause: "NEWEST"},
		{name: "keyword search", query: "q=admin", wantCode: "E0000031", wantCause: "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, "/api/v1/logs?"+tt.query)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
			}
			var e oktaErrorJSON
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if e.ErrorCode != tt.wantCode || !strings.Contains(e.ErrorSummary+" "+oktaCauses(e), tt.wantCause) {
				t.Errorf("error %s, want %s naming %q: %s", e.ErrorCode, tt.wantCode, tt.wantCause, body)
			}
		})
	}
}

// TestOktaSystemLogMatchesSpec checks the LogEvent shape against Okta's
// management spec, and that the check fails on a corrupted event.
func TestOktaSystemLogMatchesSpec(t *testing.T) {
	doc := loadOktaSpec(t)
	tenant := oktaExampleTenant(t)
	st := NewState(tenant)
	srv := newOktaTestServerOver(t, st)
	if _, err := st.Mutate(3, 1); err != nil {
		t.Fatal(err)
	}
	c := oktaSpecCase{name: "logs", path: "/api/v1/logs?limit=1000&filter=" + url.QueryEscape(oktaMembershipFilter), specPath: "/api/v1/logs", wantStatus: 200}
	got := oktaCaptureCase(t, srv, c)
	if err := validateOktaResponse(doc, c, got); err != nil {
		t.Fatalf("GET %s does not match the spec: %v\nbody: %.600s", c.path, err, got.body)
	}
	var events []map[string]any
	if err := json.Unmarshal(got.body, &events); err != nil || len(events) == 0 {
		t.Fatalf("no events to check (%v): %s", err, got.body)
	}
	corruptions := []struct {
		name    string
		corrupt func(e map[string]any)
	}{
		{name: "target is an object", corrupt: func(e map[string]any) { e["target"] = map[string]any{"id": "x"} }},
		{name: "published is not a date", corrupt: func(e map[string]any) { e["published"] = "yesterday" }},
		{name: "target id is a number", corrupt: func(e map[string]any) { e["target"].([]any)[0].(map[string]any)["id"] = 7 }},
		{name: "outcome is a string", corrupt: func(e map[string]any) { e["outcome"] = "SUCCESS" }},
	}
	for _, tt := range corruptions {
		t.Run(tt.name, func(t *testing.T) {
			var v []map[string]any
			if err := json.Unmarshal(got.body, &v); err != nil {
				t.Fatal(err)
			}
			tt.corrupt(v[0])
			body, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			bad := got
			bad.body = body
			if err := validateOktaResponse(doc, c, bad); err == nil {
				t.Errorf("corrupted events passed validation: %.300s", body)
			}
		})
	}
}

// newOktaTestServerOver serves st, for tests that change the state directly.
func newOktaTestServerOver(t testing.TB, st *State) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(NewOktaHandler(st, OktaOptions{Token: oktaTestToken}))
	t.Cleanup(srv.Close)
	return srv
}

func oktaCauses(e oktaErrorJSON) string {
	var causes []string
	for _, c := range e.ErrorCauses {
		causes = append(causes, c.ErrorSummary)
	}
	return strings.Join(causes, "; ")
}
