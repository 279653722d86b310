package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/anchorscan/anchorscan/store"
)

// ApplyOptions tune an apply run.
type ApplyOptions struct {
	// DryRun reads every precondition live and reports what would run,
	// writing nothing: not to the directories, not to the journal.
	DryRun bool
	// Limit, when positive, applies at most that many identities (those
	// already done in earlier runs do not count).
	Limit int
	// Concurrency is the number of identities worked on at once; a single
	// identity's steps always run in order. 0 means 4.
	Concurrency int
	// WritesPerSecond paces the writes of all identities together (a token
	// bucket of one); 0 leaves them unpaced. The SDKs still honour 429s.
	WritesPerSecond float64
	// Approved, when not nil, names the identity keys that may be applied;
	// the others are left alone.
	Approved map[string]bool
	// Now is the clock of the journal; time.Now when nil.
	Now func() time.Time
	// Progress, when set, receives a line now and then while identities
	// finish.
	Progress io.Writer
	// ToolVersion is recorded with the run.
	ToolVersion string
}

// The result of one identity in one run.
const (
	ResultApplied     = "applied"
	ResultStale       = "skipped stale"
	ResultWaiting     = "waiting on manual"
	ResultFailed      = "failed"
	ResultAlreadyDone = "already done"
	ResultNotApproved = "not approved"
	ResultDeferred    = "deferred by --limit"
	ResultWouldApply  = "would apply"
	// ResultInterrupted: the run ended (context cancelled) while the
	// identity was mid-way; the next run resumes it from the journal.
	ResultInterrupted = "interrupted"
)

// IdentityOutcome is what happened to one identity (or to the org steps).
type IdentityOutcome struct {
	Key      string
	UPN      string
	Scenario string
	Result   string
	// Step is the index of the step the identity stopped at, -1 when it
	// did not stop; Kind is that step's kind.
	Step int
	Kind StepKind
	// Expected and Found are the precondition values that differed (stale)
	// or the verify values not yet met (waiting).
	Expected map[string]*string
	Found    Values
	Error    string
	// Compensated is set when steps were undone after a failure, so that
	// the user is not left on the parking domain.
	Compensated bool
	// WouldRun lists, on a dry run, the steps whose preconditions hold.
	WouldRun []string
}

// Outcome is the result of an apply run.
type Outcome struct {
	RunID  store.RunID
	DryRun bool
	// Counts by identity result.
	Applied, Stale, Waiting, Failed, AlreadyDone, NotApproved, Deferred, WouldApply, Interrupted int
	Org                                                                                          []IdentityOutcome
	Identities                                                                                   []IdentityOutcome
}

// ErrForeignPlan is returned for a plan made for other directories than
// the ones configured.
var ErrForeignPlan = errors.New("plan belongs to other directories than the configured ones")

// Apply executes plan p against the directories t, journaling every step in
// db. The caller has read p with Read or ReadFile, which check its format
// version and seal. Running the same plan again resumes it: steps the
// journal shows applied are not repeated, and a step whose outcome a crash
// left unknown is decided by reading its target.
func Apply(ctx context.Context, p *Plan, t Targets, db *store.DB, opts ApplyOptions) (*Outcome, error) {
	if p.Seal == "" {
		return nil, errors.New("apply: the plan is not sealed")
	}
	if want, err := p.ComputeSeal(); err != nil || want != p.Seal {
		return nil, fmt.Errorf("apply: %w", ErrAltered)
	}
	if err := checkTenants(p.Tenants, t.Tenants); err != nil {
		return nil, err
	}
	a := &applier{plan: p, t: &t, db: db, opts: opts, virtualDeactivate: map[string]string{}}
	if a.opts.Now == nil {
		a.opts.Now = time.Now
	}
	if a.opts.Concurrency <= 0 {
		a.opts.Concurrency = 4
	}
	if opts.WritesPerSecond > 0 {
		a.pace = &pacer{interval: time.Duration(float64(time.Second) / opts.WritesPerSecond)}
	}
	out := &Outcome{DryRun: opts.DryRun}

	history, err := a.loadHistory(ctx)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun {
		planJSON, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		a.run, err = db.BeginApplyRun(ctx, p.Seal, opts.ToolVersion, planJSON, a.opts.Now())
		if err != nil {
			return nil, err
		}
		out.RunID = a.run
	}

	org, orgErr := a.orgSteps(ctx, "org", p.OrgSteps, true)
	out.Org = append(out.Org, org...)
	if orgErr == nil {
		orgErr = a.identities(ctx, history, out)
	}
	// The restore runs whatever happened to the identities: the original
	// setting must come back. Only a cancelled context prevents it.
	if ctx.Err() == nil {
		restore, err := a.orgSteps(ctx, "org-restore", p.OrgRestore, false)
		out.Org = append(out.Org, restore...)
		orgErr = errors.Join(orgErr, err)
	}
	if !opts.DryRun {
		if err := db.EndApplyRun(context.WithoutCancel(ctx), a.run, out.Summary(), a.opts.Now()); err != nil {
			orgErr = errors.Join(orgErr, err)
		}
	}
	return out, orgErr
}

