package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/store"
)

// GenerateOptions choose what a plan covers and how it is labelled.
type GenerateOptions struct {
	ToolVersion string
	// Now is the plan's creation time; the zero time means the clock.
	Now time.Time
	// ParkingDomain is where federated UPNs wait while their ImmutableID
	// changes; empty means the tenant's initial *.onmicrosoft.com domain.
	ParkingDomain string
	// Scenarios keeps only identities of these scenario codes (--scenario).
	Scenarios []string
	// Only keeps only identities with these UPNs, compared ignoring case (--only).
	Only []string
	// AllowPartial plans from a snapshot a source did not finish; the plan
	// then cannot know about the records that were not read.
	AllowPartial bool
}

// ErrPartialSnapshot is returned for a snapshot with a partial or failed
// source when GenerateOptions.AllowPartial is not set.
var ErrPartialSnapshot = errors.New("snapshot is incomplete")

// Precondition and parameter names. They are the attribute names of the
// systems, so that a plan reads like the directories it changes.
const (
	paramUPN           = "userPrincipalName"
	paramEntraAnchor   = "onPremisesImmutableId"
	paramOktaAnchor    = "immutableId"
	paramAssigned      = "assigned"
	paramUserName      = "userName"
	paramLicenses      = "licenses"
	paramRoles         = "roles"
	paramDeactivate    = "lifecycleDeactivate"
	paramExpression    = "expression"
	paramPushStatus    = "pushStatus"
	paramConsistency   = "mS-DS-ConsistencyGuid"
	paramInstructions  = "instructions"
	sysOkta            = "okta"
	sysGraph           = "graph"
	sysAD              = "ad"
	sysPerson          = "person"
	deactivateEnabled  = "ENABLED"
	deactivateDisabled = "DISABLED"
	mappingDontPush    = "DONT_PUSH"
	o365AppName        = "office365"
	maxUPNLocal        = 64 // Entra's limit on the part before '@'
)

// IdentityKey identifies an identity across plan, journal and findings: the
// ids of the records it holds; expected labels and findings are matched by it too.
func IdentityKey(entraUserID, oktaUserID, adObjectGUID string) string {
	return strings.ToLower(entraUserID) + "|" + oktaUserID + "|" + strings.ToLower(adObjectGUID)
}

// Generate computes the plan that fixes a snapshot's findings (DESIGN §5's
// fix column, with the step semantics of DESIGN §6). in and res are the
// snapshot's records and findings as the store holds them. Identities keep
// the findings' order; OK and OUT_OF_SCOPE identities are not in the plan.
// The plan is sealed.
func Generate(snap *store.Snapshot, in classify.Input, res classify.Result, opts GenerateOptions) (*Plan, error) {
	return GenerateEach(snap, in, res.Org, res.Each, opts)
}

