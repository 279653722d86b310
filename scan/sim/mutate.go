package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

// MutationKind is one way Mutate changes an identity.
type MutationKind string

// The changes Mutate makes: the ones that move an identity between
// anchorscan's scenarios.
const (
	MutationEntraAnchorChanged MutationKind = "entra.anchor_changed" // onPremisesImmutableId set to another value
	MutationEntraAnchorCleared MutationKind = "entra.anchor_cleared" // onPremisesImmutableId cleared
	MutationEntraUserDeleted   MutationKind = "entra.user_deleted"   // Entra user soft-deleted
	MutationADConsistencyGUID  MutationKind = "ad.consistency_guid"  // mS-DS-ConsistencyGuid set or changed
	MutationADUserRecreated    MutationKind = "ad.user_recreated"    // AD user deleted, re-created at its DN with a new objectGUID
	MutationOktaUserStatus     MutationKind = "okta.user_status"     // ACTIVE ⇄ SUSPENDED
	MutationOktaUserProfile    MutationKind = "okta.user_profile"    // lastName changed
	MutationOktaAppUserAnchor  MutationKind = "okta.app_user_anchor" // office365 app user profile.immutableId changed
	MutationIdentityAdded      MutationKind = "identity.added"       // a new person in Okta, AD and Entra
	MutationOktaUserRemoved    MutationKind = "okta.user_removed"    // Okta user and its assignments deleted
)

// mutationMix is the share of each kind, out of 20, in allocation order.
// App-user changes (the anchor change, the added identity's AD assignment,
// the removed user's assignments) stay near a tenth of the identities: on
// the incremental path each costs a GET.
var mutationMix = []struct {
	kind   MutationKind
	weight int
}{
	{MutationEntraAnchorChanged, 3},
	{MutationADConsistencyGUID, 3},
	{MutationOktaUserStatus, 3},
	{MutationOktaUserProfile, 3},
	{MutationEntraAnchorCleared, 2},
	{MutationADUserRecreated, 2},
	{MutationOktaAppUserAnchor, 1},
	{MutationIdentityAdded, 1},
	{MutationOktaUserRemoved, 1},
	{MutationEntraUserDeleted, 1},
}

// MutationSummary says what Mutate changed.
type MutationSummary struct {
	// Identities is how many identities were changed: the sum of Counts.
	Identities int
	// Counts is the number of identities changed per kind.
	Counts map[MutationKind]int
	// Changes lists every object changed, per source, as ChangesSince
	// reports them: what an incremental read must return.
	Changes ChangeSet
	// Clock is the state's logical time of the mutation (see State.Clock).
	Clock uint64
}