// checkTenants refuses a plan whose directories are not the configured
// ones. A directory the plan names must be named by the configuration too:
// otherwise nothing says the plan is for it.
func checkTenants(plan, configured Tenants) error {
	var problems []string
	norm := func(s string) string { return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), "/") }
	if plan.OktaOrg != "" && norm(plan.OktaOrg) != norm(configured.OktaOrg) {
		problems = append(problems, fmt.Sprintf("the plan is for Okta org %q, the configuration reaches %q", plan.OktaOrg, configured.OktaOrg))
	}
	if plan.EntraTenantID != "" && !strings.EqualFold(plan.EntraTenantID, configured.EntraTenantID) {
		problems = append(problems, fmt.Sprintf("the plan is for Entra tenant %q, the configuration reaches %q", plan.EntraTenantID, configured.EntraTenantID))
	}
	if len(configured.ADDomains) > 0 {
		for _, d := range plan.ADDomains {
			found := false
			for _, c := range configured.ADDomains {
				found = found || strings.EqualFold(d, c)
			}
			if !found {
				problems = append(problems, fmt.Sprintf("the plan names AD domain %q, the configuration reaches %s", d, strings.Join(configured.ADDomains, ", ")))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrForeignPlan, strings.Join(problems, "; "))
	}
	return nil
}

type applier struct {
	plan *Plan
	t    *Targets
	db   *store.DB
	opts ApplyOptions
	run  store.RunID
	pace *pacer

	mu sync.Mutex
	// virtualDeactivate is, on a dry run, the Deactivate Users setting the
	// org steps would have left, by app id.
	virtualDeactivate map[string]string
}

// history is the latest journal entry of every step of every identity of
// this plan, from earlier runs.
type history map[string]map[int]store.JournalEntry

func (a *applier) loadHistory(ctx context.Context) (history, error) {
	entries, err := a.db.Journal(ctx, a.plan.Seal)
	if err != nil {
		return nil, err
	}
	h := history{}
	for _, e := range entries {
		m := h[e.IdentityKey]
		if m == nil {
			m = map[int]store.JournalEntry{}
			h[e.IdentityKey] = m
		}
		m[e.StepIndex] = e // entries come in id order: the last one wins
	}
	return h, nil
}

// stepDone reports whether the journal shows step i applied and not undone.
func stepDone(h map[int]store.JournalEntry, i int) bool {
	e, ok := h[i]
	return ok && e.Result == store.JournalApplied && !e.Compensation
}

