package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const graphTestToken = "sim-graph-test-token"

// graphTestTenant decodes the normative example fixture; it stays local to
// the Graph tests so they do not depend on the fixture loader's progress.
func graphTestTenant(t testing.TB) *Tenant {
	t.Helper()
	f, err := os.Open("testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var tenant Tenant
	if err := dec.Decode(&tenant); err != nil {
		t.Fatalf("decoding example tenant: %v", err)
	}
	return &tenant
}

// graphTestLargeTenant has n members on the federated domain, each with a
// distinct anchor.
func graphTestLargeTenant(n int) *Tenant {
	tenant := &Tenant{Format: FormatV1, Entra: Entra{
		TenantID:      "0b5f3c1e-7d1a-4c59-9a8e-2f6b1d4c8e70",
		InitialDomain: "big.onmicrosoft.com",
		Domains: []EntraDomain{
			{ID: "big.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exkbig"},
			{ID: "big.onmicrosoft.com", AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
		},
	}}
	tenant.Entra.Users = make([]EntraUser, n)
	for i := range tenant.Entra.Users {
		anchor := fmt.Sprintf("anchor-%06d==", i)
		tenant.Entra.Users[i] = EntraUser{
			ID:                    fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			UserPrincipalName:     fmt.Sprintf("user%06d@big.example", i),
			DisplayName:           fmt.Sprintf("User %d", i),
			Mail:                  fmt.Sprintf("user%06d@big.example", i),
			AccountEnabled:        true,
			UserType:              "Member",
			OnPremisesImmutableID: &anchor,
		}
	}
	return tenant
}

type graphTestServer struct {
	*httptest.Server
	state *State
}

func newGraphTestServer(t testing.TB, tenant *Tenant) *graphTestServer {
	t.Helper()
	st := NewState(tenant)
	srv := httptest.NewTLSServer(NewGraphHandler(st, GraphOptions{Token: graphTestToken}))
	t.Cleanup(srv.Close)
	return &graphTestServer{Server: srv, state: st}
}

// get sends an authenticated GET for path (relative to the server, or an
// absolute URL) and decodes the JSON body.
func (s *graphTestServer) get(t testing.TB, path string) (*http.Response, map[string]any) {
	t.Helper()
	return s.do(t, path, http.Header{"Authorization": {"Bearer " + graphTestToken}})
}

func (s *graphTestServer) do(t testing.TB, path string, header http.Header) (*http.Response, map[string]any) {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = s.URL + path
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("GET %s: body is not a JSON object: %v\n%s", path, err, raw)
	}
	return resp, body
}

func graphKeys(obj any) []string {
	m, _ := obj.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func graphValue(t testing.TB, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("body has no value array: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func graphErrorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestGraphAuthentication(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
	}{
		{name: "missing header", header: http.Header{}, wantStatus: http.StatusUnauthorized},
		{name: "wrong token", header: http.Header{"Authorization": {"Bearer nope"}}, wantStatus: http.StatusUnauthorized},
		{name: "token without Bearer", header: http.Header{"Authorization": {graphTestToken}}, wantStatus: http.StatusUnauthorized},
		{name: "right token", header: http.Header{"Authorization": {"Bearer " + graphTestToken}}, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.header.Set("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
			resp, body := srv.do(t, "/v1.0/organization", tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("client-request-id"); got != "c0ffee00-0000-4000-8000-000000000001" {
				t.Errorf("client-request-id = %q, want the one sent", got)
			}
			if resp.Header.Get("request-id") == "" {
				t.Error("no request-id header")
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json;odata.metadata=minimal") {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if tt.wantStatus != http.StatusUnauthorized {
				return
			}
			if code := graphErrorCode(body); code != "InvalidAuthenticationToken" {
				t.Errorf("error code = %q, want InvalidAuthenticationToken", code)
			}
			inner := body["error"].(map[string]any)["innerError"]
			if diff := cmp.Diff([]string{"client-request-id", "date", "request-id"}, graphKeys(inner)); diff != "" {
				t.Errorf("innerError keys (-want +got):\n%s", diff)
			}
			if inner.(map[string]any)["request-id"] != resp.Header.Get("request-id") {
				t.Errorf("innerError request-id %v differs from header %q", inner.(map[string]any)["request-id"], resp.Header.Get("request-id"))
			}
		})
	}
}

func TestGraphWithoutConfiguredTokenRejectsEverything(t *testing.T) {
	srv := httptest.NewTLSServer(NewGraphHandler(NewState(graphTestTenant(t)), GraphOptions{}))
	defer srv.Close()
	for _, auth := range []string{"", "Bearer ", "Bearer anything"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1.0/users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
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

func TestGraphOrganization(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	resp, body := srv.get(t, "/v1.0/organization")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, body)
	}
	orgs := graphValue(t, body)
	if len(orgs) != 1 {
		t.Fatalf("%d organizations, want 1", len(orgs))
	}
	org := orgs[0]
	if org["id"] != "48e61bd8-aafd-43d9-91c1-c7de8cd8e6e2" {
		t.Errorf("id = %v, want the fixture's tenantId", org["id"])
	}
	if org["displayName"] != "Contoso" {
		t.Errorf("displayName = %v, want Contoso", org["displayName"])
	}
	type verified struct {
		Name      string
		IsInitial bool
		IsDefault bool
		Type      string
	}
	var got []verified
	for _, v := range org["verifiedDomains"].([]any) {
		d := v.(map[string]any)
		got = append(got, verified{d["name"].(string), d["isInitial"].(bool), d["isDefault"].(bool), d["type"].(string)})
	}
	want := []verified{
		{"contoso.example", false, true, "Federated"},
		{"contoso.onmicrosoft.com", true, false, "Managed"},
		{"cloud.contoso.example", false, false, "Managed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verifiedDomains (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(body["@odata.context"].(string), "/v1.0/$metadata#organization") {
		t.Errorf("@odata.context = %v", body["@odata.context"])
	}
}

func TestGraphDomains(t *testing.T) {
	tenant := graphTestTenant(t)
	tenant.Entra.Domains = append(tenant.Entra.Domains, EntraDomain{ID: "pending.example", AuthenticationType: "Managed"})
	srv := newGraphTestServer(t, tenant)

	_, body := srv.get(t, "/v1.0/domains")
	type domain struct {
		ID, AuthenticationType                   string
		IsVerified, IsInitial, IsDefault, IsRoot bool
		SupportedServices                        int
	}
	var got []domain
	for _, d := range graphValue(t, body) {
		got = append(got, domain{
			d["id"].(string), d["authenticationType"].(string),
			d["isVerified"].(bool), d["isInitial"].(bool), d["isDefault"].(bool), d["isRoot"].(bool),
			len(d["supportedServices"].([]any)),
		})
	}
	want := []domain{
		{"contoso.example", "Federated", true, false, true, true, 2},
		{"contoso.onmicrosoft.com", "Managed", true, true, false, true, 2},
		{"cloud.contoso.example", "Managed", true, false, false, false, 2},
		{"pending.example", "Managed", false, false, false, true, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("domains (-want +got):\n%s", diff)
	}

	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantID     string
		wantCode   string
	}{
		{name: "by id", path: "/v1.0/domains/contoso.example", wantStatus: 200, wantID: "contoso.example"},
		{name: "case-insensitive", path: "/v1.0/domains/CONTOSO.example", wantStatus: 200, wantID: "contoso.example"},
		{name: "unknown", path: "/v1.0/domains/fabrikam.example", wantStatus: 404, wantCode: "Request_ResourceNotFound"},
		{name: "unknown select", path: "/v1.0/domains/contoso.example?$select=nope", wantStatus: 400, wantCode: "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, tt.path)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %v", resp.StatusCode, tt.wantStatus, body)
			}
			if body["id"] != nil && body["id"] != tt.wantID {
				t.Errorf("id = %v, want %s", body["id"], tt.wantID)
			}
			if code := graphErrorCode(body); code != tt.wantCode {
				t.Errorf("error code = %q, want %q", code, tt.wantCode)
			}
		})
	}
}

func TestGraphFederationConfiguration(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	tests := []struct {
		name       string
		domain     string
		wantStatus int
		wantIssuer []string
	}{
		{name: "federated", domain: "contoso.example", wantStatus: 200, wantIssuer: []string{"http://www.okta.com/exkchylatw2mg5oxvlen"}},
		{name: "managed", domain: "cloud.contoso.example", wantStatus: 200, wantIssuer: []string{}},
		{name: "initial", domain: "contoso.onmicrosoft.com", wantStatus: 200, wantIssuer: []string{}},
		{name: "unknown", domain: "fabrikam.example", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, "/v1.0/domains/"+tt.domain+"/federationConfiguration")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %v", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus != 200 {
				if graphErrorCode(body) != "Request_ResourceNotFound" {
					t.Errorf("error = %v", body)
				}
				return
			}
			issuers := []string{}
			for _, f := range graphValue(t, body) {
				issuers = append(issuers, f["issuerUri"].(string))
				if want := "https://contoso.okta.com/app/office365/exkchylatw2mg5oxvlen/sso/wsfed/passive"; f["passiveSignInUri"] != want {
					t.Errorf("passiveSignInUri = %v, want %s", f["passiveSignInUri"], want)
				}
				if f["preferredAuthenticationProtocol"] != "wsFed" {
					t.Errorf("preferredAuthenticationProtocol = %v", f["preferredAuthenticationProtocol"])
				}
			}
			if diff := cmp.Diff(tt.wantIssuer, issuers); diff != "" {
				t.Errorf("issuers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGraphUsersSelect(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	defaults := []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
		"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}
	tests := []struct {
		name     string
		path     string
		wantKeys []string
	}{
		{name: "list without select", path: "/v1.0/users", wantKeys: defaults},
		{name: "get without select", path: "/v1.0/users/synced@contoso.example", wantKeys: append([]string{"@odata.context"}, defaults...)},
		{name: "list with select", path: "/v1.0/users?$select=id,onPremisesImmutableId", wantKeys: []string{"id", "onPremisesImmutableId"}},
		{name: "select is case-insensitive", path: "/v1.0/users?$select=ID,OnPremisesImmutableID", wantKeys: []string{"id", "onPremisesImmutableId"}},
		{name: "get with select", path: "/v1.0/users/synced@contoso.example?$select=onPremisesSyncEnabled", wantKeys: []string{"@odata.context", "onPremisesSyncEnabled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, tt.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %v", resp.StatusCode, body)
			}
			objects := []map[string]any{body}
			if _, isList := body["value"]; isList {
				objects = graphValue(t, body)
			}
			for _, obj := range objects {
				if diff := cmp.Diff(tt.wantKeys, graphKeys(obj)); diff != "" {
					t.Fatalf("keys (-want +got):\n%s", diff)
				}
			}
		})
	}

	t.Run("unknown property", func(t *testing.T) {
		resp, body := srv.get(t, "/v1.0/users?$select=id,favouriteColour")
		if resp.StatusCode != http.StatusBadRequest || graphErrorCode(body) != "Request_BadRequest" {
			t.Fatalf("status %d body %v, want 400 Request_BadRequest", resp.StatusCode, body)
		}
		if msg := body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "favouriteColour") {
			t.Errorf("message %q does not name the property", msg)
		}
	})
}

