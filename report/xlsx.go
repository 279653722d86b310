package report

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/store"
)

// The workbook's sheet names. ReadApprovals finds the plan by its name.
const (
	SheetSummary     = "Summary"
	SheetFindings    = "Findings"
	SheetOrgFindings = "Org findings"
	SheetPlan        = "Plan"
	SheetSources     = "Sources"
	SheetDrift       = "Drift"
)

// The Plan sheet's fixed cells: the label in A1 and the plan hash in B1, the
// number of step rows in B2, the column headers in row 4, steps from row 5.
const (
	PlanHashCell      = "B1"
	planHashLabel     = "Plan hash"
	planStepRowsLabel = "Step rows"
	planHeaderRow     = 4
	approveYes        = "Yes"
	approveNo         = "No"
)

// XLSXInput is what a workbook shows. Plan and Drift are optional: their
// sheets are written only when given (a non-nil, possibly empty, Drift means
// "compared").
type XLSXInput struct {
	Snapshot *store.Snapshot
	Findings classify.Result
	// EachFinding, when set, reads the identities' findings one at a time
	// (as store.DB.EachFinding does) in place of Findings.Identities, and
	// FindingCount is their number: a workbook of a million identities then
	// never holds their findings. Findings.Org is used either way.
	EachFinding  func(fn func(*classify.Finding) error) error
	FindingCount int
	Plan         *XLSXPlan
	Drift        []DriftEntry
}

// findings returns how many identities in has and a reader of their
// findings in order.
func (in *XLSXInput) findings() (int, func(fn func(*classify.Finding) error) error) {
	if in.EachFinding != nil {
		return in.FindingCount, in.EachFinding
	}
	return len(in.Findings.Identities), in.Findings.Each
}

// XLSXPlan is the part of a fix plan the Plan sheet shows, one step per row.
type XLSXPlan struct {
	Hash  string
	Steps []XLSXPlanStep
}

// XLSXPlanStep is one step of one identity's fix. IdentityKey groups the
// rows an approval covers (FindingKey of the identity, or a key the plan
// chooses for its org steps); Index counts the identity's steps from 1.
type XLSXPlanStep struct {
	IdentityKey, UPN, Scenario string
	Index                      int
	Kind, Target, Parameters   string
	Precondition, Compensation string
}

