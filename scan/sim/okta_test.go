package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const oktaTestToken = "00sim-okta-test-token"

type oktaTestServer struct {
	*httptest.Server
	state *State
}

func newOktaTestServer(t testing.TB, tenant *Tenant, opts OktaOptions) *oktaTestServer {
	t.Helper()
	if opts.Token == "" {
		opts.Token = oktaTestToken
	}
	st := NewState(tenant)
	srv := httptest.NewTLSServer(NewOktaHandler(st, opts))
	t.Cleanup(srv.Close)
	return &oktaTestServer{Server: srv, state: st}
}

// get fetches path (or an absolute URL) with the test token.
func (s *oktaTestServer) get(t testing.TB, target string) (*http.Response, []byte) {
	t.Helper()
	return s.do(t, http.MethodGet, target, "SSWS "+oktaTestToken)
}

func (s *oktaTestServer) do(t testing.TB, method, target, auth string) (*http.Response, []byte) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = s.URL + target
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// oktaLinks parses the Link headers into rel → URL.
func oktaLinks(t testing.TB, h http.Header) map[string]string {
	t.Helper()
	links := map[string]string{}
	for _, v := range h.Values("Link") {
		target, rel, ok := strings.Cut(v, "; rel=")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			t.Fatalf("malformed Link header %q", v)
		}
		links[strings.Trim(rel, `"`)] = target[1 : len(target)-1]
	}
	return links
}

func oktaExampleTenant(t testing.TB) *Tenant {
	t.Helper()
	tenant, err := LoadFixtureFile("testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

// oktaBigTenant has n users, all assigned to one O365 app.
func oktaBigTenant(n int) *Tenant {
	t := &Tenant{Format: FormatV1}
	t.Okta.Apps = []OktaApp{{ID: "0oabig", Name: "office365", Label: "Microsoft Office 365", DeactivateUsers: "ENABLED",
		ImmutableIDMapping: &Mapping{Expression: "user.getInternalProperty(\"id\")", PushStatus: "DONT_PUSH"}}}
	t.Okta.Users = make([]OktaUser, n)
	t.Okta.AppUsers = make([]OktaAppUser, n)
	for i := range n {
		id := fmt.Sprintf("00u%017d", i)
		login := fmt.Sprintf("u%d@big.example", i)
		t.Okta.Users[i] = OktaUser{ID: id, Status: "ACTIVE", Login: login, Email: login, FirstName: "U", LastName: strconv.Itoa(i)}
		anchor := id
		t.Okta.AppUsers[i] = OktaAppUser{AppID: "0oabig", UserID: id, AppUserID: fmt.Sprintf("0ua%017d", i), UserName: login, Status: "PROVISIONED",
			Profile: AppUserProfile{ImmutableID: &anchor, Licenses: []string{"ENTERPRISEPACK"}}}
	}
	return t
}

// pageAll follows rel="next" from first and returns the ids it saw and the
// number of pages.
func (s *oktaTestServer) pageAll(t testing.TB, first string) (ids []string, pages int) {
	t.Helper()
	next := first
	for next != "" {
		resp, body := s.get(t, next)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		var page []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("GET %s: %v", next, err)
		}
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		pages++
		next = oktaLinks(t, resp.Header)["next"]
	}
	return ids, pages
}

func TestOktaPaging(t *testing.T) {
	const n = 1050
	srv := newOktaTestServer(t, oktaBigTenant(n), OktaOptions{})
	tests := []struct {
		name      string
		first     string
		wantPages int
	}{
		{name: "users at the maximum", first: "/api/v1/users?limit=200", wantPages: 6},
		{name: "users default limit is 200", first: "/api/v1/users", wantPages: 6},
		{name: "users limit clamped to 200", first: "/api/v1/users?limit=1000", wantPages: 6},
		{name: "users non-positive limit is the default", first: "/api/v1/users?limit=0", wantPages: 6},
		{name: "users small pages", first: "/api/v1/users?limit=100", wantPages: 11},
		{name: "app users at the maximum", first: "/api/v1/apps/0oabig/users?limit=500", wantPages: 3},
		{name: "app users default limit is 50", first: "/api/v1/apps/0oabig/users", wantPages: 21},
		{name: "app users limit clamped to 500", first: "/api/v1/apps/0oabig/users?limit=9999", wantPages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, pages := srv.pageAll(t, tt.first)
			if pages != tt.wantPages {
				t.Errorf("%d pages, want %d", pages, tt.wantPages)
			}
			if len(ids) != n {
				t.Fatalf("%d records, want %d", len(ids), n)
			}
			for i, id := range ids {
				if want := fmt.Sprintf("00u%017d", i); id != want {
					t.Fatalf("record %d is %s, want %s (lost or repeated records)", i, id, want)
				}
			}
		})
	}
}

