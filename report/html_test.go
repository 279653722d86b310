package report

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// The display names sim.Generate gives its first OK identities, and more
// htmlHostile values the tests put into every other kind of field.
var htmlHostile = []string{
	`<img src=x onerror=alert(1)>`,
	`</script><script>alert(2)</script>`,
	`=HYPERLINK("http://x")`,
}

func htmlDeref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// htmlInput converts a simulated tenant into the records the
// collectors would have stored from it.
func htmlInput(t testing.TB, tn *sim.Tenant) classify.Input {
	t.Helper()
	in, err := tn.Records()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// generated classifies a generated tenant of n users without servers.
func htmlGenerated(t testing.TB, n int) (classify.Input, classify.Result) {
	t.Helper()
	tn, err := sim.Generate(sim.GenerateOptions{Users: n, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	in := htmlInput(t, tn)
	return in, classify.Classify(in, classify.Options{})
}

func htmlSnapshot() *store.Snapshot {
	start := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return &store.Snapshot{
		ID: 42, ToolVersion: "v0.test", StartedAt: start, EndedAt: start.Add(3200 * time.Millisecond),
		Status: "partial", ContentHash: strings.Repeat("ab", 32), OktaOrg: "https://contoso.okta.com",
		EntraTenant: "tenant-id", ADDomains: []string{"corp.contoso.example"},
		Sources: []record.SourceRun{
			{Source: record.SourceAD, Status: record.StatusComplete, Requests: 3, Counts: map[string]int{"users": 10},
				Started: start, Ended: start.Add(time.Second)},
			{Source: record.SourceEntra, Status: record.StatusPartial, Requests: 12, Counts: map[string]int{"users": 9, "domains": 3},
				Started: start, Ended: start.Add(2 * time.Second), Errors: []string{"page 3: " + htmlHostile[1]}},
			{Source: record.SourceOkta, Status: record.StatusComplete, Requests: 7, Counts: map[string]int{"users": 8},
				Started: start, Ended: start.Add(3 * time.Second)},
		},
	}
}

// htmlHostileOptions puts htmlHostile strings into every optional section.
func htmlHostileOptions(res classify.Result) ViewOptions {
	f := &res.Identities[0]
	return ViewOptions{
		Title:    "Report " + htmlHostile[0],
		PlanHash: "sha256:" + htmlHostile[2],
		Steps: map[string][]ViewStep{FindingKey(f): {
			{Kind: "graph.park_upn", Target: htmlHostile[0], Description: "park " + htmlHostile[1]},
			{Kind: "manual", Description: "confirm the import " + htmlHostile[2], Manual: true},
		}},
		Drift: []DriftEntry{
			{Kind: DriftResolved, UPN: htmlHostile[0], Before: &classify.Finding{Scenario: classify.EncodingMismatch},
				After: &classify.Finding{Scenario: classify.OK}, Changes: []string{htmlHostile[1]}},
			{Kind: DriftUnchanged, UPN: "same@contoso.example", Before: f, After: f},
			{Kind: DriftNew, UPN: "new@contoso.example", After: &classify.Finding{Scenario: classify.NotInEntra},
				Changes: []string{htmlHostile[2]}},
		},
		Journal: []JournalRow{{Time: "2025-03-04T06:00:00Z", UPN: htmlHostile[0], Step: "graph.set_anchor",
			Target: htmlHostile[1], Before: htmlHostile[2], After: "BpazOkLGm0iEtljAONPvOQ==", Result: "done"}},
	}
}

func renderHTML(t testing.TB, v *View) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, v); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

var (
	dataBlockRE = regexp.MustCompile(`(?s)<script type="application/json" id="([a-z]+)-data" data-encoding="([a-z0-9-]+)">(.*?)</script>`)
	scriptRE    = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	cspRE       = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`)
)

// pageData is the identity data read back out of a rendered report, as the
// report's script reads it, with each block's encoding and raw text.
type pageData struct {
	data      dataText
	encodings map[string]string
	texts     map[string]string
}

// dataText is the identity data as the page's script reads it: the view's
// IdentityData with each row's detail as its own text.
type dataText struct {
	Table   tableText
	Search  searchText
	Lookup  DetailLookup
	Details []json.RawMessage
}

// tableText and searchText are TableData and SearchData as the script
// parses them: the columns as lists of values.
type tableText struct {
	Version    int      `json:"v"`
	Scenarios  []string `json:"scenarios"`
	Severities []string `json:"severities"`
	Domains    []string `json:"domains"`
	SourceSets []string `json:"sourceSets"`
	UPN        []any    `json:"upn"`
	Name       []any    `json:"name"`
	E          []any    `json:"e"`
	S          []any    `json:"s"`
	Scenario   []int    `json:"scenario"`
	Severity   []int    `json:"severity"`
	Domain     []int    `json:"domain"`
	Sources    []int    `json:"sources"`
}

type searchText struct {
	EntraID  []any   `json:"entraId"`
	OktaID   []any   `json:"oktaId"`
	ADGUID   []any   `json:"adGuid"`
	ADDN     []any   `json:"adDn"`
	Expected [][]any `json:"expected"`
}

// unpackBlock returns a data block's text, inflated when compressed.
func unpackBlock(t testing.TB, encoding, text string) []byte {
	t.Helper()
	if encoding != dataGzipBase64 {
		return []byte(text)
	}
	gz, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		t.Fatalf("data block is not base64: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("data block is not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("data block: %v", err)
	}
	return raw
}

func decodeDataBlocks(t testing.TB, page string) *pageData {
	t.Helper()
	p := &pageData{encodings: map[string]string{}, texts: map[string]string{}}
	var order []string
	for _, m := range dataBlockRE.FindAllStringSubmatch(page, -1) {
		order = append(order, m[1])
		p.encodings[m[1]], p.texts[m[1]] = m[2], m[3]
		raw := unpackBlock(t, m[2], m[3])
		var err error
		switch m[1] {
		case "table":
			err = json.Unmarshal(raw, &p.data.Table)
		case "search":
			err = json.Unmarshal(raw, &p.data.Search)
		case "detail":
			lines := bytes.Split(raw, []byte("\n"))
			if err = json.Unmarshal(lines[0], &p.data.Lookup); err == nil {
				for _, l := range lines[1:] {
					p.data.Details = append(p.data.Details, json.RawMessage(l))
				}
			}
		}
		if err != nil {
			t.Fatalf("%s data block is not JSON: %v", m[1], err)
		}
	}
	// The script reads the table block, which must come before it, first.
	if !slices.Equal(order, []string{"table", "search", "detail"}) {
		t.Fatalf("data blocks %v, want table, search, detail", order)
	}
	if strings.Index(page, `id="table-data"`) > strings.Index(page, "<script>") ||
		strings.Index(page, `id="search-data"`) < strings.Index(page, "<script>") {
		t.Error("the table data does not come right before the script, or the search data not after it")
	}
	return p
}

// dataRoundTrip is what the page's script receives: the view's data after a
// trip through JSON, so numbers are float64 as they would be in JavaScript.
func dataRoundTrip(t testing.TB, d *IdentityData) *dataText {
	t.Helper()
	var out dataText
	for _, part := range []struct{ in, out any }{{d.Table, &out.Table}, {d.Search, &out.Search}, {d.Lookup, &out.Lookup}} {
		raw, err := json.Marshal(part.in)
		if err != nil {
			t.Fatal(err)
		}
		// A field the view writes and the test types lack is an error,
		// not a silent gap in the comparison.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(part.out); err != nil {
			t.Fatal(err)
		}
	}
	details, err := d.details.lines()
	if err != nil {
		t.Fatal(err)
	}
	out.Details = details
	return &out
}

func TestWriteHTMLStructure(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	v := BuildView(htmlSnapshot(), res, in, htmlHostileOptions(res))
	page := renderHTML(t, v)

	for _, want := range []string{
		`<section id="summary"`, `<section id="org"`, `<section id="identities"`, `<aside id="detail"`,
		`<section id="drift"`, `<section id="evidence"`, `<svg role="img"`, `id="f-scenario"`, `id="f-severity"`,
		`id="f-domain"`, `id="f-sources"`, `<input type="search" id="q"`, `@media print`,
		`Snapshot 42 · partial`, `v0.test`, strings.Repeat("ab", 32), `https://contoso.okta.com`,
		`<time>2025-03-04T05:06:07Z</time>`, `<dd>3.2s</dd>`,
		`ORG_MULTIPLE_AD_DEFAULT_EXPRESSION`, `users 10`, `domains 3 · users 9`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Every scenario of the decision table has a summary row and a bar.
	for _, r := range classify.Rules() {
		if n := strings.Count(page, ">"+string(r.Scenario)+"<"); n < 2 {
			t.Errorf("scenario %s appears %d times as an element's text, want a table row and a chart bar", r.Scenario, n)
		}
	}
	// Unchanged drift rows are counted, not listed.
	if strings.Contains(page, "same@contoso.example") {
		t.Error("an unchanged drift row is listed")
	}

	// The CSP comes before any other content a browser could load and
	// allows exactly the inline script that is there.
	csp := cspRE.FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no Content-Security-Policy meta tag")
	}
	if i, j := strings.Index(page, csp[0]), strings.Index(page, "<style>"); i > j {
		t.Error("the CSP meta tag comes after the style sheet")
	}
	policy := html.UnescapeString(csp[1])
	for _, want := range []string{"default-src 'none'", "img-src data:", "connect-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(policy, want) {
			t.Errorf("CSP %q lacks %q", policy, want)
		}
	}
	scripts := scriptRE.FindAllStringSubmatch(page, -1)
	if len(scripts) != 1 {
		t.Fatalf("%d inline scripts, want 1", len(scripts))
	}
	sum := sha256.Sum256([]byte(scripts[0][1]))
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(policy, want) {
		t.Errorf("CSP %q does not allow the inline script by its hash (%s)", policy, want)
	}
	if strings.Contains(policy, "unsafe-eval") || strings.Contains(policy, "script-src 'unsafe-inline'") {
		t.Errorf("CSP %q allows more script than the report's own", policy)
	}
	if n := strings.Count(strings.ToLower(page), "<script"); n != 4 {
		t.Errorf("%d script elements, want 4 (three data blocks and the script)", n)
	}

	// Nothing points outside the file.
	external := regexp.MustCompile(`(?i)\b(src|href|action|xlink:href|srcset|poster)\s*=\s*["']?\s*(https?:|//)`)
	if m := external.FindString(page); m != "" {
		t.Errorf("report refers to an external resource: %q", m)
	}
	if strings.Contains(page, "@import") || regexp.MustCompile(`url\(\s*['"]?(https?:|//)`).MatchString(page) {
		t.Error("style sheet loads an external resource")
	}

	// The data blocks hold exactly the view's data.
	got := decodeDataBlocks(t, page)
	for name, enc := range got.encodings {
		if enc != dataJSON {
			t.Errorf("%s data of 300 identities encoded as %s, want %s", name, enc, dataJSON)
		}
	}
	if diff := cmp.Diff(dataRoundTrip(t, v.Data), &got.data); diff != "" {
		t.Errorf("data blocks differ from the view (-view +blocks):\n%s", diff)
	}
	if len(got.data.Table.UPN) != len(res.Identities) || len(got.data.Details) != len(res.Identities) ||
		len(got.data.Search.EntraID) != len(res.Identities) {
		t.Errorf("%d table rows, %d details, %d search rows, want one each per identity (%d)",
			len(got.data.Table.UPN), len(got.data.Details), len(got.data.Search.EntraID), len(res.Identities))
	}
}

