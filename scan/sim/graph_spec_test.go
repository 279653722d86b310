package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The fake Graph is checked against two vendor descriptions. The OpenAPI
// subset covers /users, /users/{id} and /domains, including the OData error
// body; the CSDL (authoritative where they differ) covers every entity the
// fake emits, including those outside the subset: organization,
// internalDomainFederation and the verifiedDomain complex type.
const (
	graphOpenAPIFile = "testdata/specs/users-domains-subset.openapi.yaml"
	graphCSDLFile    = "testdata/specs/cleanMetadata-v1.0.csdl.xml"
)

// graphSpecCase is one response the fake serves and the entity type its
// objects are (or "" for an error body).
type graphSpecCase struct {
	name       string
	path       string
	header     http.Header // nil: authenticated
	wantStatus int
	entity     string // CSDL entity type of the body, or of each value[] item
	collection bool
}

func graphSpecCases() []graphSpecCase {
	collectorSelect := "$select=id,userPrincipalName,displayName,mail,accountEnabled,userType,creationType," +
		"onPremisesImmutableId,onPremisesSyncEnabled,onPremisesSecurityIdentifier," +
		"onPremisesDistinguishedName,onPremisesSamAccountName"
	return []graphSpecCase{
		{name: "organization", path: "/v1.0/organization", wantStatus: 200, entity: "organization", collection: true},
		{name: "domains", path: "/v1.0/domains", wantStatus: 200, entity: "domain", collection: true},
		{name: "domain", path: "/v1.0/domains/contoso.example", wantStatus: 200, entity: "domain"},
		{name: "domains selected", path: "/v1.0/domains?$select=id,authenticationType,isVerified,isInitial", wantStatus: 200, entity: "domain", collection: true},
		{name: "federation federated", path: "/v1.0/domains/contoso.example/federationConfiguration", wantStatus: 200, entity: "internalDomainFederation", collection: true},
		{name: "federation managed", path: "/v1.0/domains/cloud.contoso.example/federationConfiguration", wantStatus: 200, entity: "internalDomainFederation", collection: true},
		{name: "users default", path: "/v1.0/users", wantStatus: 200, entity: "user", collection: true},
		{name: "users every property", path: "/v1.0/users?$select=" + strings.Join(userProperties, ","), wantStatus: 200, entity: "user", collection: true},
		{name: "users collector page 1", path: "/v1.0/users?" + collectorSelect + "&$top=5", wantStatus: 200, entity: "user", collection: true},
		{name: "users filtered", path: "/v1.0/users?$filter=" + url.QueryEscape("onPremisesImmutableId eq 'RHt7qWMRnk6G5nVgM/uWjQ=='"), wantStatus: 200, entity: "user", collection: true},
		{name: "user default", path: "/v1.0/users/synced@contoso.example", wantStatus: 200, entity: "user"},
		{name: "user selected", path: "/v1.0/users/f7b59838-49c0-482e-8bd9-aff74dc0186d?" + collectorSelect, wantStatus: 200, entity: "user"},
		{name: "error 401", path: "/v1.0/users", header: http.Header{}, wantStatus: 401},
		{name: "error 404 user", path: "/v1.0/users/nobody@contoso.example", wantStatus: 404},
		{name: "error 400 top", path: "/v1.0/users?$top=5000", wantStatus: 400},
		{name: "error 400 select", path: "/v1.0/users?$select=nope", wantStatus: 400},
		{name: "error 400 filter", path: "/v1.0/users?$filter=" + url.QueryEscape("displayName ne 'x'"), wantStatus: 400},
		{name: "error 404 domain", path: "/v1.0/domains/fabrikam.example", wantStatus: 404},
		{name: "error 404 federation", path: "/v1.0/domains/fabrikam.example/federationConfiguration", wantStatus: 404},
		{name: "error 400 segment", path: "/v1.0/groups", wantStatus: 400},
	}
}

// graphCapture is one response as the validators see it.
type graphCapture struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (s *graphTestServer) capture(t *testing.T, c graphSpecCase) graphCapture {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+c.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.header == nil {
		req.Header.Set("Authorization", "Bearer "+graphTestToken)
	} else {
		req.Header = c.header
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
	if resp.StatusCode != c.wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", c.path, resp.StatusCode, c.wantStatus, body)
	}
	return graphCapture{method: http.MethodGet, path: c.path, status: resp.StatusCode, header: resp.Header, body: body}
}