// GenerateEach is Generate over findings read one at a time: each calls its
// function with every finding of the snapshot, in order, as
// store.DB.EachFinding does. A plan holds only the identities it fixes, so
// planning a million identities need not hold all their findings.
func GenerateEach(snap *store.Snapshot, in classify.Input, org []classify.OrgFinding,
	each func(func(*classify.Finding) error) error, opts GenerateOptions) (*Plan, error) {
	if snap == nil {
		return nil, errors.New("plan: no snapshot")
	}
	if err := checkComplete(snap, opts.AllowPartial); err != nil {
		return nil, err
	}
	keep, err := newFilter(opts)
	if err != nil {
		return nil, err
	}
	g, err := newGenerator(&in, opts.ParkingDomain)
	if err != nil {
		return nil, fmt.Errorf("plan for snapshot %d: %w", snap.ID, err)
	}

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		ToolVersion:   opts.ToolVersion,
		CreatedAt:     now.UTC().Truncate(time.Second),
		Snapshot:      SnapshotRef{ID: int64(snap.ID), ContentHash: snap.ContentHash},
		Tenants: Tenants{
			OktaOrg:       snap.OktaOrg,
			EntraTenantID: snap.EntraTenant,
			ADDomains:     append([]string{}, snap.ADDomains...),
		},
		Settings:   Settings{ParkingDomain: g.parking, O365AppID: g.defaultO365},
		OrgSteps:   []Step{},
		OrgRestore: []Step{},
		Identities: []Identity{},
	}

	err = each(func(f *classify.Finding) error {
		keep.see(f)
		if f.Scenario == classify.OK || f.Scenario == classify.OutOfScope || !keep.keeps(f) {
			return nil
		}
		id, err := g.identity(f)
		if err != nil {
			return fmt.Errorf("plan for %q (%s): %w", f.UPN, f.Scenario, err)
		}
		p.Identities = append(p.Identities, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := keep.missing(); err != nil {
		return nil, err
	}
	g.orgFixes(org, len(opts.Scenarios) == 0 && len(opts.Only) == 0)
	p.OrgSteps = append(p.OrgSteps, g.orgSteps...)
	p.OrgRestore = append(p.OrgRestore, g.orgRestore...)
	p.OrgReview = g.orgReview
	if err := p.SealPlan(); err != nil {
		return nil, fmt.Errorf("seal plan: %w", err)
	}
	return p, nil
}

// checkComplete refuses a snapshot that a source did not finish: a plan
// computed from part of a directory can miss the record that makes a change
// wrong (the other holder of an anchor, say).
func checkComplete(snap *store.Snapshot, allowPartial bool) error {
	if snap.EndedAt.IsZero() {
		return fmt.Errorf("%w: snapshot %d never finished (the scan was interrupted); rescan", ErrPartialSnapshot, snap.ID)
	}
	if allowPartial {
		return nil
	}
	var bad []string
	for _, s := range snap.Sources {
		if s.Status != record.StatusComplete {
			bad = append(bad, fmt.Sprintf("%s is %s", s.Source, s.Status))
		}
	}
	if len(snap.Sources) == 0 {
		bad = append(bad, "no source was recorded")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: in snapshot %d %s; rescan, or pass --allow-partial to plan from what was read",
			ErrPartialSnapshot, snap.ID, strings.Join(bad, ", "))
	}
	return nil
}

// newFilter validates --scenario and --only and returns the test an
// identity must pass.
func newFilter(opts GenerateOptions) (*filter, error) {
	fl := &filter{scenarios: map[classify.Scenario]bool{}, only: map[string]bool{}}
	for _, s := range opts.Scenarios {
		code := classify.Scenario(strings.ToUpper(strings.TrimSpace(s)))
		if _, ok := classify.RuleFor(code); !ok {
			return nil, fmt.Errorf("--scenario %q is not a scenario code (e.g. ENTRA_ANCHOR_STALE, MISSING_ANCHOR_AD)", s)
		}
		if code == classify.OK || code == classify.OutOfScope {
			return nil, fmt.Errorf("--scenario %s: identities of this scenario need no fix", code)
		}
		fl.scenarios[code] = true
	}
	for _, u := range opts.Only {
		fl.only[strings.ToLower(strings.TrimSpace(u))] = false
	}
	return fl, nil
}

// filter is --scenario and --only: which identities the plan fixes.
type filter struct {
	scenarios map[classify.Scenario]bool
	only      map[string]bool // lower-case UPN → an identity of the snapshot has it
}

// see notes a finding of the snapshot, whether or not the plan fixes it.
func (fl *filter) see(f *classify.Finding) {
	if len(fl.only) > 0 {
		k := strings.ToLower(f.UPN)
		if _, ok := fl.only[k]; ok {
			fl.only[k] = true
		}
	}
}

func (fl *filter) keeps(f *classify.Finding) bool {
	if len(fl.scenarios) > 0 && !fl.scenarios[f.Scenario] {
		return false
	}
	if len(fl.only) > 0 {
		if _, ok := fl.only[strings.ToLower(f.UPN)]; !ok {
			return false
		}
	}
	return true
}

// missing names the --only UPNs no finding seen had.
func (fl *filter) missing() error {
	var missing []string
	for u, found := range fl.only {
		if !found {
			missing = append(missing, strconv.Quote(u))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("--only: no identity of the snapshot has the UPN %s", strings.Join(missing, ", "))
	}
	return nil
}

// generator holds the snapshot's records indexed for step generation, and
// the org steps identities have asked for so far.
type generator struct {
	in          *classify.Input
	parking     string
	defaultO365 string
	o365        map[string]*record.OktaApp // by app id
	// The record lists are searched in place (record.Index) rather than
	// copied into maps: a plan of a million identities holds them all.
	appUsers  *record.Index[record.OktaAppUser] // by Okta user id
	oktaByID  *record.Index[record.OktaUser]
	entraByID *record.Index[record.EntraUser]
	adByGUID  *record.Index[record.ADUser]  // by the raw objectGUID bytes
	domains   map[string]record.EntraDomain // by lower-case name
	taken     map[string]bool               // lower-case UPNs in use or planned

	orgSteps, orgRestore, orgReview []Step
	orgSeen                         map[string]bool
}

func newGenerator(in *classify.Input, parking string) (*generator, error) {
	g := &generator{
		in:        in,
		o365:      map[string]*record.OktaApp{},
		appUsers:  record.NewIndex(in.OktaAppUsers, record.OktaAppUserUserID),
		oktaByID:  record.NewIndex(in.OktaUsers, record.OktaUserID),
		entraByID: record.NewIndex(in.EntraUsers, record.EntraUserID),
		adByGUID:  record.NewIndex(in.ADUsers, record.ADUserGUID),
		domains:   make(map[string]record.EntraDomain, len(in.EntraDomains)),
		taken:     make(map[string]bool, len(in.EntraUsers)),
		orgSeen:   map[string]bool{},
	}
	var appIDs []string
	for i := range in.OktaApps {
		a := &in.OktaApps[i]
		if strings.EqualFold(a.Name, o365AppName) {
			g.o365[a.ID] = a
			appIDs = append(appIDs, a.ID)
		}
	}
	slices.Sort(appIDs)
	if len(appIDs) > 0 {
		g.defaultO365 = appIDs[0]
	}
	for i := range in.EntraUsers {
		g.taken[strings.ToLower(in.EntraUsers[i].UserPrincipalName)] = true
	}
	for _, d := range in.EntraDomains {
		g.domains[strings.ToLower(d.ID)] = d
	}

	if parking == "" {
		parking = in.EntraOrg.InitialDomain
	}
	if parking == "" {
		return nil, errors.New("no parking domain: the snapshot holds no Entra initial domain; name a managed domain with --parking-domain")
	}
	if len(in.EntraDomains) > 0 {
		d, ok := g.domains[strings.ToLower(parking)]
		switch {
		case !ok:
			return nil, fmt.Errorf("parking domain %q is not a domain of the Entra tenant", parking)
		case !d.IsVerified:
			return nil, fmt.Errorf("parking domain %q is not verified: Entra refuses UPNs on it", parking)
		case strings.EqualFold(d.AuthenticationType, "Federated"):
			return nil, fmt.Errorf("parking domain %q is federated: an ImmutableID cannot change on it", parking)
		}
		parking = d.ID
	}
	g.parking = parking
	return g, nil
}

// federated walks from a domain up its parents; the first listed domain
// decides, as classification does.
func (g *generator) federated(domain string) bool {
	d := strings.ToLower(domain)
	for d != "" {
		if dom, ok := g.domains[d]; ok {
			return strings.EqualFold(dom.AuthenticationType, "Federated") && dom.IsVerified
		}
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			break
		}
		d = d[dot+1:]
	}
	return false
}

func upnDomain(upn string) string {
	if at := strings.LastIndexByte(upn, '@'); at >= 0 {
		return upn[at+1:]
	}
	return ""
}

// o365AppUsers are an Okta user's O365 app users, by app id.
func (g *generator) o365AppUsers(userID string) []*record.OktaAppUser {
	var out []*record.OktaAppUser
	g.appUsers.All(userID, func(au *record.OktaAppUser) {
		if g.o365[au.AppID] != nil {
			out = append(out, au)
		}
	})
	slices.SortStableFunc(out, func(a, b *record.OktaAppUser) int { return strings.Compare(a.AppID, b.AppID) })
	return out
}

// adUser returns the AD user whose objectGUID is guid, in canonical form
// in any case.
func (g *generator) adUser(guid string) *record.ADUser {
	parsed, err := anchor.ParseGUID(guid)
	if err != nil || parsed.String() != strings.ToLower(guid) {
		return nil
	}
	raw := parsed.Raw()
	return g.adByGUID.Get(string(raw[:]))
}

// o365AppUser is the O365 app user whose immutableId is the finding's S:
// the one linked to the Entra user when there are several instances.
func (g *generator) o365AppUser(f *classify.Finding) *record.OktaAppUser {
	aus := g.o365AppUsers(f.OktaUserID)
	if len(aus) == 0 {
		return nil
	}
	for _, au := range aus {
		if f.EntraUserID != "" && strings.EqualFold(au.ExternalID, f.EntraUserID) {
			return au
		}
	}
	for _, au := range aus {
		if au.ImmutableID == f.OktaAnchor {
			return au
		}
	}
	return aus[0]
}

// adAnchor is A: base64 of the AD user's ConsistencyGuid when it has one
// (Entra Connect's sourceAnchor then), else of its objectGUID; for an AD
// user the snapshot does not hold, the first expected value (an AD app
// user's externalId).
func (g *generator) adAnchor(f *classify.Finding) string {
	if u := g.adUser(f.ADObjectGUID); u != nil {
		if len(u.ConsistencyGUID) == 16 {
			if v, err := anchor.ImmutableIDFromRaw(u.ConsistencyGUID); err == nil {
				return v
			}
		}
		v, _ := anchor.ImmutableIDFromRaw(u.ObjectGUID[:]) // always 16 bytes
		return v
	}
	if len(f.ExpectedAnchor) > 0 {
		return f.ExpectedAnchor[0]
	}
	return ""
}

// isExpectedAnchor reports whether v is one of the anchors the sources expect. For a
// cloud-only identity the O365 app user id (0ua…) is expected too (DESIGN
// §5), although the records do not carry it to compare.
func isExpectedAnchor(f *classify.Finding, v string) bool {
	if v == "" {
		return false
	}
	if slices.Contains(f.ExpectedAnchor, v) {
		return true
	}
	return f.ADSources == 0 && f.ADObjectGUID == "" && strings.HasPrefix(v, "0ua") && len(v) == 20
}

// identity builds one identity's steps from its scenario.
func (g *generator) identity(f *classify.Finding) (Identity, error) {
	id := Identity{
		Key:          IdentityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID),
		UPN:          f.UPN,
		Scenario:     string(f.Scenario),
		EntraUserID:  f.EntraUserID,
		OktaUserID:   f.OktaUserID,
		ADObjectGUID: f.ADObjectGUID,
		ADDN:         f.ADDN,
	}
	var eu *record.EntraUser
	if f.EntraUserID != "" {
		eu = g.entraByID.Get(f.EntraUserID)
		if eu == nil {
			return id, fmt.Errorf("its Entra user %s is not among the snapshot's records", f.EntraUserID)
		}
	}
	au := g.o365AppUser(f)
	if f.Assigned && au == nil {
		return id, fmt.Errorf("it is assigned to Office 365 but Okta user %s has no O365 app user in the snapshot", f.OktaUserID)
	}
	E, S := f.EntraAnchor, f.OktaAnchor
	switch f.Scenario {
	case classify.OktaAnchorEmpty, classify.SyncManagedMismatch, classify.OktaAssignmentStale, classify.UnfederatedUPN, classify.EncodingMismatch:
		if au == nil {
			return id, fmt.Errorf("its fix changes the Okta O365 app user, but Okta user %q has none in the snapshot", f.OktaUserID)
		}
		if eu == nil && f.Scenario == classify.UnfederatedUPN {
			return id, errors.New("its fix moves the Entra UPN, but it has no Entra user")
		}
	}

	var steps []Step
	switch f.Scenario {
	case classify.MissingAnchorAD:
		a := g.adAnchor(f)
		if a == "" {
			steps = append(steps, manualStep("No AD anchor is known for this identity: find its AD object, then re-run plan."))
			break
		}
		steps = append(steps, g.changeEntraAnchor(eu, E, a)...)
		switch {
		case !f.Assigned:
			steps = append(steps, manualStep(fmt.Sprintf("Assign Okta user %q to Office 365 with the licences and roles chosen in review; its anchor must be %q.", f.OktaUserID, a)))
		case S != a:
			steps = append(steps, oktaAnchorStep(f, au, S, a))
		}

	case classify.MissingAnchorCloud:
		switch {
		case !f.Assigned:
			steps = append(steps,
				oktaAssignStep(f.OktaUserID, g.defaultO365, oktaLogin(g, f), "", nil, nil, Value("false"), nil,
					fmt.Sprintf("Assign Okta user %q to Office 365 with no licences or roles; the immutableId mapping decides the value Okta sends", f.OktaUserID)),
				manualStep("Re-run scan and plan after the assignment: the value Okta sends is known only once the app user exists."))
			g.wantOrg(orgMapping)
		case isExpectedAnchor(f, S):
			steps = append(steps, g.changeEntraAnchor(eu, E, S)...)
		case S == "":
			steps = append(steps, manualStep("Okta sends no immutableId for this user: fix the Office 365 immutableId mapping, then re-run scan and plan."))
		default:
			steps = append(steps, manualStep(fmt.Sprintf("Okta sends %q, which is neither the Okta user id nor an app user id: review where it came from before setting it in Entra.", S)))
		}

	case classify.EntraAnchorStale:
		steps = append(steps, g.changeEntraAnchor(eu, E, S)...)

	case classify.OktaAssignmentStale:
		steps = append(steps, g.reassign(f, au, E, S)...)

	case classify.EncodingMismatch:
		switch {
		case isExpectedAnchor(f, E):
			steps = append(steps, oktaAnchorStep(f, au, S, E))
		case isExpectedAnchor(f, S):
			steps = append(steps, g.changeEntraAnchor(eu, E, S)...)
		default:
			steps = append(steps, manualStep(fmt.Sprintf("Entra holds %q and Okta sends %q, two encodings of one GUID, but neither is the expected %s: decide which form is right.", E, S, quotedList(f.ExpectedAnchor))))
		}

	case classify.OktaAnchorEmpty:
		steps = append(steps, oktaAnchorStep(f, au, S, E))
		if st, ok := g.consistencyGUIDStep(f, au, E); ok {
			steps = append(steps, st)
		}

	case classify.SyncManagedMismatch:
		steps = append(steps, oktaAnchorStep(f, au, S, E))

	case classify.UnfederatedUPN:
		steps = append(steps, g.federate(f, eu, au)...)

	case classify.NotInEntra:
		steps = append(steps, manualStep(fmt.Sprintf("No Entra user matches Okta user %q (%s): create or restore it in Entra, or unassign it from Office 365, after checking who uses it.", f.OktaUserID, f.UPN)))
		g.wantOrg(orgMapping)
	case classify.NotAssigned:
		steps = append(steps, manualStep(fmt.Sprintf("Choose the licences and roles for %q, then assign Okta user %q to Office 365 with them; Entra expects the anchor %q.", f.UPN, f.OktaUserID, E)))
	case classify.MultipleADSources:
		steps = append(steps, manualStep(fmt.Sprintf("Okta user %q is in %d AD app instances: choose the instance that owns its anchor (expected values %s), then re-run plan once the mapping names it.", f.OktaUserID, f.ADSources, quotedList(f.ExpectedAnchor))))
		g.wantOrg(orgPerInstance)
	case classify.OrphanEntra:
		steps = append(steps, manualStep(fmt.Sprintf("Entra user %q (ImmutableID %q) has no Okta user: link or create the Okta user, or retire the Entra account.", f.UPN, E)))
	case classify.AnchorConflict:
		steps = append(steps, manualStep("Decide which person owns the shared anchor before changing either: "+f.Explanation))
	case classify.UnknownMismatch:
		steps = append(steps, manualStep(fmt.Sprintf("Entra holds %q and Okta sends %q; neither is an expected value (%s): review before changing either.", E, S, quotedList(f.ExpectedAnchor))))
	default:
		return id, fmt.Errorf("scenario %q has no fix this anchorscan knows", f.Scenario)
	}
	if f.Scenario == classify.OktaAnchorEmpty {
		g.wantOrg(orgMapping)
	}
	id.Steps = steps
	return id, nil
}

