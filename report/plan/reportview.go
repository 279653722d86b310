package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/store"
)

// OrgKey is the identity key the workbook uses for tenant-wide steps.
const OrgKey = "org"

// findingKey is the report's key of a plan identity, so that steps line up
// with the report's rows.
func (id *Identity) findingKey() string {
	return report.FindingKey(&classify.Finding{EntraUserID: id.EntraUserID, OktaUserID: id.OktaUserID, ADObjectGUID: id.ADObjectGUID, UPN: id.UPN})
}

// ReportSteps are the plan's steps per identity for the HTML report, keyed
// as the report keys its rows.
func (p *Plan) ReportSteps() map[string][]report.ViewStep {
	out := make(map[string][]report.ViewStep, len(p.Identities))
	for i := range p.Identities {
		id := &p.Identities[i]
		steps := make([]report.ViewStep, 0, len(id.Steps))
		for _, s := range id.Steps {
			steps = append(steps, report.ViewStep{Kind: string(s.Kind), Target: targetText(s.Target), Description: s.Description, Manual: s.Kind == Manual})
		}
		out[id.findingKey()] = steps
	}
	return out
}

// Workbook is the plan as the workbook's Plan sheet lists it: one row per
// step, keyed by the plan's identity key so that approvals come back keyed
// the way Apply reads them.
func (p *Plan) Workbook() *report.XLSXPlan {
	x := &report.XLSXPlan{Hash: p.Seal}
	add := func(key, upn, scenario string, steps []Step) {
		for i, s := range steps {
			x.Steps = append(x.Steps, report.XLSXPlanStep{
				IdentityKey:  key,
				UPN:          upn,
				Scenario:     scenario,
				Index:        i + 1,
				Kind:         string(s.Kind),
				Target:       targetText(s.Target),
				Parameters:   compactJSON(s.Params),
				Precondition: compactJSON(s.Precondition),
				Compensation: compensationText(s.Compensation),
			})
		}
	}
	org := append(append([]Step{}, p.OrgSteps...), p.OrgRestore...)
	add(OrgKey, "", "", org)
	for i := range p.Identities {
		id := &p.Identities[i]
		add(id.Key, id.UPN, id.Scenario, id.Steps)
	}
	return x
}

// ReadApprovals reads a workbook's approvals for p: it refuses a workbook
// made for another plan, and returns the identity keys whose every step row
// says Yes.
func (p *Plan) ReadApprovals(r io.Reader) (map[string]bool, error) {
	hash, approved, err := report.ReadApprovals(r)
	if err != nil {
		return nil, err
	}
	if hash != p.Seal {
		return nil, fmt.Errorf("%w: the workbook was made for plan %s, this plan is %s", ErrForeignPlan, short(hash), short(p.Seal))
	}
	return approved, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// JournalRows is an apply journal as the report's evidence section lists it,
// in time order.
func JournalRows(p *Plan, entries []store.JournalEntry) []report.JournalRow {
	upn := make(map[string]string, len(p.Identities))
	for i := range p.Identities {
		upn[p.Identities[i].Key] = p.Identities[i].UPN
	}
	sorted := append([]store.JournalEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].StartedAt.Before(sorted[j].StartedAt) })
	rows := make([]report.JournalRow, 0, len(sorted))
	for _, e := range sorted {
		step := fmt.Sprintf("%d %s", e.StepIndex+1, e.Kind)
		if e.Compensation {
			step += " (compensation)"
		}
		result := e.Result
		if e.Error != "" {
			result += ": " + e.Error
		}
		rows = append(rows, report.JournalRow{
			Time:   e.StartedAt.UTC().Format(time.RFC3339),
			UPN:    upn[e.IdentityKey],
			Step:   step,
			Target: e.Target,
			Before: e.Before,
			After:  e.After,
			Result: result,
		})
	}
	return rows
}

func compensationText(s *Step) string {
	if s == nil {
		return ""
	}
	return string(s.Kind) + " " + compactJSON(s.Params)
}

// compactJSON renders params and preconditions for a cell; maps marshal
// with sorted keys, so the text is stable.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" || string(b) == "{}" {
		return ""
	}
	return string(b)
}
