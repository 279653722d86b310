package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
)

// OktaTarget is what apply needs from Okta: *okta.Admin.
type OktaTarget interface {
	DeactivateUsers(ctx context.Context, appID string) (bool, error)
	SetDeactivateUsers(ctx context.Context, appID string, enabled bool) error
	AppUser(ctx context.Context, appID, userID string) (*okta.AppUserState, error)
	Assign(ctx context.Context, appID, userID string, req okta.AssignRequest) (*okta.AppUserState, error)
	Unassign(ctx context.Context, appID, userID string) error
	SetAppUserImmutableID(ctx context.Context, appID, userID, value string) (*okta.AppUserState, error)
	ImmutableIDMapping(ctx context.Context, appID string) (*okta.MappingState, error)
	SetImmutableIDMapping(ctx context.Context, mappingID, expression, pushStatus string) (*okta.MappingState, error)
}

// GraphTarget is what apply needs from Microsoft Graph: *entra.Admin.
type GraphTarget interface {
	User(ctx context.Context, id string) (*entra.UserState, error)
	UpdateUser(ctx context.Context, id string, p entra.UserPatch) error
}

// ADTarget is what apply needs from Active Directory: *ad.Admin.
type ADTarget interface {
	ConsistencyGUID(ctx context.Context, dn string) ([]byte, error)
	SwapConsistencyGUID(ctx context.Context, dn string, old, next []byte) error
}

// Targets are the live directories a plan is applied to. A nil target is
// a system the configuration does not reach: a step on it fails.
type Targets struct {
	Okta  OktaTarget
	Graph GraphTarget
	AD    ADTarget
	// Tenants are the directories the targets were configured for (Okta
	// org URL, Entra tenant id, AD domains); a plan for others is refused.
	Tenants Tenants
}

// Attribute names used in preconditions, parameters and the journal.
const (
	attrDeactivate  = "lifecycleDeactivate"
	attrExpression  = "expression"
	attrPushStatus  = "pushStatus"
	attrAssigned    = "assigned"
	attrImmutableID = "immutableId"
	attrLicenses    = "licenses"
	attrRoles       = "roles"
	attrUserName    = "userName"
	attrUPN         = "userPrincipalName"
	attrEntraAnchor = "onPremisesImmutableId"
	attrConsistency = "mS-DS-ConsistencyGuid"
	attrAccount     = "accountEnabled"
)

// Values are attribute values as a step sees them: nil is absent or empty.
type Values map[string]*string

// String renders v with sorted keys, for messages and the journal.
func (v Values) String() string {
	b, _ := json.Marshal(v) // map[string]*string always marshals
	return string(b)
}

func (v Values) get(k string) string {
	if p := v[k]; p != nil {
		return *p
	}
	return ""
}

// with returns v overlaid with w.
func (v Values) with(w Values) Values {
	out := make(Values, len(v)+len(w))
	for k, x := range v {
		out[k] = x
	}
	for k, x := range w {
		out[k] = x
	}
	return out
}

