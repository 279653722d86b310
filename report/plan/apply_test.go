package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

const exampleFixture = "../../testdata/example-tenant.json"

// rig is a simulated tenant, scanned into a fresh database, with a plan
// generated from the scan and the write adapters pointed at the simulator.
type rig struct {
	servers *sim.Servers
	db      *store.DB
	targets Targets
	plan    *Plan
	before  classify.Result
	// graphRequests counts requests the Graph transport saw, by method.
	graphTransport *countingTransport
	// initial is the Entra users as they were before any apply, by id.
	initial map[string]sim.EntraUser
}

type countingTransport struct {
	next http.RoundTripper
	// throttleNext, when positive, answers that many PATCH requests 429.
	throttleNext atomic.Int32
	patches      atomic.Int32
	throttled    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		c.patches.Add(1)
		if c.throttleNext.Add(-1) >= 0 {
			c.throttled.Add(1)
			if r.Body != nil {
				r.Body.Close()
			}
			h := http.Header{}
			h.Set("Retry-After", "1")
			h.Set("Content-Type", "application/json")
			body := `{"error":{"code":"TooManyRequests","message":"Too many requests are being made. Please retry later."}}`
			return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests", Header: h,
				Body: ioNopCloser(body), ContentLength: int64(len(body)), Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
		}
	}
	return c.next.RoundTrip(r)
}

type stringBody struct{ *strings.Reader }

func (stringBody) Close() error { return nil }

func ioNopCloser(s string) stringBody { return stringBody{strings.NewReader(s)} }