func TestGraphUserValues(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	tests := []struct {
		name string
		key  string
		want map[string]any
	}{
		{name: "synced with SID", key: "f7b59838-49c0-482e-8bd9-aff74dc0186d", want: map[string]any{
			"onPremisesImmutableId": "RHt7qWMRnk6G5nVgM/uWjQ==", "onPremisesSyncEnabled": true,
			"onPremisesSecurityIdentifier": "S-1-5-21-1004336348-1177238915-682003330-1109",
			"userType":                     "Member", "accountEnabled": true,
		}},
		{name: "no anchor", key: "missing-ad@contoso.example", want: map[string]any{
			"onPremisesImmutableId": nil, "onPremisesSyncEnabled": nil, "onPremisesSecurityIdentifier": nil,
		}},
		{name: "guest by UPN with #EXT#", key: url.PathEscape("guest-partner_contoso.example#EXT#@contoso.onmicrosoft.com"), want: map[string]any{
			"userType": "Guest", "mail": "guest-partner@contoso.example",
		}},
		{name: "upn lookup is case-insensitive", key: "OK-AD@CONTOSO.EXAMPLE", want: map[string]any{
			"id": "3cd49c6d-00b7-4439-932a-b4141082be29",
		}},
	}
	sel := "?$select=id,userPrincipalName,mail,accountEnabled,userType,onPremisesImmutableId,onPremisesSyncEnabled,onPremisesSecurityIdentifier"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, "/v1.0/users/"+tt.key+sel)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %v", resp.StatusCode, body)
			}
			for k, want := range tt.want {
				got, present := body[k]
				if !present {
					t.Errorf("%s absent, want %v", k, want)
				} else if got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}

	t.Run("unknown user", func(t *testing.T) {
		resp, body := srv.get(t, "/v1.0/users/nobody@contoso.example")
		if resp.StatusCode != http.StatusNotFound || graphErrorCode(body) != "Request_ResourceNotFound" {
			t.Fatalf("status %d body %v, want 404 Request_ResourceNotFound", resp.StatusCode, body)
		}
		if msg := body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "nobody@contoso.example") {
			t.Errorf("message %q does not name the id", msg)
		}
	})
}

