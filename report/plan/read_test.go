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