func TestOktaLinkHeaders(t *testing.T) {
	srv := newOktaTestServer(t, oktaBigTenant(5), OktaOptions{})
	resp, _ := srv.get(t, "/api/v1/users?limit=2")
	links := oktaLinks(t, resp.Header)
	if want := srv.URL + "/api/v1/users?limit=2"; links["self"] != want {
		t.Errorf("self link %q, want %q", links["self"], want)
	}
	next, err := url.Parse(links["next"])
	if err != nil {
		t.Fatal(err)
	}
	if next.Scheme != "https" || next.Host != strings.TrimPrefix(srv.URL, "https://") || next.Path != "/api/v1/users" {
		t.Errorf("next link %q is not absolute on the server that was asked", links["next"])
	}
	if got := next.Query().Get("after"); got != "00u00000000000000001" {
		t.Errorf("next cursor %q, want the last id served", got)
	}
	// The last page carries no next.
	resp, _ = srv.get(t, "/api/v1/users?limit=2&after=00u00000000000000003")
	if l := oktaLinks(t, resp.Header); l["next"] != "" || l["self"] == "" {
		t.Errorf("last page links %v, want self only", l)
	}
}

func TestOktaErrors(t *testing.T) {
	srv := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{})
	tests := []struct {
		name       string
		method     string
		path       string
		auth       string // "" means the right token
		wantStatus int
		wantCode   string
	}{
		{name: "no token", path: "/api/v1/users", auth: "-", wantStatus: 401, wantCode: "E0000011"},
		{name: "wrong token", path: "/api/v1/users", auth: "SSWS nope", wantStatus: 401, wantCode: "E0000011"},
		{name: "bearer instead of SSWS", path: "/api/v1/users", auth: "Bearer " + oktaTestToken, wantStatus: 401, wantCode: "E0000011"},
		{name: "unknown user", path: "/api/v1/users/00unobody", wantStatus: 404, wantCode: "E0000007"},
		{name: "unknown app", path: "/api/v1/apps/0oanothing", wantStatus: 404, wantCode: "E0000007"},
		{name: "unknown app users", path: "/api/v1/apps/0oanothing/users", wantStatus: 404, wantCode: "E0000007"},
		{name: "unassigned app user", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4/users/00uyr5d2sjviwrrbl62b", wantStatus: 404, wantCode: "E0000007"},
		{name: "feature of a directory app", path: "/api/v1/apps/0oa4euiz4othvcei5arg/features/USER_PROVISIONING", wantStatus: 404, wantCode: "E0000007"},
		{name: "unknown feature", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4/features/INBOUND_PROVISIONING", wantStatus: 404, wantCode: "E0000007"},
		{name: "unknown mapping", path: "/api/v1/mappings/prmnothing", wantStatus: 404, wantCode: "E0000007"},
		{name: "unknown endpoint", path: "/api/v1/groups", wantStatus: 404, wantCode: "E0000007"},
		{name: "limit not a number", path: "/api/v1/users?limit=ten", wantStatus: 400, wantCode: "E0000001"},
		{name: "app users limit not a number", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4/users?limit=1.5", wantStatus: 400, wantCode: "E0000001"},
		{name: "unsupported app filter", path: "/api/v1/apps?filter=" + url.QueryEscape(`status eq "ACTIVE"`), wantStatus: 400, wantCode: "E0000031"},
		{name: "malformed app filter", path: "/api/v1/apps?filter=" + url.QueryEscape(`name eq office365`), wantStatus: 400, wantCode: "E0000031"},
		{name: "user search", path: "/api/v1/users?search=" + url.QueryEscape(`profile.login eq "x"`), wantStatus: 400, wantCode: "E0000031"},
		{name: "unknown cursor", path: "/api/v1/users?after=00unobody", wantStatus: 400, wantCode: "E0000001"},
		{name: "method not allowed", method: http.MethodDelete, path: "/api/v1/users/00utlmfhatxriapc6uir", wantStatus: 405, wantCode: "E0000022"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := "SSWS " + oktaTestToken
			switch tt.auth {
			case "":
			case "-":
				auth = ""
			default:
				auth = tt.auth
			}
			resp, body := srv.do(t, cmpOr(tt.method, http.MethodGet), tt.path, auth)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			var e oktaErrorJSON
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q: %v", body, err)
			}
			if e.ErrorCode != tt.wantCode || e.ErrorLink != tt.wantCode || e.ErrorSummary == "" || e.ErrorID == "" || e.ErrorCauses == nil {
				t.Errorf("error body %+v, want code %s with summary, link, id and causes", e, tt.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestOktaWithoutConfiguredTokenRejectsEverything(t *testing.T) {
	st := NewState(oktaExampleTenant(t))
	srv := httptest.NewTLSServer(NewOktaHandler(st, OktaOptions{}))
	defer srv.Close()
	for _, auth := range []string{"", "SSWS ", "SSWS x"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/users", nil)
		req.Header.Set("Authorization", auth)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
}

func TestOktaRateLimitHeaders(t *testing.T) {
	srv := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{RateLimit: 3})
	for i, want := range []int{2, 1, 0, 0} {
		resp, _ := srv.get(t, "/api/v1/users")
		if got := resp.Header.Get("X-Rate-Limit-Limit"); got != "3" {
			t.Errorf("request %d: X-Rate-Limit-Limit %q, want 3", i, got)
		}
		if got := resp.Header.Get("X-Rate-Limit-Remaining"); got != strconv.Itoa(want) {
			t.Errorf("request %d: X-Rate-Limit-Remaining %q, want %d", i, got, want)
		}
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("request %d: Date: %v", i, err)
		}
		reset, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
		if err != nil {
			t.Fatalf("request %d: X-Rate-Limit-Reset: %v", i, err)
		}
		if d := time.Unix(reset, 0).Sub(date); d <= 0 || d > time.Minute {
			t.Errorf("request %d: reset %v after Date, want within the minute", i, d)
		}
	}
	// Errors carry them too.
	resp, _ := srv.do(t, http.MethodGet, "/api/v1/users", "")
	if resp.Header.Get("X-Rate-Limit-Remaining") == "" || resp.Header.Get("Date") == "" {
		t.Errorf("401 lacks rate-limit headers: %v", resp.Header)
	}
	defaults := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{})
	if resp, _ := defaults.get(t, "/api/v1/users"); resp.Header.Get("X-Rate-Limit-Limit") != "600" {
		t.Errorf("default X-Rate-Limit-Limit %q, want 600", resp.Header.Get("X-Rate-Limit-Limit"))
	}
}

func TestOktaShapes(t *testing.T) {
	srv := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{})
	getJSON := func(t *testing.T, path string) map[string]any {
		t.Helper()
		resp, body := srv.get(t, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		path string
		// JSON pointer-ish dotted paths and their expected values
		want map[string]any
	}{
		{name: "AD-sourced user", path: "/api/v1/users/00utlmfhatxriapc6uir", want: map[string]any{
			"id": "00utlmfhatxriapc6uir", "status": "ACTIVE", "profile.login": "ok-ad@contoso.example", "profile.email": "ok-ad@contoso.example",
			"profile.firstName": "Ok", "profile.lastName": "Test", "credentials.provider.type": "ACTIVE_DIRECTORY",
			"credentials.provider.name": "corp.contoso.example", "_links.self.href": srv.URL + "/api/v1/users/00utlmfhatxriapc6uir",
		}},
		{name: "cloud user", path: "/api/v1/users/00urqrqibdhlo4hxmxto", want: map[string]any{"credentials.provider.type": "OKTA"}},
		{name: "office365 app", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4", want: map[string]any{
			"name": "office365", "label": "Microsoft Office 365", "status": "ACTIVE", "signOnMode": "WS_FEDERATION",
		}},
		{name: "directory app", path: "/api/v1/apps/0oa4euiz4othvcei5arg", want: map[string]any{
			"name": "active_directory", "label": "corp.contoso.example", "signOnMode": nil, "settings.app.namingContext": "corp.contoso.example",
		}},
		{name: "O365 app user", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4/users/00utlmfhatxriapc6uir", want: map[string]any{
			"id": "00utlmfhatxriapc6uir", "externalId": "3cd49c6d-00b7-4439-932a-b4141082be29", "scope": "USER", "status": "PROVISIONED",
			"syncState": "SYNCHRONIZED", "credentials.userName": "ok-ad@contoso.example", "profile.immutableId": "Pqlfffo2uEqbF4UcX9pvFQ==",
			"profile.licenses": []any{"ENTERPRISEPACK"}, "profile.roles": []any{},
			"_links.app.href": srv.URL + "/api/v1/apps/0oarv2cjxy7hgdpplev4",
		}},
		{name: "never provisioned app user", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4/users/00ug4zb4kcamntqbggkd", want: map[string]any{
			"externalId": nil, "profile.immutableId": "00ug4zb4kcamntqbggkd",
		}},
		{name: "deactivate feature", path: "/api/v1/apps/0oarv2cjxy7hgdpplev4/features/USER_PROVISIONING", want: map[string]any{
			"name": "USER_PROVISIONING", "capabilities.update.lifecycleDeactivate.status": "DISABLED",
		}},
		{name: "immutableId mapping", path: "/api/v1/mappings/" + oktaMappingID("0oarv2cjxy7hgdpplev4"), want: map[string]any{
			"source.id": oktaUserTypeID, "source.type": "user", "target.id": "0oarv2cjxy7hgdpplev4", "target.type": "appuser",
			"properties.immutableId.expression": `hasDirectoryUser()?findDirectoryUser().externalId:user.getInternalProperty("id")`,
			"properties.immutableId.pushStatus": "DONT_PUSH",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := getJSON(t, tt.path)
			for path, want := range tt.want {
				var cur any = v
				for _, k := range strings.Split(path, ".") {
					m, ok := cur.(map[string]any)
					if !ok {
						t.Fatalf("%s: %v is not an object", path, cur)
					}
					if cur, ok = m[k]; !ok {
						t.Fatalf("%s: no %q in %v", path, k, m)
					}
				}
				gotJSON, _ := json.Marshal(cur)
				wantJSON, _ := json.Marshal(want)
				if string(gotJSON) != string(wantJSON) {
					t.Errorf("%s = %s, want %s", path, gotJSON, wantJSON)
				}
			}
		})
	}
}

func TestOktaAppsFilterAndPaging(t *testing.T) {
	srv := newOktaTestServer(t, oktaExampleTenant(t), OktaOptions{})
	tests := []struct {
		name      string
		first     string
		wantIDs   []string
		wantPages int
	}{
		{name: "all", first: "/api/v1/apps", wantIDs: []string{"0oarv2cjxy7hgdpplev4", "0oa4euiz4othvcei5arg", "0oakeztbxzku6qh6wy5b"}, wantPages: 1},
		{name: "office365", first: "/api/v1/apps?filter=" + url.QueryEscape(`name eq "office365"`), wantIDs: []string{"0oarv2cjxy7hgdpplev4"}, wantPages: 1},
		{name: "directories one per page", first: "/api/v1/apps?limit=1&filter=" + url.QueryEscape(`name eq "active_directory"`), wantIDs: []string{"0oa4euiz4othvcei5arg", "0oakeztbxzku6qh6wy5b"}, wantPages: 2},
		{name: "none", first: "/api/v1/apps?filter=" + url.QueryEscape(`name eq "salesforce"`), wantPages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, pages := srv.pageAll(t, tt.first)
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") || pages != tt.wantPages {
				t.Errorf("got %v in %d pages, want %v in %d", ids, pages, tt.wantIDs, tt.wantPages)
			}
		})
	}
}