// WriteXLSX writes the workbook: Summary (with a chart), Findings, Org
// findings, Plan (when in.Plan is set), Sources and Drift (when in.Drift is
// non-nil).
//
// Large sheets go through excelize's stream writer, which spills to a
// temporary file past 16 MiB, so a million findings stay in bounded memory
// (BenchmarkXLSXMillion measures it).
//
// Directory data is attacker-controlled, so every cell holding it is an
// inline string cell, never a formula: `=HYPERLINK(…)` in a display name is
// shown as text and never evaluated. The data cells also carry the Text
// number format ("@"), so that editing such a cell in Excel and pressing
// Enter keeps it text instead of turning it into a formula. Saving the sheet
// as CSV drops both protections, as CSV has no cell types: whoever exports it
// must treat the CSV as untrusted input. Characters XML 1.0 cannot hold
// (control characters other than tab, CR and LF) are shown escaped as \xNN,
// and values beyond Excel's 32,767-character cell limit are cut with a
// visible "…[truncated]" marker: findings.json keeps the exact values.
func WriteXLSX(w io.Writer, in XLSXInput) (err error) {
	if in.Snapshot == nil {
		return errors.New("write workbook: no snapshot given")
	}
	f := excelize.NewFile()
	f.SetZipWriter(fastZip)
	defer func() {
		// Close removes the stream writers' temporary files.
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write workbook: clean up: %w", cerr)
		}
	}()
	b, err := newXLSXBook(f)
	if err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	// The Findings sheet is written before the Summary sheet, which
	// counts what it wrote; the Summary stays the first sheet.
	if err := b.findings(in); err != nil {
		return fmt.Errorf("write workbook: sheet %s: %w", SheetFindings, err)
	}
	if err := b.summary(in); err != nil {
		return fmt.Errorf("write workbook: sheet %s: %w", SheetSummary, err)
	}
	sheets := []struct {
		name  string
		write func(XLSXInput) error
		skip  bool
	}{
		{SheetOrgFindings, b.orgFindings, false},
		{SheetPlan, b.plan, in.Plan == nil},
		{SheetSources, b.sources, false},
		{SheetDrift, b.drift, in.Drift == nil},
	}
	for _, s := range sheets {
		if s.skip {
			continue
		}
		if err := s.write(in); err != nil {
			return fmt.Errorf("write workbook: sheet %s: %w", s.name, err)
		}
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

// xlsxBook writes one workbook; it holds the styles every sheet shares.
type xlsxBook struct {
	f *excelize.File
	// What the Findings sheet wrote, for the Summary sheet.
	byScenario map[classify.Scenario]int
	bySeverity map[classify.Severity]int
	header     int // bold, shaded, text format
	bold       int
	text       int // the Text number format "@"
	secs       int // a duration in seconds
}

func newXLSXBook(f *excelize.File) (*xlsxBook, error) {
	b := &xlsxBook{f: f, byScenario: map[classify.Scenario]int{}, bySeverity: map[classify.Severity]int{}}
	text := "@"
	styles := []struct {
		id    *int
		style excelize.Style
	}{
		{&b.header, excelize.Style{
			Font:         &excelize.Font{Bold: true},
			Fill:         excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
			Border:       []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}},
			CustomNumFmt: &text,
		}},
		{&b.bold, excelize.Style{Font: &excelize.Font{Bold: true}}},
		{&b.text, excelize.Style{CustomNumFmt: &text}},
		{&b.secs, excelize.Style{NumFmt: 4}}, // #,##0.00
	}
	for _, s := range styles {
		id, err := f.NewStyle(&s.style)
		if err != nil {
			return nil, fmt.Errorf("define style: %w", err)
		}
		*s.id = id
	}
	return b, nil
}

// xlsxColumn is a column of a streamed table.
type xlsxColumn struct {
	title string
	width float64
}

// xlsxTable is a sheet holding one table: optional rows above its header
// (label, value pairs), a frozen header row with an autofilter, and rows
// data rows produced by fill.
type xlsxTable struct {
	name     string
	preamble [][]any
	columns  []xlsxColumn
	rows     int
	// approveColumn, when non-zero, is the 1-based column that gets the
	// Yes/No list validation on every data row.
	approveColumn int
	// fill writes data row i into row (len(columns) long, reused) and
	// returns it.
	fill func(i int, row []any) []any
	// each, in place of fill, produces the rows rows in order: it fills
	// row (cleared before each) and passes it to emit.
	each func(row []any, emit func([]any) error) error
}