func TestGraphResponsesMatchVendorDescriptions(t *testing.T) {
	spec := loadGraphOpenAPI(t)
	csdl := loadGraphCSDL(t)
	srv := newGraphTestServer(t, graphTestTenant(t))
	for _, c := range graphSpecCases() {
		t.Run(c.name, func(t *testing.T) {
			got := srv.capture(t, c)
			for _, err := range validateGraphResponse(spec, csdl, c, got) {
				t.Error(err)
			}
			// The subset describes /users, /users/{id} and /domains; a
			// router that found none of them would validate nothing.
			p, _, _ := strings.Cut(c.path, "?")
			wantCovered := strings.HasPrefix(p, "/v1.0/users") || p == "/v1.0/domains"
			if covered, _ := spec.validate(got); covered != wantCovered {
				t.Errorf("OpenAPI subset covers %s: %v, want %v", p, covered, wantCovered)
			}
		})
	}

	t.Run("second page", func(t *testing.T) {
		c := graphSpecCase{path: "/v1.0/users?$select=id,onPremisesImmutableId&$top=3", wantStatus: 200, entity: "user", collection: true}
		var first map[string]any
		if err := json.Unmarshal(srv.capture(t, c).body, &first); err != nil {
			t.Fatal(err)
		}
		next, _ := first["@odata.nextLink"].(string)
		if next == "" {
			t.Fatal("first page has no @odata.nextLink")
		}
		c.path = strings.TrimPrefix(next, srv.URL)
		for _, err := range validateGraphResponse(spec, csdl, c, srv.capture(t, c)) {
			t.Error(err)
		}
	})
}

// TestGraphSpecValidationCatchesCorruption proves the checks above can fail:
// each corruption of a real response must be reported.
func TestGraphSpecValidationCatchesCorruption(t *testing.T) {
	spec := loadGraphOpenAPI(t)
	csdl := loadGraphCSDL(t)
	srv := newGraphTestServer(t, graphTestTenant(t))
	cases := map[string]graphSpecCase{}
	for _, c := range graphSpecCases() {
		cases[c.name] = c
	}
	tests := []struct {
		name    string
		from    string
		corrupt func(body map[string]any)
		wantErr string
	}{
		{name: "boolean as string (OpenAPI)", from: "users every property", wantErr: "accountEnabled",
			corrupt: func(b map[string]any) { firstValue(b)["accountEnabled"] = "yes" }},
		{name: "property not on user (CSDL)", from: "users default", wantErr: `"immutableId" is not a property of user`,
			corrupt: func(b map[string]any) { firstValue(b)["immutableId"] = "x" }},
		{name: "null in a non-nullable collection (CSDL)", from: "users default", wantErr: "businessPhones",
			corrupt: func(b map[string]any) { firstValue(b)["businessPhones"] = nil }},
		{name: "nested complex type (CSDL)", from: "organization", wantErr: "verifiedDomains[0].isDefault",
			corrupt: func(b map[string]any) {
				firstValue(b)["verifiedDomains"].([]any)[0].(map[string]any)["isDefault"] = "true"
			}},
		{name: "enum as number (CSDL)", from: "federation federated", wantErr: "preferredAuthenticationProtocol",
			corrupt: func(b map[string]any) { firstValue(b)["preferredAuthenticationProtocol"] = 1 }},
		{name: "domain field type (OpenAPI)", from: "domain", wantErr: "isVerified",
			corrupt: func(b map[string]any) { b["isVerified"] = 1 }},
		{name: "error without message", from: "error 404 user", wantErr: "message",
			corrupt: func(b map[string]any) { delete(b["error"].(map[string]any), "message") }},
		{name: "error without message outside the subset", from: "error 404 domain", wantErr: "message",
			corrupt: func(b map[string]any) { delete(b["error"].(map[string]any), "message") }},
		{name: "value not an array", from: "domains", wantErr: "value",
			corrupt: func(b map[string]any) { b["value"] = map[string]any{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := cases[tt.from]
			if !ok {
				t.Fatalf("no spec case %q", tt.from)
			}
			got := srv.capture(t, c)
			if errs := validateGraphResponse(spec, csdl, c, got); len(errs) != 0 {
				t.Fatalf("uncorrupted response already invalid: %v", errs)
			}
			var body map[string]any
			if err := json.Unmarshal(got.body, &body); err != nil {
				t.Fatal(err)
			}
			tt.corrupt(body)
			corrupted, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			got.body = corrupted
			errs := validateGraphResponse(spec, csdl, c, got)
			if len(errs) == 0 {
				t.Fatal("corrupted response passed validation")
			}
			joined := fmt.Sprint(errs)
			if !strings.Contains(joined, tt.wantErr) {
				t.Errorf("errors %v do not mention %q", errs, tt.wantErr)
			}
		})
	}
}

func firstValue(body map[string]any) map[string]any {
	return body["value"].([]any)[0].(map[string]any)
}

// validateGraphResponse checks one response against the OpenAPI subset
// (when the subset describes the route) and the CSDL, returning every
// violation found.
func validateGraphResponse(spec *graphOpenAPI, csdl *graphCSDL, c graphSpecCase, got graphCapture) []error {
	var errs []error
	var body any
	if err := json.Unmarshal(got.body, &body); err != nil {
		return []error{fmt.Errorf("body is not JSON: %w", err)}
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return []error{fmt.Errorf("body is %T, want a JSON object", body)}
	}
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		errs = append(errs, fmt.Errorf("Content-Type %q is not JSON", ct))
	}

	covered, err := spec.validate(got)
	if err != nil {
		errs = append(errs, fmt.Errorf("OpenAPI: %w", err))
	}
	if got.status >= 400 {
		// Routes outside the subset still owe Graph's error body.
		if !covered {
			if err := spec.errorSchema.VisitJSON(body); err != nil {
				errs = append(errs, fmt.Errorf("OData error schema: %w", err))
			}
		}
		return errs
	}

	for k := range obj {
		if !strings.HasPrefix(k, "@odata.") && !(c.collection && k == "value") {
			if !c.collection {
				continue // entity properties, checked below
			}
			errs = append(errs, fmt.Errorf("collection response has unexpected member %q", k))
		}
	}
	if !c.collection {
		return append(errs, csdl.check(c.entity, obj, c.entity)...)
	}
	items, ok := obj["value"].([]any)
	if !ok {
		return append(errs, fmt.Errorf("collection response: value is %T, want an array", obj["value"]))
	}
	for i, item := range items {
		entity, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("value[%d] is %T, want an object", i, item))
			continue
		}
		errs = append(errs, csdl.check(c.entity, entity, fmt.Sprintf("value[%d]", i))...)
	}
	return errs
}

