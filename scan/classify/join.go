package classify

import (
	"slices"
	"strings"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/record"
)

// The keys that join records, as they appear in Link.Key. They are stable
// text: reports show them as the evidence of a join.
const (
	KeyADAppExternalID   = "ad-app-user externalId = base64(objectGUID)"
	KeyO365ExternalID    = "o365-app-user externalId = entra object id"
	KeyADGUIDImmutableID = "base64(objectGUID) = onPremisesImmutableId"
	KeyADConsistencyGUID = "base64(mS-DS-ConsistencyGuid) = onPremisesImmutableId"
	KeyO365ImmutableID   = "o365-app-user immutableId = onPremisesImmutableId"
	KeyADSID             = "objectSid = onPremisesSecurityIdentifier"
	KeyO365UserNameUPN   = "o365-app-user userName = userPrincipalName"
	KeyOktaLoginUPN      = "okta login = userPrincipalName"
	KeyADUPNEntraUPN     = "AD userPrincipalName = Entra userPrincipalName"
)

// The Okta app names (OktaApp.Name, compared ignoring case) of the instances
// the join reads.
const (
	appNameOffice365       = "office365"
	appNameActiveDirectory = "active_directory"
)

type oktaRec struct {
	user   *record.OktaUser
	o365   []*record.OktaAppUser // sorted by app id
	adApps []*record.OktaAppUser // sorted by app id
	// linkedO365 is the O365 app user whose key joined the Entra user; its
	// immutableId is S. Without such a link S comes from o365[0].
	linkedO365 *record.OktaAppUser
	ident      *identity
	ref        string // "okta:<id>", built on first use
}

type entraRec struct {
	user  *record.EntraUser
	ident *identity
	ref   string // "entra:<id>", built on first use
}

type adRec struct {
	user        *record.ADUser
	guid        anchor.GUID
	anchor      string // base64 of the raw objectGUID
	consistency string // base64 of the raw mS-DS-ConsistencyGuid; "" when absent or not 16 bytes
	ident       *identity
	ref         string // "ad:<distinguishedName>", built on first use
	// self backs the one-element identity.ad of the record's own identity,
	// saving an allocation per AD user; merging appends past its capacity.
	self [1]*adRec
}

// identity is one person: at most one Entra user and one Okta user, and the
// AD users joined to them (more than one only when the Okta user is in several
// AD app instances or Okta and Entra point at different AD objects).
type identity struct {
	entra    *entraRec
	okta     *oktaRec
	ad       []*adRec
	evidence []Link
}

// The refs name a record in Link.From and Link.To; a record is in one or two
// links, so building the string once saves an allocation per link.
func (o *oktaRec) linkRef() string {
	if o.ref == "" {
		o.ref = "okta:" + o.user.ID
	}
	return o.ref
}

func (e *entraRec) linkRef() string {
	if e.ref == "" {
		e.ref = "entra:" + e.user.ID
	}
	return e.ref
}

func (a *adRec) linkRef() string {
	if a.ref == "" {
		a.ref = "ad:" + a.user.DistinguishedName
	}
	return a.ref
}

func (id *identity) empty() bool { return id.entra == nil && id.okta == nil && len(id.ad) == 0 }

// joiner holds the records of one snapshot, indexed by every key the join uses.
type joiner struct {
	oktas  []oktaRec
	entras []entraRec
	ads    []adRec
	idents []identity

	adByAnchor  map[string]*adRec
	entraByID   map[string]*entraRec
	entraByE    map[string]*entraRec
	entraBySID  map[string]*entraRec
	entraByUPN  map[string]*entraRec // lower-cased UPN
	appKindByID map[string]string
}

// join builds the identities. Records are sorted by id first so that the
// result does not depend on the order the collectors delivered them in.
// Links are applied strongest key first across all records; a link is taken
// only if it keeps every identity at one Entra user and one Okta user, so a
// link whose target is missing or already someone else's falls through to the
// next, weaker key. When two targets share a key (duplicates in the snapshot)
// the one with the smallest id is the target; ANCHOR_CONFLICT reports it.
// A record whose identity already has its Entra user skips the weaker
// Entra keys: any further link would be refused, and not looking saves
// most map lookups on a healthy tenant.
func join(in Input) []*identity {
	j := newJoiner(in)
	j.linkOktaAD()
	j.linkO365ExternalID()
	j.linkADImmutableID()
	j.linkO365ImmutableID()
	j.linkADSID()
	j.linkO365UserName()
	j.linkOktaLogin()
	j.linkADUPN()

	// The list of identities has a slot per record, and merging left most
	// of them empty: the identities are copied to a list of their own, and
	// the records' pointers into the first list cleared (nothing after the
	// join asks a record for its identity), so that it is freed before the
	// facts and findings are made.
	kept := slices.Clone(slices.DeleteFunc(j.idents, func(id identity) bool { return id.empty() }))
	for i := range j.oktas {
		j.oktas[i].ident = nil
	}
	for i := range j.entras {
		j.entras[i].ident = nil
	}
	for i := range j.ads {
		j.ads[i].ident = nil
	}
	out := make([]*identity, len(kept))
	for i := range kept {
		out[i] = &kept[i]
	}
	return out
}