func loadExample(t *testing.T) *sim.Tenant {
	t.Helper()
	tenant, err := sim.LoadFixtureFile(exampleFixture)
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

func newRig(t *testing.T, tenant *sim.Tenant) *rig {
	t.Helper()
	ctx := context.Background()
	servers, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { servers.Close() })
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "anchorscan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &rig{servers: servers, db: db, initial: map[string]sim.EntraUser{}}
	servers.State.Read(func(tn *sim.Tenant) {
		for _, u := range tn.Entra.Users {
			r.initial[u.ID] = u
		}
	})
	r.targets = r.newTargets(t)
	r.before = r.scan(t)
	snapID, err := db.LatestSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := db.Snapshot(ctx, snapID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := db.LoadInput(ctx, snapID)
	if err != nil {
		t.Fatal(err)
	}
	r.plan, err = Generate(snap, in, r.before, GenerateOptions{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) newTargets(t *testing.T) Targets {
	t.Helper()
	s := r.servers
	var tenantID, org string
	s.State.Read(func(tn *sim.Tenant) { tenantID, org = tn.Entra.TenantID, tn.Okta.Org })
	oktaAdmin, err := okta.NewAdmin(okta.Config{OrgURL: s.OktaURL, Token: s.OktaToken, HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	hc := s.HTTPClient()
	r.graphTransport = &countingTransport{next: hc.Transport}
	hc.Transport = r.graphTransport
	graphAdmin, err := entra.NewAdmin(entra.Config{TenantID: tenantID, BaseURL: s.GraphURL, Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	adAdmin, err := ad.NewAdmin(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adAdmin.Close() })
	return Targets{Okta: oktaAdmin, Graph: graphAdmin, AD: adAdmin, Tenants: Tenants{OktaOrg: org, EntraTenantID: tenantID}}
}

// scan snapshots the simulator with the real collectors and classifies.
func (r *rig) scan(t *testing.T) classify.Result {
	t.Helper()
	s := r.servers
	var tenantID, org string
	s.State.Read(func(tn *sim.Tenant) { tenantID, org = tn.Entra.TenantID, tn.Okta.Org })
	oktaSrc, err := okta.New(okta.Config{OrgURL: s.OktaURL, Token: s.OktaToken, HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	entraSrc, err := entra.New(entra.Config{TenantID: tenantID, BaseURL: s.GraphURL, Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	adSrc, err := ad.New(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), r.db, []scan.Source{oktaSrc, entraSrc, adSrc}, scan.Options{ToolVersion: "test", OktaOrg: org})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete() {
		t.Fatalf("scan incomplete: %+v", res.Sources)
	}
	return res.Findings
}

// tenantJSON is the simulator's state, for comparing runs.
func (r *rig) tenantJSON(t *testing.T) []byte {
	t.Helper()
	var b []byte
	var err error
	r.servers.State.Read(func(tn *sim.Tenant) { b, err = json.Marshal(tn) })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *rig) apply(t *testing.T, opts ApplyOptions) *Outcome {
	t.Helper()
	out, err := Apply(context.Background(), r.plan, r.targets, r.db, opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return out
}

func scenarioOf(res classify.Result) map[string]classify.Scenario {
	m := map[string]classify.Scenario{}
	for _, f := range res.Identities {
		m[IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)] = f.Scenario
	}
	return m
}

func findingByUPN(res classify.Result, upn string) *classify.Finding {
	for i := range res.Identities {
		if strings.EqualFold(res.Identities[i].UPN, upn) {
			return &res.Identities[i]
		}
	}
	return nil
}

// fixable are the scenarios a plan fixes without a person's judgement.
var fixable = map[classify.Scenario]bool{
	classify.MissingAnchorAD: true, classify.MissingAnchorCloud: true, classify.EntraAnchorStale: true,
	classify.OktaAssignmentStale: true, classify.EncodingMismatch: true, classify.OktaAnchorEmpty: true,
	classify.SyncManagedMismatch: true, classify.UnfederatedUPN: true,
}

func identityByScenario(t *testing.T, p *Plan, scenario classify.Scenario) *Identity {
	t.Helper()
	for i := range p.Identities {
		if p.Identities[i].Scenario == string(scenario) {
			return &p.Identities[i]
		}
	}
	t.Fatalf("plan has no %s identity", scenario)
	return nil
}

func outcomeOf(t *testing.T, out *Outcome, key string) IdentityOutcome {
	t.Helper()
	for _, o := range out.Identities {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no outcome for %s", key)
	return IdentityOutcome{}
}

// The whole workflow on the example fixture: apply, the console import,
// apply again, rescan. Every fixable identity ends OK, the OK ones are
// untouched, nobody is disabled, unlicensed or parked.
func TestApplyFixesExampleFixture(t *testing.T) {
	r := newRig(t, loadExample(t))
	before := r.before
	var progress bytes.Buffer
	first := r.apply(t, ApplyOptions{Progress: &progress})
	if first.Failed != 0 || first.Stale != 0 {
		t.Fatalf("first run: %s\n%+v", first.Summary(), first.Identities)
	}
	stale := identityByScenario(t, r.plan, classify.OktaAssignmentStale)
	if o := outcomeOf(t, first, stale.Key); o.Result != ResultWaiting || o.Kind != Manual {
		t.Errorf("OKTA_ASSIGNMENT_STALE after the first run: %s at %s, want waiting at the manual import", o.Result, o.Kind)
	}
	if !strings.Contains(progress.String(), "identities (applied") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	if _, err := r.servers.State.ImportO365(); err != nil {
		t.Fatal(err)
	}
	second := r.apply(t, ApplyOptions{})
	if o := outcomeOf(t, second, stale.Key); o.Result != ResultApplied {
		t.Errorf("OKTA_ASSIGNMENT_STALE after the import: %s (%s), want applied", o.Result, o.Error)
	}
	if second.Applied == 0 || second.AlreadyDone == 0 || second.Failed != 0 {
		t.Errorf("second run: %s", second.Summary())
	}
	after := scenarioOf(r.scan(t))
	for _, f := range before.Identities {
		key := IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)
		switch {
		case fixable[f.Scenario] && after[key] != classify.OK:
			t.Errorf("%s (%s) classifies %s after apply, want OK", f.UPN, f.Scenario, after[key])
		case f.Scenario == classify.OK && after[key] != classify.OK:
			t.Errorf("%s was OK and is %s after apply", f.UPN, after[key])
		}
	}
	checkNobodyHarmed(t, r)
	var table bytes.Buffer
	if err := second.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "waiting on manual") {
		t.Errorf("final table lacks the counts:\n%s", table.String())
	}
}

// checkNobodyHarmed: no Entra user disabled or unlicensed by the apply,
// nobody moved onto the parking domain.
func checkNobodyHarmed(t *testing.T, r *rig) {
	t.Helper()
	parking := "@" + strings.ToLower(r.plan.Settings.ParkingDomain)
	r.servers.State.Read(func(tn *sim.Tenant) {
		for _, u := range tn.Entra.Users {
			was := r.initial[u.ID]
			if strings.HasSuffix(strings.ToLower(u.UserPrincipalName), parking) && !strings.HasSuffix(strings.ToLower(was.UserPrincipalName), parking) {
				t.Errorf("%s (was %s) is on the parking domain", u.UserPrincipalName, was.UserPrincipalName)
			}
			if was.AccountEnabled && !u.AccountEnabled {
				t.Errorf("%s was disabled", u.UserPrincipalName)
			}
			if len(u.AssignedLicenses) < len(was.AssignedLicenses) {
				t.Errorf("%s lost licences: %v → %v", u.UserPrincipalName, was.AssignedLicenses, u.AssignedLicenses)
			}
		}
	})
}

func reseal(t *testing.T, p *Plan) {
	t.Helper()
	if err := p.SealPlan(); err != nil {
		t.Fatal(err)
	}
}

func TestApplyRefusesForeignOrAlteredPlan(t *testing.T) {
	r := newRig(t, loadExample(t))
	state := r.tenantJSON(t)
	tests := []struct {
		name    string
		mutate  func(p *Plan, tg *Targets)
		wantErr error
		wantMsg string
	}{
		{"other Entra tenant", func(p *Plan, _ *Targets) {
			p.Tenants.EntraTenantID = "00000000-0000-0000-0000-000000000001"
			reseal(t, p)
		},
			ErrForeignPlan, "Entra tenant"},
		{"other Okta org", func(p *Plan, _ *Targets) { p.Tenants.OktaOrg = "https://fabrikam.okta.com"; reseal(t, p) },
			ErrForeignPlan, "Okta org"},
		{"configuration names no tenant", func(_ *Plan, tg *Targets) { tg.Tenants = Tenants{} }, ErrForeignPlan, "configuration reaches"},
		{"altered after sealing", func(p *Plan, _ *Targets) { p.Identities[0].Steps[0].Params["x"] = "y" }, ErrAltered, "altered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(r.plan)
			var p Plan
			if err := json.Unmarshal(data, &p); err != nil {
				t.Fatal(err)
			}
			tg := r.targets
			tc.mutate(&p, &tg)
			_, err := Apply(context.Background(), &p, tg, r.db, ApplyOptions{})
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Apply = %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
	if !bytes.Equal(state, r.tenantJSON(t)) {
		t.Error("a refused plan changed the tenant")
	}
	if j, _ := r.db.Journal(context.Background(), r.plan.Seal); len(j) != 0 {
		t.Errorf("a refused plan left %d journal entries", len(j))
	}
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	r := newRig(t, loadExample(t))
	state := r.tenantJSON(t)
	out := r.apply(t, ApplyOptions{DryRun: true})
	if !bytes.Equal(state, r.tenantJSON(t)) {
		t.Error("a dry run changed the simulated tenant")
	}
	if j, _ := r.db.Journal(context.Background(), r.plan.Seal); len(j) != 0 {
		t.Errorf("a dry run wrote %d journal entries", len(j))
	}
	if out.WouldApply == 0 || out.Stale != 0 || out.Failed != 0 {
		t.Fatalf("dry run: %s", out.Summary())
	}
	// The chain park → set → restore is checked step by step against the
	// values the earlier steps would leave.
	id := identityByScenario(t, r.plan, classify.EntraAnchorStale)
	o := outcomeOf(t, out, id.Key)
	if o.Result != ResultWouldApply || len(o.WouldRun) != len(id.Steps) {
		t.Errorf("ENTRA_ANCHOR_STALE dry run: %s, would run %q; want all %d steps", o.Result, o.WouldRun, len(id.Steps))
	}
}

// Targets changed between plan and apply are exactly the ones skipped, each
// with expected and found; the rest are applied.
func TestApplySkipsStaleIdentitiesOnly(t *testing.T) {
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 2000, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, tenant)
	// Another admin changes 5% of the targets between plan and apply: the
	// Entra anchor of every twentieth identity whose first step is a Graph
	// step, the Okta anchor of every twentieth with an Okta first step.
	changed := map[string]string{}
	n := 0
	err = r.servers.State.Update(func(tn *sim.Tenant) error {
		for _, id := range r.plan.Identities {
			s := id.Steps[0]
			if !mutating(s.Kind) {
				continue
			}
			n++
			if n%20 != 0 {
				continue
			}
			switch {
			case s.Target.System == "graph":
				for i := range tn.Entra.Users {
					if tn.Entra.Users[i].ID == s.Target.ID {
						v := "changedByAnotherAdmin" + fmt.Sprint(n) + "=="
						tn.Entra.Users[i].OnPremisesImmutableID = &v
						changed[id.Key] = attrEntraAnchor
					}
				}
			case s.Kind == OktaSetAppUserAnchor || s.Kind == OktaUnassign:
				for i := range tn.Okta.AppUsers {
					au := &tn.Okta.AppUsers[i]
					if au.UserID == s.Target.ID && au.AppID == s.Target.AppID {
						v := "changedInOkta" + fmt.Sprint(n) + "=="
						au.Profile.ImmutableID = &v
						changed[id.Key] = attrImmutableID
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) < 5 {
		t.Fatalf("only %d identities changed; the tenant is too small", len(changed))
	}
	out := r.apply(t, ApplyOptions{Concurrency: 8})
	for _, o := range out.Identities {
		attr, wasChanged := changed[o.Key]
		switch {
		case wasChanged && o.Result != ResultStale:
			t.Errorf("%s was changed but is %s", o.UPN, o.Result)
		case wasChanged && (o.Expected[attr] == nil && o.Found[attr] == nil || !strings.Contains(o.Error, "found")):
			t.Errorf("%s: stale without expected and found values: %+v %+v %q", o.UPN, o.Expected, o.Found, o.Error)
		case !wasChanged && o.Result == ResultStale:
			t.Errorf("%s was not changed but is stale: %s", o.UPN, o.Error)
		case !wasChanged && o.Result == ResultFailed:
			t.Errorf("%s failed: %s", o.UPN, o.Error)
		}
	}
	if out.Stale != len(changed) {
		t.Errorf("stale = %d, changed = %d", out.Stale, len(changed))
	}
	checkNobodyHarmed(t, r)
}

// With Deactivate Users ENABLED, the plan turns it off before unassigning
// and back on after; a plan without that guard has its unassigns refused.
func TestApplyGuardsDeactivateUsers(t *testing.T) {
	enable := func(t *testing.T) *sim.Tenant {
		tn := loadExample(t)
		for i := range tn.Okta.Apps {
			if tn.Okta.Apps[i].Name == "office365" {
				tn.Okta.Apps[i].DeactivateUsers = "ENABLED"
			}
		}
		return tn
	}
	tests := []struct {
		name        string
		dropGuard   bool
		wantUnassig string
	}{
		{"plan turns it off and restores it", false, ResultWaiting},
		{"plan without the guard is refused", true, ResultFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, enable(t))
			if len(r.plan.OrgSteps) == 0 || len(r.plan.OrgRestore) == 0 {
				t.Fatalf("the plan has no Deactivate Users guard: %+v", r.plan.OrgSteps)
			}
			if tc.dropGuard {
				r.plan.OrgSteps, r.plan.OrgRestore = []Step{}, []Step{}
				reseal(t, r.plan)
			}
			enabledBefore := enabledUsers(r)
			out := r.apply(t, ApplyOptions{})
			id := identityByScenario(t, r.plan, classify.OktaAssignmentStale)
			o := outcomeOf(t, out, id.Key)
			if o.Result != tc.wantUnassig {
				t.Errorf("OKTA_ASSIGNMENT_STALE: %s (%s), want %s", o.Result, o.Error, tc.wantUnassig)
			}
			if tc.dropGuard && !strings.Contains(o.Error, "Deactivate Users is ENABLED") {
				t.Errorf("refusal does not say why: %q", o.Error)
			}
			if got := enabledUsers(r); got != enabledBefore {
				t.Errorf("enabled Entra users: %d before, %d after: an unassign deprovisioned someone", enabledBefore, got)
			}
			r.servers.State.Read(func(tn *sim.Tenant) {
				for _, a := range tn.Okta.Apps {
					if a.Name == "office365" && a.DeactivateUsers != "ENABLED" {
						t.Errorf("Deactivate Users is %s after apply, want ENABLED restored", a.DeactivateUsers)
					}
				}
			})
		})
	}
}

func enabledUsers(r *rig) int {
	n := 0
	r.servers.State.Read(func(tn *sim.Tenant) {
		for _, u := range tn.Entra.Users {
			if u.AccountEnabled && len(u.AssignedLicenses) >= 0 {
				n++
			}
		}
	})
	return n
}

// failingGraph refuses to set an anchor, after the UPN has been parked.
type failingGraph struct {
	GraphTarget
	failures atomic.Int32
}

func (f *failingGraph) UpdateUser(ctx context.Context, id string, p entra.UserPatch) error {
	if p.ImmutableID != nil || p.ClearImmutableID {
		f.failures.Add(1)
		return errors.New("injected: Graph refused the anchor")
	}
	return f.GraphTarget.UpdateUser(ctx, id, p)
}

func TestApplyCompensatesFailureAfterPark(t *testing.T) {
	r := newRig(t, loadExample(t))
	fg := &failingGraph{GraphTarget: r.targets.Graph}
	r.targets.Graph = fg
	out := r.apply(t, ApplyOptions{})
	id := identityByScenario(t, r.plan, classify.EntraAnchorStale)
	if id.Steps[0].Kind != GraphParkUPN {
		t.Fatalf("ENTRA_ANCHOR_STALE does not start by parking: %s", id.Steps[0].Kind)
	}
	o := outcomeOf(t, out, id.Key)
	if o.Result != ResultFailed || !o.Compensated || o.Kind != GraphSetAnchor {
		t.Errorf("outcome %+v, want failed at set_anchor and compensated", o)
	}
	if fg.failures.Load() == 0 {
		t.Fatal("no anchor write was attempted")
	}
	checkNobodyHarmed(t, r)
	// The journal shows the park, the failure and the compensation, and
	// a later run with a working Graph starts the identity over.
	j, err := r.db.Journal(context.Background(), r.plan.Seal)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range j {
		if e.IdentityKey == id.Key {
			kinds = append(kinds, fmt.Sprintf("%d:%s:%s:%v", e.StepIndex, e.Kind, e.Result, e.Compensation))
		}
	}
	want := []string{"0:graph.park_upn:applied:false", "1:graph.set_anchor:failed:false", "0:graph.restore_upn:applied:true"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("journal of the identity:\n got %q\nwant %q", kinds, want)
	}
	r.targets.Graph = fg.GraphTarget
	again := r.apply(t, ApplyOptions{})
	if o := outcomeOf(t, again, id.Key); o.Result != ResultApplied {
		t.Errorf("re-run after compensation: %s (%s), want applied", o.Result, o.Error)
	}
	checkNobodyHarmed(t, r)
}

// cancellingOkta and cancellingGraph cancel the run after a number of
// writes, as a crash would stop it: the write in flight completes, nothing
// after it runs, and the journal entries are left as they are.
type crashAfter struct {
	mu     sync.Mutex
	writes int
	after  int
	cancel context.CancelFunc
}

// write counts a write and reports whether it was the one the crash hit.
func (c *crashAfter) write() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.writes == c.after {
		c.cancel()
		return true
	}
	return false
}

type crashingGraph struct {
	GraphTarget
	c *crashAfter
}

func (g crashingGraph) UpdateUser(ctx context.Context, id string, p entra.UserPatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := g.GraphTarget.UpdateUser(ctx, id, p)
	g.c.write()
	return err
}

type crashingOkta struct {
	OktaTarget
	c *crashAfter
}

func (o crashingOkta) SetAppUserImmutableID(ctx context.Context, appID, userID, value string) (*okta.AppUserState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := o.OktaTarget.SetAppUserImmutableID(ctx, appID, userID, value)
	if o.c.write() && err == nil {
		// The write happened but its answer is lost, as in a crash.
		return nil, context.Canceled
	}
	return s, err
}

func normalisedState(t *testing.T, r *rig) string {
	t.Helper()
	var tn sim.Tenant
	if err := json.Unmarshal(r.tenantJSON(t), &tn); err != nil {
		t.Fatal(err)
	}
	for i := range tn.Okta.AppUsers {
		tn.Okta.AppUsers[i].AppUserID = "" // fresh random ids on every assignment
	}
	b, _ := json.Marshal(tn)
	return string(b)
}

// A run interrupted after N writes and run again ends in the state of an
// uninterrupted run, for several N, with nobody left parked.
func TestApplyResumesAfterInterruption(t *testing.T) {
	ref := newRig(t, loadExample(t))
	ref.apply(t, ApplyOptions{})
	want := normalisedState(t, ref)

	for _, n := range []int{1, 2, 3, 5, 8} {
		t.Run(fmt.Sprintf("after %d writes", n), func(t *testing.T) {
			r := newRig(t, loadExample(t))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &crashAfter{after: n, cancel: cancel}
			tg := r.targets
			tg.Graph = crashingGraph{GraphTarget: r.targets.Graph, c: c}
			tg.Okta = crashingOkta{OktaTarget: r.targets.Okta, c: c}
			out, err := Apply(ctx, r.plan, tg, r.db, ApplyOptions{Concurrency: 1})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Apply = %v, want context.Canceled", err)
			}
			if out.Interrupted == 0 {
				t.Errorf("no identity reported interrupted: %s", out.Summary())
			}
			again := r.apply(t, ApplyOptions{})
			if again.Failed != 0 || again.Stale != 0 {
				var tbl bytes.Buffer
				again.WriteTable(&tbl)
				t.Fatalf("resumed run: %s\n%s", again.Summary(), tbl.String())
			}
			if got := normalisedState(t, r); got != want {
				t.Errorf("state after resuming differs from an uninterrupted run")
			}
			checkNobodyHarmed(t, r)
		})
	}
}

func TestApplyLimitAndApprovals(t *testing.T) {
	r := newRig(t, loadExample(t))
	var mutable []string
	for _, id := range r.plan.Identities {
		if mutating(id.Steps[0].Kind) {
			mutable = append(mutable, id.Key)
		}
	}
	out := r.apply(t, ApplyOptions{Limit: 2, Approved: map[string]bool{mutable[0]: true, mutable[1]: true, mutable[2]: true}})
	if got := out.Applied + out.Waiting + out.Failed + out.Stale; got != 2 {
		t.Errorf("--limit 2 worked on %d identities: %s", got, out.Summary())
	}
	if out.Deferred != 1 || out.NotApproved != len(r.plan.Identities)-3 {
		t.Errorf("deferred %d, not approved %d; want 1 and %d", out.Deferred, out.NotApproved, len(r.plan.Identities)-3)
	}
}

// Writes are spaced by WritesPerSecond across all identities.
func TestApplyPacesWrites(t *testing.T) {
	r := newRig(t, loadExample(t))
	start := time.Now()
	out := r.apply(t, ApplyOptions{WritesPerSecond: 40, Concurrency: 8})
	elapsed := time.Since(start)
	j, err := r.db.RunJournal(context.Background(), out.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for _, e := range j {
		if e.Result == store.JournalApplied && !e.EndedAt.Equal(e.StartedAt) {
			starts = append(starts, e.StartedAt)
		}
	}
	if len(starts) < 5 {
		t.Fatalf("only %d writes", len(starts))
	}
	if min := time.Duration(len(starts)-1) * time.Second / 40; elapsed < min {
		t.Errorf("%d writes in %v, faster than 40/s allows (%v)", len(starts), elapsed, min)
	}
}

// A 429 is retried by the SDK with its Retry-After, once, under the one
// call apply made: apply does not retry on top.
func TestApplyThrottledWriteRetriedBySDK(t *testing.T) {
	r := newRig(t, loadExample(t))
	r.graphTransport.throttleNext.Store(1)
	out := r.apply(t, ApplyOptions{})
	if out.Failed != 0 {
		t.Fatalf("a throttled PATCH failed the run: %s", out.Summary())
	}
	if r.graphTransport.throttled.Load() != 1 {
		t.Fatalf("throttled %d PATCHes, want 1", r.graphTransport.throttled.Load())
	}
	j, _ := r.db.RunJournal(context.Background(), out.RunID)
	graphWrites := 0
	for _, e := range j {
		if strings.HasPrefix(e.Kind, "graph.") && e.Result == store.JournalApplied && !e.EndedAt.Equal(e.StartedAt) {
			graphWrites++
		}
	}
	if got := int(r.graphTransport.patches.Load()); got != graphWrites+1 {
		t.Errorf("%d PATCH requests for %d Graph writes: want exactly one retry", got, graphWrites)
	}
}

// A step journaled started whose effect is already in place is recorded
// applied without calling again; one whose precondition still holds runs.
func TestApplyResolvesStartedEntries(t *testing.T) {
	r := newRig(t, loadExample(t))
	id := identityByScenario(t, r.plan, classify.SyncManagedMismatch)
	s := id.Steps[0]
	if s.Kind != OktaSetAppUserAnchor {
		t.Fatalf("SYNC_MANAGED_MISMATCH starts with %s", s.Kind)
	}
	ctx := context.Background()
	run, err := r.db.BeginApplyRun(ctx, r.plan.Seal, "test", []byte("{}"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.JournalBegin(ctx, store.JournalEntry{RunID: run, PlanSeal: r.plan.Seal, IdentityKey: id.Key, StepIndex: 0,
		Kind: string(s.Kind), Target: journalTarget(&s), StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// The crashed call had taken effect.
	if _, err := r.targets.Okta.SetAppUserImmutableID(ctx, s.Target.AppID, s.Target.ID, s.Params[attrImmutableID]); err != nil {
		t.Fatal(err)
	}
	counting := &countingOkta{OktaTarget: r.targets.Okta}
	r.targets.Okta = counting
	out := r.apply(t, ApplyOptions{})
	if o := outcomeOf(t, out, id.Key); o.Result != ResultApplied {
		t.Errorf("outcome %s (%s), want applied", o.Result, o.Error)
	}
	if counting.anchorWrites[s.Target.ID] != 0 {
		t.Errorf("the step was written again")
	}
	j, _ := r.db.RunJournal(ctx, out.RunID)
	found := false
	for _, e := range j {
		found = found || (e.IdentityKey == id.Key && e.Result == store.JournalApplied && strings.Contains(e.Error, "interrupted call had taken effect"))
	}
	if !found {
		t.Error("the journal does not say the interrupted call was found applied")
	}
}

type countingOkta struct {
	OktaTarget
	mu           sync.Mutex
	anchorWrites map[string]int
}

func (c *countingOkta) SetAppUserImmutableID(ctx context.Context, appID, userID, value string) (*okta.AppUserState, error) {
	c.mu.Lock()
	if c.anchorWrites == nil {
		c.anchorWrites = map[string]int{}
	}
	c.anchorWrites[userID]++
	c.mu.Unlock()
	return c.OktaTarget.SetAppUserImmutableID(ctx, appID, userID, value)
}

func TestJournalHoldsNoSecrets(t *testing.T) {
	r := newRig(t, loadExample(t))
	r.apply(t, ApplyOptions{})
	j, err := r.db.Journal(context.Background(), r.plan.Seal)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := json.Marshal(j)
	for _, secret := range []string{r.servers.OktaToken, r.servers.GraphToken, r.servers.LDAPPassword} {
		if bytes.Contains(all, []byte(secret)) {
			t.Error("the journal holds a credential")
		}
	}
	if len(j) == 0 {
		t.Fatal("empty journal")
	}
}