// --- OpenAPI ---

type graphOpenAPI struct {
	router      routers.Router
	errorSchema *openapi3.Schema
}

var (
	graphOpenAPIOnce sync.Once
	graphOpenAPIDoc  *graphOpenAPI
	graphOpenAPIErr  error
)

func loadGraphOpenAPI(t *testing.T) *graphOpenAPI {
	t.Helper()
	graphOpenAPIOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(graphOpenAPIFile)
		if err != nil {
			graphOpenAPIErr = fmt.Errorf("loading %s: %w", graphOpenAPIFile, err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			graphOpenAPIErr = fmt.Errorf("%s is not a valid OpenAPI document: %w", graphOpenAPIFile, err)
			return
		}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			graphOpenAPIErr = err
			return
		}
		ref := doc.Components.Schemas["microsoft.graph.ODataErrors.ODataError"]
		if ref == nil || ref.Value == nil {
			graphOpenAPIErr = fmt.Errorf("%s has no ODataError schema", graphOpenAPIFile)
			return
		}
		graphOpenAPIDoc = &graphOpenAPI{router: router, errorSchema: ref.Value}
	})
	if graphOpenAPIErr != nil {
		t.Fatal(graphOpenAPIErr)
	}
	return graphOpenAPIDoc
}

// validate checks the response against the subset. covered is false when
// the subset does not describe the route, which is not itself an error.
func (s *graphOpenAPI) validate(got graphCapture) (covered bool, err error) {
	// The document's server is graph.microsoft.com; route the fake's path
	// as if it had been sent there.
	req, err := http.NewRequest(got.method, "https://graph.microsoft.com"+got.path, nil)
	if err != nil {
		return false, err
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return false, nil
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 got.status,
		Header:                 got.header,
		Body:                   io.NopCloser(bytes.NewReader(got.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return true, openapi3filter.ValidateResponse(context.Background(), input)
}

// --- CSDL ---

type csdlEdmx struct {
	DataServices struct {
		Schemas []csdlSchema `xml:"Schema"`
	} `xml:"DataServices"`
}

type csdlSchema struct {
	Namespace    string     `xml:"Namespace,attr"`
	Alias        string     `xml:"Alias,attr"`
	EntityTypes  []csdlType `xml:"EntityType"`
	ComplexTypes []csdlType `xml:"ComplexType"`
	EnumTypes    []struct {
		Name string `xml:"Name,attr"`
	} `xml:"EnumType"`
}

type csdlType struct {
	Name       string         `xml:"Name,attr"`
	BaseType   string         `xml:"BaseType,attr"`
	Properties []csdlProperty `xml:"Property"`
}

type csdlProperty struct {
	Name     string `xml:"Name,attr"`
	Type     string `xml:"Type,attr"`
	Nullable string `xml:"Nullable,attr"`
}

// graphCSDL indexes the microsoft.graph namespace: structured types (entity
// and complex) by unqualified name, and enum names.
type graphCSDL struct {
	types map[string]csdlType
	enums map[string]bool
}

var (
	graphCSDLOnce sync.Once
	graphCSDLDoc  *graphCSDL
	graphCSDLErr  error
)

func loadGraphCSDL(t *testing.T) *graphCSDL {
	t.Helper()
	graphCSDLOnce.Do(func() {
		f, err := os.Open(graphCSDLFile)
		if err != nil {
			graphCSDLErr = err
			return
		}
		defer f.Close()
		var edmx csdlEdmx
		if err := xml.NewDecoder(f).Decode(&edmx); err != nil {
			graphCSDLErr = fmt.Errorf("parsing %s: %w", graphCSDLFile, err)
			return
		}
		doc := &graphCSDL{types: map[string]csdlType{}, enums: map[string]bool{}}
		for _, s := range edmx.DataServices.Schemas {
			// Other namespaces reuse names (microsoft.graph.security.user).
			if s.Namespace != "microsoft.graph" {
				continue
			}
			for _, et := range append(s.EntityTypes, s.ComplexTypes...) {
				doc.types[et.Name] = et
			}
			for _, e := range s.EnumTypes {
				doc.enums[e.Name] = true
			}
		}
		for _, want := range []string{"user", "domain", "organization", "internalDomainFederation", "verifiedDomain"} {
			if _, ok := doc.types[want]; !ok {
				graphCSDLErr = fmt.Errorf("%s has no type %q", graphCSDLFile, want)
				return
			}
		}
		graphCSDLDoc = doc
	})
	if graphCSDLErr != nil {
		t.Fatal(graphCSDLErr)
	}
	return graphCSDLDoc
}

// property finds name on typeName or one of its base types.
func (d *graphCSDL) property(typeName, name string) (csdlProperty, bool) {
	for seen := 0; typeName != "" && seen < 16; seen++ {
		tp, ok := d.types[typeName]
		if !ok {
			return csdlProperty{}, false
		}
		for _, p := range tp.Properties {
			if p.Name == name {
				return p, true
			}
		}
		typeName = unqualifiedGraphType(tp.BaseType)
	}
	return csdlProperty{}, false
}

func unqualifiedGraphType(name string) string {
	for _, prefix := range []string{"graph.", "microsoft.graph."} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return rest
		}
	}
	return name
}

// check reports every member of obj that is not a property of typeName, or
// whose JSON value cannot be the property's CSDL type.
func (d *graphCSDL) check(typeName string, obj map[string]any, at string) []error {
	var errs []error
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "@odata.") {
			continue
		}
		p, ok := d.property(typeName, k)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %q is not a property of %s in the CSDL", at, k, typeName))
			continue
		}
		errs = append(errs, d.checkValue(p.Type, p.Nullable != "false", obj[k], at+"."+k)...)
	}
	return errs
}