func newJoiner(in Input) *joiner {
	j := &joiner{
		oktas:       make([]oktaRec, len(in.OktaUsers)),
		entras:      make([]entraRec, len(in.EntraUsers)),
		ads:         make([]adRec, len(in.ADUsers)),
		idents:      make([]identity, len(in.OktaUsers)+len(in.EntraUsers)+len(in.ADUsers)),
		adByAnchor:  make(map[string]*adRec, len(in.ADUsers)),
		entraByID:   make(map[string]*entraRec, len(in.EntraUsers)),
		entraByE:    make(map[string]*entraRec, len(in.EntraUsers)),
		entraBySID:  make(map[string]*entraRec),
		entraByUPN:  make(map[string]*entraRec, len(in.EntraUsers)),
		appKindByID: make(map[string]string, len(in.OktaApps)),
	}
	next := 0
	newIdentity := func() *identity {
		id := &j.idents[next]
		next++
		return id
	}

	for _, app := range in.OktaApps {
		j.appKindByID[app.ID] = strings.ToLower(app.Name)
	}

	for i := range in.OktaUsers {
		j.oktas[i].user = &in.OktaUsers[i]
	}
	slices.SortFunc(j.oktas, func(a, b oktaRec) int { return strings.Compare(a.user.ID, b.user.ID) })
	oktaByID := make(map[string]*oktaRec, len(j.oktas))
	for i := range j.oktas {
		o := &j.oktas[i]
		if _, dup := oktaByID[o.user.ID]; !dup {
			oktaByID[o.user.ID] = o
		}
		o.ident = newIdentity()
		o.ident.okta = o
	}
	for i := range in.OktaAppUsers {
		au := &in.OktaAppUsers[i]
		o := oktaByID[au.UserID]
		if o == nil {
			continue // an assignment of a user the snapshot does not hold: nothing to join it to
		}
		switch j.appKindByID[au.AppID] {
		case appNameOffice365:
			o.o365 = append(o.o365, au)
		case appNameActiveDirectory:
			o.adApps = append(o.adApps, au)
		}
	}
	byApp := func(a, b *record.OktaAppUser) int { return strings.Compare(a.AppID, b.AppID) }
	for i := range j.oktas {
		slices.SortFunc(j.oktas[i].o365, byApp)
		slices.SortFunc(j.oktas[i].adApps, byApp)
	}

	for i := range in.EntraUsers {
		j.entras[i].user = &in.EntraUsers[i]
	}
	slices.SortFunc(j.entras, func(a, b entraRec) int { return strings.Compare(a.user.ID, b.user.ID) })
	for i := range j.entras {
		e := &j.entras[i]
		e.ident = newIdentity()
		e.ident.entra = e
		putFirst(j.entraByID, e.user.ID, e)
		putFirst(j.entraByE, e.user.ImmutableID, e)
		putFirst(j.entraBySID, e.user.SecurityID, e)
		putFirst(j.entraByUPN, strings.ToLower(e.user.UserPrincipalName), e)
	}

	for i := range in.ADUsers {
		u := &in.ADUsers[i]
		g, _ := anchor.FromRaw(u.ObjectGUID[:]) // 16 bytes: cannot fail
		a := &j.ads[i]
		a.user, a.guid, a.anchor = u, g, base64Std(u.ObjectGUID[:])
		if len(u.ConsistencyGUID) > 0 {
			// A value of the wrong length is no anchor Entra Connect could have written.
			a.consistency, _ = anchor.ImmutableIDFromRaw(u.ConsistencyGUID)
		}
	}
	slices.SortFunc(j.ads, func(a, b adRec) int {
		if c := slices.Compare(a.guid[:], b.guid[:]); c != 0 {
			return c
		}
		return strings.Compare(a.user.DistinguishedName, b.user.DistinguishedName)
	})
	for i := range j.ads {
		a := &j.ads[i]
		a.ident = newIdentity()
		a.self[0] = a
		a.ident.ad = a.self[:]
		putFirst(j.adByAnchor, a.anchor, a)
	}
	return j
}

func putFirst[V any](m map[string]*V, key string, v *V) {
	if key == "" {
		return
	}
	if _, ok := m[key]; !ok {
		m[key] = v
	}
}

