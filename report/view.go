package report

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/store"
)

// View is everything the HTML report shows, computed before rendering so the
// template only lays it out. Times are formatted here, never read from a
// clock, so one snapshot always renders the same bytes.
type View struct {
	Title       string
	ToolVersion string
	SnapshotID  int64
	Status      string // snapshot status: complete, partial, running
	StartedAt   string // RFC 3339, UTC
	EndedAt     string
	Duration    string
	ContentHash string
	Tenants     []Field
	Sources     []SourceView

	Total      int
	Scenarios  []ScenarioCount // every scenario of the decision table, in its order
	Severities []SeverityCount // most urgent first
	Chart      Chart
	Org        []classify.OrgFinding

	// Drift and Journal are shown when present.
	Drift        []DriftRow
	DriftCounts  []Field
	Journal      []JournalRow
	PlanHash     string
	HasStepsData bool

	// Data is the identity table and every identity's detail, as the
	// report's script reads it (see newDataTables and row).
	Data *IdentityData
}

// Field is a labelled value of the header.
type Field struct {
	Label string
	Value string
}

// SourceView is one source's collection outcome.
type SourceView struct {
	Name     string
	Status   string
	Requests int
	Counts   string // "users 1,000 · apps 3"
	Duration string
	Errors   []string
}

// ScenarioCount is one row of the summary.
type ScenarioCount struct {
	Scenario string
	Severity string
	Count    int
	When     string
	Fix      string
}

// SeverityCount counts findings of one severity.
type SeverityCount struct {
	Severity string
	Count    int
}

// Chart is the summary's horizontal bar chart, laid out here so the
// template only draws rectangles: a chart from numbers needs no script.
type Chart struct {
	Width, Height int
	Bars          []ChartBar
}

// ChartBar is one scenario's bar.
type ChartBar struct {
	Label    string
	Severity string
	Count    string
	Y        int // top of the bar
	TextY    int // baseline of its labels
	Width    int // bar length
	CountX   int // where the count is written
}

// ViewStep is one plan step of an identity, as the report lists it.
type ViewStep struct {
	Kind        string `json:"kind"`
	Target      string `json:"target,omitempty"`
	Description string `json:"description"`
	Manual      bool   `json:"manual,omitempty"`
}

// DriftRow is one identity whose classification differs between two
// snapshots, as the report lists it.
type DriftRow struct {
	Change string // a DriftKind
	UPN    string
	Before string // scenario in the earlier snapshot, "" when new
	After  string // scenario in the later snapshot, "" when removed
	Detail string // the changes, "; "-separated
}

// JournalRow is one applied step, from the apply journal.
type JournalRow struct {
	Time   string // as recorded, already formatted
	UPN    string
	Step   string
	Target string
	Before string
	After  string
	Result string
}

// ViewOptions carry what the report shows besides the snapshot. All optional.
type ViewOptions struct {
	Title string
	// Steps are the plan's steps per identity, keyed by FindingKey.
	Steps    map[string][]ViewStep
	PlanHash string
	// Drift is the comparison with another snapshot (see Drift); unchanged
	// identities are counted, not listed.
	Drift []DriftEntry
	// Journal is the evidence of an apply.
	Journal []JournalRow
}

// BuildView computes the report of one snapshot from what the store holds:
// its metadata, its findings and the records they were classified from
// (the records give the identity detail its raw source values).
func BuildView(snap *store.Snapshot, res classify.Result, in classify.Input, opts ViewOptions) *View {
	b := NewViewBuilder(snap, res.Org, in, opts)
	for i := range res.Identities {
		if err := b.Add(&res.Identities[i]); err != nil {
			// A row holds only strings and numbers, which always encode.
			panic(err)
		}
	}
	return b.View()
}

