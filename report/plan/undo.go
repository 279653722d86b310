package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/anchorscan/anchorscan/store"
)

// UndoOptions label an undo plan.
type UndoOptions struct {
	ToolVersion string
	// Now is the undo plan's creation time; the zero time means the clock.
	Now time.Time
}

// appliedStep is one change the journal shows in effect: its step, and the
// values its target had before and after.
type appliedStep struct {
	index         int
	kind          StepKind
	before, after Values
	order         int64 // journal id of the entry that made it applied
}

// Undo returns a sealed plan that reverses what applying orig did, as its
// journal entries record it: every change still in effect is undone, newest
// first per identity, with the values the apply left as preconditions (so an
// object changed since is skipped as stale, like any plan step). Changes
// that were compensated are not in effect and are left alone.
func Undo(orig *Plan, entries []store.JournalEntry, opts UndoOptions) (*Plan, error) {
	if orig == nil {
		return nil, errors.New("undo: no plan")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	// Per identity and step: the values seen before the call that applied
	// it (a resumed step's own entry only saw the values after).
	type key struct {
		id   string
		step int
	}
	lastBefore := map[key]Values{}
	applied := map[key]*appliedStep{}
	for _, e := range entries {
		if e.PlanSeal != orig.Seal {
			return nil, fmt.Errorf("undo: journal entry %d belongs to the plan sealed %s, not %s", e.ID, e.PlanSeal, orig.Seal)
		}
		k := key{e.IdentityKey, e.StepIndex}
		var before, after Values
		if err := decodeValues(e.Before, &before); err != nil {
			return nil, fmt.Errorf("undo: journal entry %d: before: %w", e.ID, err)
		}
		if err := decodeValues(e.After, &after); err != nil {
			return nil, fmt.Errorf("undo: journal entry %d: after: %w", e.ID, err)
		}
		if e.Compensation {
			if e.Result == store.JournalApplied {
				delete(applied, k)
			}
			continue
		}
		kind := StepKind(e.Kind)
		if !mutating(kind) {
			continue
		}
		// A call began here: what it found is the value to go back to.
		if e.Result == store.JournalStarted || !e.EndedAt.Equal(e.StartedAt) {
			lastBefore[k] = before
		}
		if e.Result != store.JournalApplied {
			continue
		}
		b := lastBefore[k]
		if b == nil {
			b = before
		}
		applied[k] = &appliedStep{index: e.StepIndex, kind: kind, before: b, after: after, order: e.ID}
	}

	p := &Plan{
		FormatVersion: FormatVersion,
		ToolVersion:   opts.ToolVersion,
		CreatedAt:     now.UTC().Truncate(time.Second),
		Snapshot:      orig.Snapshot,
		Tenants:       orig.Tenants,
		Settings:      orig.Settings,
		OrgSteps:      []Step{},
		OrgRestore:    []Step{},
		Identities:    []Identity{},
	}
	byIdentity := map[string][]*appliedStep{}
	for k, a := range applied {
		byIdentity[k.id] = append(byIdentity[k.id], a)
	}
	unassigns := false
	for _, id := range orig.Identities {
		steps := byIdentity[id.Key]
		if len(steps) == 0 {
			continue
		}
		slices.SortFunc(steps, func(a, b *appliedStep) int { return int(b.order - a.order) }) // newest first
		u := Identity{Key: id.Key, UPN: id.UPN, Scenario: id.Scenario, EntraUserID: id.EntraUserID, OktaUserID: id.OktaUserID,
			ADObjectGUID: id.ADObjectGUID, ADDN: id.ADDN, Steps: []Step{}}
		unassigned := false
		for _, a := range steps {
			unassigned = unassigned || a.kind == OktaUnassign
		}
		for _, a := range steps {
			orig := &id.Steps[a.index]
			s := reverseStep(orig, a)
			if a.kind == OktaAssign && unassigned && s.Kind == OktaAssign {
				// The assignment followed an unassignment (and a console
				// import in between): undoing the pair is unassigning, then
				// assigning with what the user had before the first step.
				s.Kind = OktaUnassign
				s.Params = map[string]string{attrLicenses: a.after.get(attrLicenses), attrRoles: a.after.get(attrRoles)}
				s.Description = "Undo: unassign from Office 365, to assign again with the values from before the plan"
			}
			unassigns = unassigns || s.Kind == OktaUnassign
			u.Steps = append(u.Steps, s)
			if a.kind == OktaUnassign && a.before[attrImmutableID] != nil {
				u.Steps = append(u.Steps, Step{Kind: OktaSetAppUserAnchor, Target: orig.Target,
					Params: map[string]string{attrImmutableID: a.before.get(attrImmutableID)},
					// The value the mapping gives a new assignment is not known
					// in advance: only the assignment itself is required.
					Precondition: map[string]*string{attrAssigned: Value("true")},
					Description:  fmt.Sprintf("Undo: set the immutableId Okta sends back to %s", show(a.before[attrImmutableID]))})
			}
		}
		p.Identities = append(p.Identities, u)
	}
	// Org changes: a mapping change is put back. Deactivate Users was
	// restored by the apply itself, but the undo plan may unassign, so the
	// same guard comes back when the setting was ENABLED.
	var org []*appliedStep
	for k, a := range applied {
		if k.id == "org" && a.index < len(orig.OrgSteps) {
			org = append(org, a)
		}
	}
	slices.SortFunc(org, func(a, b *appliedStep) int { return int(b.order - a.order) })
	guarded := false
	for _, a := range org {
		s := &orig.OrgSteps[a.index]
		switch {
		case a.kind == OktaUpdateMapping:
			p.OrgSteps = append(p.OrgSteps, reverseStep(s, a))
		case a.kind == OktaSetDeactivate && unassigns && !guarded && a.before.get(attrDeactivate) == "ENABLED":
			guarded = true
			p.OrgSteps = append(p.OrgSteps, *s)
			for _, r := range orig.OrgRestore {
				if r.Kind == OktaSetDeactivate {
					p.OrgRestore = append(p.OrgRestore, r)
				}
			}
		}
	}
	if err := p.SealPlan(); err != nil {
		return nil, fmt.Errorf("undo: seal: %w", err)
	}
	return p, nil
}

func decodeValues(s string, v *Values) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

// pre picks the attributes of v that an undo step requires unchanged.
func pre(v Values, keys ...string) map[string]*string {
	m := make(map[string]*string, len(keys))
	for _, k := range keys {
		m[k] = v[k]
	}
	return m
}

// reverseStep is the step that takes s's target from the values s left
// (a.after) back to the ones it found (a.before).
func reverseStep(s *Step, a *appliedStep) Step {
	b, af := a.before, a.after
	r := Step{Target: s.Target}
	switch s.Kind {
	case GraphParkUPN, GraphRestoreUPN:
		// Moving back from the parking domain restores; moving back to it
		// parks, with the usual compensation.
		r.Kind = GraphRestoreUPN
		if s.Kind == GraphRestoreUPN {
			r.Kind = GraphParkUPN
		}
		r.Params = map[string]string{attrUPN: b.get(attrUPN)}
		r.Precondition = pre(af, attrUPN, attrEntraAnchor)
		if r.Kind == GraphParkUPN {
			r.Compensation = &Step{Kind: GraphRestoreUPN, Target: s.Target, Params: map[string]string{attrUPN: af.get(attrUPN)},
				Precondition: map[string]*string{attrUPN: b[attrUPN]}, Description: fmt.Sprintf("Move the UPN back to %q", af.get(attrUPN))}
		}
		r.Description = fmt.Sprintf("Undo: move the UPN from %q back to %q", af.get(attrUPN), b.get(attrUPN))
	case GraphSetAnchor:
		r.Kind = GraphSetAnchor
		r.Params = map[string]string{attrEntraAnchor: b.get(attrEntraAnchor)}
		r.Precondition = pre(af, attrUPN, attrEntraAnchor)
		r.Description = fmt.Sprintf("Undo: set onPremisesImmutableId from %s back to %s", show(af[attrEntraAnchor]), show(b[attrEntraAnchor]))
	case OktaSetAppUserAnchor:
		if b[attrImmutableID] == nil {
			return manualUndo(s, fmt.Sprintf("Undo: the Okta app user's immutableId was empty before; Okta's API cannot clear it: clear %s by hand if needed", show(af[attrImmutableID])))
		}
		r.Kind = OktaSetAppUserAnchor
		r.Params = map[string]string{attrImmutableID: b.get(attrImmutableID)}
		r.Precondition = pre(af, attrImmutableID)
		r.Description = fmt.Sprintf("Undo: set the immutableId Okta sends from %s back to %s", show(af[attrImmutableID]), show(b[attrImmutableID]))
	case OktaAssign:
		r.Kind = OktaUnassign
		r.Params = map[string]string{attrLicenses: af.get(attrLicenses), attrRoles: af.get(attrRoles)}
		r.Precondition = pre(af, attrAssigned, attrImmutableID)
		r.Description = "Undo: unassign from Office 365 again"
		if b.get(attrAssigned) == "true" {
			// The step re-assigned: assigning again with the old licences
			// and roles is the way back.
			r.Kind = OktaAssign
			r.Params = map[string]string{attrUserName: b.get(attrUserName), attrImmutableID: b.get(attrImmutableID),
				attrLicenses: b.get(attrLicenses), attrRoles: b.get(attrRoles)}
			r.Description = "Undo: assign again with the licences and roles it had"
		}
	case OktaUnassign:
		// A new assignment takes its immutableId from the mapping, whatever
		// the request says; the old value is set by the step after it.
		r.Kind = OktaAssign
		r.Params = map[string]string{attrUserName: b.get(attrUserName), attrLicenses: b.get(attrLicenses), attrRoles: b.get(attrRoles)}
		r.Precondition = pre(af, attrAssigned)
		r.Description = "Undo: assign to Office 365 again with the licences and roles it had"
	case ADSetConsistencyGUID:
		r.Kind = ADSetConsistencyGUID
		r.Params = map[string]string{attrConsistency: b.get(attrConsistency)}
		r.Precondition = pre(af, attrConsistency)
		r.Description = fmt.Sprintf("Undo: set mS-DS-ConsistencyGuid from %s back to %s (compare-and-swap)", show(af[attrConsistency]), show(b[attrConsistency]))
	case OktaUpdateMapping:
		r.Kind = OktaUpdateMapping
		r.Params = map[string]string{attrExpression: b.get(attrExpression), attrPushStatus: b.get(attrPushStatus)}
		r.Precondition = pre(af, attrExpression, attrPushStatus)
		r.Description = "Undo: put the immutableId mapping back"
	case OktaSetDeactivate:
		r.Kind = OktaSetDeactivate
		r.Params = map[string]string{attrDeactivate: b.get(attrDeactivate)}
		r.Precondition = pre(af, attrDeactivate)
		r.Description = "Undo: put Deactivate Users back"
	default:
		return manualUndo(s, fmt.Sprintf("Undo: %s cannot be reversed automatically", s.Kind))
	}
	return r
}

func manualUndo(s *Step, text string) Step {
	return Step{Kind: Manual, Target: Target{System: "person"}, Params: map[string]string{"instructions": text}, Description: text}
}