// changeEntraAnchor sets E := to. On a federated UPN Entra refuses the
// change, so the UPN is parked on the managed parking domain first and
// moved back after; a failure in between moves it back (the compensation).
func (g *generator) changeEntraAnchor(u *record.EntraUser, from, to string) []Step {
	if u == nil {
		return []Step{manualStep(fmt.Sprintf("There is no Entra user to set the ImmutableID %q on.", to))}
	}
	if u.SyncEnabled {
		return []Step{manualStep(fmt.Sprintf("Entra user %q is mastered by Entra Connect, which refuses Graph changes: set its source anchor to %q on the AD side and let Entra Connect sync it.", u.UserPrincipalName, to))}
	}
	upn := u.UserPrincipalName
	if !g.federated(upnDomain(upn)) {
		return []Step{setAnchorStep(u.ID, upn, from, to)}
	}
	parked := g.parkedUPN(u)
	park := Step{
		Kind:         GraphParkUPN,
		Target:       Target{System: sysGraph, ID: u.ID},
		Params:       map[string]string{paramUPN: parked},
		Precondition: map[string]*string{paramUPN: Value(upn), paramEntraAnchor: optionalValue(from)},
		Description: fmt.Sprintf("Move Entra user %q to the parking UPN %q on the managed domain, because Entra refuses to change the ImmutableID of a federated UPN",
			upn, parked),
		Compensation: &Step{
			Kind:   GraphRestoreUPN,
			Target: Target{System: sysGraph, ID: u.ID},
			Params: map[string]string{paramUPN: upn},
			// Only the UPN: the ImmutableID may or may not have changed when
			// a later step fails, and either way the UPN must go back.
			Precondition: map[string]*string{paramUPN: Value(parked)},
			Description:  fmt.Sprintf("Move the UPN back from %q to %q, so nobody is left on the parking domain", parked, upn),
		},
	}
	restore := Step{
		Kind:         GraphRestoreUPN,
		Target:       Target{System: sysGraph, ID: u.ID},
		Params:       map[string]string{paramUPN: upn},
		Precondition: map[string]*string{paramUPN: Value(parked), paramEntraAnchor: optionalValue(to)},
		Description:  fmt.Sprintf("Move the UPN back from %q to %q", parked, upn),
	}
	return []Step{park, setAnchorStep(u.ID, parked, from, to), restore}
}

