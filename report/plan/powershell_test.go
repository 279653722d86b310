package plan_test

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/report/plan"
)

func exportPS(t *testing.T, p *plan.Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := plan.ExportPowerShell(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExportPowerShellGolden(t *testing.T) {
	p := stablePlan(t)
	script := exportPS(t, p)
	golden(t, "example.ps1.golden", []byte(script))

	for _, want := range []string{
		"Connect-MgGraph -TenantId $EntraTenantId -Scopes 'Directory.AccessAsUser.All'",
		"Get-MgUser -UserId $Id -Property 'id,userPrincipalName,onPremisesImmutableId'",
		"'SSWS ' + $env:OKTA_API_TOKEN",
		"$PlanSeal = '" + p.Seal + "'",
		"Assert-DeactivateOff '0oarv2cjxy7hgdpplev4'",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if n := strings.Count(script, "function Repair-Identity"); n != len(p.Identities) {
		t.Errorf("%d identity functions for %d identities", n, len(p.Identities))
	}
	checkPreconditionsBeforeChanges(t, script, p)
	checkLexes(t, script)
}

// changeCommand matches the lines that write to a directory.
var changeCommand = regexp.MustCompile(`Update-MgUser |Set-GraphImmutableId |Invoke-Okta '(POST|PUT|DELETE)'|Set-ADUser `)

// Every mutating step of every identity is written as its own block whose
// precondition check (Assert-State) comes before its change.
func checkPreconditionsBeforeChanges(t *testing.T, script string, p *plan.Plan) {
	t.Helper()
	blocks := regexp.MustCompile(`(?m)^\s*# (\d+|compensation)\.? ?([a-z_.]+): `).FindAllStringIndex(script, -1)
	mutating := 0
	for i, b := range blocks {
		end := len(script)
		if i+1 < len(blocks) {
			end = blocks[i+1][0]
		}
		block := script[b[0]:end]
		change := changeCommand.FindStringIndex(block)
		if change == nil {
			continue
		}
		mutating++
		check := strings.Index(block, "Assert-State ")
		if check < 0 || check > change[0] {
			t.Errorf("a change is not preceded by its precondition check:\n%s", block)
		}
	}
	want := 0
	count := func(steps []plan.Step) {
		for _, s := range steps {
			if s.Kind != plan.Manual && s.Kind != plan.Verify {
				want++
			}
			if s.Kind == plan.GraphParkUPN {
				want++ // its compensation is written in the catch block
			}
		}
	}
	count(p.OrgSteps)
	count(p.OrgRestore)
	for _, id := range p.Identities {
		count(id.Steps)
	}
	if mutating != want || want == 0 {
		t.Errorf("%d changes with checks in the script, want %d", mutating, want)
	}
}

// psLexer splits PowerShell text into the parts that matter for injection:
// single-quoted literals (whose content is data), comments, and code.
type psToken struct {
	kind string // "single", "double", "comment", "code"
	text string // a literal's value, or the raw text
}

func isSingleQuote(r rune) bool {
	return r == '\'' || r == '\u2018' || r == '\u2019' || r == '\u201a' || r == '\u201b'
}

func isDoubleQuote(r rune) bool { return r == '"' || r == '\u201c' || r == '\u201d' || r == '\u201e' }

func lexPS(t *testing.T, script string) []psToken {
	t.Helper()
	rs := []rune(script)
	var out []psToken
	var code []rune
	flush := func() {
		if len(code) > 0 {
			out = append(out, psToken{"code", string(code)})
			code = nil
		}
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case isSingleQuote(r):
			flush()
			var v []rune
			closed := false
			for i++; i < len(rs); i++ {
				if isSingleQuote(rs[i]) {
					if i+1 < len(rs) && isSingleQuote(rs[i+1]) {
						v = append(v, rs[i+1])
						i++
						continue
					}
					closed = true
					break
				}
				v = append(v, rs[i])
			}
			if !closed {
				t.Fatalf("unterminated single-quoted string: %q", string(v))
			}
			out = append(out, psToken{"single", string(v)})
		case isDoubleQuote(r):
			flush()
			var v []rune
			closed := false
			for i++; i < len(rs); i++ {
				if rs[i] == '`' {
					i++
					continue
				}
				if isDoubleQuote(rs[i]) {
					if i+1 < len(rs) && isDoubleQuote(rs[i+1]) {
						i++
						continue
					}
					closed = true
					break
				}
				v = append(v, rs[i])
			}
			if !closed {
				t.Fatalf("unterminated double-quoted string: %q", string(v))
			}
			out = append(out, psToken{"double", string(v)})
		case r == '#':
			flush()
			j := i
			for j < len(rs) && rs[j] != '\n' && rs[j] != '\r' {
				j++
			}
			out = append(out, psToken{"comment", string(rs[i:j])})
			i = j - 1
		default:
			code = append(code, r)
		}
	}
	flush()
	return out
}

func checkLexes(t *testing.T, script string) []psToken {
	t.Helper()
	tokens := lexPS(t, script)
	for _, tok := range tokens {
		if tok.kind == "double" && strings.Contains(tok.text, "PWNED") {
			t.Errorf("directory data in a double-quoted (expanding) string: %q", tok.text)
		}
		if tok.kind == "code" && strings.Contains(tok.text, "PWNED") {
			t.Errorf("directory data outside a string: %q", tok.text)
		}
	}
	return tokens
}

// Directory values are hostile: quotes of every kind PowerShell accepts,
// subexpressions, backticks and line breaks must all arrive as data.
func TestExportPowerShellHostileValues(t *testing.T) {
	hostileUPN := "o'brien\u2019$(Write-Host PWNED)`;'; Remove-Item PWNED@contoso.example"
	newlineUPN := "eve\r\nWrite-Host PWNED #@contoso.example"
	desc := "move \u2018PWNED\u2019\n$(Write-Host PWNED)"
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion, ToolVersion: "test",
		Tenants:  plan.Tenants{OktaOrg: "https://contoso.okta.com", EntraTenantID: "t'$(PWNED)"},
		Settings: plan.Settings{ParkingDomain: "contoso.onmicrosoft.com"},
		Identities: []plan.Identity{{
			UPN: hostileUPN, Scenario: "ENTRA_ANCHOR_STALE\nWrite-Host PWNED",
			Steps: []plan.Step{
				{Kind: plan.GraphParkUPN, Target: plan.Target{System: "graph", ID: "id'PWNED"},
					Params:       map[string]string{"userPrincipalName": "parked'PWNED@contoso.onmicrosoft.com"},
					Precondition: map[string]*string{"userPrincipalName": ptr(hostileUPN), "onPremisesImmutableId": nil},
					Description:  desc,
					Compensation: &plan.Step{Kind: plan.GraphRestoreUPN, Target: plan.Target{System: "graph", ID: "id'PWNED"},
						Params:       map[string]string{"userPrincipalName": newlineUPN},
						Precondition: map[string]*string{"userPrincipalName": ptr("parked'PWNED@contoso.onmicrosoft.com")},
						Description:  desc}},
				{Kind: plan.Manual, Target: plan.Target{System: "person"},
					Params: map[string]string{"instructions": desc}, Description: desc},
				{Kind: plan.OktaAssign, Target: plan.Target{System: "okta", ID: "00u'PWNED", AppID: "0oa'PWNED"},
					Params:       map[string]string{"userName": hostileUPN, "immutableId": "", "licenses": `["E'$(PWNED)"]`, "roles": `[]`},
					Precondition: map[string]*string{"assigned": ptr("false")}, Description: desc},
			},
		}},
	}
	if err := p.SealPlan(); err != nil {
		t.Fatal(err)
	}
	script := exportPS(t, p)
	tokens := checkLexes(t, script)

	literals := map[string]bool{}
	for _, tok := range tokens {
		if tok.kind == "single" {
			literals[tok.text] = true
		}
	}
	for _, v := range []string{hostileUPN, "parked'PWNED@contoso.onmicrosoft.com", "id'PWNED", "E'$(PWNED)"} {
		if !literals[v] {
			t.Errorf("%q does not survive as a single-quoted literal", v)
		}
	}
	// Values with line breaks are carried as base64, decoded at run time.
	for _, v := range []string{newlineUPN, desc} {
		if !literals[base64.StdEncoding.EncodeToString([]byte(v))] {
			t.Errorf("%q is not carried as base64", v)
		}
	}
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Write-Host PWNED") {
			t.Errorf("a line break in a value started a script line: %q", line)
		}
	}
}