// table writes t through the stream writer. Everything the stream writer
// cannot do itself (autofilter, data validation) is set on the empty sheet
// first; the stream writer emits it when it flushes.
func (b *xlsxBook) table(t xlsxTable) error {
	if _, err := b.f.NewSheet(t.name); err != nil {
		return err
	}
	headerRow := len(t.preamble) + 1
	lastCol, err := excelize.ColumnNumberToName(len(t.columns))
	if err != nil {
		return err
	}
	filterRef := fmt.Sprintf("A%d:%s%d", headerRow, lastCol, headerRow+max(t.rows, 1))
	if err := b.f.AutoFilter(t.name, filterRef, nil); err != nil {
		return fmt.Errorf("autofilter %s: %w", filterRef, err)
	}
	if t.approveColumn > 0 && t.rows > 0 {
		col, err := excelize.ColumnNumberToName(t.approveColumn)
		if err != nil {
			return err
		}
		dv := excelize.NewDataValidation(true)
		dv.Sqref = fmt.Sprintf("%s%d:%s%d", col, headerRow+1, col, headerRow+t.rows)
		if err := dv.SetDropList([]string{approveYes, approveNo}); err != nil {
			return err
		}
		dv.SetError(excelize.DataValidationErrorStyleStop, "Approve", "Choose Yes or No.")
		if err := b.f.AddDataValidation(t.name, dv); err != nil {
			return fmt.Errorf("approve validation: %w", err)
		}
	}
	sw, err := b.f.NewStreamWriter(t.name)
	if err != nil {
		return err
	}
	for i, c := range t.columns {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return err
		}
	}
	topLeft := fmt.Sprintf("A%d", headerRow+1)
	if err := sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: headerRow, TopLeftCell: topLeft, ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: topLeft, ActiveCell: topLeft, Pane: "bottomLeft"}},
	}); err != nil {
		return err
	}
	for i, values := range t.preamble {
		if err := sw.SetRow(fmt.Sprintf("A%d", i+1), values); err != nil {
			return err
		}
	}
	header := make([]any, len(t.columns))
	for i, c := range t.columns {
		header[i] = excelize.Cell{StyleID: b.header, Value: c.title}
	}
	if err := sw.SetRow(fmt.Sprintf("A%d", headerRow), header); err != nil {
		return err
	}
	row := make([]any, len(t.columns))
	dataRow := excelize.RowOpts{StyleID: b.text}
	written := 0
	emit := func(values []any) error {
		if written == t.rows {
			return fmt.Errorf("more than the %d rows the sheet was sized for", t.rows)
		}
		for j, v := range values {
			if s, ok := v.(string); ok && s == "" {
				values[j] = nil // no cell at all: smaller, and Excel treats it as blank
			}
		}
		n := headerRow + 1 + written
		if err := sw.SetRow("A"+strconv.Itoa(n), values, dataRow); err != nil {
			return fmt.Errorf("row %d: %w", n, err)
		}
		written++
		clear(row)
		return nil
	}
	if t.each != nil {
		if err := t.each(row, emit); err != nil {
			return err
		}
	} else {
		for i := range t.rows {
			if err := emit(t.fill(i, row)); err != nil {
				return err
			}
		}
	}
	if written != t.rows {
		return fmt.Errorf("%d rows written, the sheet was sized for %d", written, t.rows)
	}
	return sw.Flush()
}

func (b *xlsxBook) findings(in XLSXInput) error {
	count, each := in.findings()
	return b.table(xlsxTable{
		name: SheetFindings,
		columns: []xlsxColumn{
			{"Scenario", 24}, {"Severity", 10}, {"UPN", 34}, {"Display name", 24},
			{"Entra object id", 38}, {"Okta user id", 22}, {"AD objectGUID", 38}, {"AD distinguished name", 40},
			{"Entra immutableId (E)", 28}, {"Okta immutableId (S)", 28}, {"Expected anchors (X)", 34},
			{"AD sources", 11}, {"Federated", 10}, {"Assigned", 10}, {"Sync managed", 13}, {"Explanation", 100},
		},
		rows: count,
		each: func(row []any, emit func([]any) error) error {
			return each(func(f *classify.Finding) error {
				b.byScenario[f.Scenario]++
				b.bySeverity[f.Severity]++
				row[0], row[1] = string(f.Scenario), string(f.Severity)
				row[2], row[3] = xlsxText(f.UPN), xlsxText(f.DisplayName)
				row[4], row[5] = xlsxText(f.EntraUserID), xlsxText(f.OktaUserID)
				row[6], row[7] = xlsxText(f.ADObjectGUID), xlsxText(f.ADDN)
				row[8], row[9] = xlsxText(f.EntraAnchor), xlsxText(f.OktaAnchor)
				row[10] = xlsxText(strings.Join(f.ExpectedAnchor, ", "))
				row[11] = f.ADSources
				row[12], row[13], row[14] = xlsxYesNo(f.Federated), xlsxYesNo(f.Assigned), xlsxYesNo(f.SyncEnabled)
				row[15] = xlsxText(f.Explanation)
				return emit(row)
			})
		},
	})
}

func (b *xlsxBook) orgFindings(in XLSXInput) error {
	org := in.Findings.Org
	return b.table(xlsxTable{
		name:    SheetOrgFindings,
		columns: []xlsxColumn{{"Code", 38}, {"Severity", 10}, {"Explanation", 120}},
		rows:    len(org),
		fill: func(i int, row []any) []any {
			row[0], row[1], row[2] = xlsxText(string(org[i].Code)), string(org[i].Severity), xlsxText(org[i].Explanation)
			return row
		},
	})
}