func setAnchorStep(entraID, upn, from, to string) Step {
	return Step{
		Kind:         GraphSetAnchor,
		Target:       Target{System: sysGraph, ID: entraID},
		Params:       map[string]string{paramEntraAnchor: to},
		Precondition: map[string]*string{paramUPN: Value(upn), paramEntraAnchor: optionalValue(from)},
		Description:  fmt.Sprintf("Set Entra's onPremisesImmutableId of %q from %s to %q", upn, shownValue(from), to),
		Compensation: &Step{
			Kind:         GraphSetAnchor,
			Target:       Target{System: sysGraph, ID: entraID},
			Params:       map[string]string{paramEntraAnchor: from},
			Precondition: map[string]*string{paramUPN: Value(upn), paramEntraAnchor: optionalValue(to)},
			Description:  fmt.Sprintf("Set Entra's onPremisesImmutableId of %q back to %s", upn, shownValue(from)),
		},
	}
}

// parkedUPN is the UPN's local part on the parking domain, made unique
// against every UPN of the snapshot and every other parked one: two people
// named john on two domains must not collide while parked.
func (g *generator) parkedUPN(u *record.EntraUser) string {
	local := u.UserPrincipalName
	if at := strings.LastIndexByte(local, '@'); at >= 0 {
		local = local[:at]
	}
	short := strings.ReplaceAll(u.ID, "-", "")
	candidates := []string{local, trimUPNLocal(local, 9) + "-" + short[:min(8, len(short))], trimUPNLocal(local, len(short)+1) + "-" + short}
	for _, c := range candidates {
		upn := c + "@" + g.parking
		if !g.taken[strings.ToLower(upn)] {
			g.taken[strings.ToLower(upn)] = true
			return upn
		}
	}
	// The object id is unique in the tenant, so this cannot be taken unless
	// a UPN was built to collide with it.
	upn := "anchorscan-" + short + "@" + g.parking
	g.taken[strings.ToLower(upn)] = true
	return upn
}

