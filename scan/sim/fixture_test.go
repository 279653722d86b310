package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const exampleFixture = "testdata/example-tenant.json"

// A fixture's "roles": [] reads back as absent after a write (the field is
// omitempty), which means the same thing.
var equateEmpty = cmpopts.EquateEmpty()

func loadExample(t *testing.T) *Tenant {
	t.Helper()
	tenant, err := LoadFixtureFile(exampleFixture)
	if err != nil {
		t.Fatalf("LoadFixtureFile(%s): %v", exampleFixture, err)
	}
	return tenant
}

func TestLoadFixtureExample(t *testing.T) {
	tenant := loadExample(t)
	counts := map[string][2]int{
		"okta.users":          {len(tenant.Okta.Users), 16},
		"okta.apps":           {len(tenant.Okta.Apps), 3},
		"okta.appUsers":       {len(tenant.Okta.AppUsers), 29},
		"entra.users":         {len(tenant.Entra.Users), 17},
		"ad.users":            {len(tenant.AD.Users), 13},
		"expected.identities": {len(tenant.Expected.Identities), 18},
	}
	for name, c := range counts {
		if c[0] != c[1] {
			t.Errorf("%s: got %d records, want %d", name, c[0], c[1])
		}
	}
	if got := tenant.AD.Users[0].ObjectGUID; got != "7d5fa93e-36fa-4ab8-9b17-851c5fda6f15" {
		t.Errorf("ad.users[0].objectGUID = %q", got)
	}
}

