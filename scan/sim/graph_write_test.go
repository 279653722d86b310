package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Users of the example tenant the write tests use.
const (
	gwMissingAD   = "c114eebb-09e3-4942-b26c-3e66de174407" // missing-ad@contoso.example: federated, no anchor
	gwWrongDomain = "309adcc2-ad03-4d4e-bb02-ce5d12c782ee" // wrong-domain@cloud.contoso.example: managed, anchored
	gwSynced      = "f7b59838-49c0-482e-8bd9-aff74dc0186d" // synced@contoso.example: mastered by Entra Connect
	gwOKAD        = "3cd49c6d-00b7-4439-932a-b4141082be29" // ok-ad@contoso.example: federated, anchored
	gwOKADAnchor  = "Pqlfffo2uEqbF4UcX9pvFQ=="
	gwNewAnchor   = "BpazOkLGm0iEtljAONPvOQ=="
)

// send issues an authenticated request with a JSON body, gzipped like the
// SDK's when zip is set, and returns the status and the raw body.
func (s *graphTestServer) send(t testing.TB, method, path, body string, zip bool) (int, []byte) {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if zip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		rd = &buf
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+graphTestToken)
	req.Header.Set("Content-Type", "application/json")
	if zip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

func (s *graphTestServer) entraUser(t testing.TB, id string) EntraUser {
	t.Helper()
	var u EntraUser
	found := false
	s.state.Read(func(tn *Tenant) {
		for _, x := range tn.Entra.Users {
			if x.ID == id {
				u, found = x, true
			}
		}
	})
	if !found {
		t.Fatalf("no Entra user %s", id)
	}
	return u
}

func graphErrorOf(t testing.TB, raw []byte) (code, message string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, raw)
	}
	return body.Error.Code, body.Error.Message
}