// ViewBuilder builds a View one finding at a time, so that a report of a
// million identities never holds them all: what the view keeps of each is
// its table row and its detail, compressed.
type ViewBuilder struct {
	v          *View
	t          *dataTables
	ix         *recordIndex
	steps      map[string][]ViewStep
	byScenario map[classify.Scenario]int
	bySeverity map[classify.Severity]int
}

// NewViewBuilder starts the view of a snapshot with its org findings and
// the records its findings were classified from.
func NewViewBuilder(snap *store.Snapshot, org []classify.OrgFinding, in classify.Input, opts ViewOptions) *ViewBuilder {
	v := &View{
		Title:       opts.Title,
		ToolVersion: snap.ToolVersion,
		SnapshotID:  int64(snap.ID),
		Status:      snap.Status,
		StartedAt:   formatTime(snap.StartedAt),
		EndedAt:     formatTime(snap.EndedAt),
		ContentHash: snap.ContentHash,
		Org:         org,
		Journal:     opts.Journal,
		PlanHash:    opts.PlanHash,
	}
	if v.Title == "" {
		v.Title = "anchorscan report"
	}
	if !snap.EndedAt.IsZero() {
		v.Duration = formatDuration(snap.EndedAt.Sub(snap.StartedAt))
	}
	v.Tenants = tenantFields(snap, in)
	for _, s := range snap.Sources {
		v.Sources = append(v.Sources, SourceView{
			Name:     string(s.Source),
			Status:   string(s.Status),
			Requests: s.Requests,
			Counts:   formatCounts(s.Counts),
			Duration: formatDuration(s.Ended.Sub(s.Started)),
			Errors:   s.Errors,
		})
	}
	v.Drift, v.DriftCounts = driftView(opts.Drift)
	v.HasStepsData = len(opts.Steps) > 0
	ix := indexRecords(in)
	return &ViewBuilder{v: v, t: newDataTables(ix), ix: ix, steps: opts.Steps,
		byScenario: map[classify.Scenario]int{}, bySeverity: map[classify.Severity]int{}}
}

// Add adds one identity, after those added before. It keeps nothing of f
// but strings, so f may be reused once Add returns.
func (b *ViewBuilder) Add(f *classify.Finding) error {
	b.v.Total++
	b.byScenario[f.Scenario]++
	b.bySeverity[f.Severity]++
	return b.t.row(f, b.ix, b.steps)
}

// View returns the view of every identity added.
func (b *ViewBuilder) View() *View {
	b.v.Scenarios, b.v.Severities = summarize(b.byScenario, b.bySeverity)
	b.v.Chart = buildChart(b.v.Scenarios)
	b.v.Data = b.t.d
	return b.v
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func formatDuration(d time.Duration) string {
	if d < 0 {
		return ""
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func formatCounts(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, k+" "+formatInt(counts[k]))
	}
	return strings.Join(parts, " · ")
}

// formatInt writes n with thousands separators, as people read counts.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func tenantFields(snap *store.Snapshot, in classify.Input) []Field {
	var out []Field
	org := cmp.Or(snap.OktaOrg, in.OktaOrgURL)
	if org != "" {
		out = append(out, Field{"Okta org", org})
	}
	if t := cmp.Or(snap.EntraTenant, in.EntraOrg.TenantID); t != "" {
		val := t
		if in.EntraOrg.InitialDomain != "" {
			val += " (" + in.EntraOrg.InitialDomain + ")"
		}
		out = append(out, Field{"Entra tenant", val})
	}
	domains := snap.ADDomains
	if len(domains) == 0 {
		for _, d := range in.ADDomains {
			domains = append(domains, d.Name)
		}
	}
	if len(domains) > 0 {
		out = append(out, Field{"AD domains", strings.Join(domains, ", ")})
	}
	return out
}

var severityOrder = []classify.Severity{classify.Critical, classify.High, classify.Medium, classify.Low, classify.Info}

