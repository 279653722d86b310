package report

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/store"
)

// hostileNames are display names an attacker can give themselves, with how
// the workbook must show them.
var hostileNames = []struct{ name, in, want string }{
	{"html img", `<img src=x onerror=alert(1)>`, `<img src=x onerror=alert(1)>`},
	{"script close", `</script><script>alert(2)</script>`, `</script><script>alert(2)</script>`},
	{"formula", `=HYPERLINK("http://x")`, `=HYPERLINK("http://x")`},
	{"plus formula", `+cmd|' /C calc'!A0`, `+cmd|' /C calc'!A0`},
	{"at formula", `@SUM(1+1)*cmd|' /C calc'!A0`, `@SUM(1+1)*cmd|' /C calc'!A0`},
	{"control characters", "bell\x07 nul\x00 esc\x1b", `bell\x07 nul\x00 esc\x1B`},
	{"excel escape sequence", "_x0041_", "_x0041_"},
	{"leading spaces and newline", "  two\nlines ", "  two\nlines "},
}

func testSnapshot() *store.Snapshot {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &store.Snapshot{
		ID: 7, ToolVersion: "test", StartedAt: t0, EndedAt: t0.Add(90 * time.Second),
		Status: "partial", ContentHash: "abc123", OktaOrg: "https://example.okta.com",
		EntraTenant: "tenant-1", ADDomains: []string{"corp.example.com"},
		Sources: []record.SourceRun{
			{Source: record.SourceAD, Status: record.StatusPartial, Requests: 3, Counts: map[string]int{"users": 1500},
				Started: t0, Ended: t0.Add(2 * time.Second), Errors: []string{"ldap: connection lost after 1500 entries"}},
			{Source: record.SourceEntra, Status: record.StatusComplete, Requests: 5, Counts: map[string]int{"users": 2000, "domains": 3},
				Started: t0, Ended: t0.Add(1500 * time.Millisecond)},
			{Source: record.SourceOkta, Status: record.StatusComplete, Requests: 12, Counts: map[string]int{"users": 1900, "appUsers": 1800, "apps": 2},
				Started: t0, Ended: t0.Add(4 * time.Second)},
		},
	}
}

func testFindings() classify.Result {
	res := classify.Result{
		Identities: []classify.Finding{
			{Scenario: classify.EntraAnchorStale, Severity: classify.High, UPN: "ann@example.com", DisplayName: "Ann",
				EntraUserID: "e-ann", OktaUserID: "00uann", ADObjectGUID: "3ab39606-c642-489b-84b6-58c038d3ef39",
				EntraAnchor: "old==", OktaAnchor: "BpazOkLGm0iEtljAONPvOQ==", ExpectedAnchor: []string{"BpazOkLGm0iEtljAONPvOQ=="},
				ADSources: 1, Federated: true, Assigned: true, Explanation: "Entra holds old==, Okta sends BpazOkLGm0iEtljAONPvOQ==."},
			{Scenario: classify.OK, Severity: classify.Info, UPN: "bob@example.com", DisplayName: "Bob",
				EntraUserID: "e-bob", OktaUserID: "00ubob", EntraAnchor: "00ubob", OktaAnchor: "00ubob", Federated: true, Assigned: true},
		},
		Org: []classify.OrgFinding{{Code: classify.OrgDeactivateEnabled, Severity: classify.Critical, Explanation: "Deactivate Users is on."}},
	}
	for i, h := range hostileNames {
		res.Identities = append(res.Identities, classify.Finding{
			Scenario: classify.UnknownMismatch, Severity: classify.High,
			UPN: fmt.Sprintf("hostile%d@example.com", i), DisplayName: h.in, EntraUserID: "e-hostile" + strconv.Itoa(i),
			EntraAnchor: h.in, Explanation: "value " + h.in,
		})
	}
	return res
}