func TestGraphUsersTopAndFilter(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	tests := []struct {
		name     string
		query    string
		wantCode string // error code, "" for 200
		wantUPNs []string
	}{
		{name: "top too large", query: "$top=1000", wantCode: "Request_UnsupportedQuery"},
		{name: "top zero", query: "$top=0", wantCode: "Request_UnsupportedQuery"},
		{name: "top not a number", query: "$top=lots", wantCode: "BadRequest"},
		{name: "top at max", query: "$top=999&$filter=" + url.QueryEscape("userPrincipalName eq 'ok-ad@contoso.example'"), wantUPNs: []string{"ok-ad@contoso.example"}},
		{name: "upn eq ignores case", query: "$filter=" + url.QueryEscape("userPrincipalName eq 'OK-CLOUD@contoso.example'"), wantUPNs: []string{"ok-cloud@contoso.example"}},
		{name: "anchor eq", query: "$filter=" + url.QueryEscape("onPremisesImmutableId eq 'RHt7qWMRnk6G5nVgM/uWjQ=='"), wantUPNs: []string{"synced@contoso.example"}},
		{name: "anchor eq is case-sensitive", query: "$filter=" + url.QueryEscape("onPremisesImmutableId eq 'rht7qwmrnk6g5nvgm/uwjq=='"), wantUPNs: []string{}},
		{name: "no match", query: "$filter=" + url.QueryEscape("userPrincipalName eq 'o''brien@contoso.example'"), wantUPNs: []string{}},
		{name: "unsupported operator", query: "$filter=" + url.QueryEscape("startswith(userPrincipalName,'ok')"), wantCode: "Request_UnsupportedQuery"},
		{name: "unsupported property", query: "$filter=" + url.QueryEscape("department eq 'Sales'"), wantCode: "Request_UnsupportedQuery"},
		{name: "compound filter", query: "$filter=" + url.QueryEscape("userPrincipalName eq 'a' and mail eq 'b'"), wantCode: "Request_UnsupportedQuery"},
		{name: "orderby is not silently ignored", query: "$orderby=displayName", wantCode: "Request_UnsupportedQuery"},
		{name: "forged skiptoken", query: "$skiptoken=bm90LW91cnM", wantCode: "Directory_ExpiredPageToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.get(t, "/v1.0/users?$select=userPrincipalName&"+tt.query)
			if tt.wantCode != "" {
				if resp.StatusCode != http.StatusBadRequest || graphErrorCode(body) != tt.wantCode {
					t.Fatalf("status %d body %v, want 400 %s", resp.StatusCode, body, tt.wantCode)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %v", resp.StatusCode, body)
			}
			upns := []string{}
			for _, u := range graphValue(t, body) {
				upns = append(upns, u["userPrincipalName"].(string))
			}
			if diff := cmp.Diff(tt.wantUPNs, upns); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGraphUsersPaging(t *testing.T) {
	const n = 2500
	srv := newGraphTestServer(t, graphTestLargeTenant(n))
	tests := []struct {
		name      string
		query     string
		wantPages int
	}{
		{name: "max page", query: "?$select=id,onPremisesImmutableId&$top=999", wantPages: 3},
		{name: "default page size", query: "?$select=id,onPremisesImmutableId", wantPages: 25},
		{name: "exact multiple", query: "?$select=id,onPremisesImmutableId&$top=500", wantPages: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			next := "/v1.0/users" + tt.query
			pages := 0
			for next != "" {
				pages++
				resp, body := srv.get(t, next)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("page %d: status %d: %v", pages, resp.StatusCode, body)
				}
				for _, u := range graphValue(t, body) {
					if _, ok := u["onPremisesImmutableId"]; !ok {
						t.Fatalf("page %d dropped $select: %v", pages, u)
					}
					seen[u["id"].(string)] = true
				}
				next, _ = body["@odata.nextLink"].(string)
				if next != "" {
					link, err := url.Parse(next)
					if err != nil || link.Scheme != "https" || link.Host != strings.TrimPrefix(srv.URL, "https://") {
						t.Fatalf("nextLink %q is not an absolute URL of this server", next)
					}
					if link.Query().Get("$select") != "id,onPremisesImmutableId" {
						t.Fatalf("nextLink %q lost $select", next)
					}
				}
			}
			if pages != tt.wantPages || len(seen) != n {
				t.Errorf("%d pages with %d distinct users, want %d pages with %d", pages, len(seen), tt.wantPages, n)
			}
		})
	}
}

func TestGraphIndexFollowsWrites(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	if resp, _ := srv.get(t, "/v1.0/users/ok-ad@contoso.example"); resp.StatusCode != 200 {
		t.Fatalf("before: status %d", resp.StatusCode)
	}
	err := srv.state.Update(func(tn *Tenant) error {
		tn.Entra.Users[0].UserPrincipalName = "renamed@contoso.example"
		// Reordering moves every position the cached index knows.
		slices.Reverse(tn.Entra.Users)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := srv.get(t, "/v1.0/users/ok-ad@contoso.example"); resp.StatusCode != 404 {
		t.Errorf("old UPN: status %d, want 404", resp.StatusCode)
	}
	resp, body := srv.get(t, "/v1.0/users/renamed@contoso.example")
	if resp.StatusCode != 200 || body["id"] != "3cd49c6d-00b7-4439-932a-b4141082be29" {
		t.Errorf("new UPN: status %d body %v", resp.StatusCode, body)
	}
}

func TestGraphRoutingErrors(t *testing.T) {
	srv := newGraphTestServer(t, graphTestTenant(t))
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   string
	}{
		{name: "unknown segment", method: "GET", path: "/v1.0/groups", wantStatus: 400, wantCode: "BadRequest"},
		{name: "wrong method", method: "DELETE", path: "/v1.0/domains/contoso.example", wantStatus: 405, wantCode: "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+graphTestToken)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || graphErrorCode(body) != tt.wantCode {
				t.Errorf("status %d code %q, want %d %q", resp.StatusCode, graphErrorCode(body), tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestGraphHostileStringsRoundTrip(t *testing.T) {
	hostile := []string{
		`<script>alert("x")</script>`,
		"line\nbreak\ttab\x00nul\x1f",
		`back\slash "quoted" ' single`,
		"emoji 👩‍💻 and \u2028 separator",
		"=cmd|' /C calc'!A0",
	}
	tenant := graphTestTenant(t)
	for i, s := range hostile {
		tenant.Entra.Users[i].DisplayName = s
	}
	srv := newGraphTestServer(t, tenant)
	for i, s := range hostile {
		_, body := srv.get(t, "/v1.0/users/"+tenant.Entra.Users[i].ID+"?$select=displayName")
		if body["displayName"] != s {
			t.Errorf("displayName %q came back as %q", s, body["displayName"])
		}
	}
}

func TestGraphThrottleHeadersOnlyOn429(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://graph.test/v1.0/users", nil)
	writeGraphThrottled(rec, req, 1500*time.Millisecond)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("429: status %d Retry-After %q, want 429 and 2", rec.Code, rec.Header().Get("Retry-After"))
	}
	srv := newGraphTestServer(t, graphTestTenant(t))
	resp, _ := srv.get(t, "/v1.0/users")
	if resp.Header.Get("Retry-After") != "" {
		t.Errorf("200 response carries Retry-After %q", resp.Header.Get("Retry-After"))
	}
}

func TestReadGraphRequestBody(t *testing.T) {
	payload := []byte(`{"onPremisesImmutableId":"BpazOkLGm0iEtljAONPvOQ=="}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	if _, err := zw.Write(make([]byte, maxGraphRequestBody+1)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		encoding string
		body     []byte
		want     []byte
		wantErr  string
	}{
		{name: "plain", body: payload, want: payload},
		{name: "gzip", encoding: "gzip", body: gz.Bytes(), want: payload},
		{name: "gzip header case", encoding: "GZip", body: gz.Bytes(), want: payload},
		{name: "claims gzip but is not", encoding: "gzip", body: payload, wantErr: "not gzip"},
		{name: "unsupported encoding", encoding: "br", body: payload, wantErr: `unsupported Content-Encoding "br"`},
		{name: "too large after decompression", encoding: "gzip", body: bomb.Bytes(), wantErr: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPatch, "/v1.0/users/x", bytes.NewReader(tt.body))
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			got, err := readGraphRequestBody(req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkGraphListUsers100k(b *testing.B) {
	srv := newGraphTestServer(b, graphTestLargeTenant(100_000))
	b.ResetTimer()
	for b.Loop() {
		pages := 0
		next := "/v1.0/users?$select=id,userPrincipalName,onPremisesImmutableId&$top=999"
		for next != "" {
			pages++
			_, body := srv.get(b, next)
			next, _ = body["@odata.nextLink"].(string)
		}
		if pages != 101 {
			b.Fatalf("%d pages, want 101", pages)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/101, "µs/page")
}