func TestWriteHTMLWithoutOptionalSections(t *testing.T) {
	in, res := htmlGenerated(t, 50)
	page := renderHTML(t, BuildView(htmlSnapshot(), res, in, ViewOptions{}))
	for _, absent := range []string{`<section id="drift"`, `<section id="evidence"`, "Plan hash"} {
		if strings.Contains(page, absent) {
			t.Errorf("report without drift, journal and plan shows %q", absent)
		}
	}
	if !strings.Contains(page, "<title>anchorscan report · snapshot 42</title>") {
		t.Error("default title missing")
	}
}

func TestWriteHTMLDeterministic(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	first := renderHTML(t, BuildView(htmlSnapshot(), res, in, htmlHostileOptions(res)))
	for range 3 {
		// A fresh view each time: map iteration in BuildView must not leak
		// into the output.
		if again := renderHTML(t, BuildView(htmlSnapshot(), res, in, htmlHostileOptions(res))); again != first {
			t.Fatal("two renders of the same snapshot differ")
		}
	}
}

func TestWriteHTMLEscapesHostileStrings(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	// Hostile values in the fields sim.Generate leaves tame: a UPN, an
	// explanation, an org finding and an Okta login.
	res.Identities[1].UPN = htmlHostile[1] + "@contoso.example"
	res.Identities[2].Explanation = "see " + htmlHostile[0]
	res.Org = append(res.Org, classify.OrgFinding{Code: "ORG_TEST", Severity: "high", Explanation: htmlHostile[1]})
	for i := range in.OktaUsers {
		if in.OktaUsers[i].ID == res.Identities[3].OktaUserID {
			in.OktaUsers[i].Login = htmlHostile[0]
		}
	}
	v := BuildView(htmlSnapshot(), res, in, htmlHostileOptions(res))
	page := renderHTML(t, v)

	for _, h := range append(slices.Clone(htmlHostile), "<img", "<script>alert", `"http://x"`) {
		if strings.Contains(page, h) {
			t.Errorf("report holds %q unescaped", h)
		}
	}
	if n := strings.Count(page, "</script>"); n != 4 {
		t.Errorf("%d </script> tags, want 4: directory data closed a script element", n)
	}
	// Escaped, not dropped: the HTML text and the data block both still say it.
	for _, want := range []string{`&lt;img src=x onerror=alert(1)&gt;`, `=HYPERLINK(&#34;http://x&#34;)`} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks the escaped form %q", want)
		}
	}
	got := decodeDataBlocks(t, page)
	for name, block := range got.texts {
		for _, c := range []string{"<", ">", "&", "\u2028", "\u2029"} {
			if strings.Contains(block, c) {
				t.Errorf("%s data block holds a raw %q", name, c)
			}
		}
	}
	d := &got.data
	names := map[string]bool{}
	for i := range d.Table.Name {
		names[rowField(d, i, fieldName)] = true
	}
	for _, h := range htmlHostile {
		if !names[h] {
			t.Errorf("display name %q did not survive the data block", h)
		}
	}
	if got := rowField(d, 1, fieldUPN); got != htmlHostile[1]+"@contoso.example" {
		t.Errorf("hostile UPN came back as %q", got)
	}
	if got := explanationOf(t, d, 2); got != "see "+htmlHostile[0] {
		t.Errorf("hostile explanation came back as %q", got)
	}
}

func TestScriptSafeJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"script end tag", `</script><script>alert(2)</script>`},
		{"comment open", `<!-- <script>`},
		{"ampersand entity", `&lt;&amp;`},
		{"line separators", "a\u2028b\u2029c"},
		{"multibyte neighbours", "\u2027\u202a€ü"},
		{"plain", "alice@contoso.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Marshal without encoding/json's own escaping, so the test
			// checks scriptSafeJSON rather than the encoder.
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(tt.in); err != nil {
				t.Fatal(err)
			}
			out := scriptSafeJSON(bytes.TrimSpace(b.Bytes()))
			if i := bytes.IndexAny(out, "<>&"); i >= 0 {
				t.Errorf("output %s holds %q", out, out[i])
			}
			if bytes.Contains(out, []byte("\u2028")) || bytes.Contains(out, []byte("\u2029")) {
				t.Errorf("output %s holds a raw line separator", out)
			}
			var back string
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("output %s is not JSON: %v", out, err)
			}
			if back != tt.in {
				t.Errorf("round trip gave %q, want %q", back, tt.in)
			}
		})
	}
}

func TestPackDataBlock(t *testing.T) {
	raw := []byte(`{"upn":["` + strings.Repeat(`a\u003cb@contoso.example","`, 200) + `"]}`)
	tests := []struct {
		name  string
		limit int
		want  string
	}{
		{"within the limit stays readable", len(raw), dataJSON},
		{"above the limit is compressed", len(raw) - 1, dataGzipBase64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := packDataBlock("test", tt.limit, raw)
			if err != nil {
				t.Fatal(err)
			}
			if b.Encoding != tt.want {
				t.Fatalf("encoded as %s, want %s", b.Encoding, tt.want)
			}
			if tt.want == dataGzipBase64 && len(b.Text) >= len(raw) {
				t.Errorf("compressed block is %d bytes, no smaller than the %d it holds", len(b.Text), len(raw))
			}
			if got := unpackBlock(t, b.Encoding, string(b.Text)); !bytes.Equal(got, raw) {
				t.Errorf("block reads back as %.80s…, want %.80s…", got, raw)
			}
		})
	}
}