// trimUPNLocal shortens a local part so that room more characters still fit
// under Entra's 64-character limit.
func trimUPNLocal(local string, room int) string {
	if n := maxUPNLocal - room; len(local) > n {
		return local[:max(n, 1)]
	}
	return local
}

func oktaAnchorStep(f *classify.Finding, au *record.OktaAppUser, from, to string) Step {
	return Step{
		Kind:         OktaSetAppUserAnchor,
		Target:       Target{System: sysOkta, ID: au.UserID, AppID: au.AppID},
		Params:       map[string]string{paramOktaAnchor: to},
		Precondition: map[string]*string{paramOktaAnchor: optionalValue(from)},
		Description:  fmt.Sprintf("Set the immutableId Okta sends for %q (Office 365 app user %s) from %s to %q", f.UPN, au.UserID, shownValue(from), to),
		Compensation: &Step{
			Kind:         OktaSetAppUserAnchor,
			Target:       Target{System: sysOkta, ID: au.UserID, AppID: au.AppID},
			Params:       map[string]string{paramOktaAnchor: from},
			Precondition: map[string]*string{paramOktaAnchor: optionalValue(to)},
			Description:  fmt.Sprintf("Set the immutableId Okta sends for %q back to %s", f.UPN, shownValue(from)),
		},
	}
}