// summarize lists the counts of every scenario of the decision table and
// every severity, in their order, then any it does not know.
func summarize(byScenario map[classify.Scenario]int, bySeverity map[classify.Severity]int) ([]ScenarioCount, []SeverityCount) {
	var scen []ScenarioCount
	known := map[classify.Scenario]bool{}
	for _, r := range classify.Rules() {
		known[r.Scenario] = true
		scen = append(scen, ScenarioCount{Scenario: string(r.Scenario), Severity: string(r.Severity),
			Count: byScenario[r.Scenario], When: r.When, Fix: r.Fix})
	}
	// A finding from a newer classifier than this report knows is still counted.
	for _, s := range slices.Sorted(maps.Keys(byScenario)) {
		if !known[s] {
			scen = append(scen, ScenarioCount{Scenario: string(s), Count: byScenario[s]})
		}
	}
	var sev []SeverityCount
	for _, s := range severityOrder {
		sev = append(sev, SeverityCount{Severity: string(s), Count: bySeverity[s]})
	}
	for _, s := range slices.Sorted(maps.Keys(bySeverity)) {
		if !slices.Contains(severityOrder, s) {
			sev = append(sev, SeverityCount{Severity: string(s), Count: bySeverity[s]})
		}
	}
	return scen, sev
}

// The chart's geometry, in SVG user units.
const (
	chartLabelWidth = 230
	chartBarSpace   = 360
	chartCountWidth = 70
	chartRow        = 22
	chartBar        = 16
)

func buildChart(scen []ScenarioCount) Chart {
	maxCount := 0
	for _, s := range scen {
		maxCount = max(maxCount, s.Count)
	}
	c := Chart{Width: chartLabelWidth + chartBarSpace + chartCountWidth, Height: len(scen)*chartRow + 4}
	for i, s := range scen {
		w := 0
		if maxCount > 0 && s.Count > 0 {
			w = max(1, s.Count*chartBarSpace/maxCount)
		}
		y := 2 + i*chartRow
		c.Bars = append(c.Bars, ChartBar{
			Label: s.Scenario, Severity: s.Severity, Count: formatInt(s.Count),
			Y: y, TextY: y + chartBar - 3, Width: w, CountX: chartLabelWidth + w + 6,
		})
	}
	return c
}

func driftView(entries []DriftEntry) ([]DriftRow, []Field) {
	if len(entries) == 0 {
		return nil, nil
	}
	var listed []DriftRow
	for _, e := range entries {
		if e.Kind == DriftUnchanged {
			continue
		}
		r := DriftRow{Change: string(e.Kind), UPN: e.UPN, Detail: strings.Join(e.Changes, "; ")}
		if e.Before != nil {
			r.Before = string(e.Before.Scenario)
		}
		if e.After != nil {
			r.After = string(e.After.Scenario)
		}
		listed = append(listed, r)
	}
	counts := DriftSummary(entries)
	var fields []Field
	for _, k := range DriftKinds() {
		fields = append(fields, Field{string(k), formatInt(counts[k])})
		delete(counts, k)
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fields = append(fields, Field{string(k), formatInt(counts[k])})
	}
	return listed, fields
}

// IdentityData is the identity table and detail as the report's script
// reads them, split so the table appears before the rest is read: a
// browser shows the first rows of 100,000 identities only as fast as it can
// parse what they need.
//
//   - Table holds what the table shows, sorts and filters on, one array
//     per column; the page parses it first and draws the first rows.
//   - Search holds the further columns the search box looks in.
//   - Lookup and Details are each identity's detail, one JSON text per row,
//     parsed only when the identity is opened.
//
// Strings that repeat across rows are written once in a lookup table
// (scenarios, domains, apps, explanation templates…); a string that repeats
// one of the row's own fields is written as that field's number (see
// rowWriter.ref). The layout is documented next to the constants in
// templates/report.js.
type IdentityData struct {
	Table   TableData
	Search  SearchData
	Lookup  DetailLookup
	details detailLines // one per row, in the table's order
}

