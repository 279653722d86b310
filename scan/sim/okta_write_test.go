package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/go-cmp/cmp"
)

// Records of the example tenant the write tests use.
const (
	owO365       = "0oarv2cjxy7hgdpplev4"
	owAD1        = "0oa4euiz4othvcei5arg"
	owUnassigned = "00uyr5d2sjviwrrbl62b" // one AD source, not assigned to O365
	owTwoAD      = "00usbbsnnm7pabyorpsp" // two AD sources
	owCloud      = "00un2qvsh5pynh4377ty" // no AD source
	owOKAD       = "00utlmfhatxriapc6uir" // assigned, linked to Entra 3cd49c6d-…
	owOKADEntra  = "3cd49c6d-00b7-4439-932a-b4141082be29"
)

// oktaWriteTenant is the example tenant with the two-AD and cloud users'
// O365 assignments removed, so they can be assigned afresh.
func oktaWriteTenant(t testing.TB, expression string) *Tenant {
	t.Helper()
	tenant := oktaExampleTenant(t)
	tenant.Okta.AppUsers = slices.DeleteFunc(tenant.Okta.AppUsers, func(au OktaAppUser) bool {
		return au.AppID == owO365 && (au.UserID == owTwoAD || au.UserID == owCloud)
	})
	if expression != "" {
		tenant.Okta.Apps[0].ImmutableIDMapping.Expression = expression
	}
	return tenant
}

type oktaWriteResult struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

func (s *oktaTestServer) write(t testing.TB, method, path, body string) oktaWriteResult {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+oktaTestToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return oktaWriteResult{req: req, status: resp.StatusCode, header: resp.Header, body: raw}
}

func (s *oktaTestServer) appUser(t testing.TB, appID, userID string) (OktaAppUser, bool) {
	t.Helper()
	var au OktaAppUser
	found := false
	s.state.Read(func(tn *Tenant) {
		if i := findOktaAppUser(tn, appID, userID); i >= 0 {
			au, found = tn.Okta.AppUsers[i], true
		}
	})
	return au, found
}

func oktaErrorCode(t testing.TB, raw []byte) (code, all string) {
	t.Helper()
	var e oktaErrorJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, raw)
	}
	all = e.ErrorSummary
	for _, c := range e.ErrorCauses {
		all += "; " + c.ErrorSummary
	}
	return e.ErrorCode, all
}

func TestOktaAssignEvaluatesMapping(t *testing.T) {
	const (
		defaultExpr = oktaExprDefault
		recommended = oktaExprRecommended
		internalID  = oktaExprOktaUserID
	)
	const appUserID = "<the new app user id>"
	tests := []struct {
		name       string
		expression string
		user       string
		profile    string
		want       string // appUserID stands for the 0ua… id
	}{
		{name: "default, one AD source", expression: defaultExpr, user: owUnassigned, want: "ys1yI83JHU2baej1SGneBw=="},
		{name: "default, no AD source: app user id", expression: defaultExpr, user: owCloud, want: appUserID},
		{name: "default, two AD sources: app user id", expression: defaultExpr, user: owTwoAD, want: appUserID},
		{name: "recommended, one AD source", expression: recommended, user: owUnassigned, want: "ys1yI83JHU2baej1SGneBw=="},
		{name: "recommended, no AD source: Okta user id", expression: recommended, user: owCloud, want: owCloud},
		{name: "recommended, two AD sources: Okta user id", expression: recommended, user: owTwoAD, want: owTwoAD},
		{name: "internal id", expression: internalID, user: owUnassigned, want: owUnassigned},
		{name: "first AD instance", expression: "active_directory.externalId", user: owTwoAD, want: "8Ny8oZeWAk+yJIVHDmUlkw=="},
		{name: "second AD instance", expression: "active_directory_2.externalId", user: owTwoAD, want: "veecnmbL5kC1X/JHCfzSog=="},
		{name: "instance the user is not in: app user id", expression: "active_directory_2.externalId", user: owUnassigned, want: appUserID},
		{name: "body value used where the mapping yields null", expression: defaultExpr, user: owCloud,
			profile: `{"immutableId":"Y2xvdWQ="}`, want: "Y2xvdWQ="},
		{name: "mapping wins over the body", expression: recommended, user: owUnassigned,
			profile: `{"immutableId":"Y2xvdWQ="}`, want: "ys1yI83JHU2baej1SGneBw=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, tt.expression), OktaOptions{})
			body := `{"id":"` + tt.user + `","scope":"USER"}`
			if tt.profile != "" {
				body = `{"id":"` + tt.user + `","scope":"USER","profile":` + tt.profile + `}`
			}
			res := s.write(t, http.MethodPost, "/api/v1/apps/"+owO365+"/users", body)
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			au, ok := s.appUser(t, owO365, tt.user)
			if !ok {
				t.Fatal("no app user after the assignment")
			}
			if !strings.HasPrefix(au.AppUserID, "0ua") || len(au.AppUserID) != 20 {
				t.Errorf("app user id %q is not a 0ua… id", au.AppUserID)
			}
			want := tt.want
			if want == appUserID {
				want = au.AppUserID
			}
			if got := strOrNil(au.Profile.ImmutableID); got != want {
				t.Errorf("immutableId = %s, want %s", got, want)
			}
			var served struct {
				ID      string         `json:"id"`
				Profile map[string]any `json:"profile"`
			}
			if err := json.Unmarshal(res.body, &served); err != nil || served.ID != tt.user || served.Profile["immutableId"] != want {
				t.Errorf("response %s (%v) does not show user %s with immutableId %s", res.body, err, tt.user, want)
			}
		})
	}
}