func oktaAssignStep(userID, appID, userName, immutableID string, licenses, roles []string, assigned, precondAnchor *string, desc string) Step {
	pre := map[string]*string{paramAssigned: assigned}
	if precondAnchor != nil {
		pre[paramOktaAnchor] = precondAnchor
	}
	return Step{
		Kind:   OktaAssign,
		Target: Target{System: sysOkta, ID: userID, AppID: appID},
		Params: map[string]string{
			paramUserName: userName, paramOktaAnchor: immutableID,
			paramLicenses: jsonStrings(licenses), paramRoles: jsonStrings(roles),
		},
		Precondition: pre,
		Description:  desc,
	}
}

func oktaLogin(g *generator, f *classify.Finding) string {
	if u := g.oktaByID.Get(f.OktaUserID); u != nil {
		return u.Login
	}
	return f.UPN
}

// reassign is OKTA_ASSIGNMENT_STALE's fix: Okta keeps the value it computed
// at assignment, so the user is unassigned (with Deactivate Users off, or
// Microsoft 365 would deprovision them), re-imported by hand so that Okta
// takes Entra's value, and assigned again with the licences and roles it had.
func (g *generator) reassign(f *classify.Finding, au *record.OktaAppUser, E, S string) []Step {
	if app := g.o365[au.AppID]; app != nil && strings.EqualFold(app.DeactivateUsers, deactivateEnabled) {
		g.guardDeactivate(app)
	}
	licenses, roles := jsonStrings(au.Licenses), jsonStrings(au.Roles)
	unassign := Step{
		Kind:         OktaUnassign,
		Target:       Target{System: sysOkta, ID: au.UserID, AppID: au.AppID},
		Params:       map[string]string{paramLicenses: licenses, paramRoles: roles},
		Precondition: map[string]*string{paramAssigned: Value("true"), paramOktaAnchor: optionalValue(S)},
		Description: fmt.Sprintf("Unassign Okta user %q from Office 365 (it sends %s, Entra holds %q), recording licences %s and roles %s to give back",
			f.UPN, shownValue(S), E, licenses, roles),
	}
	userName := au.UserName
	if userName == "" {
		userName = f.UPN
	}
	importStep := manualStep(fmt.Sprintf("In Okta: Applications › Office 365 › Import › Import Now, then confirm %q matched to %q.", oktaLogin(g, f), f.UPN))
	verify := Step{
		Kind:        Verify,
		Target:      Target{System: sysOkta, ID: au.UserID, AppID: au.AppID},
		Params:      map[string]string{paramOktaAnchor: E},
		Description: fmt.Sprintf("Check that Okta's Office 365 app user for %q now has immutableId %q, taken from Entra by the import", f.UPN, E),
	}
	assign := oktaAssignStep(au.UserID, au.AppID, userName, E, au.Licenses, au.Roles, Value("true"), Value(E),
		fmt.Sprintf("Assign %q to Office 365 again with its licences %s and roles %s (the import left it assigned without them)", f.UPN, licenses, roles))
	return []Step{unassign, importStep, verify, assign}
}