// TestWriteHTMLCompressesLargeBlocks checks that each block is compressed
// exactly when it is larger than its limit, and still holds the whole view.
func TestWriteHTMLCompressesLargeBlocks(t *testing.T) {
	in, res := htmlGenerated(t, 10_000)
	v := BuildView(htmlSnapshot(), res, in, ViewOptions{})
	got := decodeDataBlocks(t, renderHTML(t, v))
	compressed := 0
	for name, limit := range map[string]int{"table": plainTableLimit, "search": plainLazyLimit, "detail": plainLazyLimit} {
		size := len(unpackBlock(t, got.encodings[name], got.texts[name]))
		want := dataJSON
		if size > limit {
			want = dataGzipBase64
			compressed++
		}
		if got.encodings[name] != want {
			t.Errorf("%s block of %d bytes (limit %d) encoded as %s, want %s", name, size, limit, got.encodings[name], want)
		}
	}
	if compressed == 0 {
		t.Error("no block of 10,000 identities is above its limit: the test checks nothing")
	}
	if diff := cmp.Diff(dataRoundTrip(t, v.Data), &got.data); diff != "" {
		t.Errorf("data blocks differ from the view (-view +blocks):\n%s", diff)
	}
}

// rowField reads string field k of row i as the report's script does,
// following a number to the field it names.
func rowField(d *dataText, i, k int) string {
	if k == fieldDomain {
		return d.Table.Domains[d.Table.Domain[i]]
	}
	cols := [][]any{d.Table.UPN, d.Table.Name, d.Table.E, d.Table.S, d.Search.EntraID, d.Search.OktaID, d.Search.ADGUID, d.Search.ADDN}
	return resolveField(d, i, cols[k][i])
}

