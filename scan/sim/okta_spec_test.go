package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

const oktaSpecFile = "testdata/specs/okta-management-APIs-oasv3-noEnums-inheritance.yaml"

var (
	oktaSpecOnce sync.Once
	oktaSpecDoc  *openapi3.T
	oktaSpecErr  error
)

// loadOktaSpec loads Okta's management API description once per test binary
// (1.7 MB of YAML) and patches the places where it contradicts what a live
// org returns. Every patch names its evidence.
func loadOktaSpec(t *testing.T) *openapi3.T {
	t.Helper()
	oktaSpecOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(oktaSpecFile)
		if err != nil {
			oktaSpecErr = fmt.Errorf("loading %s: %w", oktaSpecFile, err)
			return
		}
		if err := patchOktaSpec(doc); err != nil {
			oktaSpecErr = err
			return
		}
		// The spec's examples, defaults and patterns do not all validate
		// against its own schemas; the schemas themselves are what is used.
		oktaSpecErr = doc.Validate(loader.Context,
			openapi3.DisableExamplesValidation(),
			openapi3.DisableSchemaDefaultsValidation(),
			openapi3.DisableSchemaPatternValidation())
		oktaSpecDoc = doc
	})
	if oktaSpecErr != nil {
		t.Fatal(oktaSpecErr)
	}
	return oktaSpecDoc
}

func oktaSchema(doc *openapi3.T, name string) (*openapi3.Schema, error) {
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("spec has no schema %s", name)
	}
	return ref.Value, nil
}

func patchOktaSpec(doc *openapi3.T) error {
	// 1. WsFederationApplication.name is an enum of template_wsfed, which
	// rejects the office365 instance (a WS-Federation app by template).
	ws, err := oktaSchema(doc, "WsFederationApplication")
	if err != nil {
		return err
	}
	patched := false
	for _, part := range ws.AllOf {
		if p := part.Value.Properties["name"]; p != nil {
			p.Value.Enum = nil
			patched = true
		}
	}
	if !patched {
		return fmt.Errorf("WsFederationApplication has no name property to patch")
	}
	// 2. ProfileMappingRequest.required lists expression and pushStatus,
	// which are properties of each mapping property, not of the request.
	pmr, err := oktaSchema(doc, "ProfileMappingRequest")
	if err != nil {
		return err
	}
	var required []string
	for _, r := range pmr.Required {
		if r != "expression" && r != "pushStatus" {
			required = append(required, r)
		}
	}
	pmr.Required = required
	// 3. AppUser.externalId is not nullable in the spec, yet an app user that
	// was never imported or provisioned has externalId null (the spec's own
	// example AppUserProfUpdateResponse shows it).
	au, err := oktaSchema(doc, "AppUser")
	if err != nil {
		return err
	}
	ext := au.Properties["externalId"]
	if ext == nil {
		return fmt.Errorf("AppUser has no externalId property to patch")
	}
	ext.Value.Nullable = true
	// 4. The spec has no schema for directory integrations: a live
	// active_directory instance reports signOnMode null, which no branch of
	// the signOnMode discriminator accepts (okta-sdk-dotnet#821). Such apps
	// are checked against the generic Application properties instead, with
	// name pinned to active_directory so that a broken office365 app cannot
	// pass through this branch.
	app, err := oktaSchema(doc, "Application")
	if err != nil {
		return err
	}
	dir := &openapi3.Schema{
		Type:       &openapi3.Types{openapi3.TypeObject},
		Properties: openapi3.Schemas{},
		Required:   []string{"id", "name", "label", "status", "signOnMode"},
	}
	for k, v := range app.Properties {
		dir.Properties[k] = v
	}
	dir.Properties["signOnMode"] = openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Nullable: true, Enum: []any{nil}})
	dir.Properties["name"] = openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Enum: []any{"active_directory"}})
	dir.Properties["settings"] = openapi3.NewSchemaRef("", openapi3.NewObjectSchema())
	dir.Properties["credentials"] = openapi3.NewSchemaRef("#/components/schemas/ApplicationCredentials", doc.Components.Schemas["ApplicationCredentials"].Value)
	withDirectories := func(s *openapi3.SchemaRef) *openapi3.SchemaRef {
		return openapi3.NewSchemaRef("", &openapi3.Schema{AnyOf: openapi3.SchemaRefs{s, openapi3.NewSchemaRef("", dir)}})
	}
	listApps := doc.Paths.Find("/api/v1/apps").Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Value
	listApps.Items = withDirectories(listApps.Items)
	getApp := doc.Paths.Find("/api/v1/apps/{appId}").Get.Responses.Status(200).Value.Content.Get("application/json")
	getApp.Schema = withDirectories(getApp.Schema)
	return nil
}