func testPlan() *XLSXPlan {
	return &XLSXPlan{Hash: "sha256:0123abcd", Steps: []XLSXPlanStep{
		{IdentityKey: "entra:e-ann", UPN: "ann@example.com", Scenario: "ENTRA_ANCHOR_STALE", Index: 1, Kind: "graph.park_upn", Target: "e-ann", Parameters: "upn=ann@example.onmicrosoft.com", Precondition: "upn=ann@example.com", Compensation: "graph.restore_upn"},
		{IdentityKey: "entra:e-ann", UPN: "ann@example.com", Scenario: "ENTRA_ANCHOR_STALE", Index: 2, Kind: "graph.set_anchor", Target: "e-ann", Parameters: "immutableId=BpazOkLGm0iEtljAONPvOQ==", Precondition: "immutableId=old=="},
		{IdentityKey: "entra:e-ann", UPN: "ann@example.com", Scenario: "ENTRA_ANCHOR_STALE", Index: 3, Kind: "graph.restore_upn", Target: "e-ann", Parameters: "upn=ann@example.com"},
		{IdentityKey: "entra:e-bob", UPN: "bob@example.com", Scenario: "OKTA_ASSIGNMENT_STALE", Index: 1, Kind: "manual", Target: "okta", Parameters: "run the O365 import"},
		{IdentityKey: "entra:e-hostile2", UPN: "hostile2@example.com", Scenario: "UNKNOWN_MISMATCH", Index: 1, Kind: "manual", Target: `=HYPERLINK("http://x")`},
		{IdentityKey: "entra:e-hostile2", UPN: "hostile2@example.com", Scenario: "UNKNOWN_MISMATCH", Index: 2, Kind: "verify", Target: "e-hostile2"},
	}}
}

func testInput() XLSXInput {
	before := testFindings()
	after := testFindings()
	after.Identities[0].Scenario, after.Identities[0].EntraAnchor = classify.OK, after.Identities[0].OktaAnchor
	return XLSXInput{Snapshot: testSnapshot(), Findings: testFindings(), Plan: testPlan(), Drift: Drift(before, after)}
}