func TestOktaAssignRefusals(t *testing.T) {
	tests := []struct {
		name, expression, app, body string
		wantStatus                  int
		wantCode, wantText          string
	}{
		{name: "expression the simulator cannot evaluate", expression: `user.email`, app: owO365, body: `{"id":"` + owCloud + `"}`,
			wantStatus: 400, wantCode: "E0000001", wantText: "not one the simulator evaluates"},
		{name: "unknown AD instance", expression: `active_directory_9.externalId`, app: owO365, body: `{"id":"` + owCloud + `"}`,
			wantStatus: 400, wantCode: "E0000001", wantText: "not an active_directory instance"},
		{name: "unknown app", app: "0oanothing", body: `{"id":"` + owCloud + `"}`, wantStatus: 404, wantCode: "E0000007", wantText: "(AppInstance)"},
		{name: "unknown user", app: owO365, body: `{"id":"00unobody"}`, wantStatus: 404, wantCode: "E0000007", wantText: "00unobody (User)"},
		{name: "no user id", app: owO365, body: `{"scope":"USER"}`, wantStatus: 400, wantCode: "E0000001", wantText: "id"},
		{name: "group scope", app: owO365, body: `{"id":"` + owCloud + `","scope":"GROUP"}`, wantStatus: 400, wantCode: "E0000001", wantText: "only USER"},
		{name: "AD app", app: owAD1, body: `{"id":"` + owCloud + `"}`, wantStatus: 400, wantCode: "E0000001", wantText: "office365 app instances only"},
		{name: "unknown profile attribute", app: owO365, body: `{"id":"` + owCloud + `","profile":{"department":"x"}}`,
			wantStatus: 400, wantCode: "E0000001", wantText: "department"},
		{name: "licences not a list", app: owO365, body: `{"id":"` + owCloud + `","profile":{"licenses":"E3"}}`,
			wantStatus: 400, wantCode: "E0000001", wantText: "licenses: must be an array"},
		{name: "not JSON", app: owO365, body: `{"id":`, wantStatus: 400, wantCode: "E0000003", wantText: "not well-formed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, tt.expression), OktaOptions{})
			res := s.write(t, http.MethodPost, "/api/v1/apps/"+tt.app+"/users", tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			code, text := oktaErrorCode(t, res.body)
			if code != tt.wantCode || !strings.Contains(text, tt.wantText) {
				t.Errorf("error %s %q, want %s containing %q", code, text, tt.wantCode, tt.wantText)
			}
			if _, ok := s.appUser(t, tt.app, owCloud); ok {
				t.Error("a refused assignment created an app user")
			}
		})
	}
}