// federate is UNFEDERATED_UPN's fix: give the user the anchor Okta will
// send while its UPN is still managed (no parking needed there), make Okta
// send the same, then move the UPN to the federated domain.
func (g *generator) federate(f *classify.Finding, u *record.EntraUser, au *record.OktaAppUser) []Step {
	E, S := f.EntraAnchor, f.OktaAnchor
	var target string
	switch {
	case isExpectedAnchor(f, S):
		target = S
	case isExpectedAnchor(f, E):
		target = E
	case E == "":
		target = g.adAnchor(f)
	}
	if target == "" {
		return []Step{manualStep(fmt.Sprintf("Entra holds %q and Okta sends %q, neither an expected value (%s): decide the anchor before moving the UPN to a federated domain.", E, S, quotedList(f.ExpectedAnchor)))}
	}
	if u.SyncEnabled {
		return []Step{manualStep(fmt.Sprintf("Entra user %q is mastered by Entra Connect: change its UPN suffix in AD to a federated domain.", u.UserPrincipalName))}
	}
	var steps []Step
	if E != target {
		steps = append(steps, setAnchorStep(u.ID, u.UserPrincipalName, E, target))
	}
	if S != target {
		steps = append(steps, oktaAnchorStep(f, au, S, target))
	}
	newUPN := au.UserName
	if !g.federated(upnDomain(newUPN)) {
		newUPN = oktaLogin(g, f)
	}
	if g.federated(upnDomain(newUPN)) && !strings.EqualFold(newUPN, u.UserPrincipalName) && g.taken[strings.ToLower(newUPN)] {
		return append(steps, manualStep(fmt.Sprintf("The federated UPN %q that %q should move to is already another user's: decide who keeps it.", newUPN, u.UserPrincipalName)))
	}
	g.taken[strings.ToLower(newUPN)] = true
	if !g.federated(upnDomain(newUPN)) {
		return append(steps, manualStep(fmt.Sprintf("Neither the Office 365 username %q nor the Okta login is on a federated domain: choose the federated UPN for %q and set it in Okta and Entra.", au.UserName, u.UserPrincipalName)))
	}
	steps = append(steps, Step{
		Kind:         GraphRestoreUPN,
		Target:       Target{System: sysGraph, ID: u.ID},
		Params:       map[string]string{paramUPN: newUPN},
		Precondition: map[string]*string{paramUPN: Value(u.UserPrincipalName), paramEntraAnchor: optionalValue(target)},
		Description:  fmt.Sprintf("Move the UPN from %q on a managed domain to %q on the federated domain, so that Entra sends the user to Okta", u.UserPrincipalName, newUPN),
	})
	return steps
}

// consistencyGUIDStep writes mS-DS-ConsistencyGuid when the O365 mapping
// reads it and the AD user has none: otherwise the value pushed to Okta
// would be computed from nothing on the next update.
func (g *generator) consistencyGUIDStep(f *classify.Finding, au *record.OktaAppUser, E string) (Step, bool) {
	app := g.o365[au.AppID]
	u := g.adUser(f.ADObjectGUID)
	if app == nil || u == nil || len(u.ConsistencyGUID) > 0 ||
		!strings.Contains(strings.ToLower(app.ImmutableIDExpression), "consistencyguid") {
		return Step{}, false
	}
	guid, err := anchor.ParseImmutableID(E)
	if err != nil {
		return Step{}, false
	}
	return Step{
		Kind:         ADSetConsistencyGUID,
		Target:       Target{System: sysAD, ID: u.DistinguishedName},
		Params:       map[string]string{paramConsistency: guid.String()},
		Precondition: map[string]*string{paramConsistency: nil},
		Description:  fmt.Sprintf("Write mS-DS-ConsistencyGuid %s on %q, which the Okta mapping reads and which is absent", guid, u.DistinguishedName),
		Compensation: &Step{
			Kind:         ADSetConsistencyGUID,
			Target:       Target{System: sysAD, ID: u.DistinguishedName},
			Params:       map[string]string{paramConsistency: ""},
			Precondition: map[string]*string{paramConsistency: Value(guid.String())},
			Description:  fmt.Sprintf("Remove the mS-DS-ConsistencyGuid written on %q", u.DistinguishedName),
		},
	}, true
}

// guardDeactivate turns Deactivate Users off before any identity step and
// back on after all: unassigning with it on deprovisions the user in
// Microsoft 365.
func (g *generator) guardDeactivate(app *record.OktaApp) {
	key := "deactivate|" + app.ID
	if g.orgSeen[key] {
		return
	}
	g.orgSeen[key] = true
	target := Target{System: sysOkta, ID: app.ID, AppID: app.ID}
	g.orgSteps = append(g.orgSteps, Step{
		Kind:         OktaSetDeactivate,
		Target:       target,
		Params:       map[string]string{paramDeactivate: deactivateDisabled},
		Precondition: map[string]*string{paramDeactivate: Value(deactivateEnabled)},
		Description:  fmt.Sprintf("Turn Deactivate Users off on the Office 365 app %s, so that unassigning does not deprovision users in Microsoft 365", o365Label(app)),
		Compensation: &Step{
			Kind: OktaSetDeactivate, Target: target,
			Params:       map[string]string{paramDeactivate: deactivateEnabled},
			Precondition: map[string]*string{paramDeactivate: Value(deactivateDisabled)},
			Description:  fmt.Sprintf("Turn Deactivate Users back on on %s", o365Label(app)),
		},
	})
	g.orgRestore = append(g.orgRestore, Step{
		Kind:         OktaSetDeactivate,
		Target:       target,
		Params:       map[string]string{paramDeactivate: deactivateEnabled},
		Precondition: map[string]*string{paramDeactivate: Value(deactivateDisabled)},
		Description:  fmt.Sprintf("Turn Deactivate Users back on on the Office 365 app %s, as it was", o365Label(app)),
	})
}