func writeTestWorkbook(t testing.TB, in XLSXInput) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openWorkbook(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("excelize cannot open the workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sheetXML returns the raw XML of each worksheet by sheet name, read from the
// zip package itself, so tests see exactly what Excel will parse.
func sheetXML(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		rc, err := zr.Open(name)
		if err != nil {
			t.Fatalf("workbook part %s: %v", name, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rel []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.Unmarshal(read("xl/workbook.xml"), &wb); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(read("xl/_rels/workbook.xml.rels"), &rels); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range wb.Sheets {
		for _, r := range rels.Rel {
			if r.ID == s.RID {
				out[s.Name] = string(read(path.Join("xl", strings.TrimPrefix(r.Target, "/xl/"))))
			}
		}
	}
	return out
}

func TestWriteXLSXSheets(t *testing.T) {
	in := testInput()
	data := writeTestWorkbook(t, in)
	f := openWorkbook(t, data)

	wantSheets := []string{SheetSummary, SheetFindings, SheetOrgFindings, SheetPlan, SheetSources, SheetDrift}
	if diff := cmp.Diff(wantSheets, f.GetSheetList()); diff != "" {
		t.Errorf("sheets (-want +got):\n%s", diff)
	}

	rows, err := f.GetRows(SheetFindings)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rows)-1, len(in.Findings.Identities); got != want {
		t.Errorf("Findings has %d data rows, want one per identity: %d", got, want)
	}
	if rows[0][0] != "Scenario" || rows[0][2] != "UPN" || rows[0][15] != "Explanation" {
		t.Errorf("Findings header = %q", rows[0])
	}
	wantAnn := []string{"ENTRA_ANCHOR_STALE", "high", "ann@example.com", "Ann", "e-ann", "00uann",
		"3ab39606-c642-489b-84b6-58c038d3ef39", "", "old==", "BpazOkLGm0iEtljAONPvOQ==", "BpazOkLGm0iEtljAONPvOQ==",
		"1", "Yes", "Yes", "No", "Entra holds old==, Okta sends BpazOkLGm0iEtljAONPvOQ==."}
	if diff := cmp.Diff(wantAnn, rows[1]); diff != "" {
		t.Errorf("Findings row of ann (-want +got):\n%s", diff)
	}

	xmls := sheetXML(t, data)
	names := f.GetDefinedName()
	for _, tc := range []struct {
		name      string
		sheet     string
		headerRow int
		filterRef string
	}{
		{"findings", SheetFindings, 1, fmt.Sprintf("A1:P%d", 1+len(in.Findings.Identities))},
		{"org findings", SheetOrgFindings, 1, "A1:C2"},
		{"plan", SheetPlan, planHeaderRow, fmt.Sprintf("A4:J%d", 4+len(in.Plan.Steps))},
		{"sources", SheetSources, 1, "A1:I4"},
		{"drift", SheetDrift, 1, fmt.Sprintf("A1:F%d", 1+len(in.Drift))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			panes, err := f.GetPanes(tc.sheet)
			if err != nil {
				t.Fatal(err)
			}
			if !panes.Freeze || panes.YSplit != tc.headerRow || panes.TopLeftCell != fmt.Sprintf("A%d", tc.headerRow+1) {
				t.Errorf("panes = %+v, want the header row %d frozen", panes, tc.headerRow)
			}
			// excelize writes the range absolute ($A$1:$P$11); Excel reads both.
			if !strings.Contains(strings.ReplaceAll(xmls[tc.sheet], "$", ""), `<autoFilter ref="`+tc.filterRef+`"`) {
				t.Errorf("sheet XML has no autoFilter over %s", tc.filterRef)
			}
			found := false
			for _, dn := range names {
				if dn.Name == "_xlnm._FilterDatabase" && dn.Scope == tc.sheet {
					found = strings.ReplaceAll(dn.RefersTo, "$", "") == fmt.Sprintf("'%s'!%s", tc.sheet, tc.filterRef)
				}
			}
			if !found {
				t.Errorf("no _FilterDatabase defined name for %s over %s: %+v", tc.sheet, tc.filterRef, names)
			}
			if !strings.Contains(xmls[tc.sheet], `customWidth="1"`) {
				t.Errorf("sheet has no column widths")
			}
		})
	}

	dvs, err := f.GetDataValidations(SheetPlan)
	if err != nil {
		t.Fatal(err)
	}
	wantSqref := fmt.Sprintf("J5:J%d", 4+len(in.Plan.Steps))
	if len(dvs) != 1 || dvs[0].Type != "list" || dvs[0].Sqref != wantSqref || dvs[0].Formula1 != `"Yes,No"` {
		t.Errorf("Plan validations = %+v, want one Yes,No list over %s", dvs, wantSqref)
	}
	for cell, want := range map[string]string{"A1": "Plan hash", "B1": "sha256:0123abcd", "B2": "6", "J4": "Approve", "J5": "No", "A5": "entra:e-ann", "D6": "2"} {
		if got, _ := f.GetCellValue(SheetPlan, cell); got != want {
			t.Errorf("Plan!%s = %q, want %q", cell, got, want)
		}
	}

	sources, err := f.GetRows(SheetSources)
	if err != nil {
		t.Fatal(err)
	}
	wantAD := []string{"ad", "partial", "1500", "users=1500", "3", "2026-03-01T10:00:00Z", "2026-03-01T10:00:02Z", "2.00", "ldap: connection lost after 1500 entries"}
	if len(sources) != 4 || !cmp.Equal(sources[1], wantAD) {
		t.Errorf("Sources rows = %q, want 3 sources, ad first as %q", sources, wantAD)
	}

	drift, err := f.GetRows(SheetDrift)
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) < 2 || drift[1][0] != "resolved" || drift[1][1] != "entra:e-ann" ||
		drift[1][5] != "scenario ENTRA_ANCHOR_STALE → OK; entraImmutableId old== → BpazOkLGm0iEtljAONPvOQ==" {
		t.Errorf("Drift first row = %q, want ann resolved with what changed", drift[1])
	}

	summary, err := f.GetRows(SheetSummary)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]string{}
	for _, r := range summary {
		if len(r) >= 3 && strings.Contains(r[0], "_") {
			counts[r[0]] = r[2]
		}
	}
	if counts["ENTRA_ANCHOR_STALE"] != "1" || counts["UNKNOWN_MISMATCH"] != strconv.Itoa(len(hostileNames)) || counts["NOT_IN_ENTRA"] != "0" {
		t.Errorf("Summary scenario counts = %v", counts)
	}
	if !strings.Contains(xmls[SheetSummary], "<drawing ") {
		t.Errorf("Summary has no drawing (the chart)")
	}
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var chart bool
	for _, zf := range zr.File {
		chart = chart || strings.HasPrefix(zf.Name, "xl/charts/chart")
	}
	if !chart {
		t.Errorf("workbook holds no chart part")
	}
}