// Mutate changes about fraction (0 < fraction <= 1) of the tenant's
// identities in ways that matter to anchorscan, spread over all sources
// (see the Mutation kinds), as one change-tracked write: Okta lastUpdated
// and System Log events, Entra delta and AD uSNChanged all show it, exactly
// as if the changes had come through the APIs. The same seed on the same
// tenant makes the same changes. Kinds that find no candidate (a tenant
// without AD, say) are skipped; Counts says what was done.
func (s *State) Mutate(seed uint64, fraction float64) (MutationSummary, error) {
	if math.IsNaN(fraction) || fraction <= 0 || fraction > 1 {
		return MutationSummary{}, fmt.Errorf("sim mutate: fraction %v must be in (0, 1] (0.01 changes 1%% of the identities)", fraction)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant
	m := &mutator{
		t:         t,
		rng:       rand.New(rand.NewPCG(seed, 0x616e63686f727363)),
		usedOkta:  map[string]bool{},
		usedEntra: map[string]bool{},
		usedAD:    map[string]bool{},
		counts:    map[MutationKind]int{},
	}
	total := max(len(t.Okta.Users), len(t.Entra.Users), len(t.AD.Users))
	if t.Expected != nil && len(t.Expected.Identities) > 0 {
		total = len(t.Expected.Identities)
	}
	if total == 0 {
		return MutationSummary{}, errors.New("sim mutate: the tenant has no identities to change")
	}
	n := max(1, int(math.Round(fraction*float64(total))))
	for _, a := range allocateMutations(n) {
		for range a.count {
			if m.apply(a.kind) {
				m.counts[a.kind]++
			}
		}
	}
	m.finish()
	before := s.changes.seq
	s.changes.commit(t, &m.rec)
	s.version++
	sum := MutationSummary{Counts: m.counts, Clock: s.changes.seq}
	for _, c := range m.counts {
		sum.Identities += c
	}
	sum.Changes = s.changesSince(before)
	return sum, nil
}

type mutationCount struct {
	kind  MutationKind
	count int
}

// allocateMutations splits n over the kinds by mutationMix, the remainder
// going to the heaviest kinds first.
func allocateMutations(n int) []mutationCount {
	total := 0
	for _, k := range mutationMix {
		total += k.weight
	}
	out := make([]mutationCount, len(mutationMix))
	given := 0
	for i, k := range mutationMix {
		out[i] = mutationCount{k.kind, n * k.weight / total}
		given += out[i].count
	}
	for i := 0; given < n; i = (i + 1) % len(out) {
		out[i].count++
		given++
	}
	return out
}

// mutator makes one Mutate's changes. Removals are applied at the end, so
// positions chosen earlier stay valid.
type mutator struct {
	t   *Tenant
	rng *rand.Rand
	rec changeRecorder

	usedOkta, usedEntra, usedAD map[string]bool
	counts                      map[MutationKind]int

	oktaPerm, entraPerm, adPerm, appUserPerm []int
	removeOkta, removeEntra                  map[string]bool
	added                                    int
}

func (m *mutator) perm(p *[]int, n int) []int {
	if *p == nil {
		*p = m.rng.Perm(n)
	}
	return *p
}

// pickOkta returns an unused Okta user that ok accepts, or nil.
func (m *mutator) pickOkta(ok func(u *OktaUser) bool) *OktaUser {
	for _, i := range m.perm(&m.oktaPerm, len(m.t.Okta.Users)) {
		u := &m.t.Okta.Users[i]
		if !m.usedOkta[u.ID] && ok(u) {
			m.usedOkta[u.ID] = true
			return u
		}
	}
	return nil
}

func (m *mutator) pickEntra(ok func(u *EntraUser) bool) *EntraUser {
	for _, i := range m.perm(&m.entraPerm, len(m.t.Entra.Users)) {
		u := &m.t.Entra.Users[i]
		if !m.usedEntra[u.ID] && u.UserType != "Guest" && ok(u) {
			m.usedEntra[u.ID] = true
			return u
		}
	}
	return nil
}

func (m *mutator) pickAD() *ADUser {
	for _, i := range m.perm(&m.adPerm, len(m.t.AD.Users)) {
		u := &m.t.AD.Users[i]
		if norm := normalizeDN(u.DistinguishedName); !m.usedAD[norm] {
			m.usedAD[norm] = true
			return u
		}
	}
	return nil
}

// newGUID is a random version-4 GUID from the mutation's stream.
func (m *mutator) newGUID() anchor.GUID {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := m.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	g, err := anchor.ParseGUID(formatUUID(b))
	if err != nil {
		panic(err) // formatUUID always yields a canonical GUID
	}
	return g
}

func (m *mutator) newOktaID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte(prefix)
	for range 17 {
		b = append(b, alphabet[m.rng.IntN(len(alphabet))])
	}
	return string(b)
}