// Tenant-wide fixes an identity's scenario calls for.
const (
	orgMapping     = "mapping"
	orgPerInstance = "per-instance"
)

func (g *generator) wantOrg(kind string) { g.orgSeen["want|"+kind] = true }

// orgFixes turns the org findings into org steps (the mapping) and org
// review items. An unfiltered plan carries all of them; a filtered one only
// those its identities' scenarios call for, so that fixing one user does not
// quietly change the tenant.
func (g *generator) orgFixes(org []classify.OrgFinding, unfiltered bool) {
	want := func(kind string) bool { return unfiltered || g.orgSeen["want|"+kind] }
	codes := map[classify.OrgCode]classify.OrgFinding{}
	for _, o := range org {
		codes[o.Code] = o
	}
	_, defaultNull := codes[classify.OrgMappingDefaultNull]
	_, pushes := codes[classify.OrgMappingPushes]
	if (defaultNull || pushes) && want(orgMapping) {
		g.mappingSteps(defaultNull, pushes)
	}
	if o, ok := codes[classify.OrgMultipleADDefaultExpression]; ok && want(orgPerInstance) {
		g.orgReview = append(g.orgReview, manualStep("Choose a per-instance immutableId expression (e.g. active_directory.externalId of the instance that owns the anchor) on the Office 365 app: "+o.Explanation))
	}
	if !unfiltered {
		return
	}
	for _, code := range []classify.OrgCode{classify.OrgNoFederatedDomain, classify.OrgFederationIssuerNotOkta} {
		if o, ok := codes[code]; ok {
			g.orgReview = append(g.orgReview, manualStep(string(code)+": "+o.Explanation))
		}
	}
}

// mappingSteps sets the default immutableId expression to the recommended
// one and the push status to DONT_PUSH (apply on create only), per O365
// app. An expression other than the default that yields null needs a
// person to choose the replacement.
func (g *generator) mappingSteps(defaultNull, pushes bool) {
	var ids []string
	for id := range g.o365 {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		app := g.o365[id]
		expr, push := app.ImmutableIDExpression, app.ImmutableIDPushStatus
		newExpr, newPush := expr, push
		isDefault := strings.Join(strings.Fields(expr), "") == classify.ExpressionDefault
		if defaultNull && isDefault {
			newExpr, newPush = classify.ExpressionRecommended, mappingDontPush
		}
		if pushes && strings.EqualFold(push, "PUSH") {
			newPush = mappingDontPush
		}
		if defaultNull && !isDefault && strings.HasSuffix(strings.Join(strings.Fields(expr), ""), ":null") {
			g.orgReview = append(g.orgReview, manualStep(fmt.Sprintf("The immutableId expression %q of %s yields null for users without exactly one AD source: replace its null with user.getInternalProperty(\"id\").", expr, o365Label(app))))
		}
		if newExpr == expr && newPush == push {
			continue
		}
		if app.MappingID == "" {
			g.orgReview = append(g.orgReview, manualStep(fmt.Sprintf("Set the immutableId mapping of %s to %q with push status %s (its mapping id could not be read).", o365Label(app), newExpr, newPush)))
			continue
		}
		target := Target{System: sysOkta, ID: app.MappingID, AppID: app.ID}
		g.orgSteps = append(g.orgSteps, Step{
			Kind:         OktaUpdateMapping,
			Target:       target,
			Params:       map[string]string{paramExpression: newExpr, paramPushStatus: newPush},
			Precondition: map[string]*string{paramExpression: Value(expr), paramPushStatus: Value(push)},
			Description: fmt.Sprintf("Set the Okta→Office 365 immutableId mapping of %s from %q (%s) to %q (%s), so new assignments get an anchor and existing ones are not rewritten",
				o365Label(app), expr, push, newExpr, newPush),
			Compensation: &Step{
				Kind: OktaUpdateMapping, Target: target,
				Params:       map[string]string{paramExpression: expr, paramPushStatus: push},
				Precondition: map[string]*string{paramExpression: Value(newExpr), paramPushStatus: Value(newPush)},
				Description:  fmt.Sprintf("Set the immutableId mapping of %s back to %q (%s)", o365Label(app), expr, push),
			},
		})
	}
}

func manualStep(instructions string) Step {
	return Step{
		Kind:        Manual,
		Target:      Target{System: sysPerson},
		Params:      map[string]string{paramInstructions: instructions},
		Description: instructions,
	}
}

func o365Label(a *record.OktaApp) string {
	if a.Label != "" {
		return strconv.Quote(a.Label) + " (" + a.ID + ")"
	}
	return a.ID
}

// optionalValue is a precondition value: nil for "absent or empty".
func optionalValue(v string) *string {
	if v == "" {
		return nil
	}
	return Value(v)
}

func shownValue(v string) string {
	if v == "" {
		return "(empty)"
	}
	return strconv.Quote(v)
}

func quotedList(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func jsonStrings(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}