func (b *xlsxBook) plan(in XLSXInput) error {
	p := in.Plan
	label := func(s string) any { return excelize.Cell{StyleID: b.bold, Value: s} }
	return b.table(xlsxTable{
		name: SheetPlan,
		preamble: [][]any{
			{label(planHashLabel), excelize.Cell{StyleID: b.text, Value: xlsxText(p.Hash)}},
			{label(planStepRowsLabel), len(p.Steps)},
			{label("How to approve"), "Set Approve to Yes on every step row of an identity. " +
				"anchorscan apply --approvals applies only the identities whose every step is Yes, " +
				"and only when the plan hash above is the plan's."},
		},
		columns: []xlsxColumn{
			{"Identity key", 44}, {"UPN", 34}, {"Scenario", 24}, {"Step #", 7}, {"Kind", 24},
			{"Target", 34}, {"Parameters", 50}, {"Precondition", 50}, {"Compensation", 40}, {"Approve", 10},
		},
		rows:          len(p.Steps),
		approveColumn: 10,
		fill: func(i int, row []any) []any {
			s := &p.Steps[i]
			row[0], row[1], row[2] = xlsxText(s.IdentityKey), xlsxText(s.UPN), xlsxText(s.Scenario)
			row[3], row[4], row[5] = s.Index, xlsxText(s.Kind), xlsxText(s.Target)
			row[6], row[7], row[8] = xlsxText(s.Parameters), xlsxText(s.Precondition), xlsxText(s.Compensation)
			row[9] = approveNo
			return row
		},
	})
}

func (b *xlsxBook) sources(in XLSXInput) error {
	runs := in.Snapshot.Sources
	return b.table(xlsxTable{
		name: SheetSources,
		columns: []xlsxColumn{
			{"Source", 10}, {"Status", 10}, {"Records", 10}, {"Counts", 40}, {"Requests", 10},
			{"Started (UTC)", 26}, {"Ended (UTC)", 26}, {"Duration (s)", 12}, {"Errors", 100},
		},
		rows: len(runs),
		fill: func(i int, row []any) []any {
			r := &runs[i]
			total := 0
			counts := make([]string, 0, len(r.Counts))
			for _, k := range slices.Sorted(maps.Keys(r.Counts)) {
				total += r.Counts[k]
				counts = append(counts, fmt.Sprintf("%s=%d", k, r.Counts[k]))
			}
			row[0], row[1], row[2] = string(r.Source), string(r.Status), total
			row[3], row[4] = xlsxText(strings.Join(counts, ", ")), r.Requests
			row[5], row[6] = xlsxTime(r.Started), xlsxTime(r.Ended)
			if !r.Started.IsZero() && !r.Ended.IsZero() {
				row[7] = excelize.Cell{StyleID: b.secs, Value: r.Ended.Sub(r.Started).Seconds()}
			}
			row[8] = xlsxText(strings.Join(r.Errors, "\n"))
			return row
		},
	})
}

func (b *xlsxBook) drift(in XLSXInput) error {
	d := in.Drift
	scenario := func(f *classify.Finding) string {
		if f == nil {
			return ""
		}
		return string(f.Scenario)
	}
	return b.table(xlsxTable{
		name: SheetDrift,
		columns: []xlsxColumn{
			{"Change", 11}, {"Identity key", 44}, {"UPN", 34}, {"Scenario before", 24}, {"Scenario after", 24}, {"What changed", 120},
		},
		rows: len(d),
		fill: func(i int, row []any) []any {
			e := &d[i]
			row[0], row[1], row[2] = string(e.Kind), xlsxText(e.Key), xlsxText(e.UPN)
			row[3], row[4] = scenario(e.Before), scenario(e.After)
			row[5] = xlsxText(strings.Join(e.Changes, "; "))
			return row
		},
	})
}