func strOrNil(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestGraphPatchUserRules(t *testing.T) {
	type patch struct {
		user, body string
	}
	tests := []struct {
		name        string
		before      []patch // must each succeed
		user, body  string
		zip         bool
		wantStatus  int
		wantCode    string
		wantMessage string // substring
		check       func(t *testing.T, s *graphTestServer)
	}{
		{name: "synced user refused", user: gwSynced, body: `{"displayName":"x"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "on-premises mastered Directory Sync objects"},
		{name: "anchor change on federated UPN refused", user: gwMissingAD, body: `{"onPremisesImmutableId":"` + gwNewAnchor + `"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "federated domain"},
		{name: "park and set in one PATCH is judged on the federated UPN", user: gwMissingAD,
			body:       `{"userPrincipalName":"missing-ad@contoso.onmicrosoft.com","onPremisesImmutableId":"` + gwNewAnchor + `"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "federated domain",
			check: func(t *testing.T, s *graphTestServer) {
				if u := s.entraUser(t, gwMissingAD); u.UserPrincipalName != "missing-ad@contoso.example" || u.OnPremisesImmutableID != nil {
					t.Errorf("a refused PATCH changed the user: %s %s", u.UserPrincipalName, strOrNil(u.OnPremisesImmutableID))
				}
			}},
		{name: "park, then set and restore in one PATCH", user: gwMissingAD, zip: true,
			before:     []patch{{gwMissingAD, `{"userPrincipalName":"missing-ad@contoso.onmicrosoft.com"}`}},
			body:       `{"@odata.type":"#microsoft.graph.user","onPremisesImmutableId":"` + gwNewAnchor + `","userPrincipalName":"missing-ad@contoso.example"}`,
			wantStatus: 204,
			check: func(t *testing.T, s *graphTestServer) {
				u := s.entraUser(t, gwMissingAD)
				if u.UserPrincipalName != "missing-ad@contoso.example" || strOrNil(u.OnPremisesImmutableID) != gwNewAnchor {
					t.Errorf("user is %s with anchor %s, want restored UPN and %s", u.UserPrincipalName, strOrNil(u.OnPremisesImmutableID), gwNewAnchor)
				}
			}},
		{name: "re-sending the same anchor on a federated UPN is no change", user: gwOKAD,
			body: `{"onPremisesImmutableId":"` + gwOKADAnchor + `"}`, wantStatus: 204},
		{name: "anchor held by another user", user: gwWrongDomain, body: `{"onPremisesImmutableId":"` + gwOKADAnchor + `"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "property onPremisesImmutableId already exists"},
		{name: "anchors compare case-sensitively", user: gwWrongDomain, body: `{"onPremisesImmutableId":"` + strings.ToLower(gwOKADAnchor) + `"}`,
			wantStatus: 204},
		{name: "UPN held by another user, in another case", user: gwWrongDomain, body: `{"userPrincipalName":"OK-AD@contoso.example"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "property userPrincipalName already exists"},
		{name: "UPN outside the verified domains", user: gwWrongDomain, body: `{"userPrincipalName":"wrong-domain@elsewhere.example"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "verified domain names"},
		{name: "UPN without a domain", user: gwWrongDomain, body: `{"userPrincipalName":"wrong-domain"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "'userPrincipalName'"},
		{name: "UPN to the federated domain", user: gwWrongDomain, body: `{"userPrincipalName":"wrong-domain@contoso.example"}`,
			wantStatus: 204, check: func(t *testing.T, s *graphTestServer) {
				if u := s.entraUser(t, gwWrongDomain); u.UserPrincipalName != "wrong-domain@contoso.example" {
					t.Errorf("UPN = %s", u.UserPrincipalName)
				}
			}},
		{name: "JSON null clears the anchor", user: gwWrongDomain, body: `{"onPremisesImmutableId":null}`, wantStatus: 204,
			check: func(t *testing.T, s *graphTestServer) {
				if u := s.entraUser(t, gwWrongDomain); u.OnPremisesImmutableID != nil {
					t.Errorf("anchor = %q, want cleared", *u.OnPremisesImmutableID)
				}
			}},
		{name: "empty string is not a clear", user: gwWrongDomain, body: `{"onPremisesImmutableId":""}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "Invalid value specified for property 'onPremisesImmutableId'"},
		{name: "anchor of the wrong type", user: gwWrongDomain, body: `{"onPremisesImmutableId":7}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "'onPremisesImmutableId'"},
		{name: "unknown property", user: gwWrongDomain, body: `{"favouriteColour":"blue"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "Property 'favouriteColour' does not exist"},
		{name: "read-only property", user: gwWrongDomain, body: `{"onPremisesSyncEnabled":true}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "Property 'onPremisesSyncEnabled' is read-only"},
		{name: "wrong type annotation", user: gwWrongDomain, body: `{"@odata.type":"#microsoft.graph.group"}`,
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "'@odata.type'"},
		{name: "not JSON", user: gwWrongDomain, body: `{"userPrincipalName":`, wantStatus: 400, wantCode: "BadRequest", wantMessage: "Unable to read JSON"},
		{name: "unknown user", user: "00000000-0000-0000-0000-000000000000", body: `{"displayName":"x"}`,
			wantStatus: 404, wantCode: "Request_ResourceNotFound"},
		{name: "addressed by UPN", user: "wrong-domain@cloud.contoso.example", body: `{"accountEnabled":false}`, wantStatus: 204,
			check: func(t *testing.T, s *graphTestServer) {
				if s.entraUser(t, gwWrongDomain).AccountEnabled {
					t.Error("accountEnabled still true")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newGraphTestServer(t, graphTestTenant(t))
			for _, p := range tt.before {
				if status, raw := s.send(t, http.MethodPatch, "/v1.0/users/"+p.user, p.body, false); status != 204 {
					t.Fatalf("setup PATCH %s: %d %s", p.body, status, raw)
				}
			}
			v0 := s.state.Version()
			status, raw := s.send(t, http.MethodPatch, "/v1.0/users/"+tt.user, tt.body, tt.zip)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, raw)
			}
			if tt.wantStatus == 204 {
				if len(raw) != 0 {
					t.Errorf("204 with a body: %s", raw)
				}
			} else {
				code, msg := graphErrorOf(t, raw)
				if code != tt.wantCode || !strings.Contains(msg, tt.wantMessage) {
					t.Errorf("error %s %q, want %s containing %q", code, msg, tt.wantCode, tt.wantMessage)
				}
				if s.state.Version() != v0 {
					t.Error("a refused PATCH bumped the state version")
				}
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestGraphPatchVisibleThroughReads(t *testing.T) {
	s := newGraphTestServer(t, graphTestTenant(t))
	if status, raw := s.send(t, http.MethodPatch, "/v1.0/users/"+gwWrongDomain, `{"onPremisesImmutableId":"`+gwNewAnchor+`"}`, false); status != 204 {
		t.Fatalf("PATCH: %d %s", status, raw)
	}
	_, body := s.get(t, "/v1.0/users?$filter="+urlQuery("onPremisesImmutableId eq '"+gwNewAnchor+"'")+"&$select=id")
	got := graphValue(t, body)
	if len(got) != 1 || got[0]["id"] != gwWrongDomain {
		t.Errorf("filter on the new anchor found %v, want %s", got, gwWrongDomain)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "=", "%3D", "+", "%2B", "/", "%2F").Replace(s)
}

type batchResult struct {
	Responses []struct {
		ID     string          `json:"id"`
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"responses"`
}

func TestGraphBatch(t *testing.T) {
	s := newGraphTestServer(t, graphTestTenant(t))
	body := `{"requests":[
		{"id":"park","method":"PATCH","url":"/users/` + gwMissingAD + `","headers":{"Content-Type":"application/json"},"body":{"userPrincipalName":"missing-ad@contoso.onmicrosoft.com"}},
		{"id":"set","method":"PATCH","url":"users/` + gwMissingAD + `","dependsOn":["park"],"headers":{"Content-Type":"application/json"},"body":{"onPremisesImmutableId":"` + gwNewAnchor + `","userPrincipalName":"missing-ad@contoso.example"}},
		{"id":"synced","method":"PATCH","url":"/users/` + gwSynced + `","body":{"displayName":"x"}},
		{"id":"after-synced","method":"PATCH","url":"/users/` + gwWrongDomain + `","dependsOn":["synced"],"body":{"displayName":"y"}},
		{"id":"read","method":"GET","url":"/users/` + gwMissingAD + `?$select=userPrincipalName,onPremisesImmutableId","dependsOn":["set"]}
	]}`
	status, raw := s.send(t, http.MethodPost, "/v1.0/$batch", body, true)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	var res batchResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	want := map[string]int{"park": 204, "set": 204, "synced": 400, "after-synced": 424, "read": 200}
	if len(res.Responses) != len(want) {
		t.Fatalf("%d responses, want %d: %s", len(res.Responses), len(want), raw)
	}
	for _, r := range res.Responses {
		if r.Status != want[r.ID] {
			t.Errorf("step %s: status %d, want %d (%s)", r.ID, r.Status, want[r.ID], r.Body)
		}
	}
	if code, _ := graphErrorOf(t, res.Responses[3].Body); code != "FailedDependency" {
		t.Errorf("424 step code %q", code)
	}
	var read map[string]any
	if err := json.Unmarshal(res.Responses[4].Body, &read); err != nil || read["onPremisesImmutableId"] != gwNewAnchor {
		t.Errorf("read step body %s (%v), want the new anchor", res.Responses[4].Body, err)
	}
	if s.entraUser(t, gwWrongDomain).DisplayName == "y" {
		t.Error("a step whose dependency failed ran")
	}
}

func TestGraphBatchRefusesBadBatches(t *testing.T) {
	step := func(id string, deps ...string) string {
		d, _ := json.Marshal(deps)
		return fmt.Sprintf(`{"id":%q,"method":"GET","url":"/users/%s","dependsOn":%s}`, id, gwOKAD, d)
	}
	var many []string
	for i := range graphMaxBatchSteps + 1 {
		many = append(many, step(fmt.Sprint(i)))
	}
	tests := []struct {
		name, body, wantMessage string
	}{
		{name: "more than 20 steps", body: `{"requests":[` + strings.Join(many, ",") + `]}`, wantMessage: "maximum of 20"},
		{name: "unknown dependency", body: `{"requests":[` + step("a", "b") + `]}`, wantMessage: "not an earlier step"},
		{name: "duplicate id", body: `{"requests":[` + step("a") + `,` + step("a") + `]}`, wantMessage: "duplicate id"},
		{name: "step without url", body: `{"requests":[{"id":"a","method":"GET"}]}`, wantMessage: "must have an id, a method and a url"},
		{name: "not a batch", body: `[]`, wantMessage: "Invalid batch payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newGraphTestServer(t, graphTestTenant(t))
			status, raw := s.send(t, http.MethodPost, "/v1.0/$batch", tt.body, false)
			if status != 400 {
				t.Fatalf("status %d, want 400: %s", status, raw)
			}
			if _, msg := graphErrorOf(t, raw); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message %q, want one containing %q", msg, tt.wantMessage)
			}
		})
	}
	t.Run("exactly 20 steps run", func(t *testing.T) {
		s := newGraphTestServer(t, graphTestTenant(t))
		status, raw := s.send(t, http.MethodPost, "/v1.0/$batch", `{"requests":[`+strings.Join(many[:graphMaxBatchSteps], ",")+`]}`, false)
		var res batchResult
		if status != 200 || json.Unmarshal(raw, &res) != nil || len(res.Responses) != graphMaxBatchSteps {
			t.Fatalf("status %d, body %.300s", status, raw)
		}
	})
}

func TestGraphAssignedLicensesServed(t *testing.T) {
	tenant := graphTestTenant(t)
	const sku = "6fd2c87f-b296-42f0-b197-1e91e994b900"
	for i := range tenant.Entra.Users {
		if tenant.Entra.Users[i].ID == gwOKAD {
			tenant.Entra.Users[i].AssignedLicenses = []string{sku}
		}
	}
	s := newGraphTestServer(t, tenant)
	_, body := s.get(t, "/v1.0/users/"+gwOKAD+"?$select=assignedLicenses")
	lic, _ := body["assignedLicenses"].([]any)
	if len(lic) != 1 || lic[0].(map[string]any)["skuId"] != sku {
		t.Errorf("assignedLicenses = %v, want one with skuId %s", body["assignedLicenses"], sku)
	}
}
