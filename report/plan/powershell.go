package plan

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ExportPowerShell writes a PowerShell script equivalent to the plan, for
// shops that must run changes through their own reviewed scripts: Microsoft
// Graph changes through the Microsoft.Graph cmdlets, Okta changes through its
// REST API with the token taken from $env:OKTA_API_TOKEN at run time (never
// written into the script). Like apply, the script reads each target before
// each change and skips the identity as stale when a value differs, moves a
// parked UPN back when a later step fails, stops an identity at a manual
// step and resumes it on a later run once the check after that step passes.
//
// Directory values are attacker-controlled (a display name can hold
// '$(…)'), so each is written as a single-quoted literal with its quote
// characters doubled, or base64-encoded when it holds a line break or
// another control character, which a literal cannot carry safely.
func ExportPowerShell(w io.Writer, p *Plan) error {
	if p.Seal == "" {
		return fmt.Errorf("export: the plan is not sealed")
	}
	e := &psWriter{w: bufio.NewWriter(w), plan: p}
	e.header()
	e.helpers()
	e.org()
	for i := range p.Identities {
		if err := e.identity(i, &p.Identities[i]); err != nil {
			return err
		}
	}
	e.main()
	return e.w.Flush()
}

type psWriter struct {
	w    *bufio.Writer
	plan *Plan
}

func (e *psWriter) line(indent int, format string, args ...any) {
	e.w.WriteString(strings.Repeat("    ", indent))
	fmt.Fprintf(e.w, format, args...)
	e.w.WriteByte('\n')
}

// usesSystem reports whether any step of the plan acts on system.
func (e *psWriter) usesSystem(system string) bool {
	uses := func(steps []Step) bool {
		for i := range steps {
			if steps[i].Target.System == system {
				return true
			}
		}
		return false
	}
	if uses(e.plan.OrgSteps) || uses(e.plan.OrgRestore) {
		return true
	}
	for i := range e.plan.Identities {
		if uses(e.plan.Identities[i].Steps) {
			return true
		}
	}
	return false
}

func (e *psWriter) header() {
	p := e.plan
	if e.usesSystem(sysGraph) {
		e.line(0, "#Requires -Modules Microsoft.Graph.Authentication, Microsoft.Graph.Users")
	}
	e.line(0, "# anchorscan plan, exported as PowerShell. Review it before running it.")
	e.line(0, "# plan seal %s; snapshot %d (content sha256 %s)", p.Seal, p.Snapshot.ID, p.Snapshot.ContentHash)
	e.line(0, "# created %s by anchorscan %s", p.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), comment(p.ToolVersion))
	e.line(0, "# Okta org %s; Entra tenant %s; parking domain %s", comment(p.Tenants.OktaOrg), comment(p.Tenants.EntraTenantID), comment(p.Settings.ParkingDomain))
	e.line(0, "# Every change is preceded by a check of the exact values the plan expects; an identity")
	e.line(0, "# whose values differ is skipped as stale. Okta calls read the API token from $env:OKTA_API_TOKEN.")
	for i := range p.OrgReview {
		e.line(0, "# Org review (manual, not done by this script): %s", comment(p.OrgReview[i].Description))
	}
	e.line(0, "[CmdletBinding()]")
	e.line(0, "param()")
	e.line(0, "Set-StrictMode -Version 3.0")
	e.line(0, "$ErrorActionPreference = 'Stop'")
	e.line(0, "")
	e.line(0, "$PlanSeal = %s", psQuote(p.Seal))
	e.line(0, "$EntraTenantId = %s", psQuote(p.Tenants.EntraTenantID))
	e.line(0, "$OktaOrg = %s", psQuote(p.Tenants.OktaOrg))
	e.line(0, "")
}