func (m *mutator) apply(kind MutationKind) bool {
	t := m.t
	switch kind {
	case MutationEntraAnchorChanged, MutationEntraAnchorCleared:
		u := m.pickEntra(func(u *EntraUser) bool { return u.OnPremisesImmutableID != nil })
		if u == nil {
			return false
		}
		if kind == MutationEntraAnchorCleared {
			u.OnPremisesImmutableID = nil
		} else {
			v := m.newGUID().ImmutableID()
			u.OnPremisesImmutableID = &v
		}
		m.rec.entraUser(u.ID)
	case MutationEntraUserDeleted:
		u := m.pickEntra(func(*EntraUser) bool { return true })
		if u == nil {
			return false
		}
		if m.removeEntra == nil {
			m.removeEntra = map[string]bool{}
		}
		m.removeEntra[u.ID] = true
		m.rec.entraUserRemoved(u.ID)
	case MutationADConsistencyGUID:
		u := m.pickAD()
		if u == nil {
			return false
		}
		// Entra Connect first writes the objectGUID; a later change is an
		// admin or a migration tool writing another value.
		v := u.ObjectGUID
		if u.MSDSConsistencyGUID != nil {
			v = m.newGUID().String()
		}
		u.MSDSConsistencyGUID = &v
		m.rec.adUser(u.DistinguishedName)
	case MutationADUserRecreated:
		u := m.pickAD()
		if u == nil {
			return false
		}
		old := *u
		m.rec.adUserDeleted(&old)
		u.ObjectGUID = m.newGUID().String()
		u.MSDSConsistencyGUID = nil
		u.ObjectSID = m.newSID(old.ObjectSID)
		m.rec.adUser(u.DistinguishedName)
	case MutationOktaUserStatus:
		u := m.pickOkta(func(u *OktaUser) bool { return u.Status == "ACTIVE" || u.Status == "SUSPENDED" })
		if u == nil {
			return false
		}
		event := oktaEventUserSuspend
		if u.Status == "SUSPENDED" {
			u.Status, event = "ACTIVE", oktaEventUserUnsuspend
		} else {
			u.Status = "SUSPENDED"
		}
		m.rec.oktaUser(u.ID)
		m.rec.oktaUserEvent(event, u)
	case MutationOktaUserProfile:
		u := m.pickOkta(func(*OktaUser) bool { return true })
		if u == nil {
			return false
		}
		u.LastName = strings.TrimSpace(u.LastName + " Changed" + strconv.Itoa(m.counts[kind]+1))
		m.rec.oktaUser(u.ID)
		m.rec.oktaUserEvent(oktaEventUserProfile, u)
	case MutationOktaAppUserAnchor:
		for _, i := range m.perm(&m.appUserPerm, len(t.Okta.AppUsers)) {
			au := &t.Okta.AppUsers[i]
			app := findOktaApp(t, au.AppID)
			if app == nil || app.Name != "office365" || m.usedOkta[au.UserID] {
				continue
			}
			m.usedOkta[au.UserID] = true
			v := m.newGUID().ImmutableID()
			au.Profile.ImmutableID = &v
			var user *OktaUser
			if ui := findOktaUserIndex(t, au.UserID); ui >= 0 {
				user = &t.Okta.Users[ui]
			}
			m.rec.appUser(oktaEventAppUserUpdate, app, au, user)
			return true
		}
		return false
	case MutationIdentityAdded:
		return m.addIdentity()
	case MutationOktaUserRemoved:
		assigned := map[string]bool{}
		for _, au := range t.Okta.AppUsers {
			assigned[au.UserID] = true
		}
		// A user without assignments first: removing one with assignments
		// changes app users too, which the mix keeps few.
		u := m.pickOkta(func(u *OktaUser) bool { return !assigned[u.ID] })
		if u == nil {
			u = m.pickOkta(func(*OktaUser) bool { return true })
		}
		if u == nil {
			return false
		}
		if m.removeOkta == nil {
			m.removeOkta = map[string]bool{}
		}
		m.removeOkta[u.ID] = true
	default:
		return false
	}
	return true
}

// newSID is a SID in the same domain as like, with a RID no generated
// user has.
func (m *mutator) newSID(like string) string {
	i := strings.LastIndexByte(like, '-')
	if i < 0 || !strings.HasPrefix(like, "S-1-5-21-") {
		like, i = "S-1-5-21-1004336348-1177238915-682003330-0", len("S-1-5-21-1004336348-1177238915-682003330")
	}
	return like[:i+1] + strconv.Itoa(500000+m.rng.IntN(1<<30))
}