func TestOktaIndexFollowsWrites(t *testing.T) {
	srv := newOktaTestServer(t, oktaBigTenant(10), OktaOptions{})
	if ids, _ := srv.pageAll(t, "/api/v1/users?limit=3"); len(ids) != 10 {
		t.Fatalf("%d users before the write", len(ids))
	}
	// Remove a user and its assignment, as a later write handler would.
	if err := srv.state.Update(func(t *Tenant) error {
		t.Okta.Users = append(t.Okta.Users[:2], t.Okta.Users[3:]...)
		t.Okta.AppUsers = append(t.Okta.AppUsers[:2], t.Okta.AppUsers[3:]...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ids, _ := srv.pageAll(t, "/api/v1/users?limit=3")
	if len(ids) != 9 || ids[2] != "00u00000000000000003" {
		t.Errorf("users after the write: %v", ids)
	}
	if resp, _ := srv.get(t, "/api/v1/users/00u00000000000000002"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed user: status %d, want 404", resp.StatusCode)
	}
	if resp, _ := srv.get(t, "/api/v1/apps/0oabig/users/00u00000000000000009"); resp.StatusCode != http.StatusOK {
		t.Errorf("app user after the write: status %d, want 200", resp.StatusCode)
	}
}

// BenchmarkOktaUsersPaging100k pages 100,000 users and their O365 app users
// through the fake over loopback TLS.
func BenchmarkOktaUsersPaging100k(b *testing.B) {
	srv := newOktaTestServer(b, oktaBigTenant(100_000), OktaOptions{})
	b.ResetTimer()
	for b.Loop() {
		ids, pages := srv.pageAll(b, "/api/v1/users?limit=200")
		appIDs, appPages := srv.pageAll(b, "/api/v1/apps/0oabig/users?limit=500")
		if len(ids) != 100_000 || len(appIDs) != 100_000 || pages != 500 || appPages != 200 {
			b.Fatalf("%d users in %d pages, %d app users in %d pages", len(ids), pages, len(appIDs), appPages)
		}
	}
	b.ReportMetric(float64(700), "requests/op")
}