// resolveField reads a string value of row i: the string, or the field it names.
func resolveField(d *dataText, i int, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return rowField(d, i, int(x))
	case int:
		return rowField(d, i, x)
	}
	return ""
}

// detailOf parses a row's detail, as the report's script does on opening it.
func detailOf(t testing.TB, d *dataText, i int) []any {
	t.Helper()
	var det []any
	if err := json.Unmarshal(d.Details[i], &det); err != nil {
		t.Fatalf("detail of row %d is not JSON: %v", i, err)
	}
	if len(det) != detailLen {
		t.Fatalf("detail of row %d has %d fields, want %d", i, len(det), detailLen)
	}
	return det
}

// explanationOf fills row i's fields into its explanation's template.
func explanationOf(t testing.TB, d *dataText, i int) string {
	t.Helper()
	var b strings.Builder
	for _, p := range d.Lookup.Explanations[int(detailOf(t, d, i)[detailExplanation].(float64))] {
		if s, ok := p.(string); ok {
			b.WriteString(s)
		} else {
			b.WriteString(resolveField(d, i, p))
		}
	}
	return b.String()
}

// candidateGUID reads a decoded GUID as the script does.
func candidateGUID(t testing.TB, d *dataText, i int, value string, g any) string {
	t.Helper()
	if n, ok := g.(float64); ok && (n == guidLittleEndian || n == guidBigEndian) {
		le, be, ok := base64GUIDs(value)
		if !ok {
			t.Fatalf("row %d: %q is marked as derivable but is not 16 bytes of base64", i, value)
		}
		if n == guidLittleEndian {
			return le.String()
		}
		return be.String()
	}
	return resolveField(d, i, g)
}