// oktaSpecCase is one request to the fake and the spec path that describes it.
type oktaSpecCase struct {
	name       string
	path       string // request path and query
	specPath   string // templated path in the spec
	params     map[string]string
	token      string // "" means the right one
	wantStatus int
}

func oktaSpecCases() []oktaSpecCase {
	const o365, ad, user = "0oarv2cjxy7hgdpplev4", "0oa4euiz4othvcei5arg", "00utlmfhatxriapc6uir"
	app := map[string]string{"appId": o365}
	return []oktaSpecCase{
		{name: "users", path: "/api/v1/users?limit=200", specPath: "/api/v1/users", wantStatus: 200},
		{name: "users page 2", path: "/api/v1/users?limit=5&after=00ug4zb4kcamntqbggkd", specPath: "/api/v1/users", wantStatus: 200},
		{name: "user", path: "/api/v1/users/" + user, specPath: "/api/v1/users/{userId}", params: map[string]string{"userId": user}, wantStatus: 200},
		{name: "apps", path: "/api/v1/apps", specPath: "/api/v1/apps", wantStatus: 200},
		{name: "apps office365", path: "/api/v1/apps?filter=" + url.QueryEscape(`name eq "office365"`), specPath: "/api/v1/apps", wantStatus: 200},
		{name: "apps active_directory", path: "/api/v1/apps?limit=1&filter=" + url.QueryEscape(`name eq "active_directory"`), specPath: "/api/v1/apps", wantStatus: 200},
		{name: "app office365", path: "/api/v1/apps/" + o365, specPath: "/api/v1/apps/{appId}", params: app, wantStatus: 200},
		{name: "app active_directory", path: "/api/v1/apps/" + ad, specPath: "/api/v1/apps/{appId}", params: map[string]string{"appId": ad}, wantStatus: 200},
		{name: "app users office365", path: "/api/v1/apps/" + o365 + "/users?limit=500", specPath: "/api/v1/apps/{appId}/users", params: app, wantStatus: 200},
		{name: "app users active_directory", path: "/api/v1/apps/" + ad + "/users?limit=3", specPath: "/api/v1/apps/{appId}/users", params: map[string]string{"appId": ad}, wantStatus: 200},
		{name: "app user", path: "/api/v1/apps/" + o365 + "/users/" + user, specPath: "/api/v1/apps/{appId}/users/{userId}", params: map[string]string{"appId": o365, "userId": user}, wantStatus: 200},
		{name: "features", path: "/api/v1/apps/" + o365 + "/features", specPath: "/api/v1/apps/{appId}/features", params: app, wantStatus: 200},
		{name: "feature", path: "/api/v1/apps/" + o365 + "/features/USER_PROVISIONING", specPath: "/api/v1/apps/{appId}/features/{featureName}", params: map[string]string{"appId": o365, "featureName": "USER_PROVISIONING"}, wantStatus: 200},
		{name: "mappings", path: "/api/v1/mappings?sourceId=" + oktaUserTypeID + "&targetId=" + o365, specPath: "/api/v1/mappings", wantStatus: 200},
		{name: "mapping", path: "/api/v1/mappings/" + oktaMappingID(o365), specPath: "/api/v1/mappings/{mappingId}", params: map[string]string{"mappingId": oktaMappingID(o365)}, wantStatus: 200},
		{name: "404 user", path: "/api/v1/users/00unobody", specPath: "/api/v1/users/{userId}", params: map[string]string{"userId": "00unobody"}, wantStatus: 404},
		{name: "404 app", path: "/api/v1/apps/0oanothing/users", specPath: "/api/v1/apps/{appId}/users", params: map[string]string{"appId": "0oanothing"}, wantStatus: 404},
		{name: "404 feature of AD app", path: "/api/v1/apps/" + ad + "/features/USER_PROVISIONING", specPath: "/api/v1/apps/{appId}/features/{featureName}", params: map[string]string{"appId": ad, "featureName": "USER_PROVISIONING"}, wantStatus: 404},
		{name: "404 mapping", path: "/api/v1/mappings/prmnothing", specPath: "/api/v1/mappings/{mappingId}", params: map[string]string{"mappingId": "prmnothing"}, wantStatus: 404},
		{name: "400 limit", path: "/api/v1/apps/" + o365 + "/users?limit=ten", specPath: "/api/v1/apps/{appId}/users", params: app, wantStatus: 400},
		{name: "401 wrong token", path: "/api/v1/users", specPath: "/api/v1/users", token: "wrong", wantStatus: 401},
	}
}