// merge joins the identities of two records that link says are one person.
// It refuses (and the caller falls through to a weaker key) when the result
// would hold two Entra users or two Okta users.
func merge(a, b *identity, link Link) bool {
	if a == b {
		return true
	}
	if (a.entra != nil && b.entra != nil) || (a.okta != nil && b.okta != nil) {
		return false
	}
	if a.entra == nil {
		a.entra = b.entra
	}
	if a.okta == nil {
		a.okta = b.okta
	}
	if a.entra != nil {
		a.entra.ident = a
	}
	if a.okta != nil {
		a.okta.ident = a
	}
	for _, r := range b.ad {
		r.ident = a
	}
	a.ad = append(a.ad, b.ad...)
	a.evidence = append(a.evidence, b.evidence...)
	a.evidence = append(a.evidence, link)
	*b = identity{}
	return true
}

// mergeADEntra is merge for an AD↔Entra key: an Entra user that already has
// its AD user (by a stronger key) takes no second one.
func mergeADEntra(ad *adRec, e *entraRec, key, value string) {
	if ad.ident == e.ident || len(e.ident.ad) > 0 {
		return
	}
	merge(ad.ident, e.ident, Link{From: ad.linkRef(), To: e.linkRef(), Key: key, Value: value})
}

func mergeOktaEntra(o *oktaRec, au *record.OktaAppUser, e *entraRec, key, value string) {
	if o.ident == e.ident {
		return
	}
	if merge(o.ident, e.ident, Link{From: o.linkRef(), To: e.linkRef(), Key: key, Value: value}) && au != nil {
		o.linkedO365 = au
	}
}

func (j *joiner) linkOktaAD() {
	for i := range j.oktas {
		o := &j.oktas[i]
		for _, au := range o.adApps {
			a := j.adByAnchor[au.ExternalID] // no "" key: putFirst skips empty keys
			if a == nil {
				continue // the AD object is gone or its forest was not scanned
			}
			merge(o.ident, a.ident, Link{From: o.linkRef(), To: a.linkRef(), Key: KeyADAppExternalID, Value: au.ExternalID})
		}
	}
}

func (j *joiner) linkO365ExternalID() {
	for i := range j.oktas {
		o := &j.oktas[i]
		for _, au := range o.o365 {
			if o.ident.entra != nil {
				break // joined already: a further Entra user would be refused
			}
			if e := j.entraByID[au.ExternalID]; e != nil {
				mergeOktaEntra(o, au, e, KeyO365ExternalID, au.ExternalID)
			}
		}
	}
}

func (j *joiner) linkADImmutableID() {
	for i := range j.ads {
		a := &j.ads[i]
		if a.ident.entra != nil {
			continue
		}
		if e := j.entraByE[a.anchor]; e != nil {
			mergeADEntra(a, e, KeyADGUIDImmutableID, a.anchor)
		}
	}
	for i := range j.ads {
		a := &j.ads[i]
		if a.ident.entra != nil || a.consistency == "" {
			continue
		}
		if e := j.entraByE[a.consistency]; e != nil {
			mergeADEntra(a, e, KeyADConsistencyGUID, a.consistency)
		}
	}
}

func (j *joiner) linkO365ImmutableID() {
	for i := range j.oktas {
		o := &j.oktas[i]
		for _, au := range o.o365 {
			if o.ident.entra != nil {
				break
			}
			if e := j.entraByE[au.ImmutableID]; e != nil {
				mergeOktaEntra(o, au, e, KeyO365ImmutableID, au.ImmutableID)
			}
		}
	}
}

func (j *joiner) linkADSID() {
	for i := range j.ads {
		a := &j.ads[i]
		if a.ident.entra != nil {
			continue
		}
		if e := j.entraBySID[a.user.ObjectSID]; e != nil {
			mergeADEntra(a, e, KeyADSID, a.user.ObjectSID)
		}
	}
}

func (j *joiner) linkO365UserName() {
	for i := range j.oktas {
		o := &j.oktas[i]
		for _, au := range o.o365 {
			if o.ident.entra != nil {
				break
			}
			if e := j.entraByUPN[strings.ToLower(au.UserName)]; e != nil {
				mergeOktaEntra(o, au, e, KeyO365UserNameUPN, au.UserName)
			}
		}
	}
}

func (j *joiner) linkOktaLogin() {
	for i := range j.oktas {
		o := &j.oktas[i]
		if o.ident.entra != nil {
			continue
		}
		if e := j.entraByUPN[strings.ToLower(o.user.Login)]; e != nil {
			mergeOktaEntra(o, nil, e, KeyOktaLoginUPN, o.user.Login)
		}
	}
}

func (j *joiner) linkADUPN() {
	for i := range j.ads {
		a := &j.ads[i]
		if a.ident.entra != nil {
			continue
		}
		if e := j.entraByUPN[strings.ToLower(a.user.UserPrincipalName)]; e != nil {
			mergeADEntra(a, e, KeyADUPNEntraUPN, a.user.UserPrincipalName)
		}
	}
}
