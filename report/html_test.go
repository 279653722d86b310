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
	in := classify.Input{
		OktaOrgURL: tn.Okta.Org,
		EntraOrg:   record.EntraOrg{TenantID: tn.Entra.TenantID, InitialDomain: tn.Entra.InitialDomain},
	}
	for _, u := range tn.Okta.Users {
		in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: u.ID, Status: u.Status, Login: u.Login,
			Email: u.Email, FirstName: u.FirstName, LastName: u.LastName})
	}
	for _, a := range tn.Okta.Apps {
		app := record.OktaApp{ID: a.ID, Name: a.Name, Label: a.Label, DeactivateUsers: a.DeactivateUsers}
		if m := a.ImmutableIDMapping; m != nil {
			app.MappingID = "prm-" + a.ID
			app.ImmutableIDExpression, app.ImmutableIDPushStatus = m.Expression, m.PushStatus
		}
		in.OktaApps = append(in.OktaApps, app)
	}
	for _, au := range tn.Okta.AppUsers {
		in.OktaAppUsers = append(in.OktaAppUsers, record.OktaAppUser{AppID: au.AppID, UserID: au.UserID,
			ExternalID: htmlDeref(au.ExternalID), UserName: au.UserName, Status: au.Status,
			ImmutableID: htmlDeref(au.Profile.ImmutableID), Licenses: au.Profile.Licenses, Roles: au.Profile.Roles})
	}
	for _, d := range tn.Entra.Domains {
		in.EntraDomains = append(in.EntraDomains, record.EntraDomain{ID: d.ID, AuthenticationType: d.AuthenticationType,
			IsVerified: d.IsVerified, IsInitial: d.IsInitial, IssuerURI: d.IssuerURI})
	}
	for _, u := range tn.Entra.Users {
		in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: u.ID, UserPrincipalName: u.UserPrincipalName,
			DisplayName: u.DisplayName, Mail: u.Mail, AccountEnabled: u.AccountEnabled, UserType: u.UserType,
			ImmutableID: htmlDeref(u.OnPremisesImmutableID), SyncEnabled: htmlDeref(u.OnPremisesSyncEnabled),
			SecurityID: htmlDeref(u.OnPremisesSecurityIdentifier)})
	}
	for _, d := range tn.AD.Domains {
		in.ADDomains = append(in.ADDomains, record.ADDomain{Name: d.Name, BaseDN: d.BaseDN})
	}
	for _, u := range tn.AD.Users {
		g, err := anchor.ParseGUID(u.ObjectGUID)
		if err != nil {
			t.Fatalf("AD user %s: objectGUID: %v", u.DistinguishedName, err)
		}
		rec := record.ADUser{DistinguishedName: u.DistinguishedName, ObjectGUID: g.Raw(), ObjectSID: u.ObjectSID,
			UserPrincipalName: u.UserPrincipalName, SAMAccountName: u.SAMAccountName, Mail: u.Mail,
			UserAccountControl: u.UserAccountControl}
		if u.MSDSConsistencyGUID != nil {
			cg, err := anchor.ParseGUID(*u.MSDSConsistencyGUID)
			if err != nil {
				t.Fatalf("AD user %s: msDSConsistencyGuid: %v", u.DistinguishedName, err)
			}
			raw := cg.Raw()
			rec.ConsistencyGUID = raw[:]
		}
		for _, d := range tn.AD.Domains {
			if strings.HasSuffix(strings.ToLower(u.DistinguishedName), strings.ToLower(d.BaseDN)) {
				rec.Domain = d.Name
			}
		}
		in.ADUsers = append(in.ADUsers, rec)
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
	dataBlockRE = regexp.MustCompile(`(?s)<script type="application/json" id="data" data-encoding="([a-z0-9-]+)">(.*?)</script>`)
	scriptRE    = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	cspRE       = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`)
)

// decodeDataBlock reads the identity data back out of a rendered report,
// as the report's script does.
func decodeDataBlock(t testing.TB, page string) (*IdentityData, string, string) {
	t.Helper()
	m := dataBlockRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no identity data block in the report")
	}
	raw := []byte(m[2])
	if m[1] == dataGzipBase64 {
		gz, err := base64.StdEncoding.DecodeString(m[2])
		if err != nil {
			t.Fatalf("data block is not base64: %v", err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatalf("data block is not gzip: %v", err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatalf("data block: %v", err)
		}
	}
	var d IdentityData
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("data block is not JSON: %v", err)
	}
	return &d, m[1], m[2]
}

// dataRoundTrip is what the page's script receives: the view's data after a
// trip through JSON, so numbers are float64 as they would be in JavaScript.
func dataRoundTrip(t testing.TB, d *IdentityData) *IdentityData {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out IdentityData
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
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
	if n := strings.Count(strings.ToLower(page), "<script"); n != 2 {
		t.Errorf("%d script elements, want 2 (the data and the script)", n)
	}

	// Nothing points outside the file.
	external := regexp.MustCompile(`(?i)\b(src|href|action|xlink:href|srcset|poster)\s*=\s*["']?\s*(https?:|//)`)
	if m := external.FindString(page); m != "" {
		t.Errorf("report refers to an external resource: %q", m)
	}
	if strings.Contains(page, "@import") || regexp.MustCompile(`url\(\s*['"]?(https?:|//)`).MatchString(page) {
		t.Error("style sheet loads an external resource")
	}

	// The data block holds exactly the view's data.
	got, enc, _ := decodeDataBlock(t, page)
	if enc != dataJSON {
		t.Errorf("300 identities encoded as %s, want %s", enc, dataJSON)
	}
	if diff := cmp.Diff(dataRoundTrip(t, v.Data), got); diff != "" {
		t.Errorf("data block differs from the view (-view +block):\n%s", diff)
	}
	if len(got.Rows) != len(res.Identities) {
		t.Errorf("%d rows, want one per identity (%d)", len(got.Rows), len(res.Identities))
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
	if n := strings.Count(page, "</script>"); n != 2 {
		t.Errorf("%d </script> tags, want 2: directory data closed a script element", n)
	}
	// Escaped, not dropped: the HTML text and the data block both still say it.
	for _, want := range []string{`&lt;img src=x onerror=alert(1)&gt;`, `=HYPERLINK(&#34;http://x&#34;)`} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks the escaped form %q", want)
		}
	}
	got, _, block := decodeDataBlock(t, page)
	for _, c := range []string{"<", ">", "&", "\u2028", "\u2029"} {
		if strings.Contains(block, c) {
			t.Errorf("data block holds a raw %q", c)
		}
	}
	names := map[string]bool{}
	for _, r := range got.Rows {
		names[r[rowName].(string)] = true
	}
	for _, h := range htmlHostile {
		if !names[h] {
			t.Errorf("display name %q did not survive the data block", h)
		}
	}
	if got.Rows[1][rowUPN] != htmlHostile[1]+"@contoso.example" {
		t.Errorf("htmlHostile UPN came back as %q", got.Rows[1][rowUPN])
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

func TestEncodeIdentityDataCompressesLargeData(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	d := BuildView(htmlSnapshot(), res, in, ViewOptions{}).Data
	// Grow the data past the limit by repeating its rows.
	big := *d
	perRow := 0
	if raw, err := json.Marshal(d.Rows); err == nil {
		perRow = len(raw)/len(d.Rows) + 1
	}
	for len(big.Rows)*perRow <= plainDataLimit {
		big.Rows = append(big.Rows, d.Rows...)
	}
	text, enc, err := encodeIdentityData(&big)
	if err != nil {
		t.Fatal(err)
	}
	if enc != dataGzipBase64 {
		t.Fatalf("%d rows encoded as %s, want %s", len(big.Rows), enc, dataGzipBase64)
	}
	if len(text) > plainDataLimit {
		t.Errorf("compressed block is %d bytes, no smaller than the plain limit", len(text))
	}
	page := `<script type="application/json" id="data" data-encoding="` + enc + `">` + text + `</script>`
	got, _, _ := decodeDataBlock(t, page)
	if len(got.Rows) != len(big.Rows) {
		t.Errorf("decoded %d rows, want %d", len(got.Rows), len(big.Rows))
	}
}

// resolve reads a string field of a row as the report's script does.
func resolveField(row []any, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return row[int(x)].(string)
	case int:
		return row[x].(string)
	}
	return ""
}

// detailOf parses a row's detail, as the report's script does on opening it.
func detailOf(t testing.TB, row []any) []any {
	t.Helper()
	text, ok := row[rowDetail].(string)
	if !ok {
		t.Fatalf("row detail is %T, want a JSON string", row[rowDetail])
	}
	var d []any
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("row detail is not JSON: %v", err)
	}
	if len(d) != detailLen {
		t.Fatalf("row detail has %d fields, want %d", len(d), detailLen)
	}
	return d
}