func (d *graphCSDL) checkValue(edmType string, nullable bool, v any, at string) []error {
	if inner, ok := strings.CutPrefix(edmType, "Collection("); ok {
		arr, isArr := v.([]any)
		if !isArr {
			// A collection is never null in Graph JSON: absent or [].
			return []error{fmt.Errorf("%s: %T, want an array of %s", at, v, edmType)}
		}
		var errs []error
		inner = strings.TrimSuffix(inner, ")")
		for i, item := range arr {
			errs = append(errs, d.checkValue(inner, false, item, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return errs
	}
	if v == nil {
		if !nullable {
			return []error{fmt.Errorf("%s: null, but %s is not nullable", at, edmType)}
		}
		return nil
	}
	want := ""
	switch edmType {
	case "Edm.String", "Edm.Guid", "Edm.DateTimeOffset", "Edm.Date", "Edm.TimeOfDay", "Edm.Duration", "Edm.Binary":
		want = "string"
	case "Edm.Boolean":
		want = "bool"
	case "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte", "Edm.Double", "Edm.Single", "Edm.Decimal":
		want = "number"
	default:
		name := unqualifiedGraphType(edmType)
		switch {
		case d.enums[name]:
			want = "string"
		case d.types[name].Name != "":
			m, ok := v.(map[string]any)
			if !ok {
				return []error{fmt.Errorf("%s: %T, want an object of %s", at, v, edmType)}
			}
			return d.check(name, m, at)
		default:
			return []error{fmt.Errorf("%s: CSDL type %s is unknown to this check", at, edmType)}
		}
	}
	var got string
	switch v.(type) {
	case string:
		got = "string"
	case bool:
		got = "bool"
	case float64:
		got = "number"
	default:
		got = fmt.Sprintf("%T", v)
	}
	if got != want {
		return []error{fmt.Errorf("%s: JSON %s, want %s for %s", at, got, want, edmType)}
	}
	return nil
}