type oktaCapture struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

func oktaSpecServer(t *testing.T) *httptest.Server {
	t.Helper()
	tenant, err := LoadFixtureFile("testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(NewOktaHandler(NewState(tenant), OktaOptions{Token: oktaTestToken}))
	t.Cleanup(srv.Close)
	return srv
}

func oktaCaptureCase(t *testing.T, srv *httptest.Server, c oktaSpecCase) oktaCapture {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+c.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+cmpOr(c.token, oktaTestToken))
	req.Header.Set("Accept", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != c.wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", c.path, resp.StatusCode, c.wantStatus, body)
	}
	return oktaCapture{req: req, status: resp.StatusCode, header: resp.Header, body: body}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validateOktaResponse checks a captured response against the spec
// operation for c. Statuses the spec does not list for the operation (401:
// Okta documents it once, globally) are checked against the Error schema.
func validateOktaResponse(doc *openapi3.T, c oktaSpecCase, got oktaCapture) error {
	item := doc.Paths.Find(c.specPath)
	if item == nil {
		return fmt.Errorf("spec has no path %s", c.specPath)
	}
	op := item.GetOperation(http.MethodGet)
	if op == nil {
		return fmt.Errorf("spec has no GET %s", c.specPath)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	if op.Responses.Status(got.status) == nil {
		if got.status < 400 {
			return fmt.Errorf("spec lists no %d response for GET %s", got.status, c.specPath)
		}
		errSchema, err := oktaSchema(doc, "Error")
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(got.body, &v); err != nil {
			return fmt.Errorf("error body is not JSON: %w", err)
		}
		return errSchema.VisitJSON(v)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    got.req,
			PathParams: c.params,
			Route: &routers.Route{
				Spec: doc, Path: c.specPath, PathItem: item, Method: http.MethodGet, Operation: op,
			},
		},
		Status: got.status,
		Header: got.header,
		Body:   io.NopCloser(bytes.NewReader(got.body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	return openapi3filter.ValidateResponse(context.Background(), input)
}

func TestOktaResponsesMatchSpec(t *testing.T) {
	doc := loadOktaSpec(t)
	srv := oktaSpecServer(t)
	for _, c := range oktaSpecCases() {
		t.Run(c.name, func(t *testing.T) {
			got := oktaCaptureCase(t, srv, c)
			if err := validateOktaResponse(doc, c, got); err != nil {
				t.Errorf("GET %s does not match the spec: %v\nbody: %.600s", c.path, err, got.body)
			}
			if c.wantStatus >= 400 {
				var e oktaErrorJSON
				if err := json.Unmarshal(got.body, &e); err != nil || e.ErrorCode == "" || e.ErrorSummary == "" || e.ErrorID == "" {
					t.Errorf("error body %s lacks errorCode/errorSummary/errorId (%v)", got.body, err)
				}
			}
		})
	}
}

// TestOktaSpecValidationCatchesCorruption proves the validation above can
// fail: each response is corrupted in one field and must be rejected.
func TestOktaSpecValidationCatchesCorruption(t *testing.T) {
	doc := loadOktaSpec(t)
	srv := oktaSpecServer(t)
	cases := map[string]oktaSpecCase{}
	for _, c := range oktaSpecCases() {
		cases[c.name] = c
	}
	tests := []struct {
		name    string
		caseFor string
		corrupt func(v any) // mutates the decoded body
	}{
		{name: "user status is a number", caseFor: "users", corrupt: func(v any) { v.([]any)[0].(map[string]any)["status"] = 1 }},
		{name: "user created is not a date", caseFor: "user", corrupt: func(v any) { v.(map[string]any)["created"] = "yesterday" }},
		{name: "user profile login is an object", caseFor: "user", corrupt: func(v any) {
			v.(map[string]any)["profile"].(map[string]any)["login"] = map[string]any{}
		}},
		{name: "app user externalId is a number", caseFor: "app users office365", corrupt: func(v any) { v.([]any)[0].(map[string]any)["externalId"] = 7 }},
		{name: "app user credentials userName is empty", caseFor: "app user", corrupt: func(v any) {
			v.(map[string]any)["credentials"].(map[string]any)["userName"] = ""
		}},
		{name: "office365 label missing", caseFor: "app office365", corrupt: func(v any) { delete(v.(map[string]any), "label") }},
		{name: "office365 settings app wReplyOverride is a string", caseFor: "apps office365", corrupt: func(v any) {
			v.([]any)[0].(map[string]any)["settings"].(map[string]any)["app"].(map[string]any)["wReplyOverride"] = "no"
		}},
		{name: "directory app features is a string", caseFor: "app active_directory", corrupt: func(v any) { v.(map[string]any)["features"] = "IMPORT_NEW_USERS" }},
		{name: "feature status is a boolean", caseFor: "feature", corrupt: func(v any) { v.(map[string]any)["status"] = true }},
		{name: "mapping expression is a number", caseFor: "mapping", corrupt: func(v any) {
			v.(map[string]any)["properties"].(map[string]any)["immutableId"].(map[string]any)["expression"] = 3
		}},
		{name: "mapping list source is a string", caseFor: "mappings", corrupt: func(v any) { v.([]any)[0].(map[string]any)["source"] = "user" }},
		{name: "error code is a number", caseFor: "404 user", corrupt: func(v any) { v.(map[string]any)["errorCode"] = 7 }},
		{name: "401 error causes is an object", caseFor: "401 wrong token", corrupt: func(v any) { v.(map[string]any)["errorCauses"] = map[string]any{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := cases[tt.caseFor]
			if !ok {
				t.Fatalf("no spec case %q", tt.caseFor)
			}
			got := oktaCaptureCase(t, srv, c)
			if err := validateOktaResponse(doc, c, got); err != nil {
				t.Fatalf("the uncorrupted response already fails: %v", err)
			}
			var v any
			if err := json.Unmarshal(got.body, &v); err != nil {
				t.Fatal(err)
			}
			tt.corrupt(v)
			body, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got.body = body
			if err := validateOktaResponse(doc, c, got); err == nil {
				t.Errorf("corrupted response passed validation: %s", strings.TrimSpace(string(body[:min(len(body), 400)])))
			}
		})
	}
}