// summary writes the Summary sheet with the normal (non-streaming) API: it
// is small, and excelize cannot add a chart to a stream-written sheet.
func (b *xlsxBook) summary(in XLSXInput) error {
	const sheet = SheetSummary
	f := b.f
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	snap := in.Snapshot
	// The Findings sheet, written first, holds exactly this many rows.
	identities, _ := in.findings()
	r := 1
	var errs []error
	put := func(col string, v any, style int) {
		cell := col + strconv.Itoa(r)
		if s, ok := v.(string); ok {
			errs = append(errs, f.SetCellStr(sheet, cell, s))
		} else {
			errs = append(errs, f.SetCellValue(sheet, cell, v))
		}
		if style != 0 {
			errs = append(errs, f.SetCellStyle(sheet, cell, cell, style))
		}
	}
	put("A", "anchorscan report", b.bold)
	r += 2
	ended := "(running)"
	if !snap.EndedAt.IsZero() {
		ended = xlsxTime(snap.EndedAt)
	}
	facts := [][2]string{
		{"Snapshot", strconv.FormatInt(int64(snap.ID), 10)},
		{"Status", xlsxText(snap.Status)},
		{"Started (UTC)", xlsxTime(snap.StartedAt)},
		{"Ended (UTC)", ended},
		{"Content hash", xlsxText(snap.ContentHash)},
		{"Tool version", xlsxText(snap.ToolVersion)},
		{"Okta org", xlsxText(snap.OktaOrg)},
		{"Entra tenant", xlsxText(snap.EntraTenant)},
		{"AD domains", xlsxText(strings.Join(snap.ADDomains, ", "))},
		{"Identities", strconv.Itoa(identities)},
		{"Org findings", strconv.Itoa(len(in.Findings.Org))},
	}
	if in.Plan != nil {
		facts = append(facts, [2]string{"Plan hash", xlsxText(in.Plan.Hash)})
	}
	for _, kv := range facts {
		put("A", kv[0], b.bold)
		put("B", kv[1], b.text)
		r++
	}

	// Counts by scenario, every scenario of the decision table in its order
	// (zeros included, so two workbooks line up), then any the table does
	// not know.
	r++
	byScenario, bySeverity := b.byScenario, b.bySeverity
	var scenarios []classify.Scenario
	severityOf := map[classify.Scenario]classify.Severity{}
	for _, rule := range classify.Rules() {
		scenarios = append(scenarios, rule.Scenario)
		severityOf[rule.Scenario] = rule.Severity
	}
	for _, s := range slices.Sorted(maps.Keys(byScenario)) {
		if !slices.Contains(scenarios, s) {
			scenarios = append(scenarios, s)
		}
	}
	put("A", "Scenario", b.header)
	put("B", "Severity", b.header)
	put("C", "Identities", b.header)
	r++
	firstScenarioRow := r
	for _, s := range scenarios {
		put("A", xlsxText(string(s)), 0)
		put("B", string(severityOf[s]), 0)
		put("C", byScenario[s], 0)
		r++
	}
	lastScenarioRow := r - 1

	r++
	put("A", "Severity", b.header)
	put("B", "Identities", b.header)
	r++
	severities := []classify.Severity{classify.Critical, classify.High, classify.Medium, classify.Low, classify.Info}
	for _, s := range slices.Sorted(maps.Keys(bySeverity)) {
		if !slices.Contains(severities, s) {
			severities = append(severities, s)
		}
	}
	for _, s := range severities {
		put("A", xlsxText(string(s)), 0)
		put("B", bySeverity[s], 0)
		r++
	}

	if in.Drift != nil {
		r++
		put("A", "Drift", b.header)
		put("B", "Identities", b.header)
		r++
		counts := DriftSummary(in.Drift)
		for _, k := range DriftKinds() {
			put("A", string(k), 0)
			put("B", counts[k], 0)
			r++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for col, width := range map[string]float64{"A": 26, "B": 70, "C": 12} {
		if err := f.SetColWidth(sheet, col, col, width); err != nil {
			return err
		}
	}
	ref := func(col string, from, to int) string {
		return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheet, col, from, col, to)
	}
	oneColor := false
	return f.AddChart(sheet, "E3", &excelize.Chart{
		Type: excelize.Bar,
		Series: []excelize.ChartSeries{{
			Name:       fmt.Sprintf("'%s'!$C$%d", sheet, firstScenarioRow-1),
			Categories: ref("A", firstScenarioRow, lastScenarioRow),
			Values:     ref("C", firstScenarioRow, lastScenarioRow),
		}},
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Identities by scenario"}}},
		Legend:     excelize.ChartLegend{Position: "none"},
		VaryColors: &oneColor,
		YAxis:      excelize.ChartAxis{MajorGridLines: true},
		XAxis:      excelize.ChartAxis{ReverseOrder: true},
		Dimension:  excelize.ChartDimension{Width: 720, Height: 480},
	})
}

// ReadApprovals reads back the Plan sheet of a workbook WriteXLSX wrote:
// the plan hash (B1) and, per identity key, whether every one of its step
// rows has Approve = Yes (case and surrounding spaces ignored). The rows may
// have been sorted or filtered. It refuses a workbook that is not one of
// ours, a step row count that differs from the one written in B2 (a row was
// deleted or added), a step listed twice, and an Approve value other than
// Yes, No or empty, naming the sheet and cell.
func ReadApprovals(r io.Reader) (planHash string, approved map[string]bool, err error) {
	f, err := excelize.OpenReader(r)
	if err != nil {
		return "", nil, fmt.Errorf("read approvals workbook: %w", err)
	}
	defer f.Close()
	if idx, err := f.GetSheetIndex(SheetPlan); err != nil || idx < 0 {
		return "", nil, fmt.Errorf("approvals workbook has no %q sheet: it was not written by anchorscan for a plan", SheetPlan)
	}
	cell := func(ref string) string {
		v, err := f.GetCellValue(SheetPlan, ref)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(v)
	}
	if got := cell("A1"); got != planHashLabel {
		return "", nil, fmt.Errorf("approvals workbook: %s!A1 is %q, want %q: not a plan sheet anchorscan wrote", SheetPlan, got, planHashLabel)
	}
	planHash = cell(PlanHashCell)
	if planHash == "" {
		return "", nil, fmt.Errorf("approvals workbook: %s!%s (the plan hash) is empty", SheetPlan, PlanHashCell)
	}
	if got := cell("A2"); got != planStepRowsLabel {
		return "", nil, fmt.Errorf("approvals workbook: %s!A2 is %q, want %q", SheetPlan, got, planStepRowsLabel)
	}
	declared, err := strconv.Atoi(cell("B2"))
	if err != nil || declared < 0 {
		return "", nil, fmt.Errorf("approvals workbook: %s!B2 (the number of step rows) is %q, not a count", SheetPlan, cell("B2"))
	}

	rows, err := f.Rows(SheetPlan)
	if err != nil {
		return "", nil, fmt.Errorf("approvals workbook: read %s: %w", SheetPlan, err)
	}
	defer rows.Close()
	var keyCol, stepCol, approveCol int = -1, -1, -1
	approved = map[string]bool{}
	seen := map[[2]string]int{} // (identity key, step #) → row
	steps := 0
	for rowNum := 1; rows.Next(); rowNum++ {
		values, err := rows.Columns()
		if err != nil {
			return "", nil, fmt.Errorf("approvals workbook: %s row %d: %w", SheetPlan, rowNum, err)
		}
		at := func(col int) string {
			if col < len(values) {
				return strings.TrimSpace(values[col])
			}
			return ""
		}
		if rowNum < planHeaderRow {
			continue
		}
		if rowNum == planHeaderRow {
			for i := range values {
				switch at(i) {
				case "Identity key":
					keyCol = i
				case "Step #":
					stepCol = i
				case "Approve":
					approveCol = i
				}
			}
			for name, col := range map[string]int{"Identity key": keyCol, "Step #": stepCol, "Approve": approveCol} {
				if col < 0 {
					return "", nil, fmt.Errorf("approvals workbook: %s row %d has no %q column header", SheetPlan, planHeaderRow, name)
				}
			}
			continue
		}
		if strings.TrimSpace(strings.Join(values, "")) == "" {
			continue
		}
		ref := func(col int) string {
			name, _ := excelize.CoordinatesToCellName(col+1, rowNum)
			return SheetPlan + "!" + name
		}
		key, step := at(keyCol), at(stepCol)
		if key == "" {
			return "", nil, fmt.Errorf("approvals workbook: %s is empty: a step row without its identity key", ref(keyCol))
		}
		if first, dup := seen[[2]string{key, step}]; dup {
			return "", nil, fmt.Errorf("approvals workbook: %s: step %s of %s is listed twice (rows %d and %d)", ref(stepCol), step, key, first, rowNum)
		}
		seen[[2]string{key, step}] = rowNum
		steps++
		var yes bool
		switch v := at(approveCol); {
		case strings.EqualFold(v, approveYes):
			yes = true
		case strings.EqualFold(v, approveNo), v == "":
		default:
			return "", nil, fmt.Errorf("approvals workbook: %s is %q: Approve must be Yes or No", ref(approveCol), v)
		}
		prev, ok := approved[key]
		approved[key] = yes && (prev || !ok)
	}
	if err := rows.Error(); err != nil {
		return "", nil, fmt.Errorf("approvals workbook: read %s: %w", SheetPlan, err)
	}
	if keyCol < 0 {
		return "", nil, fmt.Errorf("approvals workbook: %s has no header row %d", SheetPlan, planHeaderRow)
	}
	if steps != declared {
		return "", nil, fmt.Errorf("approvals workbook: %s has %d step rows but %s!B2 says %d: rows were deleted or added", SheetPlan, steps, SheetPlan, declared)
	}
	return planHash, approved, nil
}

func xlsxYesNo(v bool) string {
	if v {
		return approveYes
	}
	return approveNo
}

func xlsxTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// xlsxTruncated marks a value cut at Excel's cell limit.
const xlsxTruncated = "…[truncated]"

// xlsxText makes s storable in a cell and keeps it readable. XML 1.0 cannot
// hold most control characters (excelize would turn them into U+FFFD and lose
// which one it was), so they, the C1 controls, U+FFFE/U+FFFF and bytes that
// are not UTF-8 are written as visible \xNN (\uFFFE) escapes. Tab, LF and CR
// stay. A value over Excel's 32,767 UTF-16 units is cut with a marker rather
// than silently by excelize.
func xlsxText(s string) string {
	if xlsxPlain(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&sb, `\x%02X`, s[i])
		case r == '\t' || r == '\n' || r == '\r':
			sb.WriteRune(r)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			fmt.Fprintf(&sb, `\x%02X`, r)
		case r == 0xFFFE || r == 0xFFFF:
			fmt.Fprintf(&sb, `\u%04X`, r)
		default:
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	out := sb.String()
	if xlsxUTF16Len(out) <= excelize.TotalCellChars {
		return out
	}
	budget, units := excelize.TotalCellChars-xlsxUTF16Len(xlsxTruncated), 0
	for i, r := range out {
		if units += utf16.RuneLen(r); units > budget {
			return out[:i] + xlsxTruncated
		}
	}
	return out
}

// xlsxPlain reports whether s needs no escaping and fits in a cell: the
// common case, checked without allocating.
func xlsxPlain(s string) bool {
	// A UTF-16 length never exceeds the UTF-8 one, so only long strings
	// need counting.
	if len(s) > excelize.TotalCellChars && xlsxUTF16Len(s) > excelize.TotalCellChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || (r >= 0x80 && r <= 0x9f) || r == 0xFFFE || r == 0xFFFF {
				return false
			}
			i += size - 1
		}
	}
	return true
}

func xlsxUTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// fastZip is the workbook's ZIP writer, compressing at flate's fastest
// level rather than its default. The workbook's sheets are most of its
// size, and at 1,000,000 identities compressing them at the default level
// took 11 of the 35 seconds the workbook took.
func fastZip(w io.Writer) excelize.ZipWriter {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	return zw
}