func TestWriteXLSXOptionalSheets(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*XLSXInput)
		sheet []string
	}{
		{"no plan, no drift", func(in *XLSXInput) { in.Plan, in.Drift = nil, nil },
			[]string{SheetSummary, SheetFindings, SheetOrgFindings, SheetSources}},
		{"compared but nothing in common", func(in *XLSXInput) { in.Plan, in.Drift = nil, []DriftEntry{} },
			[]string{SheetSummary, SheetFindings, SheetOrgFindings, SheetSources, SheetDrift}},
		{"empty plan, no findings", func(in *XLSXInput) {
			in.Plan, in.Findings, in.Drift = &XLSXPlan{Hash: "h"}, classify.Result{}, nil
		}, []string{SheetSummary, SheetFindings, SheetOrgFindings, SheetPlan, SheetSources}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			tc.edit(&in)
			f := openWorkbook(t, writeTestWorkbook(t, in))
			if diff := cmp.Diff(tc.sheet, f.GetSheetList()); diff != "" {
				t.Errorf("sheets (-want +got):\n%s", diff)
			}
			rows, err := f.GetRows(SheetFindings)
			if err != nil || len(rows) != 1+len(in.Findings.Identities) {
				t.Errorf("Findings rows = %d (%v), want %d", len(rows), err, 1+len(in.Findings.Identities))
			}
		})
	}
}

func TestWriteXLSXNeedsSnapshot(t *testing.T) {
	err := WriteXLSX(io.Discard, XLSXInput{})
	if err == nil || !strings.Contains(err.Error(), "no snapshot") {
		t.Errorf("WriteXLSX without a snapshot = %v, want an error saying so", err)
	}
}

// Directory data must land in string cells: never a formula, never
// rewritten into something else, control characters visibly escaped.
func TestXLSXHostileStringsStoredAsStrings(t *testing.T) {
	in := testInput()
	data := writeTestWorkbook(t, in)
	f := openWorkbook(t, data)
	for i, h := range hostileNames {
		t.Run(h.name, func(t *testing.T) {
			row := 2 + 2 + i                         // header, ann, bob
			for _, col := range []string{"D", "I"} { // display name, Entra immutableId
				cell := col + strconv.Itoa(row)
				typ, err := f.GetCellType(SheetFindings, cell)
				if err != nil {
					t.Fatal(err)
				}
				if typ != excelize.CellTypeInlineString {
					t.Errorf("%s type = %v, want an inline string", cell, typ)
				}
				if formula, _ := f.GetCellFormula(SheetFindings, cell); formula != "" {
					t.Errorf("%s holds formula %q", cell, formula)
				}
				if got, _ := f.GetCellValue(SheetFindings, cell); got != h.want {
					t.Errorf("%s = %q, want %q", cell, got, h.want)
				}
			}
		})
	}
	// No part of the workbook may hold a formula: the only one would be an
	// injected value.
	for sheet, x := range sheetXML(t, data) {
		if strings.Contains(x, "<f>") || strings.Contains(x, "<f ") {
			t.Errorf("sheet %s holds a formula element", sheet)
		}
	}
	if typ, _ := f.GetCellType(SheetPlan, "F9"); typ != excelize.CellTypeInlineString {
		t.Errorf("Plan!F9 (a hostile target) type = %v, want an inline string", typ)
	}
	// The data rows carry the Text number format, so editing keeps text.
	style, err := f.GetCellStyle(SheetFindings, "D5")
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(style)
	if err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != "@" {
		t.Errorf("Findings!D5 style = %+v (%v), want the Text number format @", st, err)
	}
}

