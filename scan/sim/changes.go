package sim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"
)

// stamp says when a simulated object last changed: the state's logical
// clock (Seq) and the wall-clock time (At, millisecond precision, as Okta
// reports lastUpdated and System Log published). USN is the uSNChanged an
// AD object got; zero elsewhere. Removed marks an object that no longer
// exists (an unassigned app user, a deleted Entra or AD user).
type stamp struct {
	Seq     uint64
	At      time.Time
	USN     int64
	Removed bool
}

// AppUserKey names an Okta app user: an app instance and an Okta user.
type AppUserKey struct {
	AppID  string
	UserID string
}

// DeletedADUser is an AD user that was deleted: AD keeps it as a tombstone
// under CN=Deleted Objects, visible with the Show Deleted control.
type DeletedADUser struct {
	// DN is the tombstone's DN ("CN=name\0ADEL:guid,CN=Deleted Objects,…").
	DN string
	// LastKnownParent is the container it was deleted from.
	LastKnownParent string
	// ObjectGUID is the canonical GUID string, the one key that survives.
	ObjectGUID     string
	ObjectSID      string
	SAMAccountName string
	USN            int64
	At             time.Time
	// Seq is the logical time of the deletion (see State.Clock).
	Seq uint64
}

// changeLog is the change tracking of a State: per-object stamps, the
// System Log, AD tombstones and the USN counter. It lives beside the
// Tenant, not in it, so the fixture format stays as it is. Guarded by
// State.mu: written only under the write lock.
type changeLog struct {
	seq  uint64
	last time.Time
	now  func() time.Time

	// syncState names this change history: delta tokens carry it, and a
	// token from another history (another simulator run, or one expired
	// with ExpireDeltaTokens) is refused.
	syncState string

	okta map[string]stamp // Okta user id
	// oktaCreated is the created time of Okta users made after the state
	// was (by Mutate); the others get a stable one from their id.
	oktaCreated map[string]time.Time
	appUsers    map[AppUserKey]stamp // Okta app user
	entra       map[string]stamp     // Entra user id
	ad          map[string]stamp     // normalized DN

	// adBaseUSN is each AD user's uSNChanged before any tracked change,
	// fixed when the state is made so that removing one user does not
	// renumber the others.
	adBaseUSN map[string]int64
	usn       int64 // highestCommittedUSN

	tombstones []DeletedADUser
	logs       []oktaLogEvent
}

func newChangeLog(t *Tenant) changeLog {
	c := changeLog{
		now:         time.Now,
		syncState:   newSyncState(),
		okta:        map[string]stamp{},
		oktaCreated: map[string]time.Time{},
		appUsers:    map[AppUserKey]stamp{},
		entra:       map[string]stamp{},
		ad:          map[string]stamp{},
		adBaseUSN:   make(map[string]int64, len(t.AD.Users)),
	}
	for i := range t.AD.Users {
		c.adBaseUSN[normalizeDN(t.AD.Users[i].DistinguishedName)] = ldapBaseUSN + int64(i)
	}
	// Above every base USN, as a DC's highestCommittedUSN is.
	c.usn = ldapBaseUSN + int64(len(t.AD.Users))
	return c
}

func newSyncState() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// changeRecorder collects the changes of one write; they are stamped only
// when the write succeeds, all with the same logical time.
type changeRecorder struct {
	oktaUsers []string
	created   map[string]bool
	appUsers  []appUserChange
	entra     []entraChange
	ad        []adChange
	logs      []oktaLogDraft
}

type appUserChange struct {
	key     AppUserKey
	removed bool
}

type entraChange struct {
	id      string
	removed bool
}

type adChange struct {
	dn        string
	tombstone *DeletedADUser // set when the object was deleted
}

// oktaUser records a change to an Okta user's own attributes (status,
// profile), or its creation or deletion.
func (r *changeRecorder) oktaUser(id string) { r.oktaUsers = append(r.oktaUsers, id) }

// oktaUserCreated records a new Okta user: its created time is the change's.
func (r *changeRecorder) oktaUserCreated(id string) {
	if r.created == nil {
		r.created = map[string]bool{}
	}
	r.created[id] = true
	r.oktaUser(id)
}