func TestWriteFixtureRoundTrip(t *testing.T) {
	tenant := loadExample(t)
	var first bytes.Buffer
	if err := WriteFixture(&first, tenant); err != nil {
		t.Fatalf("WriteFixture: %v", err)
	}
	again, err := LoadFixture(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatalf("LoadFixture(written example): %v", err)
	}
	if diff := cmp.Diff(tenant, again, equateEmpty); diff != "" {
		t.Errorf("example changed by a write and re-load (-loaded +reloaded):\n%s", diff)
	}
	var second bytes.Buffer
	if err := WriteFixture(&second, again); err != nil {
		t.Fatalf("WriteFixture: %v", err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("writing the re-loaded tenant gave different bytes")
	}
}

// mutateExample decodes the example fixture generically, lets mutate change
// it, and encodes it again.
func mutateExample(t *testing.T, mutate func(doc map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(exampleFixture)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	mutate(doc)
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// node walks doc along keys (strings) and indices (ints).
func node(doc map[string]any, steps ...any) map[string]any {
	var cur any = doc
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			cur = cur.(map[string]any)[s]
		case int:
			cur = cur.([]any)[s]
		}
	}
	return cur.(map[string]any)
}

func TestLoadFixtureRejectsBadInput(t *testing.T) {
	example, err := os.ReadFile(exampleFixture)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		input []byte
		want  []string // substrings of the error, in order
	}{
		{name: "empty", input: nil, want: []string{"empty input"}},
		{name: "truncated", input: example[:len(example)/2], want: []string{"truncated JSON", "before this value is complete"}},
		{name: "truncated path", input: []byte(`{"format":"anchorscan-tenant/v1","okta":{"users":[{"id":"00u`),
			want: []string{"okta.users[0].id: truncated JSON"}},
		{name: "not JSON", input: []byte("hello: world\n"), want: []string{"malformed JSON at line 1, column 1 (offset 0)", "invalid character 'h'"}},
		{name: "syntax error position", input: []byte("{\n \"format\": \"anchorscan-tenant/v1\",\n \"okta\": {,}\n}"),
			want: []string{"okta: malformed JSON at line 3, column 11"}},
		{name: "trailing data", input: append(bytes.Clone(example), "\n{}"...), want: []string{"unexpected data after the tenant object"}},
		{name: "top level array", input: []byte(`[1,2]`), want: []string{"wrong type: got an array, want an object"}},
		{name: "unknown field", input: mutateExample(t, func(d map[string]any) {
			node(d, "okta", "users", 2)["nickname"] = "x"
		}), want: []string{"okta.users[2].nickname: unknown field"}},
		{name: "unknown top-level field", input: mutateExample(t, func(d map[string]any) { d["extra"] = true }),
			want: []string{"extra: unknown field"}},
		{name: "hostile unknown key is quoted", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra")["\x1b[31mred"] = 1
		}), want: []string{`entra["\x1b[31mred"]: unknown field`}},
		{name: "wrong type", input: mutateExample(t, func(d map[string]any) {
			node(d, "ad", "users", 4)["userAccountControl"] = "512"
		}), want: []string{`ad.users[4].userAccountControl: wrong type: got a string "512", want an integer`}},
		{name: "fractional integer", input: mutateExample(t, func(d map[string]any) {
			node(d, "ad", "users", 1)["userAccountControl"] = 512.5
		}), want: []string{"ad.users[1].userAccountControl: wrong type: got the number 512.5"}},
		{name: "object for string", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra", "users", 0)["displayName"] = map[string]any{}
		}), want: []string{"entra.users[0].displayName: wrong type: got an object, want a string"}},
		{name: "objectGUID wrong length", input: mutateExample(t, func(d map[string]any) {
			node(d, "ad", "users", 3)["objectGUID"] = "97ec3d7a-ce0c-4dc4-9b08-31d1f70f910"
		}), want: []string{`ad.users[3].objectGUID: not a GUID: "97ec3d7a-ce0c-4dc4-9b08-31d1f70f910" (35 characters, want 36`}},
		{name: "objectGUID not hex", input: mutateExample(t, func(d map[string]any) {
			node(d, "ad", "users", 3)["objectGUID"] = "xyz"
		}), want: []string{`ad.users[3].objectGUID: not a GUID: "xyz"`}},
		{name: "upper-case GUID", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra")["tenantId"] = "48E61BD8-AAFD-43D9-91C1-C7DE8CD8E6E2"
		}), want: []string{"entra.tenantId: not a canonical GUID", "lower case"}},
		{name: "bad format value", input: mutateExample(t, func(d map[string]any) { d["format"] = "anchorscan-tenant/v2" }),
			want: []string{`format: unknown format "anchorscan-tenant/v2"; want "anchorscan-tenant/v1"`}},
		{name: "missing format", input: mutateExample(t, func(d map[string]any) { delete(d, "format") }),
			want: []string{`format: missing; want "anchorscan-tenant/v1"`}},
		{name: "other format with other fields", input: []byte(`{"format":"other/v9","tenants":[]}`),
			want: []string{`format: unknown format "other/v9"`, "tenants: unknown field"}},
		{name: "app user of missing user", input: mutateExample(t, func(d map[string]any) {
			node(d, "okta", "appUsers", 1)["userId"] = "00uxxxxxxxxxxxxxxxxx"
		}), want: []string{`okta.appUsers[1].userId: names no user in okta.users: "00uxxxxxxxxxxxxxxxxx"`}},
		{name: "app user of missing app", input: mutateExample(t, func(d map[string]any) {
			node(d, "okta", "appUsers", 0)["appId"] = "0oaxxxxxxxxxxxxxxxxx"
		}), want: []string{"okta.appUsers[0].appId: names no app"}},
		{name: "okta user id shape", input: mutateExample(t, func(d map[string]any) {
			node(d, "okta", "users", 0)["id"] = "0uatlmfhatxriapc6uir"
		}), want: []string{`okta.users[0].id: not an Okta id starting "00u"`}},
		{name: "app user id length", input: mutateExample(t, func(d map[string]any) {
			node(d, "okta", "appUsers", 0)["appUserId"] = "0uashort"
		}), want: []string{"okta.appUsers[0].appUserId: not an Okta id", "8 characters, want 20"}},
		{name: "duplicate okta user id", input: mutateExample(t, func(d map[string]any) {
			node(d, "okta", "users", 1)["id"] = "00utlmfhatxriapc6uir"
		}), want: []string{`okta.users[1].id: duplicate user id "00utlmfhatxriapc6uir" (also at okta.users[0].id)`}},
		{name: "duplicate Entra UPN", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra", "users", 1)["userPrincipalName"] = "OK-AD@contoso.example"
		}), want: []string{`entra.users[1].userPrincipalName: duplicate userPrincipalName "OK-AD@contoso.example" (also at entra.users[0].userPrincipalName)`}},
		{name: "duplicate Entra anchor", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra", "users", 1)["onPremisesImmutableId"] = "Pqlfffo2uEqbF4UcX9pvFQ=="
		}), want: []string{"entra.users[1].onPremisesImmutableId: duplicate onPremisesImmutableId"}},
		{name: "UPN outside the tenant's domains", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra", "users", 0)["userPrincipalName"] = "ok-ad@fabrikam.example"
		}), want: []string{`entra.users[0].userPrincipalName: domain "fabrikam.example"`}},
		{name: "bad authentication type", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra", "domains", 2)["authenticationType"] = "managed"
		}), want: []string{`entra.domains[2].authenticationType: want Managed or Federated, got "managed"`}},
		{name: "two initial domains", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra", "domains", 2)["isInitial"] = true
		}), want: []string{"entra.domains[2].isInitial", "entra.domains: 2 domains are marked isInitial"}},
		{name: "initial domain mismatch", input: mutateExample(t, func(d map[string]any) {
			node(d, "entra")["initialDomain"] = "fabrikam.onmicrosoft.com"
		}), want: []string{`entra.domains[1].isInitial: domain "contoso.onmicrosoft.com" is marked initial but entra.initialDomain is "fabrikam.onmicrosoft.com"`}},
		{name: "DN outside base DN", input: mutateExample(t, func(d map[string]any) {
			node(d, "ad", "users", 2)["distinguishedName"] = "CN=dup-a,OU=Staff,DC=fabrikam,DC=example"
		}), want: []string{"ad.users[2].distinguishedName: \"CN=dup-a,OU=Staff,DC=fabrikam,DC=example\" is not under the baseDN"}},
		{name: "bad objectSid", input: mutateExample(t, func(d map[string]any) {
			node(d, "ad", "users", 0)["objectSid"] = "S-1-5-21-abc"
		}), want: []string{`ad.users[0].objectSid: not a SID: "S-1-5-21-abc"`}},
		{name: "unknown scenario", input: mutateExample(t, func(d map[string]any) {
			node(d, "expected", "identities", 5)["scenario"] = "ORPHANED"
		}), want: []string{`expected.identities[5].scenario: unknown scenario code "ORPHANED"`}},
		{name: "label of a missing record", input: mutateExample(t, func(d map[string]any) {
			node(d, "expected", "identities", 0)["entraUserId"] = "00000000-0000-4000-8000-000000000000"
		}), want: []string{"expected.identities[0].entraUserId: names no user in entra.users"}},
		{name: "unknown org code", input: mutateExample(t, func(d map[string]any) {
			node(d, "expected")["org"] = []any{"ORG_WHATEVER"}
		}), want: []string{`expected.org[0]: unknown org finding code "ORG_WHATEVER"`}},
		{name: "many problems are capped", input: mutateExample(t, func(d map[string]any) {
			for _, u := range node(d, "ad")["users"].([]any) {
				u.(map[string]any)["objectSid"] = "nope"
			}
		}), want: []string{"ad.users[0].objectSid", "ad.users[9].objectSid", "(and 3 more problems)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant, err := LoadFixture(bytes.NewReader(tt.input))
			if err == nil {
				t.Fatalf("LoadFixture accepted the input: %d Okta users", len(tenant.Okta.Users))
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q\ndoes not contain (in order) %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestFixtureErrorCarriesPath(t *testing.T) {
	input := mutateExample(t, func(d map[string]any) {
		node(d, "ad", "users", 3)["objectGUID"] = "xyz"
	})
	_, err := LoadFixture(bytes.NewReader(input))
	var fe *FixtureError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) holds no *FixtureError", err, err)
	}
	if fe.Path != "ad.users[3].objectGUID" {
		t.Errorf("Path = %q, want ad.users[3].objectGUID", fe.Path)
	}
}

// Display names and other free text are attacker-controlled data, not
// errors: they load unchanged and survive a write.
func TestLoadFixtureKeepsHostileData(t *testing.T) {
	hostile := map[string]string{
		"displayName": `<script>alert(1)</script>`,
		"mail":        "a\u0000b\u001b[31m\u202e@x",
	}
	input := mutateExample(t, func(d map[string]any) {
		u := node(d, "entra", "users", 0)
		for k, v := range hostile {
			u[k] = v
		}
		node(d, "okta", "users", 0)["firstName"] = "Bobby\r\n\t\"Tables\""
	})
	tenant, err := LoadFixture(bytes.NewReader(input))
	if err != nil {
		t.Fatalf("LoadFixture: %v", err)
	}
	u := tenant.Entra.Users[0]
	if u.DisplayName != hostile["displayName"] || u.Mail != hostile["mail"] {
		t.Errorf("hostile values changed: displayName %q, mail %q", u.DisplayName, u.Mail)
	}
	if got := tenant.Okta.Users[0].FirstName; got != "Bobby\r\n\t\"Tables\"" {
		t.Errorf("firstName = %q", got)
	}
	var buf bytes.Buffer
	if err := WriteFixture(&buf, tenant); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"<script>alert(1)</script>"`) {
		t.Errorf("written fixture escapes the display name instead of keeping it legible")
	}
	again, err := LoadFixture(&buf)
	if err != nil {
		t.Fatalf("re-load: %v", err)
	}
	if diff := cmp.Diff(tenant, again, equateEmpty); diff != "" {
		t.Errorf("hostile data changed by a round trip:\n%s", diff)
	}
}

func TestLoadFixtureFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"anchorscan-tenant/v1","okta":{"users":[{"id":42}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "missing file", path: filepath.Join(dir, "nope.json"), want: "nope.json: no such file"},
		{name: "bad content names file and path", path: bad, want: "bad.json: okta.users[0].id: wrong type: got the number 42, want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFixtureFile(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadFixtureFile(%s) = %v, want an error containing %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestFixtureValidateAcceptsSubdomainUPN(t *testing.T) {
	tenant := loadExample(t)
	// A UPN on a subdomain of a tenant domain is allowed: Entra treats it
	// as belonging to its parent.
	tenant.Entra.Users[0].UserPrincipalName = "ok-ad@branch.contoso.example"
	if err := tenant.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