// TableData is the first block: the table's columns.
type TableData struct {
	Version    int        `json:"v"`
	Scenarios  []string   `json:"scenarios"`
	Severities []string   `json:"severities"`
	Domains    []string   `json:"domains"`
	SourceSets []string   `json:"sourceSets"`
	UPN        jsonColumn `json:"upn"`
	Name       jsonColumn `json:"name"`
	E          jsonColumn `json:"e"`
	S          jsonColumn `json:"s"`
	Scenario   []int      `json:"scenario"` // index into Scenarios
	Severity   []int      `json:"severity"` // index into Severities
	Domain     []int      `json:"domain"`   // index into Domains
	Sources    []int      `json:"sources"`  // index into SourceSets
}

// SearchData is the second block: the record ids and anchors search finds.
type SearchData struct {
	EntraID  jsonColumn `json:"entraId"`
	OktaID   jsonColumn `json:"oktaId"`
	ADGUID   jsonColumn `json:"adGuid"`
	ADDN     jsonColumn `json:"adDn"`
	Expected jsonColumn `json:"expected"` // each row's list
}

// DetailLookup is the first line of the detail block: the tables a
// detail's numbers point into.
type DetailLookup struct {
	Apps         [][]string `json:"apps"`    // [id, label, name]
	Formats      [][]string `json:"formats"` // [code, label]
	Notes        []string   `json:"notes"`
	LinkKeys     []string   `json:"linkKeys"`
	Explanations [][]any    `json:"explanations"` // parts: text, or a field number
}

// The numbers of a row's string fields, which a nested value can point
// back to; templates/report.js has the same list. The table's own fields
// come first, so a table value only ever points into the table block.
const (
	fieldUPN = iota
	fieldName
	fieldE
	fieldS
	fieldEntraID
	fieldOktaID
	fieldADGUID
	fieldADDN
	fieldDomain // the UPN's domain, from the table's Domains; only explanations use it
	fieldCount
)

// The positions of a detail's fields.
const (
	detailExplanation = iota // index into Lookup.Explanations
	detailAD                 // [][]any: AD records
	detailOkta               // []any or 0
	detailEntra              // []any or 0
	detailLinks              // [][]any
	detailDecoded            // [][]any
	detailSteps              // []ViewStep or 0
	detailFlags              // flagFederated | flagAssigned | flagSync
	detailADSources
	detailLen
)

const (
	flagFederated = 1 << iota
	flagAssigned
	flagSync
)

// Decoded GUID candidates the script computes itself from the value's
// base64, instead of the report storing 36 characters it can derive.
const (
	guidLittleEndian = -1 // the value's 16 bytes in AD/.NET order
	guidBigEndian    = -2 // the value's 16 bytes in text order
)

type dataTables struct {
	d        *IdentityData
	index    map[string]map[string]int
	formatIx map[anchor.Format]int
	appIx    map[string]int
}

// app returns the index of an Okta app in the Apps table, adding an app the
// collector did not read (an app user can name one) with its id only.
func (t *dataTables) app(id string, ix *recordIndex) int {
	if i, ok := t.appIx[id]; ok {
		return i
	}
	row := []string{id, "", ""}
	if a := ix.apps[id]; a != nil {
		row = []string{a.ID, a.Label, a.Name}
	}
	t.d.Lookup.Apps = append(t.d.Lookup.Apps, row)
	t.appIx[id] = len(t.d.Lookup.Apps) - 1
	return len(t.d.Lookup.Apps) - 1
}

func (t *dataTables) intern(table string, list *[]string, s string) int {
	m := t.index[table]
	if m == nil {
		m = map[string]int{}
		t.index[table] = m
	}
	if i, ok := m[s]; ok {
		return i
	}
	*list = append(*list, s)
	m[s] = len(*list) - 1
	return len(*list) - 1
}