func TestXLSXText(t *testing.T) {
	long := strings.Repeat("é", excelize.TotalCellChars+5)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "ann@example.com", "ann@example.com"},
		{"unicode kept", "Zoë 日本 🙂", "Zoë 日本 🙂"},
		{"tab, LF and CR kept", "a\tb\nc\rd", "a\tb\nc\rd"},
		{"C0 escaped", "a\x00b\x07c\x1f", `a\x00b\x07c\x1F`},
		{"DEL and C1 escaped", "a\x7fb\u0085c", `a\x7Fb\x85c`},
		{"noncharacters escaped", "a\uFFFEb\uFFFF", `a\uFFFEb\uFFFF`},
		{"invalid UTF-8 escaped", "a\xffb\xc3", `a\xFFb\xC3`},
		{"formula left as text", "=1+1", "=1+1"},
		{"exactly at the limit", long[:2*excelize.TotalCellChars], long[:2*excelize.TotalCellChars]},
		{"over the limit cut visibly", long, long[:2*(excelize.TotalCellChars-len([]rune(xlsxTruncated)))] + xlsxTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := xlsxText(tc.in)
			if got != tc.want {
				t.Errorf("xlsxText(%.40q…) = %.60q…, want %.60q…", tc.in, got, tc.want)
			}
			if n := xlsxUTF16Len(got); n > excelize.TotalCellChars {
				t.Errorf("result is %d UTF-16 units, over the cell limit", n)
			}
		})
	}
}

