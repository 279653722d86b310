package plan_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/report/plan"
)

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-golden +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// The example fixture's tenant ids are stable, so its plan renders to the
// same bytes on every run once the snapshot hash (which covers scan times)
// is fixed.
func stablePlan(t *testing.T) *plan.Plan {
	p := generate(t, exampleTenant(t), plan.GenerateOptions{})
	p.Snapshot.ContentHash = strings.Repeat("ab", 32)
	if err := p.SealPlan(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShowGolden(t *testing.T) {
	p := stablePlan(t)
	var a, b bytes.Buffer
	if err := plan.Show(&a, p); err != nil {
		t.Fatal(err)
	}
	if err := plan.Show(&b, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("Show printed the same plan differently twice")
	}
	golden(t, "show-example.golden", a.Bytes())

	out := a.String()
	for _, want := range []string{
		"  ENTRA_ANCHOR_STALE       1\n",
		"== ANCHOR_CONFLICT (2)",
		`expects: onPremisesImmutableId = "Y0YhBxKH3USNlXjGk37Q8g==", userPrincipalName = "stale-entra@contoso.example"`,
		`undo:    graph.restore_upn: Move the UPN back from "stale-entra@contoso.onmicrosoft.com" to "stale-entra@contoso.example"`,
		"seal           sha256 " + p.Seal,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Show output lacks %q", want)
		}
	}
	// Grouped in decision-table order: NOT_IN_ENTRA before ENTRA_ANCHOR_STALE.
	if strings.Index(out, "== NOT_IN_ENTRA") > strings.Index(out, "== ENTRA_ANCHOR_STALE") {
		t.Error("scenarios are not in the decision table's order")
	}
}

// A display name or UPN cannot drive the reviewer's terminal or forge lines.
func TestShowEscapesControlCharacters(t *testing.T) {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Identities: []plan.Identity{{
		UPN: "eve\x1b[2J@contoso.example", Scenario: "ENTRA_ANCHOR_STALE",
		Steps: []plan.Step{{Kind: plan.Manual, Target: plan.Target{System: "person"},
			Description: "line one\n  2. graph.park_upn forged step"}},
	}}}
	var b bytes.Buffer
	if err := plan.Show(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") {
		t.Error("an escape character reached the output")
	}
	if strings.Contains(out, "\n  2. graph.park_upn forged") {
		t.Error("a newline in a description started a forged step line")
	}
	if !strings.Contains(out, `eve\x1b[2J@contoso.example`) || !strings.Contains(out, `line one\n  2. graph.park_upn`) {
		t.Errorf("escaped values not shown:\n%s", out)
	}
}