// psHelpers are the functions every export shares: reading the current
// state of a target, comparing it with a precondition, and the Okta calls.
const psHelpers = `function ConvertFrom-PlanBase64([string]$Text) {
    # Values holding line breaks or control characters are carried as base64.
    [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($Text))
}

function New-StaleError([string]$Message) {
    [System.InvalidOperationException]::new('stale: ' + $Message)
}

# Compare-State lists the attributes whose found value differs from the
# expected one; $null expects absent or empty. UPNs and usernames compare
# ignoring case, as Entra and Okta do; anchors compare exactly.
function Compare-State([hashtable]$Found, [hashtable]$Expect) {
    $diff = @()
    foreach ($name in ($Expect.Keys | Sort-Object)) {
        $want = if ($null -eq $Expect[$name]) { '' } else { [string]$Expect[$name] }
        $have = if ($null -eq $Found[$name]) { '' } else { [string]$Found[$name] }
        $same = if ($name -in @('userPrincipalName', 'userName', 'mS-DS-ConsistencyGuid')) { $want -ieq $have } else { $want -ceq $have }
        if (-not $same) { $diff += ($name + ": expected '" + $want + "', found '" + $have + "'") }
    }
    , $diff
}

function Assert-State([string]$What, [hashtable]$Found, [hashtable]$Expect) {
    $diff = Compare-State $Found $Expect
    if ($diff.Count -gt 0) { throw (New-StaleError ($What + ' changed since the plan: ' + ($diff -join '; '))) }
}

function Test-State([hashtable]$Found, [hashtable]$Expect) {
    (Compare-State $Found $Expect).Count -eq 0
}

function Get-GraphUserState([string]$Id) {
    $u = Get-MgUser -UserId $Id -Property 'id,userPrincipalName,onPremisesImmutableId'
    @{ userPrincipalName = $u.UserPrincipalName; onPremisesImmutableId = $u.OnPremisesImmutableId }
}

function Set-GraphImmutableId([string]$Id, [AllowNull()][string]$Value) {
    if ([string]::IsNullOrEmpty($Value)) {
        # Update-MgUser cannot send null; clearing needs a JSON null.
        $null = Invoke-MgGraphRequest -Method PATCH -Uri ('https://graph.microsoft.com/v1.0/users/' + [uri]::EscapeDataString($Id)) -Body '{"onPremisesImmutableId":null}' -ContentType 'application/json'
    } else {
        $null = Update-MgUser -UserId $Id -OnPremisesImmutableId $Value
    }
}

function Invoke-Okta([string]$Method, [string]$Path, $Body) {
    $request = @{
        Method  = $Method
        Uri     = $OktaOrg.TrimEnd('/') + $Path
        Headers = @{ Authorization = 'SSWS ' + $env:OKTA_API_TOKEN; Accept = 'application/json' }
    }
    if ($null -ne $Body) {
        $request.ContentType = 'application/json'
        $request.Body = ConvertTo-Json -InputObject $Body -Depth 10 -Compress
    }
    Invoke-RestMethod @request
}

function Get-OktaAppUserState([string]$AppId, [string]$UserId) {
    try {
        $au = Invoke-Okta 'GET' ('/api/v1/apps/' + [uri]::EscapeDataString($AppId) + '/users/' + [uri]::EscapeDataString($UserId)) $null
    } catch {
        $status = 0
        if ($_.Exception.PSObject.Properties['Response'] -and $_.Exception.Response) { $status = [int]$_.Exception.Response.StatusCode }
        if ($status -eq 404) { return @{ assigned = 'false'; immutableId = $null } }
        throw
    }
    $anchor = $null
    if ($au.PSObject.Properties['profile'] -and $au.profile -and $au.profile.PSObject.Properties['immutableId']) { $anchor = $au.profile.immutableId }
    @{ assigned = 'true'; immutableId = $anchor }
}

function Get-OktaDeactivateState([string]$AppId) {
    $f = Invoke-Okta 'GET' ('/api/v1/apps/' + [uri]::EscapeDataString($AppId) + '/features/USER_PROVISIONING') $null
    @{ lifecycleDeactivate = $f.capabilities.update.lifecycleDeactivate.status }
}

function Assert-DeactivateOff([string]$AppId) {
    # Unassigning while Deactivate Users is on deprovisions the user in Microsoft 365.
    $state = Get-OktaDeactivateState $AppId
    if ($state.lifecycleDeactivate -ne 'DISABLED') {
        throw ('refused: Deactivate Users is ' + $state.lifecycleDeactivate + ' on Office 365 app ' + $AppId + '; unassigning would deprovision the user')
    }
}

function Get-OktaMappingState([string]$MappingId) {
    $m = Invoke-Okta 'GET' ('/api/v1/mappings/' + [uri]::EscapeDataString($MappingId)) $null
    @{ expression = $m.properties.immutableId.expression; pushStatus = $m.properties.immutableId.pushStatus }
}

function Get-ADConsistencyState([string]$DistinguishedName) {
    $u = Get-ADUser -Identity $DistinguishedName -Properties 'mS-DS-ConsistencyGuid'
    $raw = $u.'mS-DS-ConsistencyGuid'
    $value = if ($null -eq $raw) { $null } else { ([guid]::new([byte[]]$raw)).ToString() }
    @{ 'mS-DS-ConsistencyGuid' = $value }
}
`