// editWorkbook opens a workbook, lets edit change it as a reviewer would in
// Excel, and returns the saved bytes.
func editWorkbook(t *testing.T, data []byte, edit func(f *excelize.File) error) []byte {
	t.Helper()
	f := openWorkbook(t, data)
	if err := edit(f); err != nil {
		t.Fatal(err)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func setCells(sheet string, values map[string]string) func(f *excelize.File) error {
	return func(f *excelize.File) error {
		for cell, v := range values {
			if err := f.SetCellStr(sheet, cell, v); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestReadApprovalsRoundTrip(t *testing.T) {
	data := writeTestWorkbook(t, testInput())
	tests := []struct {
		name string
		set  map[string]string
		want map[string]bool
	}{
		{"nothing approved", nil,
			map[string]bool{"entra:e-ann": false, "entra:e-bob": false, "entra:e-hostile2": false}},
		{"every step of ann, spelled loosely; one of two of hostile2",
			map[string]string{"J5": "Yes", "J6": " yes ", "J7": "YES", "J9": "Yes"},
			map[string]bool{"entra:e-ann": true, "entra:e-bob": false, "entra:e-hostile2": false}},
		{"ann missing one step", map[string]string{"J5": "Yes", "J7": "Yes", "J8": "Yes"},
			map[string]bool{"entra:e-ann": false, "entra:e-bob": true, "entra:e-hostile2": false}},
		{"all", map[string]string{"J5": "Yes", "J6": "Yes", "J7": "Yes", "J8": "Yes", "J9": "Yes", "J10": "Yes"},
			map[string]bool{"entra:e-ann": true, "entra:e-bob": true, "entra:e-hostile2": true}},
		{"approval cleared counts as no", map[string]string{"J8": ""},
			map[string]bool{"entra:e-ann": false, "entra:e-bob": false, "entra:e-hostile2": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edited := editWorkbook(t, data, setCells(SheetPlan, tc.set))
			hash, approved, err := ReadApprovals(bytes.NewReader(edited))
			if err != nil {
				t.Fatal(err)
			}
			if hash != "sha256:0123abcd" {
				t.Errorf("hash = %q", hash)
			}
			if diff := cmp.Diff(tc.want, approved); diff != "" {
				t.Errorf("approved (-want +got):\n%s", diff)
			}
		})
	}
}

// A reviewer may sort the plan sheet; approvals follow the rows.
func TestReadApprovalsAfterSorting(t *testing.T) {
	data := writeTestWorkbook(t, testInput())
	edited := editWorkbook(t, data, func(f *excelize.File) error {
		// Reverse the six step rows, approving bob's only step.
		rows, err := f.GetRows(SheetPlan)
		if err != nil {
			return err
		}
		steps := rows[planHeaderRow:]
		for i := range steps {
			values := make([]any, len(steps[len(steps)-1-i]))
			for j, v := range steps[len(steps)-1-i] {
				values[j] = v
			}
			if err := f.SetSheetRow(SheetPlan, "A"+strconv.Itoa(planHeaderRow+1+i), &values); err != nil {
				return err
			}
		}
		return f.SetCellStr(SheetPlan, "J"+strconv.Itoa(planHeaderRow+1+2), "Yes") // bob is third from the end
	})
	_, approved, err := ReadApprovals(bytes.NewReader(edited))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"entra:e-ann": false, "entra:e-bob": true, "entra:e-hostile2": false}
	if diff := cmp.Diff(want, approved); diff != "" {
		t.Errorf("approved (-want +got):\n%s", diff)
	}
}

func TestReadApprovalsErrors(t *testing.T) {
	good := writeTestWorkbook(t, testInput())
	noPlan := testInput()
	noPlan.Plan = nil
	tests := []struct {
		name string
		data func() []byte
		want string
	}{
		{"not a workbook", func() []byte { return []byte("plan.json") }, "read approvals workbook"},
		{"workbook without a plan", func() []byte { return writeTestWorkbook(t, noPlan) }, `no "Plan" sheet`},
		{"foreign plan sheet", func() []byte {
			return editWorkbook(t, good, setCells(SheetPlan, map[string]string{"A1": "Budget"}))
		}, `Plan!A1 is "Budget"`},
		{"hash cleared", func() []byte {
			return editWorkbook(t, good, setCells(SheetPlan, map[string]string{"B1": " "}))
		}, "Plan!B1 (the plan hash) is empty"},
		{"step count not a number", func() []byte {
			return editWorkbook(t, good, setCells(SheetPlan, map[string]string{"B2": "six"}))
		}, `Plan!B2 (the number of step rows) is "six"`},
		{"approve column renamed", func() []byte {
			return editWorkbook(t, good, setCells(SheetPlan, map[string]string{"J4": "OK?"}))
		}, `no "Approve" column header`},
		{"approve value not yes or no", func() []byte {
			return editWorkbook(t, good, setCells(SheetPlan, map[string]string{"J6": "Maybe"}))
		}, `Plan!J6 is "Maybe"`},
		{"step row deleted", func() []byte {
			return editWorkbook(t, good, func(f *excelize.File) error { return f.RemoveRow(SheetPlan, 6) })
		}, "has 5 step rows but Plan!B2 says 6"},
		{"step listed twice", func() []byte {
			return editWorkbook(t, good, func(f *excelize.File) error { return f.DuplicateRow(SheetPlan, 5) })
		}, "step 1 of entra:e-ann is listed twice (rows 5 and 6)"},
		{"identity key cleared", func() []byte {
			return editWorkbook(t, good, setCells(SheetPlan, map[string]string{"A7": ""}))
		}, "Plan!A7 is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hash, approved, err := ReadApprovals(bytes.NewReader(tc.data()))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadApprovals error = %v, want one containing %q", err, tc.want)
			}
			if hash != "" || approved != nil {
				t.Errorf("ReadApprovals returned %q, %v with its error", hash, approved)
			}
		})
	}
}

// syntheticFindings builds n findings cheaply: the strings are built once per
// distinct value and shared, like a real classify.Result's would mostly not
// be, so the baseline is a lower bound on a real result's memory.
func syntheticFindings(n int) classify.Result {
	scenarios := []classify.Scenario{classify.OK, classify.EntraAnchorStale, classify.OktaAssignmentStale, classify.OutOfScope, classify.UnknownMismatch}
	res := classify.Result{Identities: make([]classify.Finding, n)}
	expl := "Entra holds BpazOkLGm0iEtljAONPvOQ== and Okta sends MsNKjF+XF0ete7pKTpaP/w==: the values differ."
	for i := range res.Identities {
		id := strconv.Itoa(i)
		res.Identities[i] = classify.Finding{
			Scenario: scenarios[i%len(scenarios)], Severity: classify.High,
			UPN: "user" + id + "@example.com", DisplayName: "User " + id,
			EntraUserID: "e-" + id, OktaUserID: "00u" + id, ADObjectGUID: "3ab39606-c642-489b-84b6-58c038d3ef39",
			EntraAnchor: "BpazOkLGm0iEtljAONPvOQ==", OktaAnchor: "MsNKjF+XF0ete7pKTpaP/w==",
			ExpectedAnchor: []string{"BpazOkLGm0iEtljAONPvOQ=="}, ADSources: 1, Federated: true, Assigned: true,
			Explanation: expl,
		}
	}
	return res
}

// heapPeak samples the heap until stopped and returns the highest HeapInuse
// (what the process holds, garbage included: with GOGC=100 the collector lets
// garbage grow up to the live heap before it runs) and the highest live heap
// as of the last collection (what the writer actually retains).
func heapPeak() (stop func() (inuse, live uint64)) {
	var peakInuse, peakLive atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			runtime.ReadMemStats(&ms)
			peakInuse.Store(max(peakInuse.Load(), ms.HeapInuse))
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				peakLive.Store(max(peakLive.Load(), sample[0].Value.Uint64()))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return peakInuse.Load(), peakLive.Load()
	}
}