// recordIndex finds the records a row's detail shows. The lists are
// searched in place (record.Index): the store loads them in key order, and
// maps of a million records would cost more than the records' own strings.
type recordIndex struct {
	entra    *record.Index[record.EntraUser]
	okta     *record.Index[record.OktaUser]
	appUsers *record.Index[record.OktaAppUser] // by Okta user id
	apps     map[string]*record.OktaApp
	adByDN   *record.Index[record.ADUser]
	adByGUID *record.Index[record.ADUser] // by the raw objectGUID bytes
}

func indexRecords(in classify.Input) *recordIndex {
	ix := &recordIndex{
		entra:    record.NewIndex(in.EntraUsers, record.EntraUserID),
		okta:     record.NewIndex(in.OktaUsers, record.OktaUserID),
		appUsers: record.NewIndex(in.OktaAppUsers, record.OktaAppUserUserID),
		apps:     make(map[string]*record.OktaApp, len(in.OktaApps)),
		adByDN:   record.NewIndex(in.ADUsers, record.ADUserDN),
		adByGUID: record.NewIndex(in.ADUsers, record.ADUserGUID),
	}
	for i := range in.OktaApps {
		ix.apps[in.OktaApps[i].ID] = &in.OktaApps[i]
	}
	return ix
}

// adByAnchor returns the AD user whose objectGUID's base64 is v exactly.
func (ix *recordIndex) adByAnchor(v string) *record.ADUser {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != 16 || base64.StdEncoding.EncodeToString(raw) != v {
		return nil
	}
	return ix.adByGUID.Get(string(raw))
}

func newDataTables(ix *recordIndex) *dataTables {
	d := &IdentityData{
		Lookup: DetailLookup{Notes: []string{}, LinkKeys: []string{}, Explanations: [][]any{}},
	}
	d.Table.Version = 2
	// An empty report still has lists, never nulls, for the script.
	d.Table.Scenario, d.Table.Severity, d.Table.Domain, d.Table.Sources = []int{}, []int{}, []int{}, []int{}
	t := &dataTables{d: d, index: map[string]map[string]int{}, formatIx: map[anchor.Format]int{}, appIx: map[string]int{}}
	for _, r := range classify.Rules() {
		t.intern("scenario", &d.Table.Scenarios, string(r.Scenario))
	}
	for _, s := range severityOrder {
		t.intern("severity", &d.Table.Severities, string(s))
	}
	for _, f := range anchor.Formats() {
		t.formatIx[f] = len(d.Lookup.Formats)
		d.Lookup.Formats = append(d.Lookup.Formats, []string{string(f), f.Label()})
	}
	for _, id := range slices.Sorted(maps.Keys(ix.apps)) {
		t.app(id, ix)
	}
	return t
}

// rowWriter builds one row, pointing repeated strings back at the
// string field that holds them.
type rowWriter struct {
	fields [fieldCount]string
	refs   map[string]int
}

// ref returns s, or the number of the row's field already holding s.
func (w *rowWriter) ref(s string) any {
	if s == "" {
		return ""
	}
	if i, ok := w.refs[s]; ok {
		return i
	}
	return s
}

// field returns the row's field i as written into its column: the string,
// or the number of an earlier field holding the same string.
func (w *rowWriter) field(i int) any {
	if j, ok := w.refs[w.fields[i]]; ok && j < i {
		return j
	}
	return w.fields[i]
}