func TestBuildViewIdentityDetail(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	v := BuildView(htmlSnapshot(), res, in, htmlHostileOptions(res))
	d := dataRoundTrip(t, v.Data)

	// Find an AD-sourced identity of a scenario.
	find := func(s classify.Scenario, withAD bool) int {
		for i, f := range res.Identities {
			if f.Scenario == s && (f.ADObjectGUID != "") == withAD {
				return i
			}
		}
		t.Fatalf("no %s identity in the generated tenant", s)
		return -1
	}
	t.Run("table and search columns", func(t *testing.T) {
		for i, f := range res.Identities {
			for _, c := range []struct {
				field int
				want  string
			}{
				{fieldUPN, f.UPN}, {fieldName, f.DisplayName}, {fieldE, f.EntraAnchor}, {fieldS, f.OktaAnchor},
				{fieldEntraID, f.EntraUserID}, {fieldOktaID, f.OktaUserID}, {fieldADGUID, f.ADObjectGUID}, {fieldADDN, f.ADDN},
			} {
				if got := rowField(d, i, c.field); got != c.want {
					t.Fatalf("row %d field %d reads %q, want %q", i, c.field, got, c.want)
				}
			}
			if got := d.Table.Scenarios[d.Table.Scenario[i]]; got != string(f.Scenario) {
				t.Fatalf("row %d scenario %s, want %s", i, got, f.Scenario)
			}
			if got := d.Table.Severities[d.Table.Severity[i]]; got != string(f.Severity) {
				t.Fatalf("row %d severity %s, want %s", i, got, f.Severity)
			}
		}
	})
	t.Run("explanations from templates", func(t *testing.T) {
		withField := false
		for i, f := range res.Identities {
			if got := explanationOf(t, d, i); got != f.Explanation {
				t.Fatalf("row %d explanation reads %q, want %q", i, got, f.Explanation)
			}
		}
		for _, tmpl := range d.Lookup.Explanations {
			for _, p := range tmpl {
				_, isNum := p.(float64)
				withField = withField || isNum
			}
		}
		// Templates are what keeps explanations small: far fewer than rows.
		if !withField || len(d.Lookup.Explanations) > len(res.Identities)/3 {
			t.Errorf("%d explanation templates for %d identities (any with a field: %v)",
				len(d.Lookup.Explanations), len(res.Identities), withField)
		}
	})
	t.Run("three sources", func(t *testing.T) {
		i := find(classify.OK, true)
		f, det := res.Identities[i], detailOf(t, d, i)
		ad := det[detailAD].([]any)[0].([]any)
		if got := resolveField(d, i, ad[1]); got != f.ADObjectGUID {
			t.Errorf("AD objectGUID %q, want %q", got, f.ADObjectGUID)
		}
		if got := resolveField(d, i, ad[0]); got != f.ADDN {
			t.Errorf("AD DN %q, want %q", got, f.ADDN)
		}
		if sid := ad[5].(string); !strings.HasPrefix(sid, "S-1-5-") {
			t.Errorf("AD objectSid %q", sid)
		}
		okta := det[detailOkta].([]any)
		var login string
		for _, u := range in.OktaUsers {
			if u.ID == f.OktaUserID {
				login = u.Login
			}
		}
		if got := resolveField(d, i, okta[0]); got != login || login == "" {
			t.Errorf("Okta login %q, want %q", got, login)
		}
		o365 := okta[5].([]any)[0].([]any)
		if got := resolveField(d, i, o365[2]); got != f.OktaAnchor {
			t.Errorf("O365 immutableId %q, want %q", got, f.OktaAnchor)
		}
		if got := resolveField(d, i, o365[3]); got != f.EntraUserID {
			t.Errorf("O365 externalId %q, want the Entra object id %q", got, f.EntraUserID)
		}
		if n := len(okta[6].([]any)); n < 1 {
			t.Error("no AD app user in the Okta detail")
		}
		entra := det[detailEntra].([]any)
		if got := resolveField(d, i, entra[0]); !strings.EqualFold(got, f.UPN) {
			t.Errorf("Entra UPN %q, want %q", got, f.UPN)
		}
		if got := resolveField(d, i, entra[5]); got != f.EntraAnchor {
			t.Errorf("Entra immutableId %q, want %q", got, f.EntraAnchor)
		}
		// E is decoded to the AD object's GUID, read as a correct ImmutableID.
		dec := det[detailDecoded].([]any)[0].([]any)
		if resolveField(d, i, dec[0]) != f.EntraAnchor {
			t.Fatalf("first decoded value %v, want E", dec[0])
		}
		cand := dec[1].([]any)[0].([]any)
		if got := candidateGUID(t, d, i, f.EntraAnchor, cand[0]); got != f.ADObjectGUID {
			t.Errorf("E decodes to %q, want the AD GUID %q", got, f.ADObjectGUID)
		}
		if fmtIx := int(cand[1].([]any)[0].(float64)); d.Lookup.Formats[fmtIx][0] != string(anchor.FormatImmutableID) {
			t.Errorf("E read as %v, want %s", d.Lookup.Formats[fmtIx], anchor.FormatImmutableID)
		}
		if flags := int(det[detailFlags].(float64)); (flags&flagFederated != 0) != f.Federated {
			t.Errorf("flags %b, want federated=%v", flags, f.Federated)
		}
	})
	t.Run("decoded GUIDs are anchor.Describe's", func(t *testing.T) {
		derived := 0
		for i := range res.Identities {
			for _, x := range detailOf(t, d, i)[detailDecoded].([]any) {
				dec := x.([]any)
				value := resolveField(d, i, dec[0])
				desc := anchor.Describe(value)
				cands := dec[1].([]any)
				if len(cands) != len(desc.Candidates) {
					t.Fatalf("row %d: %q has %d candidates, want %d", i, value, len(cands), len(desc.Candidates))
				}
				for k, c := range cands {
					g := c.([]any)[0]
					if n, ok := g.(float64); ok && n < 0 {
						derived++
					}
					if got, want := candidateGUID(t, d, i, value, g), desc.Candidates[k].GUID.String(); got != want {
						t.Fatalf("row %d: %q candidate %d reads %s, want %s", i, value, k, got, want)
					}
				}
			}
		}
		if derived == 0 {
			t.Error("no decoded GUID is left for the script to compute")
		}
	})
	t.Run("encoding mismatch decodes both sides to one GUID", func(t *testing.T) {
		i := find(classify.EncodingMismatch, true)
		f := res.Identities[i]
		guids := map[string][]string{}
		for _, x := range detailOf(t, d, i)[detailDecoded].([]any) {
			dec := x.([]any)
			value := resolveField(d, i, dec[0])
			for _, c := range dec[1].([]any) {
				guids[value] = append(guids[value], candidateGUID(t, d, i, value, c.([]any)[0]))
			}
		}
		for _, val := range []string{f.EntraAnchor, f.OktaAnchor} {
			if !slices.Contains(guids[val], f.ADObjectGUID) {
				t.Errorf("%q decodes to %v, want among them the AD GUID %s", val, guids[val], f.ADObjectGUID)
			}
		}
	})
	t.Run("steps by identity key", func(t *testing.T) {
		steps := detailOf(t, d, 0)[detailSteps].([]any)
		if len(steps) != 2 || steps[0].(map[string]any)["kind"] != "graph.park_upn" {
			t.Errorf("steps of the first identity: %v", steps)
		}
		if got := detailOf(t, d, 1)[detailSteps]; got != float64(0) {
			t.Errorf("an identity without steps has %v", got)
		}
	})
	t.Run("refs point at earlier strings", func(t *testing.T) {
		cols := [][]any{d.Table.UPN, d.Table.Name, d.Table.E, d.Table.S, d.Search.EntraID, d.Search.OktaID, d.Search.ADGUID, d.Search.ADDN}
		for k, col := range cols {
			for i, v := range col {
				if n, ok := v.(float64); ok {
					if _, isStr := cols[int(n)][i].(string); !isStr || int(n) >= k {
						t.Fatalf("row %d field %d refers to field %v, which is not an earlier string", i, k, n)
					}
				}
			}
		}
	})
}