func TestOktaAssignOverwritesLicencesAndRoles(t *testing.T) {
	tests := []struct {
		name          string
		user          string
		profile       string
		wantLicences  []string
		wantRoles     []string
		wantUserName  string
		wantLinkedTo  string
		credentialsUN string
	}{
		{name: "new assignment without licences", user: owCloud, wantLicences: []string{}, wantRoles: []string{},
			wantUserName: "missing-cloud@contoso.example", wantLinkedTo: "3f85ff19-5420-4e8c-8d3d-38c7f3716324"},
		{name: "new assignment with licences and roles", user: owCloud, profile: `{"licenses":["ENTERPRISEPACK"],"roles":["Helpdesk Administrator"]}`,
			wantLicences: []string{"ENTERPRISEPACK"}, wantRoles: []string{"Helpdesk Administrator"},
			wantUserName: "other@contoso.example", credentialsUN: "other@contoso.example"},
		{name: "reassignment without licences empties them", user: owOKAD, wantLicences: []string{}, wantRoles: []string{},
			wantUserName: "ok-ad@contoso.example", wantLinkedTo: owOKADEntra},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
			body := map[string]any{"id": tt.user, "scope": "USER"}
			if tt.profile != "" {
				body["profile"] = json.RawMessage(tt.profile)
			}
			if tt.credentialsUN != "" {
				body["credentials"] = map[string]string{"userName": tt.credentialsUN}
			}
			raw, _ := json.Marshal(body)
			if res := s.write(t, http.MethodPost, "/api/v1/apps/"+owO365+"/users", string(raw)); res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			au, _ := s.appUser(t, owO365, tt.user)
			if diff := cmp.Diff([]any{tt.wantLicences, tt.wantRoles, tt.wantUserName}, []any{au.Profile.Licenses, au.Profile.Roles, au.UserName}); diff != "" {
				t.Errorf("licences, roles, userName (-want +got):\n%s", diff)
			}
			if tt.wantLinkedTo != "" && strOrNil(au.ExternalID) != tt.wantLinkedTo {
				t.Errorf("externalId = %s, want %s", strOrNil(au.ExternalID), tt.wantLinkedTo)
			}
		})
	}
}

func (s *oktaTestServer) entraUser(t testing.TB, id string) EntraUser {
	t.Helper()
	var u EntraUser
	s.state.Read(func(tn *Tenant) {
		for _, x := range tn.Entra.Users {
			if x.ID == id {
				u = x
			}
		}
	})
	return u
}

func TestOktaUnassignDeactivateUsers(t *testing.T) {
	const sku = "6fd2c87f-b296-42f0-b197-1e91e994b900"
	tests := []struct {
		name         string
		deactivate   string
		wantEnabled  bool
		wantLicences []string
	}{
		{name: "ENABLED deprovisions the Entra user", deactivate: "ENABLED", wantEnabled: false, wantLicences: nil},
		{name: "DISABLED leaves the Entra user alone", deactivate: "DISABLED", wantEnabled: true, wantLicences: []string{sku}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := oktaWriteTenant(t, "")
			tenant.Okta.Apps[0].DeactivateUsers = tt.deactivate
			for i := range tenant.Entra.Users {
				if tenant.Entra.Users[i].ID == owOKADEntra {
					tenant.Entra.Users[i].AssignedLicenses = []string{sku}
				}
			}
			s := newOktaTestServer(t, tenant, OktaOptions{})
			res := s.write(t, http.MethodDelete, "/api/v1/apps/"+owO365+"/users/"+owOKAD, "")
			if res.status != 204 || len(res.body) != 0 {
				t.Fatalf("status %d, body %q, want 204 and no body", res.status, res.body)
			}
			if _, ok := s.appUser(t, owO365, owOKAD); ok {
				t.Error("the app user is still assigned")
			}
			if _, ok := s.appUser(t, owAD1, owOKAD); !ok {
				t.Error("the AD app user went too")
			}
			u := s.entraUser(t, owOKADEntra)
			if u.AccountEnabled != tt.wantEnabled || !slices.Equal(u.AssignedLicenses, tt.wantLicences) {
				t.Errorf("Entra user accountEnabled=%v licences=%v, want %v %v", u.AccountEnabled, u.AssignedLicenses, tt.wantEnabled, tt.wantLicences)
			}
			if again := s.write(t, http.MethodDelete, "/api/v1/apps/"+owO365+"/users/"+owOKAD, ""); again.status != 404 {
				t.Errorf("second unassign: status %d, want 404", again.status)
			}
			if resp, _ := s.get(t, "/api/v1/apps/"+owO365+"/users/"+owOKAD); resp.StatusCode != 404 {
				t.Errorf("GET after unassign: %d, want 404", resp.StatusCode)
			}
		})
	}
}