func (t *dataTables) row(f *classify.Finding, ix *recordIndex, steps map[string][]ViewStep) error {
	d := t.d
	w := &rowWriter{refs: make(map[string]int, fieldCount)}
	w.fields = [fieldCount]string{
		fieldUPN: f.UPN, fieldName: f.DisplayName, fieldE: f.EntraAnchor, fieldS: f.OktaAnchor,
		fieldEntraID: f.EntraUserID, fieldOktaID: f.OktaUserID, fieldADGUID: f.ADObjectGUID, fieldADDN: f.ADDN,
		fieldDomain: upnDomain(f.UPN),
	}
	for i, s := range w.fields {
		if _, seen := w.refs[s]; !seen && s != "" {
			w.refs[s] = i
		}
	}
	tb, sb := &d.Table, &d.Search
	tb.UPN.add(w.field(fieldUPN))
	tb.Name.add(w.field(fieldName))
	tb.E.add(w.field(fieldE))
	tb.S.add(w.field(fieldS))
	tb.Scenario = append(tb.Scenario, t.intern("scenario", &tb.Scenarios, string(f.Scenario)))
	tb.Severity = append(tb.Severity, t.intern("severity", &tb.Severities, string(f.Severity)))
	tb.Domain = append(tb.Domain, t.intern("domain", &tb.Domains, w.fields[fieldDomain]))
	tb.Sources = append(tb.Sources, t.intern("sources", &tb.SourceSets, sourceSet(f)))
	sb.EntraID.add(w.field(fieldEntraID))
	sb.OktaID.add(w.field(fieldOktaID))
	sb.ADGUID.add(w.field(fieldADGUID))
	sb.ADDN.add(w.field(fieldADDN))
	expected := make([]any, len(f.ExpectedAnchor))
	for i, x := range f.ExpectedAnchor {
		expected[i] = w.ref(x)
	}
	sb.Expected.add(expected)

	detail := make([]any, detailLen)
	detail[detailExplanation] = t.explanation(w, f.Explanation)
	flags := 0
	if f.Federated {
		flags |= flagFederated
	}
	if f.Assigned {
		flags |= flagAssigned
	}
	if f.SyncEnabled {
		flags |= flagSync
	}
	detail[detailFlags] = flags
	detail[detailADSources] = f.ADSources

	anchors := newAnchorSet()
	anchors.add(f.EntraAnchor)
	anchors.add(f.OktaAnchor)
	for _, x := range f.ExpectedAnchor {
		anchors.add(x)
	}
	adUsers := t.adUsersOf(f, ix)
	ad := make([]any, 0, len(adUsers))
	for _, u := range adUsers {
		ad = append(ad, t.adRecord(w, u, anchors))
	}
	detail[detailAD] = ad
	detail[detailOkta] = 0
	if u := ix.okta.Get(f.OktaUserID); u != nil {
		detail[detailOkta] = t.oktaRecord(w, u, ix, anchors)
	}
	detail[detailEntra] = 0
	if u := ix.entra.Get(f.EntraUserID); u != nil {
		detail[detailEntra] = entraRecord(w, u)
		anchors.add(u.ImmutableID)
	}
	links := make([]any, 0, len(f.Evidence))
	for _, l := range f.Evidence {
		fk, fid := w.recordRef(l.From)
		tk, tid := w.recordRef(l.To)
		links = append(links, []any{fk, fid, tk, tid, t.intern("linkKey", &d.Lookup.LinkKeys, l.Key), w.ref(l.Value)})
	}
	detail[detailLinks] = links
	detail[detailDecoded] = t.decoded(w, anchors.values)
	detail[detailSteps] = 0
	if s, ok := steps[FindingKey(f)]; ok && len(s) > 0 {
		detail[detailSteps] = s
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("report: encode the detail of %s: %w", f.UPN, err)
	}
	return d.details.add(raw)
}

// minTemplateField is the shortest field value an explanation template
// replaces by the field's number: shorter values are as cheap to repeat.
const minTemplateField = 4

