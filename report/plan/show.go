package plan

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// Show prints a plan for review: where it comes from, the tenant-wide
// steps, then every identity grouped by scenario with counts, each step in
// plain words with the values it expects and how it is undone. The same plan
// prints the same bytes. Directory values are printed with control
// characters escaped, so a hostile display name cannot drive the terminal.
func Show(w io.Writer, p *Plan) error {
	bw := bufio.NewWriter(w)
	pr := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	pr("Plan of snapshot %d (content sha256 %s)\n", p.Snapshot.ID, p.Snapshot.ContentHash)
	pr("  created        %s by anchorscan %s, format %d\n", p.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), safe(p.ToolVersion), p.FormatVersion)
	pr("  Okta org       %s\n", safe(p.Tenants.OktaOrg))
	pr("  Entra tenant   %s\n", safe(p.Tenants.EntraTenantID))
	pr("  AD domains     %s\n", safe(orNone(strings.Join(p.Tenants.ADDomains, ", "))))
	pr("  parking domain %s\n", safe(p.Settings.ParkingDomain))
	pr("  Office 365 app %s\n", safe(orNone(p.Settings.O365AppID)))
	pr("  seal           sha256 %s\n", p.Seal)

	steps := 0
	for i := range p.Identities {
		steps += len(p.Identities[i].Steps)
	}
	pr("\n%d identities, %d steps; %d org steps before them, %d after, %d org review items.\n",
		len(p.Identities), steps, len(p.OrgSteps), len(p.OrgRestore), len(p.OrgReview))

	groups := groupByScenario(p.Identities)
	if len(groups) > 0 {
		pr("\n  %-24s %s\n", "scenario", "identities")
		for _, g := range groups {
			pr("  %-24s %d\n", g.scenario, len(g.identities))
		}
	}

	section := func(title string, list []Step) {
		if len(list) == 0 {
			return
		}
		pr("\n%s (%d)\n", title, len(list))
		for i := range list {
			writeStep(bw, "  ", i+1, &list[i])
		}
	}
	section("Org steps, run before any identity", p.OrgSteps)
	section("Org steps, run after every identity", p.OrgRestore)
	section("Org review, manual: apply does not perform or wait on these", p.OrgReview)

	for _, g := range groups {
		pr("\n== %s (%d)\n", g.scenario, len(g.identities))
		for _, id := range g.identities {
			pr("\n  %s\n", safe(id.UPN))
			var ids []string
			for _, kv := range [][2]string{{"entra", id.EntraUserID}, {"okta", id.OktaUserID}, {"ad", id.ADObjectGUID}, {"dn", id.ADDN}} {
				if kv[1] != "" {
					ids = append(ids, kv[0]+" "+kv[1])
				}
			}
			pr("    %s\n", safe(strings.Join(ids, "  ")))
			for i := range id.Steps {
				writeStep(bw, "    ", i+1, &id.Steps[i])
			}
		}
	}
	return bw.Flush()
}

type scenarioGroup struct {
	scenario   string
	identities []*Identity
}

// groupByScenario groups identities in the decision table's order, keeping
// the plan's order within a scenario; unknown codes sort last by name.
func groupByScenario(ids []Identity) []scenarioGroup {
	rank := map[string]int{}
	for i, r := range classify.Rules() {
		rank[string(r.Scenario)] = i
	}
	byCode := map[string]*scenarioGroup{}
	var groups []*scenarioGroup
	for i := range ids {
		g := byCode[ids[i].Scenario]
		if g == nil {
			g = &scenarioGroup{scenario: ids[i].Scenario}
			byCode[ids[i].Scenario] = g
			groups = append(groups, g)
		}
		g.identities = append(g.identities, &ids[i])
	}
	slices.SortStableFunc(groups, func(a, b *scenarioGroup) int {
		ra, oka := rank[a.scenario]
		rb, okb := rank[b.scenario]
		switch {
		case oka && okb:
			return ra - rb
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return strings.Compare(a.scenario, b.scenario)
	})
	out := make([]scenarioGroup, len(groups))
	for i, g := range groups {
		out[i] = *g
	}
	return out
}

func writeStep(w io.Writer, indent string, n int, s *Step) {
	fmt.Fprintf(w, "%s%d. %-24s %s\n", indent, n, s.Kind, safe(s.Description))
	pad := indent + strings.Repeat(" ", len(strconv.Itoa(n))+2)
	if t := targetText(s.Target); t != "" {
		fmt.Fprintf(w, "%son:      %s\n", pad, t)
	}
	if s.Kind != Manual && len(s.Params) > 0 {
		fmt.Fprintf(w, "%swrites:  %s\n", pad, paramText(s.Params))
	}
	if len(s.Precondition) > 0 {
		fmt.Fprintf(w, "%sexpects: %s\n", pad, preconditionText(s.Precondition))
	}
	if c := s.Compensation; c != nil {
		fmt.Fprintf(w, "%sundo:    %s: %s\n", pad, c.Kind, safe(c.Description))
	}
}

func targetText(t Target) string {
	if t.System == sysPerson || t.System == "" {
		return ""
	}
	s := t.System + " " + safe(t.ID)
	if t.AppID != "" && t.AppID != t.ID {
		s += " (app " + safe(t.AppID) + ")"
	}
	return s
}

func paramText(m map[string]string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if v == "" {
			parts[i] = k + " cleared"
			continue
		}
		parts[i] = k + " = " + strconv.Quote(v)
	}
	return strings.Join(parts, ", ")
}

func preconditionText(m map[string]*string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		if m[k] == nil {
			parts[i] = k + " empty"
			continue
		}
		parts[i] = k + " = " + strconv.Quote(*m[k])
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// safe escapes control and other non-printing characters (newlines, ESC,
// bidi overrides) so that a value prints on one line as what it is.
func safe(s string) string {
	clean := true
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