func TestBuildViewIdentityDetail(t *testing.T) {
	in, res := htmlGenerated(t, 300)
	v := BuildView(htmlSnapshot(), res, in, htmlHostileOptions(res))
	d := dataRoundTrip(t, v.Data)

	// Find an AD-sourced OK identity and an encoding mismatch.
	find := func(s classify.Scenario, withAD bool) int {
		for i, f := range res.Identities {
			if f.Scenario == s && (f.ADObjectGUID != "") == withAD {
				return i
			}
		}
		t.Fatalf("no %s identity in the generated tenant", s)
		return -1
	}
	t.Run("three sources", func(t *testing.T) {
		i := find(classify.OK, true)
		f, row := res.Identities[i], d.Rows[i]
		ad := detailOf(t, row)[detailAD].([]any)[0].([]any)
		if got := resolveField(row, ad[1]); got != f.ADObjectGUID {
			t.Errorf("AD objectGUID %q, want %q", got, f.ADObjectGUID)
		}
		if got := resolveField(row, ad[0]); got != f.ADDN {
			t.Errorf("AD DN %q, want %q", got, f.ADDN)
		}
		if sid := ad[5].(string); !strings.HasPrefix(sid, "S-1-5-") {
			t.Errorf("AD objectSid %q", sid)
		}
		okta := detailOf(t, row)[detailOkta].([]any)
		var login string
		for _, u := range in.OktaUsers {
			if u.ID == f.OktaUserID {
				login = u.Login
			}
		}
		if got := resolveField(row, okta[0]); got != login || login == "" {
			t.Errorf("Okta login %q, want %q", got, login)
		}
		o365 := okta[5].([]any)[0].([]any)
		if got := resolveField(row, o365[2]); got != f.OktaAnchor {
			t.Errorf("O365 immutableId %q, want %q", got, f.OktaAnchor)
		}
		if got := resolveField(row, o365[3]); got != f.EntraUserID {
			t.Errorf("O365 externalId %q, want the Entra object id %q", got, f.EntraUserID)
		}
		if n := len(okta[6].([]any)); n < 1 {
			t.Error("no AD app user in the Okta detail")
		}
		entra := detailOf(t, row)[detailEntra].([]any)
		if got := resolveField(row, entra[0]); !strings.EqualFold(got, f.UPN) {
			t.Errorf("Entra UPN %q, want %q", got, f.UPN)
		}
		if got := resolveField(row, entra[5]); got != f.EntraAnchor {
			t.Errorf("Entra immutableId %q, want %q", got, f.EntraAnchor)
		}
		// E is decoded to the AD object's GUID, read as a correct ImmutableID.
		dec := detailOf(t, row)[detailDecoded].([]any)[0].([]any)
		if resolveField(row, dec[0]) != f.EntraAnchor {
			t.Fatalf("first decoded value %v, want E", dec[0])
		}
		cand := dec[1].([]any)[0].([]any)
		if got := resolveField(row, cand[0]); got != f.ADObjectGUID {
			t.Errorf("E decodes to %q, want the AD GUID %q", got, f.ADObjectGUID)
		}
		if fmtIx := int(cand[1].([]any)[0].(float64)); d.Formats[fmtIx][0] != string(anchor.FormatImmutableID) {
			t.Errorf("E read as %v, want %s", d.Formats[fmtIx], anchor.FormatImmutableID)
		}
	})
	t.Run("encoding mismatch decodes both sides to one GUID", func(t *testing.T) {
		i := find(classify.EncodingMismatch, true)
		f, row := res.Identities[i], d.Rows[i]
		guids := map[string][]string{}
		for _, x := range detailOf(t, row)[detailDecoded].([]any) {
			dec := x.([]any)
			for _, c := range dec[1].([]any) {
				guids[resolveField(row, dec[0])] = append(guids[resolveField(row, dec[0])], resolveField(row, c.([]any)[0]))
			}
		}
		for _, val := range []string{f.EntraAnchor, f.OktaAnchor} {
			if !slices.Contains(guids[val], f.ADObjectGUID) {
				t.Errorf("%q decodes to %v, want among them the AD GUID %s", val, guids[val], f.ADObjectGUID)
			}
		}
	})
	t.Run("steps by identity key", func(t *testing.T) {
		steps := detailOf(t, d.Rows[0])[detailSteps].([]any)
		if len(steps) != 2 || steps[0].(map[string]any)["kind"] != "graph.park_upn" {
			t.Errorf("steps of the first identity: %v", steps)
		}
		if detailOf(t, d.Rows[1])[detailSteps] != float64(0) {
			t.Errorf("an identity without steps has %v", detailOf(t, d.Rows[1])[detailSteps])
		}
	})
	t.Run("refs point at strings", func(t *testing.T) {
		for i, row := range d.Rows {
			for _, k := range refFields {
				if n, ok := row[k].(float64); ok {
					if _, isStr := row[int(n)].(string); !isStr || int(n) >= k {
						t.Fatalf("row %d field %d refers to field %v, which is not an earlier string", i, k, n)
					}
				}
			}
		}
	})
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
