package plan_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// scanned is a snapshot as Generate takes it, read back from a real
// database that the real collectors filled from the simulator.
type scanned struct {
	snap *store.Snapshot
	in   classify.Input
	res  classify.Result
}

var (
	tmpRoot     string
	exampleOnce sync.Once
	example     scanned
	exampleErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	tmpRoot, err = os.MkdirTemp("", "plan-test-")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// scanTenant runs demo.Run (simulator + real collectors + store) and reads
// the snapshot back the way `anchorscan plan` does.
func scanTenant(ctx context.Context, dir string, opts demo.Options) (scanned, error) {
	opts.OutDir, opts.ToolVersion = dir, "test"
	if _, err := demo.Run(ctx, opts); err != nil {
		return scanned{}, err
	}
	db, err := store.OpenReadOnly(ctx, filepath.Join(dir, "anchorscan.db"))
	if err != nil {
		return scanned{}, err
	}
	defer db.Close()
	id, err := db.LatestSnapshot(ctx)
	if err != nil {
		return scanned{}, err
	}
	var s scanned
	if s.snap, err = db.Snapshot(ctx, id); err != nil {
		return s, err
	}
	if s.in, err = db.LoadInput(ctx, id); err != nil {
		return s, err
	}
	s.res, err = db.Findings(ctx, id)
	return s, err
}

// exampleTenant is the example fixture scanned once for the package.
func exampleTenant(t *testing.T) scanned {
	t.Helper()
	exampleOnce.Do(func() {
		example, exampleErr = scanTenant(context.Background(), filepath.Join(tmpRoot, "example"),
			demo.Options{TenantFile: "../../testdata/example-tenant.json"})
	})
	if exampleErr != nil {
		t.Fatalf("scan the example fixture: %v", exampleErr)
	}
	return example
}

var planTime = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func generate(t *testing.T, s scanned, opts plan.GenerateOptions) *plan.Plan {
	t.Helper()
	opts.ToolVersion, opts.Now = "test", planTime
	p, err := plan.Generate(s.snap, s.in, s.res, opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return p
}

func identityByUPN(p *plan.Plan, upn string) *plan.Identity {
	for i := range p.Identities {
		if strings.EqualFold(p.Identities[i].UPN, upn) {
			return &p.Identities[i]
		}
	}
	return nil
}

func kinds(steps []plan.Step) []plan.StepKind {
	out := make([]plan.StepKind, len(steps))
	for i, s := range steps {
		out[i] = s.Kind
	}
	return out
}

func ptr(s string) *string { return &s }

func TestGenerateExampleScenarios(t *testing.T) {
	p := generate(t, exampleTenant(t), plan.GenerateOptions{})
	park := []plan.StepKind{plan.GraphParkUPN, plan.GraphSetAnchor, plan.GraphRestoreUPN}
	manual := []plan.StepKind{plan.Manual}
	// parkSteps checks the park → set → restore of one identity in full.
	parkSteps := func(entraID, upn, parked string, oldE *string, newE string) []plan.Step {
		return []plan.Step{
			{Kind: plan.GraphParkUPN, Target: plan.Target{System: "graph", ID: entraID},
				Params:       map[string]string{"userPrincipalName": parked},
				Precondition: map[string]*string{"userPrincipalName": ptr(upn), "onPremisesImmutableId": oldE},
				Compensation: &plan.Step{Kind: plan.GraphRestoreUPN, Target: plan.Target{System: "graph", ID: entraID},
					Params: map[string]string{"userPrincipalName": upn}, Precondition: map[string]*string{"userPrincipalName": ptr(parked)}}},
			{Kind: plan.GraphSetAnchor, Target: plan.Target{System: "graph", ID: entraID},
				Params:       map[string]string{"onPremisesImmutableId": newE},
				Precondition: map[string]*string{"userPrincipalName": ptr(parked), "onPremisesImmutableId": oldE},
				Compensation: &plan.Step{Kind: plan.GraphSetAnchor, Target: plan.Target{System: "graph", ID: entraID},
					Params: map[string]string{"onPremisesImmutableId": deref(oldE)}, Precondition: map[string]*string{"userPrincipalName": ptr(parked), "onPremisesImmutableId": ptr(newE)}}},
			{Kind: plan.GraphRestoreUPN, Target: plan.Target{System: "graph", ID: entraID},
				Params:       map[string]string{"userPrincipalName": upn},
				Precondition: map[string]*string{"userPrincipalName": ptr(parked), "onPremisesImmutableId": ptr(newE)}},
		}
	}
	const o365 = "0oarv2cjxy7hgdpplev4"
	oktaAnchor := func(oktaID string, from *string, to string) []plan.Step {
		return []plan.Step{{Kind: plan.OktaSetAppUserAnchor, Target: plan.Target{System: "okta", ID: oktaID, AppID: o365},
			Params: map[string]string{"immutableId": to}, Precondition: map[string]*string{"immutableId": from},
			Compensation: &plan.Step{Kind: plan.OktaSetAppUserAnchor, Target: plan.Target{System: "okta", ID: oktaID, AppID: o365},
				Params: map[string]string{"immutableId": deref(from)}, Precondition: map[string]*string{"immutableId": ptr(to)}}}}
	}
	tests := []struct {
		name     string
		upn      string
		scenario classify.Scenario
		kinds    []plan.StepKind
		steps    []plan.Step // compared without descriptions when set
	}{
		{name: "entra anchor stale parks, sets E := S, restores", upn: "stale-entra@contoso.example", scenario: classify.EntraAnchorStale, kinds: park,
			steps: parkSteps("dde595d1-1f2f-4ab6-b1f3-4342f5072214", "stale-entra@contoso.example", "stale-entra@contoso.onmicrosoft.com",
				ptr("Y0YhBxKH3USNlXjGk37Q8g=="), "l64N8PoC4UaCcBtcbcRYrg==")},
		{name: "missing AD anchor sets base64(objectGUID); Okta already sends it", upn: "missing-ad@contoso.example", scenario: classify.MissingAnchorAD, kinds: park,
			steps: parkSteps("c114eebb-09e3-4942-b26c-3e66de174407", "missing-ad@contoso.example", "missing-ad@contoso.onmicrosoft.com",
				nil, "aHt2NtsKCEGcuuIxkLeB5Q==")},
		{name: "missing cloud anchor sets the Okta user id Okta sends", upn: "missing-cloud@contoso.example", scenario: classify.MissingAnchorCloud, kinds: park,
			steps: parkSteps("3f85ff19-5420-4e8c-8d3d-38c7f3716324", "missing-cloud@contoso.example", "missing-cloud@contoso.onmicrosoft.com",
				nil, "00un2qvsh5pynh4377ty")},
		{name: "encoding mismatch with S expected rewrites Entra", upn: "encoded@contoso.example", scenario: classify.EncodingMismatch, kinds: park,
			steps: parkSteps("df09359e-99db-4191-bda8-d78217f04270", "encoded@contoso.example", "encoded@contoso.onmicrosoft.com",
				ptr("0c9e4327-97df-4af9-afa3-b17edeaf1d0f"), "J0OeDN+X+Uqvo7F+3q8dDw==")},
		{name: "empty Okta anchor gets E", upn: "empty-okta@contoso.example", scenario: classify.OktaAnchorEmpty,
			kinds: []plan.StepKind{plan.OktaSetAppUserAnchor},
			steps: oktaAnchor("00uzzkkizt57aktdndpx", nil, "LqbURWyR5kygrAw/APC+eA==")},
		{name: "synced user is fixed on the Okta side only", upn: "synced@contoso.example", scenario: classify.SyncManagedMismatch,
			kinds: []plan.StepKind{plan.OktaSetAppUserAnchor},
			steps: oktaAnchor("00uaakaotzvcshvepuxs", ptr("XrTZUJ/y8U+5YpHfDpDl2g=="), "RHt7qWMRnk6G5nVgM/uWjQ==")},
		{name: "stale assignment: unassign keeping licences, import by hand, verify, reassign", upn: "stale-okta@contoso.example", scenario: classify.OktaAssignmentStale,
			kinds: []plan.StepKind{plan.OktaUnassign, plan.Manual, plan.Verify, plan.OktaAssign}},
		{name: "unfederated UPN moves to the federated app username", upn: "wrong-domain@cloud.contoso.example", scenario: classify.UnfederatedUPN,
			kinds: []plan.StepKind{plan.GraphRestoreUPN},
			steps: []plan.Step{{Kind: plan.GraphRestoreUPN, Target: plan.Target{System: "graph", ID: "309adcc2-ad03-4d4e-bb02-ce5d12c782ee"},
				Params: map[string]string{"userPrincipalName": "wrong-domain@contoso.example"},
				Precondition: map[string]*string{"userPrincipalName": ptr("wrong-domain@cloud.contoso.example"),
					"onPremisesImmutableId": ptr("lP9PmrXP6k+jpYW40FAKtw==")}}}},
		{name: "not in Entra is review", upn: "not-in-entra@contoso.example", scenario: classify.NotInEntra, kinds: manual},
		{name: "not assigned is review", upn: "unassigned@contoso.example", scenario: classify.NotAssigned, kinds: manual},
		{name: "multiple AD sources is review", upn: "two-ad@contoso.example", scenario: classify.MultipleADSources, kinds: manual},
		{name: "orphan is review", upn: "orphan@contoso.example", scenario: classify.OrphanEntra, kinds: manual},
		{name: "conflict is review", upn: "dup-a@contoso.example", scenario: classify.AnchorConflict, kinds: manual},
		{name: "unknown mismatch is review", upn: "mystery@contoso.example", scenario: classify.UnknownMismatch, kinds: manual},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := identityByUPN(p, tc.upn)
			if id == nil {
				t.Fatalf("%s is not in the plan", tc.upn)
			}
			if id.Scenario != string(tc.scenario) {
				t.Errorf("scenario %s, want %s", id.Scenario, tc.scenario)
			}
			if diff := cmp.Diff(tc.kinds, kinds(id.Steps)); diff != "" {
				t.Fatalf("step kinds (-want +got):\n%s", diff)
			}
			if tc.steps != nil {
				if diff := cmp.Diff(tc.steps, withoutDescriptions(id.Steps)); diff != "" {
					t.Errorf("steps (-want +got):\n%s", diff)
				}
			}
			for _, s := range id.Steps {
				if s.Description == "" {
					t.Errorf("%s step has no description", s.Kind)
				}
			}
		})
	}

	t.Run("stale assignment keeps licences and checks E", func(t *testing.T) {
		id := identityByUPN(p, "stale-okta@contoso.example")
		unassign, verify, assign := id.Steps[0], id.Steps[2], id.Steps[3]
		if got := unassign.Params["licenses"]; got != `["ENTERPRISEPACK"]` {
			t.Errorf("unassign records licences %s", got)
		}
		if diff := cmp.Diff(map[string]*string{"assigned": ptr("true"), "immutableId": ptr("CttoHaq3W0ihNfuyQjwLOQ==")}, unassign.Precondition); diff != "" {
			t.Errorf("unassign precondition:\n%s", diff)
		}
		if verify.Params["immutableId"] != "AbYko/0jlUy6Ua9gFL8jQA==" || verify.Target.AppID != o365 {
			t.Errorf("verify = %+v", verify)
		}
		if assign.Params["licenses"] != `["ENTERPRISEPACK"]` || *assign.Precondition["immutableId"] != "AbYko/0jlUy6Ua9gFL8jQA==" || *assign.Precondition["assigned"] != "true" {
			t.Errorf("reassign = %+v", assign)
		}
		if !strings.Contains(id.Steps[1].Params["instructions"], "Import Now") {
			t.Errorf("manual step: %q", id.Steps[1].Params["instructions"])
		}
	})

	t.Run("OK and out of scope identities are absent", func(t *testing.T) {
		for _, upn := range []string{"ok-ad@contoso.example", "ok-cloud@contoso.example", "guest-partner_contoso.example#EXT#@contoso.onmicrosoft.com"} {
			if identityByUPN(p, upn) != nil {
				t.Errorf("%s is in the plan", upn)
			}
		}
		if len(p.Identities) != 15 {
			t.Errorf("%d identities, want 15 (17 findings less OK ×2 and OUT_OF_SCOPE)", len(p.Identities))
		}
	})

	t.Run("header", func(t *testing.T) {
		s := exampleTenant(t)
		want := plan.Plan{
			FormatVersion: plan.FormatVersion, ToolVersion: "test", CreatedAt: planTime.Truncate(time.Second),
			Snapshot: plan.SnapshotRef{ID: int64(s.snap.ID), ContentHash: s.snap.ContentHash},
			Tenants:  plan.Tenants{OktaOrg: "https://contoso.okta.com", EntraTenantID: s.in.EntraOrg.TenantID, ADDomains: []string{"corp.contoso.example"}},
			Settings: plan.Settings{ParkingDomain: "contoso.onmicrosoft.com", O365AppID: o365},
		}
		got := *p
		got.Identities, got.OrgSteps, got.OrgRestore, got.OrgReview, got.Seal = nil, nil, nil, nil, ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("plan header (-want +got):\n%s", diff)
		}
		if len(p.OrgSteps) != 0 || len(p.OrgRestore) != 0 {
			t.Errorf("org steps %v / %v, want none: Deactivate Users is off and the mapping is the recommended one", kinds(p.OrgSteps), kinds(p.OrgRestore))
		}
		if len(p.OrgReview) != 1 || !strings.Contains(p.OrgReview[0].Description, "per-instance") {
			t.Errorf("org review = %+v, want the per-instance expression for two AD instances", p.OrgReview)
		}
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func withoutDescriptions(steps []plan.Step) []plan.Step {
	out := make([]plan.Step, len(steps))
	for i, s := range steps {
		s.Description = ""
		if s.Compensation != nil {
			c := *s.Compensation
			c.Description = ""
			s.Compensation = &c
		}
		out[i] = s
	}
	return out
}

func TestGenerateFilters(t *testing.T) {
	s := exampleTenant(t)
	tests := []struct {
		name    string
		opts    plan.GenerateOptions
		want    []string // UPNs in the plan
		wantErr string
	}{
		{name: "one scenario", opts: plan.GenerateOptions{Scenarios: []string{"ENTRA_ANCHOR_STALE"}}, want: []string{"stale-entra@contoso.example"}},
		{name: "scenario codes ignore case", opts: plan.GenerateOptions{Scenarios: []string{"okta_anchor_empty", "SYNC_MANAGED_MISMATCH"}},
			want: []string{"empty-okta@contoso.example", "synced@contoso.example"}},
		{name: "only UPNs, ignoring case", opts: plan.GenerateOptions{Only: []string{"STALE-Entra@Contoso.Example", "missing-ad@contoso.example"}},
			want: []string{"missing-ad@contoso.example", "stale-entra@contoso.example"}},
		{name: "scenario and only combine", opts: plan.GenerateOptions{Scenarios: []string{"MISSING_ANCHOR_AD"}, Only: []string{"stale-entra@contoso.example"}}, want: []string{}},
		{name: "only an OK identity plans nothing", opts: plan.GenerateOptions{Only: []string{"ok-ad@contoso.example"}}, want: []string{}},
		{name: "unknown scenario", opts: plan.GenerateOptions{Scenarios: []string{"STALE"}}, wantErr: `--scenario "STALE" is not a scenario code`},
		{name: "OK is not fixable", opts: plan.GenerateOptions{Scenarios: []string{"OK"}}, wantErr: "need no fix"},
		{name: "unknown UPN", opts: plan.GenerateOptions{Only: []string{"nobody@contoso.example"}}, wantErr: `no identity of the snapshot has the UPN "nobody@contoso.example"`},
		{name: "federated parking domain", opts: plan.GenerateOptions{ParkingDomain: "contoso.example"}, wantErr: "is federated"},
		{name: "foreign parking domain", opts: plan.GenerateOptions{ParkingDomain: "fabrikam.onmicrosoft.com"}, wantErr: "not a domain of the Entra tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = planTime
			p, err := plan.Generate(s.snap, s.in, s.res, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, id := range p.Identities {
				got = append(got, id.UPN)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("identities (-want +got):\n%s", diff)
			}
			if len(p.OrgReview) != 0 {
				t.Errorf("a filtered plan without MULTIPLE_AD_SOURCES carries org review %v", p.OrgReview)
			}
		})
	}
}

func TestGenerateRefusesPartialSnapshot(t *testing.T) {
	s := exampleTenant(t)
	partial := *s.snap
	partial.Sources = append([]record.SourceRun(nil), s.snap.Sources...)
	for i := range partial.Sources {
		if partial.Sources[i].Source == record.SourceEntra {
			partial.Sources[i].Status = record.StatusPartial
		}
	}
	_, err := plan.Generate(&partial, s.in, s.res, plan.GenerateOptions{Now: planTime})
	if !errors.Is(err, plan.ErrPartialSnapshot) {
		t.Fatalf("err = %v, want ErrPartialSnapshot", err)
	}
	for _, want := range []string{"entra is partial", "rescan", "--allow-partial"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := plan.Generate(&partial, s.in, s.res, plan.GenerateOptions{Now: planTime, AllowPartial: true}); err != nil {
		t.Errorf("with AllowPartial: %v", err)
	}
	unfinished := *s.snap
	unfinished.EndedAt = time.Time{}
	if _, err := plan.Generate(&unfinished, s.in, s.res, plan.GenerateOptions{Now: planTime, AllowPartial: true}); !errors.Is(err, plan.ErrPartialSnapshot) {
		t.Errorf("an unfinished snapshot: err = %v, want ErrPartialSnapshot even with AllowPartial", err)
	}
}

// The tenant-wide steps: with Deactivate Users on and the default mapping
// pushed on every update, the plan turns Deactivate Users off before the
// unassign and back on after, and fixes the mapping once.
func TestGenerateOrgSteps(t *testing.T) {
	s := exampleTenant(t)
	in := s.in
	in.OktaApps = append([]record.OktaApp(nil), s.in.OktaApps...)
	var appID, mappingID string
	for i := range in.OktaApps {
		if in.OktaApps[i].Name == "office365" {
			in.OktaApps[i].DeactivateUsers = "ENABLED"
			in.OktaApps[i].ImmutableIDExpression = classify.ExpressionDefault
			in.OktaApps[i].ImmutableIDPushStatus = "PUSH"
			appID, mappingID = in.OktaApps[i].ID, in.OktaApps[i].MappingID
		}
	}
	if mappingID == "" {
		t.Fatal("the example's Office 365 app has no mapping id in the snapshot")
	}
	res := classify.Classify(in, classify.Options{})

	p, err := plan.Generate(s.snap, in, res, plan.GenerateOptions{Now: planTime})
	if err != nil {
		t.Fatal(err)
	}
	want := []plan.Step{
		{Kind: plan.OktaUpdateMapping, Target: plan.Target{System: "okta", ID: mappingID, AppID: appID},
			Params:       map[string]string{"expression": classify.ExpressionRecommended, "pushStatus": "DONT_PUSH"},
			Precondition: map[string]*string{"expression": ptr(classify.ExpressionDefault), "pushStatus": ptr("PUSH")},
			Compensation: &plan.Step{Kind: plan.OktaUpdateMapping, Target: plan.Target{System: "okta", ID: mappingID, AppID: appID},
				Params:       map[string]string{"expression": classify.ExpressionDefault, "pushStatus": "PUSH"},
				Precondition: map[string]*string{"expression": ptr(classify.ExpressionRecommended), "pushStatus": ptr("DONT_PUSH")}}},
		{Kind: plan.OktaSetDeactivate, Target: plan.Target{System: "okta", ID: appID, AppID: appID},
			Params: map[string]string{"lifecycleDeactivate": "DISABLED"}, Precondition: map[string]*string{"lifecycleDeactivate": ptr("ENABLED")},
			Compensation: &plan.Step{Kind: plan.OktaSetDeactivate, Target: plan.Target{System: "okta", ID: appID, AppID: appID},
				Params: map[string]string{"lifecycleDeactivate": "ENABLED"}, Precondition: map[string]*string{"lifecycleDeactivate": ptr("DISABLED")}}},
	}
	// The deactivate guard is added while identities are planned, the mapping after.
	got := withoutDescriptions(p.OrgSteps)
	if len(got) == 2 && got[0].Kind == plan.OktaSetDeactivate {
		got[0], got[1] = got[1], got[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("org steps (-want +got):\n%s", diff)
	}
	wantRestore := []plan.Step{{Kind: plan.OktaSetDeactivate, Target: plan.Target{System: "okta", ID: appID, AppID: appID},
		Params: map[string]string{"lifecycleDeactivate": "ENABLED"}, Precondition: map[string]*string{"lifecycleDeactivate": ptr("DISABLED")}}}
	if diff := cmp.Diff(wantRestore, withoutDescriptions(p.OrgRestore)); diff != "" {
		t.Errorf("org restore (-want +got):\n%s", diff)
	}

	// Fixing one Entra anchor changes nothing tenant-wide.
	one, err := plan.Generate(s.snap, in, res, plan.GenerateOptions{Now: planTime, Only: []string{"stale-entra@contoso.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.OrgSteps)+len(one.OrgRestore) != 0 {
		t.Errorf("a plan for one ENTRA_ANCHOR_STALE identity has org steps %v, %v", kinds(one.OrgSteps), kinds(one.OrgRestore))
	}
	// A stale assignment alone still brings its guard.
	stale, err := plan.Generate(s.snap, in, res, plan.GenerateOptions{Now: planTime, Scenarios: []string{"OKTA_ASSIGNMENT_STALE"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]plan.StepKind{plan.OktaSetDeactivate}, kinds(stale.OrgSteps)); diff != "" {
		t.Errorf("OKTA_ASSIGNMENT_STALE plan org steps (-want +got):\n%s", diff)
	}
}

// Two people parked on one domain must not collide, nor take a UPN in use.
func TestGenerateParkedUPNsAreUnique(t *testing.T) {
	s := exampleTenant(t)
	in := s.in
	in.EntraUsers = append(append([]record.EntraUser(nil), s.in.EntraUsers...), record.EntraUser{
		ID: "0f0e0d0c-0b0a-4909-8807-060504030201", UserPrincipalName: "Stale-Entra@contoso.onmicrosoft.com", UserType: "Member",
	})
	p, err := plan.Generate(s.snap, in, s.res, plan.GenerateOptions{Now: planTime})
	if err != nil {
		t.Fatal(err)
	}
	id := identityByUPN(p, "stale-entra@contoso.example")
	got := id.Steps[0].Params["userPrincipalName"]
	if want := "stale-entra-dde595d1@contoso.onmicrosoft.com"; got != want {
		t.Errorf("parked UPN %q, want %q (the plain one is taken)", got, want)
	}
	seen := map[string]string{}
	for _, id := range p.Identities {
		for _, st := range id.Steps {
			if st.Kind != plan.GraphParkUPN {
				continue
			}
			u := strings.ToLower(st.Params["userPrincipalName"])
			if other, dup := seen[u]; dup {
				t.Errorf("%s and %s both park on %s", other, id.UPN, u)
			}
			seen[u] = id.UPN
		}
	}
}

func TestPlanFileSealRoundTrip(t *testing.T) {
	p := generate(t, exampleTenant(t), plan.GenerateOptions{})
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := report.WriteFileAtomic(path, p.Write); err != nil {
		t.Fatal(err)
	}
	got, err := plan.ReadFile(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("plan changed through its file (-wrote +read):\n%s", diff)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// One byte of one anchor: Y0Yh… → Z0Yh…, still valid JSON.
	i := strings.Index(string(data), "Y0YhBxKH3USNlXjGk37Q8g==")
	if i < 0 {
		t.Fatal("the plan file does not hold stale-entra's E")
	}
	edited := append([]byte(nil), data...)
	edited[i] = 'Z'
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.ReadFile(path); !errors.Is(err, plan.ErrAltered) {
		t.Errorf("a one-byte edit: err = %v, want ErrAltered", err)
	}
}

// A generated tenant of 5,000 identities: every identity that needs a fix is
// planned, scenario by scenario.
func TestGenerateGeneratedTenant(t *testing.T) {
	s, err := scanTenant(context.Background(), filepath.Join(tmpRoot, "generated"), demo.Options{Users: 5000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p := generate(t, s, plan.GenerateOptions{})
	t.Logf("planned %d of %d identities in %v", len(p.Identities), len(s.res.Identities), time.Since(start))

	want := map[string]int{}
	for _, f := range s.res.Identities {
		if f.Scenario != classify.OK && f.Scenario != classify.OutOfScope {
			want[string(f.Scenario)]++
		}
	}
	got := map[string]int{}
	fixable := map[string]bool{
		"MISSING_ANCHOR_AD": true, "MISSING_ANCHOR_CLOUD": true, "ENTRA_ANCHOR_STALE": true, "OKTA_ASSIGNMENT_STALE": true,
		"ENCODING_MISMATCH": true, "OKTA_ANCHOR_EMPTY": true, "SYNC_MANAGED_MISMATCH": true, "UNFEDERATED_UPN": true,
	}
	for _, id := range p.Identities {
		got[id.Scenario]++
		if fixable[id.Scenario] && id.Steps[0].Kind == plan.Manual {
			t.Errorf("%s (%s) starts with a manual step: %s", id.UPN, id.Scenario, id.Steps[0].Description)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identities per scenario (-findings +plan):\n%s", diff)
	}
	if len(want) < 14 {
		t.Errorf("the generated tenant has only %d scenarios needing a fix: %v", len(want), want)
	}
	if _, err := plan.Read(strings.NewReader(mustJSON(t, p))); err != nil {
		t.Errorf("the 5,000-identity plan does not read back: %v", err)
	}
}

func mustJSON(t *testing.T, p *plan.Plan) string {
	t.Helper()
	var b strings.Builder
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
