package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// wholePlanJSON is how the plan was encoded before it was streamed: the
// whole document at once. The streamed bytes must equal these, or seals
// and files written before would stop verifying.
func wholePlanJSON(t *testing.T, p *Plan) (file []byte, seal string) {
	t.Helper()
	c := *p
	c.Seal = ""
	canonical, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canonical)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

func encodeTestPlan(identities []Identity) *Plan {
	return &Plan{
		FormatVersion: FormatVersion,
		ToolVersion:   "test </script>",
		CreatedAt:     time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC),
		Snapshot:      SnapshotRef{ID: 7, ContentHash: "abc"},
		Tenants:       Tenants{OktaOrg: "https://example.okta.com", EntraTenantID: "t", ADDomains: []string{"corp.example"}},
		Settings:      Settings{ParkingDomain: "contoso.onmicrosoft.com", O365AppID: "0oa1"},
		OrgSteps:      []Step{{Kind: OktaSetDeactivate, Target: Target{System: "okta", ID: "0oa1"}, Params: map[string]string{"b": "2", "a": "1"}}},
		OrgRestore:    []Step{},
		Identities:    identities,
	}
}

func hostileIdentity(i int) Identity {
	name := fmt.Sprintf("<script>alert(%d)</script> \"q\" \u2028 \\ é & 💥", i)
	park := Step{Kind: GraphParkUPN, Target: Target{System: "graph", ID: fmt.Sprint("e", i)},
		Params:       map[string]string{paramUPN: name + "@contoso.onmicrosoft.com"},
		Precondition: map[string]*string{paramUPN: Value(name + "@example.com"), paramEntraAnchor: nil},
		Description:  "park " + name}
	park.Compensation = &Step{Kind: GraphRestoreUPN, Target: park.Target, Description: "back\n{}[],:"}
	return Identity{Key: fmt.Sprint("k", i), UPN: name + "@example.com", Scenario: "MISSING_ANCHOR_AD",
		EntraUserID: fmt.Sprint("e", i), Steps: []Step{park, {Kind: Manual, Target: Target{System: "person"}, Description: ""}}}
}

func TestEncodeEqualsWholeDocument(t *testing.T) {
	many := make([]Identity, 5)
	for i := range many {
		many[i] = hostileIdentity(i)
	}
	for _, tc := range []struct {
		name       string
		identities []Identity
	}{
		{"nil identities", nil},
		{"no identities", []Identity{}},
		{"one identity", many[:1]},
		{"one identity without steps", []Identity{{Key: "k", UPN: "u", Steps: []Step{}}}},
		{"several hostile identities", many},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := encodeTestPlan(tc.identities)
			if err := p.SealPlan(); err != nil {
				t.Fatal(err)
			}
			wantFile, wantSeal := wholePlanJSON(t, p)
			if p.Seal != wantSeal {
				t.Errorf("streamed seal %s, whole-document seal %s", p.Seal, wantSeal)
			}
			var got bytes.Buffer
			if err := p.Write(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), wantFile) {
				t.Errorf("streamed file differs from the whole document:\n got %q\nwant %q", got.Bytes(), wantFile)
			}
			back, err := Read(bytes.NewReader(got.Bytes()))
			if err != nil {
				t.Fatalf("the written plan does not read back: %v", err)
			}
			if back.Seal != p.Seal {
				t.Errorf("read back seal %s, want %s", back.Seal, p.Seal)
			}
		})
	}
}

func TestMatchWriter(t *testing.T) {
	want := []byte("abcdef")
	for _, tc := range []struct {
		name   string
		writes []string
		match  bool
	}{
		{"same bytes in pieces", []string{"ab", "cde", "f"}, true},
		{"prefix only", []string{"abc"}, false},
		{"one byte more", []string{"abcdef", "g"}, false},
		{"a byte differs", []string{"abX", "def"}, false},
		{"nothing", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &matchWriter{want: want}
			for _, w := range tc.writes {
				m.Write([]byte(w))
			}
			if m.matches() != tc.match {
				t.Errorf("matches() = %v, want %v", m.matches(), tc.match)
			}
		})
	}
}