// appUser records an assignment added, changed or removed, and the System
// Log event Okta writes for it.
func (r *changeRecorder) appUser(eventType string, app *OktaApp, au *OktaAppUser, user *OktaUser) {
	r.appUsers = append(r.appUsers, appUserChange{
		key:     AppUserKey{AppID: au.AppID, UserID: au.UserID},
		removed: eventType == oktaEventAppUserRemove,
	})
	r.logs = append(r.logs, newAppMembershipEvent(eventType, app, au, user))
}

func (r *changeRecorder) entraUser(id string) { r.entra = append(r.entra, entraChange{id: id}) }
func (r *changeRecorder) entraUserRemoved(id string) {
	r.entra = append(r.entra, entraChange{id: id, removed: true})
}
func (r *changeRecorder) adUser(dn string) { r.ad = append(r.ad, adChange{dn: dn}) }

// adUserDeleted records the deletion of u, which becomes a tombstone.
func (r *changeRecorder) adUserDeleted(u *ADUser) {
	parent := u.DistinguishedName
	if i := indexUnescapedComma(parent); i >= 0 {
		parent = parent[i+1:]
	}
	r.ad = append(r.ad, adChange{dn: u.DistinguishedName, tombstone: &DeletedADUser{
		LastKnownParent: parent,
		ObjectGUID:      u.ObjectGUID,
		ObjectSID:       u.ObjectSID,
		SAMAccountName:  u.SAMAccountName,
	}})
}

// commit stamps everything r recorded at the next logical time. Called
// under the state's write lock.
func (c *changeLog) commit(t *Tenant, r *changeRecorder) {
	if len(r.oktaUsers)+len(r.appUsers)+len(r.entra)+len(r.ad)+len(r.logs) == 0 {
		return
	}
	c.seq++
	at := c.now().UTC().Truncate(time.Millisecond)
	if at.Before(c.last) {
		at = c.last // the wall clock stepped back: keep stamps ordered
	}
	c.last = at
	now := stamp{Seq: c.seq, At: at}
	var oktaIDs map[string]bool
	if len(r.oktaUsers) > 0 {
		oktaIDs = make(map[string]bool, len(t.Okta.Users))
		for i := range t.Okta.Users {
			oktaIDs[t.Okta.Users[i].ID] = true
		}
	}
	for _, id := range r.oktaUsers {
		s := now
		if r.created[id] {
			c.oktaCreated[id] = at
		}
		s.Removed = !oktaIDs[id]
		c.okta[id] = s
	}
	var adDNs map[string]bool
	for _, ch := range r.ad {
		if ch.tombstone != nil && adDNs == nil {
			adDNs = make(map[string]bool, len(t.AD.Users))
			for i := range t.AD.Users {
				adDNs[normalizeDN(t.AD.Users[i].DistinguishedName)] = true
			}
		}
	}
	for _, ch := range r.appUsers {
		s := now
		s.Removed = ch.removed
		c.appUsers[ch.key] = s
	}
	for _, ch := range r.entra {
		s := now
		s.Removed = ch.removed
		c.entra[ch.id] = s
	}
	for _, ch := range r.ad {
		c.usn++ // every object written gets its own USN, as in AD
		s := now
		s.USN = c.usn
		norm := normalizeDN(ch.dn)
		if ch.tombstone != nil {
			ts := *ch.tombstone
			ts.USN, ts.At, ts.Seq = c.usn, at, c.seq
			ts.DN = tombstoneDN(ch.dn, ts.ObjectGUID, t)
			c.tombstones = append(c.tombstones, ts)
			if !adDNs[norm] {
				s.Removed = true
				c.ad[norm] = s
			}
			continue
		}
		c.ad[norm] = s
	}
	for i, d := range r.logs {
		c.logs = append(c.logs, d.event(c.seq, i, at))
	}
}

// tombstoneDN is where AD keeps a deleted object: its RDN value with
// "\0ADEL:<guid>" appended, under the domain's CN=Deleted Objects.
func tombstoneDN(dn, guid string, t *Tenant) string {
	base := ""
	norm := normalizeDN(dn)
	for _, d := range t.AD.Domains {
		if dnUnder(norm, normalizeDN(d.BaseDN)) && len(d.BaseDN) > len(base) {
			base = d.BaseDN
		}
	}
	return "CN=" + rdnValue(dn) + `\0ADEL:` + guid + ",CN=Deleted Objects," + base
}