func TestBase64GUIDs(t *testing.T) {
	const guid = "583d3968-51c2-49b2-b51e-989a227b3712"
	g, err := anchor.ParseGUID(guid)
	if err != nil {
		t.Fatal(err)
	}
	raw := g.Raw()
	std := base64.StdEncoding.EncodeToString(raw[:])
	tests := []struct {
		name   string
		value  string
		ok     bool
		le, be string
	}{
		{"immutable id", std, true, guid, "68393d58-c251-b249-b51e-989a227b3712"},
		{"unpadded", strings.TrimRight(std, "="), true, guid, "68393d58-c251-b249-b51e-989a227b3712"},
		{"url-safe", base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xbf, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), true,
			"00bffffb-0201-0403-0506-0708090a0b0c", "fbffbf00-0102-0304-0506-0708090a0b0c"},
		{"white space", " " + std, false, "", ""},
		{"15 bytes", base64.StdEncoding.EncodeToString(raw[:15]), false, "", ""},
		{"okta id", "00u3qvftz91xnz5y0qvg", false, "", ""},
		{"empty", "", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le, be, ok := base64GUIDs(tt.value)
			if ok != tt.ok {
				t.Fatalf("base64GUIDs(%q) ok = %v, want %v", tt.value, ok, tt.ok)
			}
			if ok && (le.String() != tt.le || be.String() != tt.be) {
				t.Errorf("base64GUIDs(%q) = %s, %s; want %s, %s", tt.value, le, be, tt.le, tt.be)
			}
		})
	}
}