// explanation returns the index of the explanation's template: its text
// with the row's own field values (UPN, anchors, ids, domain) replaced by
// their field numbers. The classifier writes one sentence per scenario
// around those values, so 100,000 explanations share a few dozen templates
// instead of repeating every identity's anchors in the detail.
func (t *dataTables) explanation(w *rowWriter, text string) int {
	var parts []any
	for text != "" {
		at, field, size := len(text), -1, 0
		for i, v := range w.fields {
			if len(v) < minTemplateField {
				continue
			}
			// The earliest match wins, then the longest at the same place.
			if j := strings.Index(text[:min(len(text), at+len(v))], v); j >= 0 && (j < at || (j == at && len(v) > size)) {
				at, field, size = j, i, len(v)
			}
		}
		if at > 0 {
			parts = append(parts, text[:at])
		}
		if field < 0 {
			break
		}
		parts = append(parts, field)
		text = text[at+size:]
	}
	key, err := json.Marshal(parts)
	if err != nil {
		panic(fmt.Sprintf("report: encode an explanation template: %v", err))
	}
	m := t.index["explanation"]
	if m == nil {
		m = map[string]int{}
		t.index["explanation"] = m
	}
	if i, ok := m[string(key)]; ok {
		return i
	}
	if parts == nil {
		parts = []any{}
	}
	t.d.Lookup.Explanations = append(t.d.Lookup.Explanations, parts)
	m[string(key)] = len(t.d.Lookup.Explanations) - 1
	return len(t.d.Lookup.Explanations) - 1
}