// mismatches lists the keys of want whose value in got differs. UPNs
// compare case-insensitively, as Entra does; anchors exactly.
func mismatches(want map[string]*string, got Values) []string {
	var keys []string
	for k, w := range want {
		if !sameValue(k, w, got[k]) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func sameValue(attr string, a, b *string) bool {
	x, y := "", ""
	if a != nil {
		x = *a
	}
	if b != nil {
		y = *b
	}
	switch attr {
	case attrUPN, attrUserName, attrConsistency:
		return strings.EqualFold(x, y)
	case attrLicenses, attrRoles:
		return normalList(x) == normalList(y)
	}
	return x == y
}

// normalList renders a JSON array of strings canonically; "" and "[]" are
// the same empty list.
func normalList(s string) string {
	if s == "" {
		return "[]"
	}
	var l []string
	if json.Unmarshal([]byte(s), &l) != nil {
		return s
	}
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func listValue(l []string) *string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return Value(string(b))
}

func parseList(s string) ([]string, error) {
	if s == "" {
		return []string{}, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("%q is not a JSON array of strings: %w", s, err)
	}
	if l == nil {
		l = []string{}
	}
	return l, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// targetKey names what a step reads and writes, so that a dry run can
// carry the effect of one step into the preconditions of the next.
func targetKey(s *Step) string {
	switch s.Kind {
	case OktaSetDeactivate:
		return "okta-feature:" + s.appID()
	case OktaUpdateMapping:
		return "okta-mapping:" + s.Target.ID
	}
	return s.Target.System + ":" + s.Target.ID + "@" + s.Target.AppID
}

// appID is the Okta app a step acts on: Target.AppID, or Target.ID for the
// org steps whose target is the app itself.
func (s *Step) appID() string {
	if s.Target.AppID != "" {
		return s.Target.AppID
	}
	return s.Target.ID
}

// journalTarget names a step's target in the journal.
func journalTarget(s *Step) string {
	t := s.Target.System + ":" + s.Target.ID
	if s.Target.AppID != "" && s.Target.AppID != s.Target.ID {
		t += "@" + s.Target.AppID
	}
	return t
}

var errNoTarget = errors.New("the configuration does not reach this system")

// observe reads the current values of what step s acts on.
func (t *Targets) observe(ctx context.Context, s *Step) (Values, error) {
	switch s.Target.System {
	case "okta":
		if t.Okta == nil {
			return nil, fmt.Errorf("okta: %w", errNoTarget)
		}
		switch s.Kind {
		case OktaSetDeactivate:
			on, err := t.Okta.DeactivateUsers(ctx, s.appID())
			if err != nil {
				return nil, err
			}
			v := "DISABLED"
			if on {
				v = "ENABLED"
			}
			return Values{attrDeactivate: &v}, nil
		case OktaUpdateMapping:
			m, err := t.Okta.ImmutableIDMapping(ctx, s.Target.AppID)
			if err != nil {
				return nil, err
			}
			if m.ID != s.Target.ID {
				return nil, fmt.Errorf("okta: the immutableId mapping of app %s is %s, the plan names %s", s.Target.AppID, m.ID, s.Target.ID)
			}
			return Values{attrExpression: nonEmpty(m.Expression), attrPushStatus: nonEmpty(m.PushStatus)}, nil
		}
		au, err := t.Okta.AppUser(ctx, s.Target.AppID, s.Target.ID)
		if errors.Is(err, okta.ErrNotFound) {
			return Values{attrAssigned: Value("false")}, nil
		}
		if err != nil {
			return nil, err
		}
		return appUserValues(au), nil
	case "graph":
		if t.Graph == nil {
			return nil, fmt.Errorf("graph: %w", errNoTarget)
		}
		u, err := t.Graph.User(ctx, s.Target.ID)
		if err != nil {
			return nil, err
		}
		return Values{attrUPN: nonEmpty(u.UserPrincipalName), attrEntraAnchor: nonEmpty(u.ImmutableID),
			attrAccount: Value(fmt.Sprint(u.AccountEnabled))}, nil
	case "ad":
		if t.AD == nil {
			return nil, fmt.Errorf("ad: %w", errNoTarget)
		}
		raw, err := t.AD.ConsistencyGUID(ctx, s.Target.ID)
		if err != nil {
			return nil, err
		}
		return Values{attrConsistency: guidValue(raw)}, nil
	}
	return nil, fmt.Errorf("step %s: unknown target system %q", s.Kind, s.Target.System)
}

func appUserValues(au *okta.AppUserState) Values {
	return Values{attrAssigned: Value("true"), attrImmutableID: nonEmpty(au.ImmutableID),
		attrUserName: nonEmpty(au.UserName), attrLicenses: listValue(au.Licenses), attrRoles: listValue(au.Roles)}
}

// guidValue renders a raw ConsistencyGuid as the canonical GUID string a
// plan names it by; bytes that are no GUID are shown as such, so they never
// match a precondition by accident.
func guidValue(raw []byte) *string {
	if len(raw) == 0 {
		return nil
	}
	g, err := anchor.FromRaw(raw)
	if err != nil {
		return Value(fmt.Sprintf("not a GUID: %x", raw))
	}
	return Value(g.String())
}

func guidRaw(v *string) ([]byte, error) {
	if v == nil || *v == "" {
		return nil, nil
	}
	g, err := anchor.ParseGUID(*v)
	if err != nil {
		return nil, err
	}
	raw := g.Raw()
	return raw[:], nil
}

// afterValues are the values step s leaves on its target when it succeeds.
func afterValues(s *Step) Values {
	p := s.Params
	switch s.Kind {
	case OktaSetDeactivate:
		return Values{attrDeactivate: nonEmpty(p[attrDeactivate])}
	case OktaUpdateMapping:
		return Values{attrExpression: nonEmpty(p[attrExpression]), attrPushStatus: nonEmpty(p[attrPushStatus])}
	case OktaAssign:
		v := Values{attrAssigned: Value("true"), attrLicenses: Value(normalList(p[attrLicenses])), attrRoles: Value(normalList(p[attrRoles]))}
		if p[attrImmutableID] != "" {
			v[attrImmutableID] = Value(p[attrImmutableID])
		}
		return v
	case OktaUnassign:
		return Values{attrAssigned: Value("false")}
	case OktaSetAppUserAnchor:
		return Values{attrImmutableID: nonEmpty(p[attrImmutableID])}
	case GraphParkUPN, GraphRestoreUPN:
		return Values{attrUPN: nonEmpty(p[attrUPN])}
	case GraphSetAnchor:
		return Values{attrEntraAnchor: nonEmpty(p[attrEntraAnchor])}
	case ADSetConsistencyGUID:
		return Values{attrConsistency: nonEmpty(p[attrConsistency])}
	}
	return nil
}

// mutating reports whether a step kind changes a directory.
func mutating(k StepKind) bool { return k != Manual && k != Verify }

// errStale is a write the directory refused because the value changed
// under it (AD's compare-and-swap).
var errStale = errors.New("stale")

// execute performs step s, whose precondition holds, and returns the values
// it left (as reported by the directory where it says).
func (t *Targets) execute(ctx context.Context, s *Step, before Values) (Values, error) {
	p := s.Params
	after := before.with(afterValues(s))
	switch s.Kind {
	case OktaSetDeactivate:
		v := p[attrDeactivate]
		if v != "ENABLED" && v != "DISABLED" {
			return nil, fmt.Errorf("okta.set_deactivate: %s is %q, want ENABLED or DISABLED", attrDeactivate, v)
		}
		return after, t.Okta.SetDeactivateUsers(ctx, s.appID(), v == "ENABLED")
	case OktaUpdateMapping:
		m, err := t.Okta.SetImmutableIDMapping(ctx, s.Target.ID, p[attrExpression], p[attrPushStatus])
		if err != nil {
			return nil, err
		}
		return before.with(Values{attrExpression: nonEmpty(m.Expression), attrPushStatus: nonEmpty(m.PushStatus)}), nil
	case OktaAssign:
		lic, err := parseList(p[attrLicenses])
		if err != nil {
			return nil, fmt.Errorf("okta.assign: licenses: %w", err)
		}
		roles, err := parseList(p[attrRoles])
		if err != nil {
			return nil, fmt.Errorf("okta.assign: roles: %w", err)
		}
		au, err := t.Okta.Assign(ctx, s.Target.AppID, s.Target.ID, okta.AssignRequest{
			UserName: p[attrUserName], ImmutableID: p[attrImmutableID], Licenses: lic, Roles: roles})
		if err != nil {
			return nil, err
		}
		return appUserValues(au), nil
	case OktaUnassign:
		return Values{attrAssigned: Value("false")}, t.Okta.Unassign(ctx, s.Target.AppID, s.Target.ID)
	case OktaSetAppUserAnchor:
		au, err := t.Okta.SetAppUserImmutableID(ctx, s.Target.AppID, s.Target.ID, p[attrImmutableID])
		if err != nil {
			return nil, err
		}
		return appUserValues(au), nil
	case GraphParkUPN, GraphRestoreUPN:
		if p[attrUPN] == "" {
			return nil, fmt.Errorf("%s: the target userPrincipalName is empty", s.Kind)
		}
		return after, t.Graph.UpdateUser(ctx, s.Target.ID, entra.UserPatch{UserPrincipalName: p[attrUPN]})
	case GraphSetAnchor:
		patch := entra.UserPatch{ClearImmutableID: true}
		if v := p[attrEntraAnchor]; v != "" {
			patch = entra.UserPatch{ImmutableID: &v}
		}
		return after, t.Graph.UpdateUser(ctx, s.Target.ID, patch)
	case ADSetConsistencyGUID:
		old, err := guidRaw(before[attrConsistency])
		if err != nil {
			return nil, fmt.Errorf("ad.set_consistency_guid: current value: %w", err)
		}
		next, err := guidRaw(nonEmpty(p[attrConsistency]))
		if err != nil {
			return nil, fmt.Errorf("ad.set_consistency_guid: new value: %w", err)
		}
		err = t.AD.SwapConsistencyGUID(ctx, s.Target.ID, old, next)
		if errors.Is(err, ad.ErrStale) {
			return nil, fmt.Errorf("%w: %w", errStale, err)
		}
		return after, err
	}
	return nil, fmt.Errorf("step kind %q is not one apply can perform", s.Kind)
}
