package report

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// TestJSONColumnEqualsMarshal checks that a column's text is what
// json.Marshal writes for the same values as a list.
func TestJSONColumnEqualsMarshal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []any
	}{
		{"empty", []any{}},
		{"strings and field numbers", []any{"a@x.example", 0, "", 7}},
		{"hostile strings", []any{"</script><script>alert(1)</script>", "\u2028\u2029", "\"\\\n\x00", "é 💥 & <>"}},
		{"lists", []any{[]any{}, []any{"BpazOkLGm0iEtljAONPvOQ==", 2}, []any{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c jsonColumn
			for _, v := range tc.values {
				c.add(v)
			}
			got, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("column %s, json.Marshal %s", got, want)
			}
			var elems []json.RawMessage
			if err := json.Unmarshal(got, &elems); err != nil || len(elems) != len(tc.values) {
				t.Errorf("column holds %d elements (%v), want %d", len(elems), err, len(tc.values))
			}
		})
	}
}

// An empty snapshot's report has empty lists where the script expects
// lists, never null.
func TestEmptyReportHasLists(t *testing.T) {
	v := BuildView(htmlSnapshot(), classify.Result{}, classify.Input{}, ViewOptions{})
	raw, err := json.Marshal(v.Data.Table)
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"upn", "name", "e", "s", "scenario", "severity", "domain", "sources"} {
		if !strings.Contains(string(raw), `"`+col+`":[]`) {
			t.Errorf("empty table's %s column is not an empty list: %s", col, raw)
		}
	}
}

// A view builder's counts are the same however often View is called.
func TestViewCountsDoNotChangeOnASecondView(t *testing.T) {
	b := NewViewBuilder(htmlSnapshot(), nil, classify.Input{}, ViewOptions{})
	if err := b.Add(&classify.Finding{Scenario: classify.OK, Severity: classify.Info, UPN: "a@contoso.example"}); err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(b.View().Severities)
	if second := b.View().Severities; !slices.Equal(first, second) {
		t.Errorf("severities %v, then %v", first, second)
	}
}