func TestBuildViewSummary(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	v := BuildView(htmlSnapshot(), res, in, ViewOptions{})
	want := map[string]int{}
	for _, f := range res.Identities {
		want[string(f.Scenario)]++
	}
	total := 0
	for _, s := range v.Scenarios {
		if s.Count != want[s.Scenario] {
			t.Errorf("%s: %d, want %d", s.Scenario, s.Count, want[s.Scenario])
		}
		total += s.Count
	}
	if total != len(res.Identities) || v.Total != total {
		t.Errorf("scenario counts add up to %d, total %d, want %d", total, v.Total, len(res.Identities))
	}
	if len(v.Chart.Bars) != len(v.Scenarios) {
		t.Fatalf("%d bars for %d scenarios", len(v.Chart.Bars), len(v.Scenarios))
	}
	for i, b := range v.Chart.Bars {
		if b.Width > chartBarSpace || (v.Scenarios[i].Count > 0) != (b.Width > 0) {
			t.Errorf("bar %s is %d wide for count %d", b.Label, b.Width, v.Scenarios[i].Count)
		}
	}
	if got := formatInt(1234567); got != "1,234,567" {
		t.Errorf("formatInt = %q", got)
	}
}

// GeneratedForTest is htmlGenerated for the browser test and benchmark,
// which live in package report_test (they run scan/demo, which imports
// report).
var GeneratedForTest = htmlGenerated

// SnapshotForTest is htmlSnapshot for package report_test.
var SnapshotForTest = htmlSnapshot