func indexUnescapedComma(dn string) int {
	for i := 0; i < len(dn); i++ {
		if dn[i] == ',' && !isEscaped(dn, i) {
			return i
		}
	}
	return -1
}

func findOktaUserIndex(t *Tenant, id string) int {
	for i := range t.Okta.Users {
		if t.Okta.Users[i].ID == id {
			return i
		}
	}
	return -1
}

// update is Update for the simulator's own writes: fn records what it
// changes, and the changes are stamped when fn succeeds.
func (s *State) update(fn func(t *Tenant, rec *changeRecorder) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rec changeRecorder
	if err := fn(s.tenant, &rec); err != nil {
		return err
	}
	s.changes.commit(s.tenant, &rec)
	s.version++
	return nil
}

// Clock is the state's logical clock: it moves once per write that changed
// a tracked object. Delta tokens and stamps carry it.
func (s *State) Clock() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changes.seq
}

// ExpireDeltaTokens forgets the change history that Graph delta tokens
// refer to, as Entra does after seven days: every delta or skip token
// issued before is then refused with syncStateNotFound, and a client must
// start a full round again.
func (s *State) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes.syncState = newSyncState()
}

// ChangeSet lists the objects changed after a logical time, per source.
type ChangeSet struct {
	OktaUsers         []string     // changed or created, still present
	OktaUsersRemoved  []string     // deleted
	OktaAppUsers      []AppUserKey // assigned, changed or unassigned
	EntraUsers        []string     // changed or created, still present
	EntraUsersRemoved []string
	ADUsers           []string // DNs changed or created, still present
	ADUsersDeleted    []DeletedADUser
}

// ChangesSince lists what changed after the logical time since (see
// Clock), each list sorted: what an incremental reader must find.
func (s *State) ChangesSince(since uint64) ChangeSet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changesSince(since)
}

// changesSince is ChangesSince under a lock the caller holds.
func (s *State) changesSince(since uint64) ChangeSet {
	c := &s.changes
	var cs ChangeSet
	for id, st := range c.okta {
		if st.Seq > since {
			if st.Removed {
				cs.OktaUsersRemoved = append(cs.OktaUsersRemoved, id)
			} else {
				cs.OktaUsers = append(cs.OktaUsers, id)
			}
		}
	}
	for k, st := range c.appUsers {
		if st.Seq > since {
			cs.OktaAppUsers = append(cs.OktaAppUsers, k)
		}
	}
	for id, st := range c.entra {
		if st.Seq > since {
			if st.Removed {
				cs.EntraUsersRemoved = append(cs.EntraUsersRemoved, id)
			} else {
				cs.EntraUsers = append(cs.EntraUsers, id)
			}
		}
	}
	for _, u := range s.tenant.AD.Users {
		if st, ok := c.ad[normalizeDN(u.DistinguishedName)]; ok && st.Seq > since {
			cs.ADUsers = append(cs.ADUsers, u.DistinguishedName)
		}
	}
	for _, ts := range c.tombstones {
		if ts.Seq > since {
			cs.ADUsersDeleted = append(cs.ADUsersDeleted, ts)
		}
	}
	sort.Strings(cs.OktaUsers)
	sort.Strings(cs.OktaUsersRemoved)
	sortAppUserKeys(cs.OktaAppUsers)
	sort.Strings(cs.EntraUsers)
	sort.Strings(cs.EntraUsersRemoved)
	sort.Strings(cs.ADUsers)
	sort.Slice(cs.ADUsersDeleted, func(i, j int) bool { return cs.ADUsersDeleted[i].ObjectGUID < cs.ADUsersDeleted[j].ObjectGUID })
	return cs
}

func sortAppUserKeys(keys []AppUserKey) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].AppID != keys[j].AppID {
			return keys[i].AppID < keys[j].AppID
		}
		return keys[i].UserID < keys[j].UserID
	})
}

// String is "appId/userId".
func (k AppUserKey) String() string { return fmt.Sprintf("%s/%s", k.AppID, k.UserID) }