func TestOktaUpdateAppUserMergesProfile(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		wantStatus   int
		wantAnchor   string
		wantLicences []string
		wantUserName string
	}{
		{name: "immutableId only", body: `{"profile":{"immutableId":"bmV3"}}`, wantStatus: 200,
			wantAnchor: "bmV3", wantLicences: []string{"ENTERPRISEPACK"}, wantUserName: "ok-ad@contoso.example"},
		{name: "null clears immutableId", body: `{"profile":{"immutableId":null}}`, wantStatus: 200,
			wantAnchor: "<nil>", wantLicences: []string{"ENTERPRISEPACK"}, wantUserName: "ok-ad@contoso.example"},
		{name: "licences only", body: `{"profile":{"licenses":["SPE_E5"]}}`, wantStatus: 200,
			wantAnchor: "Pqlfffo2uEqbF4UcX9pvFQ==", wantLicences: []string{"SPE_E5"}, wantUserName: "ok-ad@contoso.example"},
		{name: "userName", body: `{"credentials":{"userName":"new@contoso.example"}}`, wantStatus: 200,
			wantAnchor: "Pqlfffo2uEqbF4UcX9pvFQ==", wantLicences: []string{"ENTERPRISEPACK"}, wantUserName: "new@contoso.example"},
		{name: "empty body refused", body: `{}`, wantStatus: 400,
			wantAnchor: "Pqlfffo2uEqbF4UcX9pvFQ==", wantLicences: []string{"ENTERPRISEPACK"}, wantUserName: "ok-ad@contoso.example"},
		{name: "anchor of the wrong type", body: `{"profile":{"immutableId":5}}`, wantStatus: 400,
			wantAnchor: "Pqlfffo2uEqbF4UcX9pvFQ==", wantLicences: []string{"ENTERPRISEPACK"}, wantUserName: "ok-ad@contoso.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
			res := s.write(t, http.MethodPost, "/api/v1/apps/"+owO365+"/users/"+owOKAD, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			au, _ := s.appUser(t, owO365, owOKAD)
			if diff := cmp.Diff([]any{tt.wantAnchor, tt.wantLicences, tt.wantUserName},
				[]any{strOrNil(au.Profile.ImmutableID), au.Profile.Licenses, au.UserName}); diff != "" {
				t.Errorf("anchor, licences, userName (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unknown assignment", func(t *testing.T) {
		s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
		if res := s.write(t, http.MethodPost, "/api/v1/apps/"+owO365+"/users/"+owCloud, `{"profile":{"immutableId":"x"}}`); res.status != 404 {
			t.Errorf("status %d, want 404", res.status)
		}
	})
}

func TestOktaUpdateFeature(t *testing.T) {
	tests := []struct {
		name, app, feature, body string
		wantStatus               int
		wantDeactivate           string
	}{
		{name: "enable", app: owO365, feature: "USER_PROVISIONING", body: `{"update":{"lifecycleDeactivate":{"status":"ENABLED"}}}`, wantStatus: 200, wantDeactivate: "ENABLED"},
		{name: "other capabilities only", app: owO365, feature: "USER_PROVISIONING", body: `{"create":{"lifecycleCreate":{"status":"ENABLED"}}}`, wantStatus: 200, wantDeactivate: "DISABLED"},
		{name: "bad status", app: owO365, feature: "USER_PROVISIONING", body: `{"update":{"lifecycleDeactivate":{"status":"ON"}}}`, wantStatus: 400, wantDeactivate: "DISABLED"},
		{name: "other feature", app: owO365, feature: "INBOUND_PROVISIONING", body: `{}`, wantStatus: 404, wantDeactivate: "DISABLED"},
		{name: "AD app", app: owAD1, feature: "USER_PROVISIONING", body: `{}`, wantStatus: 404, wantDeactivate: "DISABLED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
			res := s.write(t, http.MethodPut, "/api/v1/apps/"+tt.app+"/features/"+tt.feature, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			_, body := s.get(t, "/api/v1/apps/"+owO365+"/features/USER_PROVISIONING")
			if !strings.Contains(string(body), `"lifecycleDeactivate":{"status":"`+tt.wantDeactivate+`"}`) {
				t.Errorf("feature after the PUT: %s, want lifecycleDeactivate %s", body, tt.wantDeactivate)
			}
		})
	}
}

func TestOktaUpdateMapping(t *testing.T) {
	mapping := oktaMappingID(owO365)
	tests := []struct {
		name, body     string
		wantStatus     int
		wantExpression string
		wantPush       string
	}{
		{name: "expression and push status", body: `{"properties":{"immutableId":{"expression":"` + jsonEscape(oktaExprDefault) + `","pushStatus":"PUSH"}}}`,
			wantStatus: 200, wantExpression: oktaExprDefault, wantPush: "PUSH"},
		{name: "push status only", body: `{"properties":{"immutableId":{"pushStatus":"PUSH"}}}`,
			wantStatus: 200, wantExpression: oktaExprRecommended, wantPush: "PUSH"},
		{name: "fixed property sent back unchanged", body: `{"properties":{"firstName":{"expression":"user.firstName","pushStatus":"PUSH"},"immutableId":{"expression":"active_directory.externalId"}}}`,
			wantStatus: 200, wantExpression: "active_directory.externalId", wantPush: "DONT_PUSH"},
		{name: "unknown expression", body: `{"properties":{"immutableId":{"expression":"user.login"}}}`,
			wantStatus: 400, wantExpression: oktaExprRecommended, wantPush: "DONT_PUSH"},
		{name: "empty expression", body: `{"properties":{"immutableId":{"expression":""}}}`,
			wantStatus: 400, wantExpression: oktaExprRecommended, wantPush: "DONT_PUSH"},
		{name: "bad push status", body: `{"properties":{"immutableId":{"pushStatus":"SOMETIMES"}}}`,
			wantStatus: 400, wantExpression: oktaExprRecommended, wantPush: "DONT_PUSH"},
		{name: "altering a fixed property", body: `{"properties":{"email":{"expression":"user.login"}}}`,
			wantStatus: 400, wantExpression: oktaExprRecommended, wantPush: "DONT_PUSH"},
		{name: "no properties", body: `{"properties":{}}`, wantStatus: 400, wantExpression: oktaExprRecommended, wantPush: "DONT_PUSH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
			res := s.write(t, http.MethodPost, "/api/v1/mappings/"+mapping, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			var got *Mapping
			s.state.Read(func(tn *Tenant) { m := *tn.Okta.Apps[0].ImmutableIDMapping; got = &m })
			if got.Expression != tt.wantExpression || got.PushStatus != tt.wantPush {
				t.Errorf("mapping is %q %s, want %q %s", got.Expression, got.PushStatus, tt.wantExpression, tt.wantPush)
			}
		})
	}
	t.Run("unknown mapping", func(t *testing.T) {
		s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
		if res := s.write(t, http.MethodPost, "/api/v1/mappings/prmnothing", `{"properties":{"immutableId":{"pushStatus":"PUSH"}}}`); res.status != 404 {
			t.Errorf("status %d, want 404", res.status)
		}
	})
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// validateOktaWrite checks a write's response against the spec operation,
// as validateOktaResponse does for reads.
func validateOktaWrite(doc *openapi3.T, method, specPath string, params map[string]string, got oktaWriteResult) error {
	item := doc.Paths.Find(specPath)
	if item == nil {
		return fmt.Errorf("spec has no path %s", specPath)
	}
	op := item.GetOperation(method)
	if op == nil {
		return fmt.Errorf("spec has no %s %s", method, specPath)
	}
	if op.Responses.Status(got.status) == nil {
		return fmt.Errorf("spec lists no %d response for %s %s", got.status, method, specPath)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    got.req,
			PathParams: params,
			Route:      &routers.Route{Spec: doc, Path: specPath, PathItem: item, Method: method, Operation: op},
		},
		Status:  got.status,
		Header:  got.header,
		Body:    io.NopCloser(bytes.NewReader(got.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), input)
}

func TestOktaWriteResponsesMatchSpec(t *testing.T) {
	doc := loadOktaSpec(t)
	appUser := map[string]string{"appId": owO365, "userId": owOKAD}
	tests := []struct {
		name, method, path, specPath, body string
		params                             map[string]string
		wantStatus                         int
	}{
		{name: "assign", method: "POST", path: "/api/v1/apps/" + owO365 + "/users", specPath: "/api/v1/apps/{appId}/users",
			body: `{"id":"` + owCloud + `","scope":"USER","credentials":{"userName":"missing-cloud@contoso.example"}}`, params: map[string]string{"appId": owO365}, wantStatus: 200},
		{name: "assign refused", method: "POST", path: "/api/v1/apps/" + owO365 + "/users", specPath: "/api/v1/apps/{appId}/users",
			body: `{"id":"` + owCloud + `","profile":{"x":1}}`, params: map[string]string{"appId": owO365}, wantStatus: 400},
		{name: "assign unknown user", method: "POST", path: "/api/v1/apps/" + owO365 + "/users", specPath: "/api/v1/apps/{appId}/users",
			body: `{"id":"00unobody"}`, params: map[string]string{"appId": owO365}, wantStatus: 404},
		{name: "profile update", method: "POST", path: "/api/v1/apps/" + owO365 + "/users/" + owOKAD, specPath: "/api/v1/apps/{appId}/users/{userId}",
			body: `{"profile":{"immutableId":"bmV3"}}`, params: appUser, wantStatus: 200},
		{name: "unassign", method: "DELETE", path: "/api/v1/apps/" + owO365 + "/users/" + owOKAD, specPath: "/api/v1/apps/{appId}/users/{userId}",
			params: appUser, wantStatus: 204},
		{name: "unassign unknown", method: "DELETE", path: "/api/v1/apps/" + owO365 + "/users/00unobody", specPath: "/api/v1/apps/{appId}/users/{userId}",
			params: map[string]string{"appId": owO365, "userId": "00unobody"}, wantStatus: 404},
		{name: "feature", method: "PUT", path: "/api/v1/apps/" + owO365 + "/features/USER_PROVISIONING", specPath: "/api/v1/apps/{appId}/features/{featureName}",
			body: `{"update":{"lifecycleDeactivate":{"status":"ENABLED"}}}`, params: map[string]string{"appId": owO365, "featureName": "USER_PROVISIONING"}, wantStatus: 200},
		{name: "mapping", method: "POST", path: "/api/v1/mappings/" + oktaMappingID(owO365), specPath: "/api/v1/mappings/{mappingId}",
			body: `{"properties":{"immutableId":{"pushStatus":"PUSH"}}}`, params: map[string]string{"mappingId": oktaMappingID(owO365)}, wantStatus: 200},
		{name: "mapping refused", method: "POST", path: "/api/v1/mappings/" + oktaMappingID(owO365), specPath: "/api/v1/mappings/{mappingId}",
			body: `{"properties":{"immutableId":{"pushStatus":"NO"}}}`, params: map[string]string{"mappingId": oktaMappingID(owO365)}, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOktaTestServer(t, oktaWriteTenant(t, ""), OktaOptions{})
			got := s.write(t, tt.method, tt.path, tt.body)
			if got.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", got.status, tt.wantStatus, got.body)
			}
			if err := validateOktaWrite(doc, tt.method, tt.specPath, tt.params, got); err != nil {
				t.Errorf("%s %s does not match the spec: %v\nbody: %.600s", tt.method, tt.path, err, got.body)
			}
			if tt.wantStatus == 200 {
				// The validation must be able to fail: a corrupted copy of
				// the same response is rejected.
				var v map[string]any
				if err := json.Unmarshal(got.body, &v); err != nil {
					t.Fatal(err)
				}
				v["_links"] = "not an object"
				if _, ok := v["status"]; ok {
					v["status"] = 3
				}
				got.body, _ = json.Marshal(v)
				if err := validateOktaWrite(doc, tt.method, tt.specPath, tt.params, got); err == nil {
					t.Errorf("a corrupted response passed: %.300s", got.body)
				}
			}
		})
	}
}

// oktaHandlerOnly serves tenant without the TLS test server, for the
// import tests that need the State too.
func oktaHandlerOnly(t testing.TB, tenant *Tenant) (*State, *httptest.Server) {
	t.Helper()
	st := NewState(tenant)
	srv := httptest.NewTLSServer(NewOktaHandler(st, OktaOptions{Token: oktaTestToken}))
	t.Cleanup(srv.Close)
	return st, srv
}