func (a *applier) identities(ctx context.Context, h history, out *Outcome) error {
	ids := a.plan.Identities
	out.Identities = make([]IdentityOutcome, len(ids))
	var work []int
	for i := range ids {
		id := &ids[i]
		o := IdentityOutcome{Key: id.Key, UPN: id.UPN, Scenario: id.Scenario, Step: -1}
		allDone := true
		for j := range id.Steps {
			allDone = allDone && stepDone(h[id.Key], j)
		}
		switch {
		case a.opts.Approved != nil && !a.opts.Approved[id.Key]:
			o.Result = ResultNotApproved
		case allDone:
			o.Result = ResultAlreadyDone
		case a.opts.Limit > 0 && len(work) >= a.opts.Limit:
			o.Result = ResultDeferred
		default:
			work = append(work, i)
		}
		out.Identities[i] = o
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var progressMu sync.Mutex
	finished := 0
	every := max(1, len(work)/20)
	for range min(a.opts.Concurrency, max(len(work), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				o, err := a.identity(ctx, &ids[i], h[ids[i].Key])
				if err != nil {
					cancel(err)
				}
				progressMu.Lock()
				out.Identities[i] = o
				out.count(o.Result)
				finished++
				if a.opts.Progress != nil && (finished%every == 0 || finished == len(work)) {
					fmt.Fprintf(a.opts.Progress, "apply: %d/%d identities (applied %d, stale %d, waiting %d, failed %d)\n",
						finished, len(work), out.Applied, out.Stale, out.Waiting, out.Failed)
				}
				progressMu.Unlock()
			}
		}()
	}
feed:
	for _, i := range work {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for i := range out.Identities {
		if out.Identities[i].Result == "" {
			out.Identities[i].Result = ResultInterrupted
			out.count(ResultInterrupted)
		}
	}
	for _, o := range out.Identities {
		switch o.Result {
		case ResultNotApproved, ResultAlreadyDone, ResultDeferred:
			out.count(o.Result)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

func (o *Outcome) count(result string) {
	switch result {
	case ResultApplied:
		o.Applied++
	case ResultStale:
		o.Stale++
	case ResultWaiting:
		o.Waiting++
	case ResultFailed:
		o.Failed++
	case ResultAlreadyDone:
		o.AlreadyDone++
	case ResultNotApproved:
		o.NotApproved++
	case ResultDeferred:
		o.Deferred++
	case ResultWouldApply:
		o.WouldApply++
	case ResultInterrupted:
		o.Interrupted++
	}
}

// stepRun is one identity's progress through its steps in this run.
type stepRun struct {
	a    *applier
	id   *Identity
	h    map[int]store.JournalEntry
	done []bool
	// overlay holds, on a dry run, the values earlier steps would have left,
	// by target, so that later preconditions are checked against them.
	overlay map[string]Values
	out     *IdentityOutcome
}

// identity runs one identity's steps in order. A non-nil error is fatal to
// the whole run (the journal cannot be written).
func (a *applier) identity(ctx context.Context, id *Identity, h map[int]store.JournalEntry) (IdentityOutcome, error) {
	o := IdentityOutcome{Key: id.Key, UPN: id.UPN, Scenario: id.Scenario, Step: -1}
	r := &stepRun{a: a, id: id, h: h, done: make([]bool, len(id.Steps)), overlay: map[string]Values{}, out: &o}
	for i := range id.Steps {
		r.done[i] = stepDone(h, i)
	}
	err := r.steps(ctx)
	if o.Result == "" {
		o.Result = ResultApplied
		if a.opts.DryRun {
			o.Result = ResultWouldApply
		}
	}
	return o, err
}

func (r *stepRun) stop(i int, result string, err error) {
	r.out.Step, r.out.Kind, r.out.Result = i, r.id.Steps[i].Kind, result
	if err != nil {
		r.out.Error = err.Error()
	}
}

func (r *stepRun) steps(ctx context.Context) error {
	steps := r.id.Steps
	for i := 0; i < len(steps); i++ {
		if r.done[i] {
			continue
		}
		s := &steps[i]
		switch s.Kind {
		case Manual:
			// A manual step is passed once the verify that follows it holds;
			// without one, only a person (with a new plan) can go on.
			if i+1 < len(steps) && steps[i+1].Kind == Verify {
				ok, err := r.verify(ctx, i, &steps[i+1])
				if err != nil || !ok {
					return err
				}
				if err := r.record(ctx, i, s, nil, nil, store.JournalApplied, "verified by the next step"); err != nil {
					return err
				}
				if err := r.record(ctx, i+1, &steps[i+1], nil, nil, store.JournalApplied, ""); err != nil {
					return err
				}
				r.done[i], r.done[i+1] = true, true
				i++
				continue
			}
			r.stop(i, ResultWaiting, errors.New("a person must do this: "+s.Description))
			return r.record(ctx, i, s, nil, nil, store.JournalWaiting, r.out.Error)
		case Verify:
			ok, err := r.verify(ctx, i, s)
			if err != nil || !ok {
				return err
			}
			if err := r.record(ctx, i, s, nil, nil, store.JournalApplied, ""); err != nil {
				return err
			}
			r.done[i] = true
			continue
		}
		ok, err := r.mutate(ctx, i, s)
		if err != nil || !ok {
			if ctx.Err() == nil && r.out.Result != ResultWaiting && r.out.Result != ResultInterrupted {
				err = errors.Join(err, r.compensate(ctx))
			}
			return err
		}
	}
	return nil
}

// read observes step s's target, through the dry-run overlay.
func (r *stepRun) read(ctx context.Context, s *Step) (Values, error) {
	v, err := r.a.t.observe(ctx, s)
	if err != nil {
		return nil, err
	}
	if o, ok := r.overlay[targetKey(s)]; ok {
		v = v.with(o)
	}
	return v, nil
}

// verify checks that the values a verify step names hold; when they do not
// the identity waits (at step i, the manual step or the verify itself).
func (r *stepRun) verify(ctx context.Context, i int, v *Step) (bool, error) {
	want := map[string]*string{}
	for k, x := range v.Params {
		want[k] = nonEmpty(x)
	}
	got, err := r.read(ctx, v)
	if err != nil {
		if ctx.Err() != nil {
			r.stop(i, ResultInterrupted, err)
			return false, nil
		}
		r.stop(i, ResultFailed, fmt.Errorf("verify: read %s: %w", journalTarget(v), err))
		return false, r.record(ctx, i, &r.id.Steps[i], nil, nil, store.JournalFailed, r.out.Error)
	}
	bad := mismatches(want, got)
	if len(bad) == 0 {
		return true, nil
	}
	r.stop(i, ResultWaiting, nil)
	r.out.Expected, r.out.Found = pick(want, bad), pick(got, bad)
	msg := "waiting: " + describeDiff(want, got, bad)
	if s := r.id.Steps[i]; s.Kind == Manual {
		msg = "waiting for a person: " + s.Description + "; then " + describeDiff(want, got, bad)
	}
	r.out.Error = msg
	if r.a.opts.DryRun {
		r.out.WouldRun = append(r.out.WouldRun, fmt.Sprintf("stop at step %d (%s): %s", i+1, r.id.Steps[i].Kind, msg))
	}
	return false, r.record(ctx, i, &r.id.Steps[i], got, nil, store.JournalWaiting, msg)
}

func pick[V any](m map[string]V, keys []string) map[string]V {
	out := make(map[string]V, len(keys))
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

func show(p *string) string {
	if p == nil {
		return "(absent)"
	}
	return fmt.Sprintf("%q", *p)
}

func describeDiff(want map[string]*string, got Values, keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s expected %s, found %s", k, show(want[k]), show(got[k]))
	}
	return strings.Join(parts, "; ")
}

// mutate performs mutating step i. It returns false when the identity must
// stop (stale, refused, failed); the error is only for fatal problems.
func (r *stepRun) mutate(ctx context.Context, i int, s *Step) (bool, error) {
	before, err := r.read(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			r.stop(i, ResultInterrupted, err)
			return false, nil
		}
		r.stop(i, ResultFailed, fmt.Errorf("read %s before %s: %w", journalTarget(s), s.Kind, err))
		return false, r.record(ctx, i, s, nil, nil, store.JournalFailed, r.out.Error)
	}
	// A call a crash interrupted, or one that failed in a way that may
	// still have taken effect (a timeout, a lost answer): the target says
	// whether it happened.
	if last, ok := r.h[i]; ok && (last.Result == store.JournalStarted || last.Result == store.JournalFailed) &&
		len(mismatches(afterValues(s), before)) == 0 {
		return true, r.markDone(ctx, i, s, before, "the interrupted call had taken effect")
	}
	if bad := mismatches(s.Precondition, before); len(bad) > 0 {
		r.stop(i, ResultStale, nil)
		r.out.Expected, r.out.Found = pick(s.Precondition, bad), pick(before, bad)
		r.out.Error = "changed since the plan was made: " + describeDiff(s.Precondition, before, bad)
		return false, r.record(ctx, i, s, before, nil, store.JournalStale, r.out.Error)
	}
	if s.Kind == OktaUnassign {
		on, err := r.a.deactivateUsers(ctx, s.appID())
		if err != nil {
			r.stop(i, ResultFailed, fmt.Errorf("check Deactivate Users before unassigning: %w", err))
			return false, r.record(ctx, i, s, before, nil, store.JournalFailed, r.out.Error)
		}
		if on {
			r.stop(i, ResultFailed, fmt.Errorf("refused: Deactivate Users is ENABLED on app %s, so unassigning would deprovision the user in Microsoft 365; the plan must turn it off first", s.appID()))
			return false, r.record(ctx, i, s, before, nil, store.JournalFailed, r.out.Error)
		}
	}
	if r.a.opts.DryRun {
		r.overlay[targetKey(s)] = before.with(afterValues(s))
		r.out.WouldRun = append(r.out.WouldRun, fmt.Sprintf("step %d %s %s: %s", i+1, s.Kind, journalTarget(s), s.Description))
		return true, nil
	}
	if err := r.a.pace.wait(ctx); err != nil {
		r.stop(i, ResultInterrupted, err)
		return false, nil
	}
	entry, err := r.a.begin(ctx, r.id.Key, i, s, before, false)
	if err != nil {
		return false, err
	}
	after, callErr := r.a.t.execute(ctx, s, before)
	if callErr != nil {
		if ctx.Err() != nil {
			// The outcome is unknown: the entry stays started and the next
			// run reads the target to decide.
			r.stop(i, ResultInterrupted, callErr)
			return false, nil
		}
		result, res := store.JournalFailed, ResultFailed
		if errors.Is(callErr, errStale) {
			result, res = store.JournalStale, ResultStale
		}
		r.stop(i, res, callErr)
		return false, r.a.end(ctx, entry, result, nil, callErr.Error())
	}
	r.done[i] = true
	return true, r.a.end(ctx, entry, store.JournalApplied, after, "")
}

func (r *stepRun) markDone(ctx context.Context, i int, s *Step, found Values, note string) error {
	r.done[i] = true
	return r.record(ctx, i, s, found, found, store.JournalApplied, note)
}

// record journals a step decided without a call. Dry runs write nothing.
func (r *stepRun) record(ctx context.Context, i int, s *Step, before, after Values, result, msg string) error {
	if r.a.opts.DryRun {
		return nil
	}
	now := r.a.opts.Now()
	_, err := r.a.db.JournalRecord(context.WithoutCancel(ctx), store.JournalEntry{
		RunID: r.a.run, PlanSeal: r.a.plan.Seal, IdentityKey: r.id.Key, StepIndex: i, Kind: string(s.Kind),
		Target: journalTarget(s), Before: jsonOrEmpty(before), After: jsonOrEmpty(after), Result: result, Error: msg,
		StartedAt: now, EndedAt: now,
	})
	return err
}

func jsonOrEmpty(v Values) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func (a *applier) begin(ctx context.Context, key string, i int, s *Step, before Values, compensation bool) (int64, error) {
	return a.db.JournalBegin(ctx, store.JournalEntry{
		RunID: a.run, PlanSeal: a.plan.Seal, IdentityKey: key, StepIndex: i, Kind: string(s.Kind),
		Target: journalTarget(s), Compensation: compensation, Before: before.String(), StartedAt: a.opts.Now(),
	})
}

// end records how a call ended. It outlives a cancelled context: a call
// that completed must not be left looking unknown.
func (a *applier) end(ctx context.Context, entry int64, result string, after Values, msg string) error {
	return a.db.JournalEnd(context.WithoutCancel(ctx), entry, result, jsonOrEmpty(after), msg, a.opts.Now())
}

func (a *applier) deactivateUsers(ctx context.Context, appID string) (bool, error) {
	if a.opts.DryRun {
		a.mu.Lock()
		v, ok := a.virtualDeactivate[appID]
		a.mu.Unlock()
		if ok {
			return v == "ENABLED", nil
		}
	}
	if a.t.Okta == nil {
		return false, fmt.Errorf("okta: %w", errNoTarget)
	}
	return a.t.Okta.DeactivateUsers(ctx, appID)
}

// parkedSince returns the index of the applied graph.park_upn step not yet
// followed by an applied graph.restore_upn, or -1.
func (r *stepRun) parkedSince() int {
	parked := -1
	for j, s := range r.id.Steps {
		if !r.done[j] {
			continue
		}
		switch s.Kind {
		case GraphParkUPN:
			parked = j
		case GraphRestoreUPN:
			parked = -1
		}
	}
	return parked
}

// compensate undoes, newest first, the steps applied since the identity's
// UPN was parked, so that nobody stays on the parking domain. Steps before
// the park, and identities not parked, are left as they are: their
// effects are consistent on their own, and undo plans reverse them.
func (r *stepRun) compensate(ctx context.Context) error {
	if r.a.opts.DryRun {
		return nil
	}
	p := r.parkedSince()
	if p < 0 {
		return nil
	}
	var errs []error
	for j := len(r.id.Steps) - 1; j >= p; j-- {
		s := &r.id.Steps[j]
		if !r.done[j] {
			continue
		}
		comp, pre := s.Compensation, afterValues(s)
		if j == p {
			// Moving the UPN back needs only the UPN to be the parked one; the
			// anchor may legitimately be either value by now.
			if comp == nil {
				comp = &Step{Kind: GraphRestoreUPN, Target: s.Target, Description: "move the UPN back",
					Params: map[string]string{attrUPN: deref(s.Precondition[attrUPN])}}
			}
		} else if comp == nil {
			continue
		} else if len(comp.Precondition) > 0 {
			pre = comp.Precondition
		}
		if err := r.a.compensateStep(ctx, r.id.Key, j, comp, pre); err != nil {
			errs = append(errs, err)
			continue
		}
		r.done[j] = false
		r.out.Compensated = true
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		r.out.Error += "; compensation failed: " + err.Error()
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (a *applier) compensateStep(ctx context.Context, key string, j int, comp *Step, pre map[string]*string) error {
	before, err := a.t.observe(ctx, comp)
	if err != nil {
		return fmt.Errorf("step %d: read %s: %w", j+1, journalTarget(comp), err)
	}
	if bad := mismatches(pre, before); len(bad) > 0 {
		msg := "not compensated, the target changed: " + describeDiff(pre, before, bad)
		_, err := a.db.JournalRecord(context.WithoutCancel(ctx), store.JournalEntry{RunID: a.run, PlanSeal: a.plan.Seal, IdentityKey: key,
			StepIndex: j, Kind: string(comp.Kind), Target: journalTarget(comp), Compensation: true, Before: before.String(),
			Result: store.JournalStale, Error: msg, StartedAt: a.opts.Now()})
		return errors.Join(fmt.Errorf("step %d: %s", j+1, msg), err)
	}
	if err := a.pace.wait(ctx); err != nil {
		return err
	}
	entry, err := a.begin(ctx, key, j, comp, before, true)
	if err != nil {
		return err
	}
	after, callErr := a.t.execute(ctx, comp, before)
	if callErr != nil {
		return errors.Join(fmt.Errorf("step %d: %s: %w", j+1, comp.Kind, callErr), a.end(ctx, entry, store.JournalFailed, nil, callErr.Error()))
	}
	return a.end(ctx, entry, store.JournalApplied, after, "")
}

// orgSteps runs org-level steps, re-checking them on every run: an earlier
// run's restore may have undone what an earlier run's org step did. A
// step whose values are already in place is recorded and passed. When
// abort is set, a stale or failed step stops the run before any identity.
func (a *applier) orgSteps(ctx context.Context, key string, steps []Step, abort bool) ([]IdentityOutcome, error) {
	var outs []IdentityOutcome
	var errs []error
	for i := range steps {
		s := &steps[i]
		o := IdentityOutcome{Key: key, Scenario: "org", Step: i, Kind: s.Kind, Result: ResultApplied}
		fail := func(result string, err error) {
			o.Result, o.Error = result, err.Error()
			errs = append(errs, fmt.Errorf("%s step %d (%s): %w", key, i+1, s.Kind, err))
		}
		before, err := a.t.observe(ctx, s)
		switch {
		case err != nil:
			fail(ResultFailed, err)
		case len(mismatches(afterValues(s), before)) == 0:
			o.Result = ResultAlreadyDone
			if err := a.recordOrg(ctx, key, i, s, before, store.JournalSkipped, "already in place"); err != nil {
				return outs, err
			}
		case len(mismatches(s.Precondition, before)) > 0:
			bad := mismatches(s.Precondition, before)
			o.Expected, o.Found = pick(s.Precondition, bad), pick(before, bad)
			fail(ResultStale, errors.New("changed since the plan was made: "+describeDiff(s.Precondition, before, bad)))
			if err := a.recordOrg(ctx, key, i, s, before, store.JournalStale, o.Error); err != nil {
				return outs, err
			}
		case a.opts.DryRun:
			o.Result = ResultWouldApply
			if s.Kind == OktaSetDeactivate {
				a.virtualDeactivate[s.appID()] = s.Params[attrDeactivate]
			}
		default:
			if err := a.pace.wait(ctx); err != nil {
				return outs, err
			}
			entry, err := a.begin(ctx, key, i, s, before, false)
			if err != nil {
				return outs, err
			}
			after, callErr := a.t.execute(ctx, s, before)
			if callErr != nil {
				fail(ResultFailed, callErr)
				if err := a.end(ctx, entry, store.JournalFailed, nil, callErr.Error()); err != nil {
					return outs, err
				}
			} else if err := a.end(ctx, entry, store.JournalApplied, after, ""); err != nil {
				return outs, err
			}
		}
		outs = append(outs, o)
		if abort && len(errs) > 0 {
			return outs, fmt.Errorf("org steps: no identity was touched: %w", errors.Join(errs...))
		}
	}
	return outs, errors.Join(errs...)
}

func (a *applier) recordOrg(ctx context.Context, key string, i int, s *Step, before Values, result, msg string) error {
	if a.opts.DryRun {
		return nil
	}
	now := a.opts.Now()
	_, err := a.db.JournalRecord(context.WithoutCancel(ctx), store.JournalEntry{RunID: a.run, PlanSeal: a.plan.Seal, IdentityKey: key,
		StepIndex: i, Kind: string(s.Kind), Target: journalTarget(s), Before: before.String(), Result: result, Error: msg,
		StartedAt: now, EndedAt: now})
	return err
}

// pacer spaces writes at least interval apart across all goroutines: a
// token bucket of one token, so no burst exceeds the API's rate.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Summary is the outcome in one line.
func (o *Outcome) Summary() string {
	s := fmt.Sprintf("applied %d, skipped stale %d, waiting on manual %d, failed %d, already done %d",
		o.Applied, o.Stale, o.Waiting, o.Failed, o.AlreadyDone)
	for _, x := range []struct {
		n    int
		what string
	}{{o.NotApproved, "not approved"}, {o.Deferred, "deferred by --limit"}, {o.WouldApply, "would apply"}, {o.Interrupted, "interrupted"}} {
		if x.n > 0 {
			s += fmt.Sprintf(", %s %d", x.what, x.n)
		}
	}
	if o.DryRun {
		s = "dry run: " + s
	}
	return s
}

// WriteTable prints the final table: counts, then every identity that did
// not simply apply, with what it expected and found.
func (o *Outcome) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tIDENTITIES")
	for _, r := range []struct {
		what string
		n    int
	}{{ResultApplied, o.Applied}, {ResultStale, o.Stale}, {ResultWaiting, o.Waiting}, {ResultFailed, o.Failed},
		{ResultAlreadyDone, o.AlreadyDone}, {ResultNotApproved, o.NotApproved}, {ResultDeferred, o.Deferred},
		{ResultWouldApply, o.WouldApply}, {ResultInterrupted, o.Interrupted}} {
		if r.n > 0 || r.what == ResultApplied || r.what == ResultStale || r.what == ResultWaiting || r.what == ResultFailed {
			fmt.Fprintf(tw, "%s\t%d\n", r.what, r.n)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notable []IdentityOutcome
	for _, x := range append(append([]IdentityOutcome(nil), o.Org...), o.Identities...) {
		switch x.Result {
		case ResultStale, ResultWaiting, ResultFailed, ResultInterrupted:
			notable = append(notable, x)
		}
	}
	if len(notable) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPN\tSCENARIO\tRESULT\tSTEP\tDETAIL")
	for _, x := range notable {
		name := x.UPN
		if name == "" {
			name = x.Key
		}
		detail := x.Error
		if x.Compensated {
			detail += " (compensated: UPN moved back)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d %s\t%s\n", name, x.Scenario, x.Result, x.Step+1, x.Kind, detail)
	}
	return tw.Flush()
}