func (e *psWriter) helpers() {
	e.w.WriteString(psHelpers)
	e.line(0, "")
}

func (e *psWriter) org() {
	p := e.plan
	e.line(0, "function Invoke-OrgSteps {")
	e.line(1, "# Tenant-wide changes, before any identity; a failure stops the script.")
	for i := range p.OrgSteps {
		e.step(1, i+1, &p.OrgSteps[i])
	}
	e.line(0, "}")
	e.line(0, "")
	e.line(0, "function Invoke-OrgRestore {")
	e.line(1, "# Tenant-wide settings put back after every identity, each only if it is still as the plan left it.")
	for i := range p.OrgRestore {
		e.line(1, "try {")
		e.step(2, i+1, &p.OrgRestore[i])
		e.line(1, "} catch {")
		e.line(2, "Write-Warning ('Org restore step %d not run: ' + $_.Exception.Message)", i+1)
		e.line(1, "}")
	}
	e.line(0, "}")
	e.line(0, "")
}

// identity writes one function per identity. It returns 'applied', 'stale',
// 'manual' or 'failed'.
func (e *psWriter) identity(n int, id *Identity) error {
	e.line(0, "# %s %s", comment(id.Scenario), comment(id.UPN))
	e.line(0, "function Repair-Identity%d {", n+1)
	e.line(1, "$Upn = %s", psQuote(id.UPN))
	// Resume: a check after a manual step that already passes means the
	// steps up to it were done on an earlier run.
	e.line(1, "$start = 1")
	e.line(1, "$parked = $false")
	var park *Step
	e.line(1, "try {")
	for i := len(id.Steps) - 1; i >= 0; i-- {
		s := &id.Steps[i]
		if s.Kind != Verify {
			continue
		}
		e.line(2, "if ($start -eq 1 -and (%s)) { $start = %d }", e.verifyTest(s), i+2)
	}
	for i := range id.Steps {
		s := &id.Steps[i]
		e.line(2, "if ($start -le %d) {", i+1)
		switch s.Kind {
		case Manual:
			e.line(3, "# %d. manual: %s", i+1, comment(s.Description))
			e.line(3, "Write-Host ($Upn + ': waiting on a manual step: ' + %s)", psQuote(s.Params[paramInstructions]))
			e.line(3, "return 'manual'")
		case Verify:
			e.line(3, "# %d. verify: %s", i+1, comment(s.Description))
			e.line(3, "if (-not (%s)) {", e.verifyTest(s))
			e.line(4, "Write-Host ($Upn + ': the manual step is not done yet; run this script again after it')")
			e.line(4, "return 'manual'")
			e.line(3, "}")
		default:
			e.step(3, i+1, s)
			switch s.Kind {
			case GraphParkUPN:
				park = s
				e.line(3, "$parked = $true")
			case GraphRestoreUPN:
				e.line(3, "$parked = $false")
			}
		}
		e.line(2, "}")
	}
	e.line(2, "Write-Host ($Upn + ': applied')")
	e.line(2, "return 'applied'")
	e.line(1, "} catch {")
	e.line(2, "$failure = $_.Exception.Message")
	if park != nil && park.Compensation != nil {
		e.line(2, "if ($parked) {")
		e.line(3, "# Nobody is left on the parking domain: move the UPN back.")
		e.line(3, "try {")
		e.step(4, 0, park.Compensation)
		e.line(4, "Write-Warning ($Upn + ': moved back from the parking domain after the failure')")
		e.line(3, "} catch {")
		e.line(4, "Write-Warning ($Upn + ': STILL ON THE PARKING DOMAIN, move it back by hand: ' + $_.Exception.Message)")
		e.line(3, "}")
		e.line(2, "}")
	}
	e.line(2, "if ($failure.StartsWith('stale: ')) {")
	e.line(3, "Write-Warning ($Upn + ': skipped, ' + $failure)")
	e.line(3, "return 'stale'")
	e.line(2, "}")
	e.line(2, "Write-Warning ($Upn + ': failed: ' + $failure)")
	e.line(2, "return 'failed'")
	e.line(1, "}")
	e.line(0, "}")
	e.line(0, "")
	return nil
}

