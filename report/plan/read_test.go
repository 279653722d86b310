package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func sealedPlan(t *testing.T) []byte {
	t.Helper()
	p := &Plan{
		FormatVersion: FormatVersion, ToolVersion: "test", CreatedAt: time.Unix(0, 0).UTC(),
		Tenants:  Tenants{OktaOrg: "https://contoso.okta.com", EntraTenantID: "48e61bd8-aafd-43d9-91c1-c7de8cd8e6e2"},
		Settings: Settings{ParkingDomain: "contoso.onmicrosoft.com"},
		Identities: []Identity{{Key: "k", UPN: "a@contoso.example", Scenario: "ENTRA_ANCHOR_STALE", Steps: []Step{{
			Kind: GraphSetAnchor, Target: Target{System: "graph", ID: "e1"},
			Params:       map[string]string{"onPremisesImmutableId": "Pqlfffo2uEqbF4UcX9pvFQ=="},
			Precondition: map[string]*string{"onPremisesImmutableId": Value("Y0YhBxKH3USNlXjGk37Q8g==")},
		}}}},
	}
	if err := p.SealPlan(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Read refuses every plan file that is not exactly what was reviewed, and
// says which check failed.
func TestReadRefusesAlteredOrUnknownPlans(t *testing.T) {
	good := sealedPlan(t)
	if _, err := Read(bytes.NewReader(good)); err != nil {
		t.Fatalf("a sealed plan was refused: %v", err)
	}
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr error
		wantMsg string
	}{
		{"one byte of a value changed", func(s string) string { return strings.Replace(s, "Pqlfffo2", "Pqlfffo3", 1) }, ErrAltered, "altered"},
		{"seal changed", func(s string) string { return strings.Replace(s, `"seal": "`, `"seal": "0`, 1) }, ErrAltered, "altered"},
		{"unknown format version", func(s string) string {
			return strings.Replace(s, `"formatVersion": 1`, `"formatVersion": 2`, 1)
		}, ErrUnknownVersion, "file has 2"},
		{"no format version", func(s string) string { return strings.Replace(s, `"formatVersion": 1,`, ``, 1) }, ErrUnknownVersion, "missing"},
		{"unknown field", func(s string) string { return strings.Replace(s, `"toolVersion"`, `"extraStep": 1, "toolVersion"`, 1) }, nil, "unknown field"},
		{"not JSON", func(s string) string { return s[:len(s)/2] }, nil, "not valid JSON"},
		{"not an object", func(string) string { return "[]" }, nil, "must be a JSON object, file has a JSON array"},
		{"version as text", func(s string) string {
			return strings.Replace(s, `"formatVersion": 1`, `"formatVersion": "1"`, 1)
		}, ErrUnknownVersion, "must be a number, file has a JSON string"},
		// The seal covers the decoded content; these show a reviewer one
		// value in the file and apply another.
		{"duplicate key, the last one wins", func(s string) string {
			return strings.Replace(s, `"onPremisesImmutableId": "Pqlfffo2uEqbF4UcX9pvFQ=="`,
				`"onPremisesImmutableId": "SHOWNtoTHEreviewer0000==", "onPremisesImmutableId": "Pqlfffo2uEqbF4UcX9pvFQ=="`, 1)
		}, ErrAltered, "byte for byte"},
		{"key in other case", func(s string) string { return strings.Replace(s, `"toolVersion"`, `"ToolVersion"`, 1) }, ErrAltered, "byte for byte"},
		{"a second document after the plan", func(s string) string { return s + `{"formatVersion": 1}` }, nil, "after top-level value"},
		{"time zone offset JSON reads but cannot write", func(s string) string {
			return strings.Replace(s, `"createdAt": "1970-01-01T00:00:00Z"`, `"createdAt": "1970-01-01T00:00:00+24:00"`, 1)
		}, nil, "cannot be written back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := tt.edit(string(good))
			if edited == string(good) {
				t.Fatal("the edit changed nothing")
			}
			_, err := Read(strings.NewReader(edited))
			if err == nil {
				t.Fatal("an edited plan was accepted")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}