// BenchmarkXLSXMillion streams a workbook whose Findings sheet has 1,000,000
// rows to a file and reports the heap the findings alone take
// (baseline-heap-MiB), the peak heap in use while writing (peak-heap-MiB,
// which must stay under 1 GiB), the peak live heap (peak-live-heap-MiB: the
// baseline plus what the writer retains), the file size and rows per second.
func BenchmarkXLSXMillion(b *testing.B) {
	const n = 1_000_000
	res := syntheticFindings(n)
	snap := testSnapshot()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	out := filepath.Join(b.TempDir(), "million.xlsx")
	var peak, peakLive uint64
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		stop := heapPeak()
		err := WriteFileAtomic(out, func(w io.Writer) error {
			return WriteXLSX(w, XLSXInput{Snapshot: snap, Findings: res})
		})
		inuse, live := stop()
		peak, peakLive = max(peak, inuse), max(peakLive, live)
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	const mib = 1 << 20
	b.ReportMetric(float64(baseline)/mib, "baseline-heap-MiB")
	b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
	b.ReportMetric(float64(peakLive)/mib, "peak-live-heap-MiB")
	b.ReportMetric(float64(st.Size())/mib, "file-MiB")
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "rows/s")
	if peak > 1<<30 {
		b.Errorf("peak heap %d MiB, over the 1 GiB budget", peak/mib)
	}
	runtime.KeepAlive(res)
}

// TestWriteXLSXStreamedFindings writes the Findings sheet from findings
// read one at a time: the same rows as from the list, and a clear error
// when the reader yields another number of findings than the sheet was
// sized for.
func TestWriteXLSXStreamedFindings(t *testing.T) {
	in := testInput()
	want, err := openWorkbook(t, writeTestWorkbook(t, in)).GetRows(SheetFindings)
	if err != nil {
		t.Fatal(err)
	}
	res := in.Findings
	n := len(res.Identities)
	streamed := in
	streamed.Findings = classify.Result{Org: res.Org}
	streamed.EachFinding, streamed.FindingCount = res.Each, n
	got, err := openWorkbook(t, writeTestWorkbook(t, streamed)).GetRows(SheetFindings)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("streamed Findings sheet differs (-list +streamed):\n%s", diff)
	}
	for _, count := range []int{n - 1, n + 1} {
		streamed.FindingCount = count
		if err := WriteXLSX(io.Discard, streamed); err == nil || !strings.Contains(err.Error(), "sized for") {
			t.Errorf("count %d for %d findings: err = %v, want one naming the size", count, n, err)
		}
	}
}