// step writes a mutating step: its precondition check, then its change.
// n is the step's number in comments (0 for a compensation).
func (e *psWriter) step(indent, n int, s *Step) {
	label := fmt.Sprintf("%d. %s", n, s.Kind)
	if n == 0 {
		label = "compensation " + string(s.Kind)
	}
	e.line(indent, "# %s: %s", label, comment(s.Description))
	id, app := psQuote(s.Target.ID), psQuote(s.Target.AppID)
	pre := psHashtable(s.Precondition)
	path := func(parts ...string) string {
		return "('/api/v1/apps/' + [uri]::EscapeDataString(" + app + ")" + strings.Join(parts, "") + ")"
	}
	userPath := path(" + '/users/' + [uri]::EscapeDataString(" + id + ")")
	e.line(indent, "# precondition")
	switch s.Kind {
	case GraphParkUPN, GraphRestoreUPN, GraphSetAnchor:
		e.line(indent, "Assert-State ('Entra user ' + %s) (Get-GraphUserState %s) %s", id, id, pre)
		e.line(indent, "# change")
		if s.Kind == GraphSetAnchor {
			e.line(indent, "Set-GraphImmutableId %s %s", id, psQuote(s.Params[paramEntraAnchor]))
		} else {
			e.line(indent, "$null = Update-MgUser -UserId %s -UserPrincipalName %s", id, psQuote(s.Params[paramUPN]))
		}
	case OktaSetAppUserAnchor:
		e.line(indent, "Assert-State ('Okta app user ' + %s) (Get-OktaAppUserState %s %s) %s", id, app, id, pre)
		e.line(indent, "# change")
		e.line(indent, "$null = Invoke-Okta 'POST' %s @{ profile = @{ immutableId = %s } }", userPath, psNullable(s.Params[paramOktaAnchor]))
	case OktaAssign:
		e.line(indent, "Assert-State ('Okta app user ' + %s) (Get-OktaAppUserState %s %s) %s", id, app, id, pre)
		e.line(indent, "# change")
		profile := "licenses = " + psStringArray(s.Params[paramLicenses]) + "; roles = " + psStringArray(s.Params[paramRoles])
		if v := s.Params[paramOktaAnchor]; v != "" {
			profile += "; immutableId = " + psQuote(v)
		}
		e.line(indent, "$null = Invoke-Okta 'POST' %s @{ id = %s; scope = 'USER'; credentials = @{ userName = %s }; profile = @{ %s } }",
			path(" + '/users'"), id, psQuote(s.Params[paramUserName]), profile)
	case OktaUnassign:
		e.line(indent, "Assert-State ('Okta app user ' + %s) (Get-OktaAppUserState %s %s) %s", id, app, id, pre)
		e.line(indent, "Assert-DeactivateOff %s", app)
		e.line(indent, "# change (licences %s and roles %s are given back by a later step)", comment(s.Params[paramLicenses]), comment(s.Params[paramRoles]))
		e.line(indent, "$null = Invoke-Okta 'DELETE' %s $null", userPath)
	case OktaSetDeactivate:
		e.line(indent, "Assert-State ('Deactivate Users of ' + %s) (Get-OktaDeactivateState %s) %s", id, id, pre)
		e.line(indent, "# change")
		e.line(indent, "$null = Invoke-Okta 'PUT' ('/api/v1/apps/' + [uri]::EscapeDataString(%s) + '/features/USER_PROVISIONING') @{ update = @{ lifecycleDeactivate = @{ status = %s } } }",
			id, psQuote(s.Params[paramDeactivate]))
	case OktaUpdateMapping:
		e.line(indent, "Assert-State ('Okta mapping ' + %s) (Get-OktaMappingState %s) %s", id, id, pre)
		e.line(indent, "# change")
		e.line(indent, "$null = Invoke-Okta 'POST' ('/api/v1/mappings/' + [uri]::EscapeDataString(%s)) @{ properties = @{ immutableId = @{ expression = %s; pushStatus = %s } } }",
			id, psQuote(s.Params[paramExpression]), psQuote(s.Params[paramPushStatus]))
	case ADSetConsistencyGUID:
		e.line(indent, "Assert-State ('AD user ' + %s) (Get-ADConsistencyState %s) %s", id, id, pre)
		e.line(indent, "# change")
		if v := s.Params[paramConsistency]; v != "" {
			e.line(indent, "Set-ADUser -Identity %s -Replace @{ 'mS-DS-ConsistencyGuid' = ([guid]%s).ToByteArray() }", id, psQuote(v))
		} else {
			e.line(indent, "Set-ADUser -Identity %s -Clear 'mS-DS-ConsistencyGuid'", id)
		}
	default:
		e.line(indent, "throw %s", psQuote("this anchorscan cannot export a step of kind "+string(s.Kind)))
	}
}