// addIdentity adds a person to all three sources, linked as Entra Connect
// and Okta's AD agent would link them: the AD user's objectGUID is the
// Entra anchor and the AD app user's externalId.
func (m *mutator) addIdentity() bool {
	t := m.t
	if len(t.Okta.Users) == 0 || len(t.AD.Domains) == 0 {
		return false
	}
	m.added++
	g := m.newGUID()
	anchorValue := g.ImmutableID()
	domain := upnDomain(t.Okta.Users[0].Login)
	local := fmt.Sprintf("added.%d.%s", m.added, strings.ToLower(m.newOktaID("")[:6]))
	login := local + "@" + domain
	first, last := "Added", "Person "+strconv.Itoa(m.added)

	parent := t.AD.Domains[0].BaseDN
	sidLike := ""
	if len(t.AD.Users) > 0 {
		dn := t.AD.Users[0].DistinguishedName
		if i := indexUnescapedComma(dn); i >= 0 {
			parent = dn[i+1:]
		}
		sidLike = t.AD.Users[0].ObjectSID
	}
	ad := ADUser{
		DistinguishedName: "CN=" + local + "," + parent, ObjectGUID: g.String(), ObjectSID: m.newSID(sidLike),
		UserPrincipalName: login, SAMAccountName: local[:min(len(local), 20)], Mail: login, UserAccountControl: 512,
	}
	okta := OktaUser{ID: m.newOktaID("00u"), Status: "ACTIVE", Login: login, Email: login, FirstName: first, LastName: last}
	entra := EntraUser{
		ID: m.newGUID().String(), UserPrincipalName: login, DisplayName: first + " " + last, Mail: login,
		AccountEnabled: true, UserType: "Member", OnPremisesImmutableID: &anchorValue,
	}
	t.AD.Users = append(t.AD.Users, ad)
	t.Okta.Users = append(t.Okta.Users, okta)
	t.Entra.Users = append(t.Entra.Users, entra)
	m.usedOkta[okta.ID], m.usedEntra[entra.ID], m.usedAD[normalizeDN(ad.DistinguishedName)] = true, true, true
	m.rec.adUser(ad.DistinguishedName)
	m.rec.oktaUserCreated(okta.ID)
	m.rec.oktaUserEvent(oktaEventUserCreate, &okta)
	m.rec.entraUser(entra.ID)
	for i := range t.Okta.Apps {
		app := &t.Okta.Apps[i]
		if app.Name != "active_directory" {
			continue
		}
		ext := anchorValue
		au := OktaAppUser{AppID: app.ID, UserID: okta.ID, AppUserID: m.newOktaID("0ua"), ExternalID: &ext,
			UserName: ad.SAMAccountName, Status: "ACTIVE"}
		t.Okta.AppUsers = append(t.Okta.AppUsers, au)
		m.rec.appUser(oktaEventAppUserAdd, app, &au, &okta)
		break // the AD agent of the forest the user is in
	}
	return true
}

// finish applies the removals chosen by apply.
func (m *mutator) finish() {
	t := m.t
	if len(m.removeOkta) > 0 {
		t.Okta.AppUsers = slices.DeleteFunc(t.Okta.AppUsers, func(au OktaAppUser) bool {
			if !m.removeOkta[au.UserID] {
				return false
			}
			if app := findOktaApp(t, au.AppID); app != nil {
				var user *OktaUser
				if ui := findOktaUserIndex(t, au.UserID); ui >= 0 {
					user = &t.Okta.Users[ui]
				}
				m.rec.appUser(oktaEventAppUserRemove, app, &au, user)
			}
			return true
		})
		for _, u := range t.Okta.Users {
			if m.removeOkta[u.ID] {
				m.rec.oktaUserEvent(oktaEventUserDelete, &u)
				m.rec.oktaUser(u.ID)
			}
		}
		t.Okta.Users = slices.DeleteFunc(t.Okta.Users, func(u OktaUser) bool { return m.removeOkta[u.ID] })
	}
	if len(m.removeEntra) > 0 {
		t.Entra.Users = slices.DeleteFunc(t.Entra.Users, func(u EntraUser) bool { return m.removeEntra[u.ID] })
	}
}