// adUsersOf returns the AD records of an identity: the one the finding
// names, those its evidence links to, and those its Okta user's AD app
// users point at (an identity in several AD instances has several).
func (t *dataTables) adUsersOf(f *classify.Finding, ix *recordIndex) []*record.ADUser {
	var out []*record.ADUser
	seen := map[*record.ADUser]bool{}
	add := func(u *record.ADUser) {
		if u != nil && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	add(ix.adByDN.Get(f.ADDN))
	for _, l := range f.Evidence {
		for _, ref := range []string{l.From, l.To} {
			if dn, ok := strings.CutPrefix(ref, "ad:"); ok {
				add(ix.adByDN.Get(dn))
			}
		}
	}
	ix.appUsers.All(f.OktaUserID, func(au *record.OktaAppUser) {
		if app := ix.apps[au.AppID]; app != nil && strings.EqualFold(app.Name, "active_directory") {
			add(ix.adByAnchor(au.ExternalID))
		}
	})
	return out
}

// recordRef splits a link end ("okta:00u…", "entra:…", "ad:CN=…") into a
// source index (0 okta, 1 entra, 2 ad, 3 other) and its id.
func (w *rowWriter) recordRef(ref string) (int, any) {
	for i, p := range []string{"okta:", "entra:", "ad:"} {
		if id, ok := strings.CutPrefix(ref, p); ok {
			return i, w.ref(id)
		}
	}
	return 3, w.ref(ref)
}

func (t *dataTables) adRecord(w *rowWriter, u *record.ADUser, anchors *anchorSet) []any {
	g, _ := anchor.FromRaw(u.ObjectGUID[:]) // 16 bytes by type
	guidAnchor := base64.StdEncoding.EncodeToString(u.ObjectGUID[:])
	anchors.add(guidAnchor)
	var cgText, cgAnchor string
	if len(u.ConsistencyGUID) > 0 {
		cgAnchor = base64.StdEncoding.EncodeToString(u.ConsistencyGUID)
		anchors.add(cgAnchor)
		if cg, err := anchor.FromRaw(u.ConsistencyGUID); err == nil {
			cgText = cg.String()
		} else {
			cgText = fmt.Sprintf("(%d bytes, not a GUID)", len(u.ConsistencyGUID))
		}
	}
	return []any{
		w.ref(u.DistinguishedName), w.ref(g.String()), w.ref(guidAnchor), w.ref(cgText), w.ref(cgAnchor),
		u.ObjectSID, w.ref(u.UserPrincipalName), u.SAMAccountName, w.ref(u.Mail), u.UserAccountControl,
		u.Domain, u.WhenChanged,
	}
}

func (t *dataTables) oktaRecord(w *rowWriter, u *record.OktaUser, ix *recordIndex, anchors *anchorSet) []any {
	var o365, adApps []any
	ix.appUsers.All(u.ID, func(au *record.OktaAppUser) {
		appIx := t.app(au.AppID, ix)
		name := ""
		if app := ix.apps[au.AppID]; app != nil {
			name = strings.ToLower(app.Name)
		}
		switch name {
		case "office365":
			anchors.add(au.ImmutableID)
			o365 = append(o365, []any{appIx, au.Status, w.ref(au.ImmutableID), w.ref(au.ExternalID),
				w.ref(au.UserName), au.SyncState, strings.Join(au.Licenses, ", "), strings.Join(au.Roles, ", ")})
		case "active_directory":
			anchors.add(au.ExternalID)
			adApps = append(adApps, []any{appIx, au.Status, w.ref(au.ExternalID), w.ref(au.UserName)})
		}
	})
	return []any{w.ref(u.Login), w.ref(u.Email), u.Status, u.FirstName, u.LastName, orEmpty(o365), orEmpty(adApps)}
}

func entraRecord(w *rowWriter, u *record.EntraUser) []any {
	return []any{
		w.ref(u.UserPrincipalName), w.ref(u.DisplayName), w.ref(u.Mail), boolInt(u.AccountEnabled), u.UserType,
		w.ref(u.ImmutableID), boolInt(u.SyncEnabled), u.SecurityID, w.ref(u.OnPremisesDN), u.OnPremisesSAM, u.CreationType,
	}
}

// decoded reads every anchor value of the identity under every known
// encoding: [value, [[guid, [format…]]…], note]. A GUID that is the value's
// own base64 bytes read in AD or in text order is written as
// guidLittleEndian or guidBigEndian, and the script computes it.
func (t *dataTables) decoded(w *rowWriter, values []string) []any {
	out := make([]any, 0, len(values))
	for _, v := range values {
		desc := anchor.Describe(v)
		le, be, derivable := base64GUIDs(v)
		cands := make([]any, 0, len(desc.Candidates))
		for _, c := range desc.Candidates {
			fmts := make([]int, len(c.InputFormats))
			for i, f := range c.InputFormats {
				fmts[i] = t.formatIx[f]
			}
			var guid any
			switch s := c.GUID.String(); {
			case derivable && c.GUID == le:
				guid = guidLittleEndian
			case derivable && c.GUID == be:
				guid = guidBigEndian
			default:
				guid = w.ref(s)
			}
			cands = append(cands, []any{guid, fmts})
		}
		note := -1
		if desc.Note != "" {
			note = t.intern("note", &t.d.Lookup.Notes, desc.Note)
		}
		out = append(out, []any{w.ref(v), cands, note})
	}
	return out
}

// base64GUIDs reads v the way the report's script does (guidFromBase64):
// either base64 alphabet, "=" padding optional, exactly 16 bytes. It
// returns the GUID of those bytes in AD/.NET order and in text order.
func base64GUIDs(v string) (le, be anchor.GUID, ok bool) {
	if strings.ContainsAny(v, " \t\r\n\f") {
		return le, be, false // atob skips white space, Go does not
	}
	s := strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(v), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return le, be, false
	}
	le, _ = anchor.FromRaw(b)
	copy(be[:], b)
	return le, be, true
}

type anchorSet struct {
	values []string
	seen   map[string]bool
}

func newAnchorSet() *anchorSet { return &anchorSet{seen: map[string]bool{}} }

func (a *anchorSet) add(v string) {
	if v != "" && !a.seen[v] {
		a.seen[v] = true
		a.values = append(a.values, v)
	}
}

func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func upnDomain(upn string) string {
	if i := strings.LastIndexByte(upn, '@'); i >= 0 {
		return strings.ToLower(upn[i+1:])
	}
	return ""
}

// sourceSet names which sources hold a record of the identity.
func sourceSet(f *classify.Finding) string {
	var parts []string
	if f.ADObjectGUID != "" || f.ADDN != "" {
		parts = append(parts, "AD")
	}
	if f.OktaUserID != "" {
		parts = append(parts, "Okta")
	}
	if f.EntraUserID != "" {
		parts = append(parts, "Entra")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}