// verifyTest is a PowerShell expression that is true when a verify step's
// attribute holds.
func (e *psWriter) verifyTest(s *Step) string {
	want := make(map[string]*string, len(s.Params))
	for k, v := range s.Params {
		want[k] = optionalValue(v)
	}
	if s.Target.System == sysGraph {
		return fmt.Sprintf("Test-State (Get-GraphUserState %s) %s", psQuote(s.Target.ID), psHashtable(want))
	}
	return fmt.Sprintf("Test-State (Get-OktaAppUserState %s %s) %s", psQuote(s.Target.AppID), psQuote(s.Target.ID), psHashtable(want))
}

func (e *psWriter) main() {
	p := e.plan
	e.line(0, "# ---- run ----")
	if e.usesSystem(sysGraph) {
		e.line(0, "Connect-MgGraph -TenantId $EntraTenantId -Scopes 'Directory.AccessAsUser.All' -NoWelcome")
		e.line(0, "if ((Get-MgContext).TenantId -ne $EntraTenantId) { throw ('Connected to tenant ' + (Get-MgContext).TenantId + ', but the plan is for ' + $EntraTenantId) }")
	}
	if e.usesSystem(sysOkta) {
		e.line(0, "if ([string]::IsNullOrEmpty($env:OKTA_API_TOKEN)) { throw 'Set $env:OKTA_API_TOKEN to an Okta API token of the org the plan is for' }")
	}
	if e.usesSystem(sysAD) {
		e.line(0, "Import-Module ActiveDirectory")
	}
	e.line(0, "$outcome = [ordered]@{ applied = 0; stale = 0; manual = 0; failed = 0 }")
	e.line(0, "try {")
	e.line(1, "Invoke-OrgSteps")
	for i := range p.Identities {
		e.line(1, "$outcome[(Repair-Identity%d)] += 1", i+1)
	}
	e.line(0, "} finally {")
	e.line(1, "Invoke-OrgRestore")
	e.line(0, "}")
	e.line(0, "$outcome.GetEnumerator() | ForEach-Object { '{0,-8} {1}' -f $_.Key, $_.Value }")
}

// psQuote returns s as a PowerShell expression that evaluates to exactly s:
// a single-quoted literal with every quote character PowerShell accepts
// (' and the typographic ‘ ’ ‚ ‛) doubled, or, for text with a control
// character or line break, a base64 decode, since a literal would carry the
// line break into the script's text.
func psQuote(s string) string {
	if needsEncoding(s) {
		return "(ConvertFrom-PlanBase64 '" + base64.StdEncoding.EncodeToString([]byte(s)) + "')"
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func needsEncoding(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return true
		}
	}
	return false
}

// psNullable is psQuote, or $null for the empty string (a cleared value).
func psNullable(s string) string {
	if s == "" {
		return "$null"
	}
	return psQuote(s)
}

// psHashtable writes a precondition as a hashtable literal; nil is $null.
func psHashtable(m map[string]*string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := "$null"
		if m[k] != nil {
			v = psQuote(*m[k])
		}
		parts[i] = psQuote(k) + " = " + v
	}
	return "@{ " + strings.Join(parts, "; ") + " }"
}

// psStringArray turns a JSON array parameter (licences, roles) into a typed
// PowerShell array, so that ConvertTo-Json writes [] and ["x"] as arrays.
func psStringArray(jsonArray string) string {
	var l []string
	if err := json.Unmarshal([]byte(jsonArray), &l); err != nil {
		// A sealed plan's lists were written by Generate; anything else is
		// refused at run time rather than guessed at.
		return "$(throw " + psQuote("the list "+jsonArray+" in the plan is not a JSON array of strings") + ")"
	}
	q := make([]string, len(l))
	for i, v := range l {
		q[i] = psQuote(v)
	}
	return "[string[]]@(" + strings.Join(q, ", ") + ")"
}

// comment makes a value safe inside a # comment: one line, control
// characters escaped.
func comment(s string) string { return safe(s) }
