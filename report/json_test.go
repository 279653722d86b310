package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/store"
)

// TestFindingsJSONEqualsWholeDocument checks the streamed findings.json
// byte for byte against encoding the whole document at once, which is
// what consumers of format version 1 have always read.
func TestFindingsJSONEqualsWholeDocument(t *testing.T) {
	snap := &store.Snapshot{ID: 3, ToolVersion: `v1 "identities": [],` + "\n", ContentHash: "h", Status: "complete",
		StartedAt: time.Unix(0, 0)}
	var many []classify.Finding
	for i := range 4 {
		many = append(many, classify.Finding{
			Scenario: classify.UnknownMismatch, Severity: classify.High,
			UPN:         fmt.Sprintf("u%d@example.com", i),
			DisplayName: fmt.Sprintf("<script>alert(%d)</script> \"q\" \u2028 é 💥", i),
			EntraAnchor: "BpazOkLGm0iEtljAONPvOQ==", ExpectedAnchor: []string{"a", "b"},
			Evidence:    []classify.Link{{From: "okta:00u", To: "entra:1", Key: "k", Value: "v"}},
			Explanation: "line one\nline two",
		})
	}
	org := []classify.OrgFinding{{Code: classify.OrgMappingPushes, Severity: classify.Medium, Explanation: "x"}}
	for _, tc := range []struct {
		name string
		res  classify.Result
	}{
		{"nothing", classify.Result{}},
		{"org findings only", classify.Result{Org: org}},
		{"one identity", classify.Result{Identities: many[:1]}},
		{"several identities and org findings", classify.Result{Identities: many, Org: org}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := WriteFindingsJSON(&got, snap, tc.res); err != nil {
				t.Fatal(err)
			}
			doc := FindingsDoc{FormatVersion: FindingsFormatVersion, ToolVersion: snap.ToolVersion, SnapshotID: int64(snap.ID),
				ContentHash: snap.ContentHash, Status: snap.Status, Identities: tc.res.Identities, OrgFindings: tc.res.Org}
			if doc.Identities == nil {
				doc.Identities = []classify.Finding{}
			}
			if doc.OrgFindings == nil {
				doc.OrgFindings = []classify.OrgFinding{}
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", " ")
			if err := enc.Encode(doc); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("streamed findings.json differs from the whole document:\n got %q\nwant %q", got.Bytes(), want.Bytes())
			}
		})
	}
}
