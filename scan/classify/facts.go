package classify

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/anchorscan/anchorscan/scan/record"
)

// Facts are what the decision table looks at for one identity (DESIGN §5),
// plus the names and ids the explanation quotes.
type Facts struct {
	// UPN is the Entra UPN if there is an Entra user, else the Okta login,
	// else the AD UPN; Domain is its part after '@'.
	UPN         string
	Domain      string
	DisplayName string

	EntraUserID  string
	EntraUPN     string
	OktaUserID   string
	OktaLogin    string
	ADObjectGUID string // canonical string of the first AD user
	ADDN         string

	HasEntra  bool
	HasOkta   bool
	HasAD     bool // an AD user is in the identity (not merely an AD app assignment in Okta)
	Guest     bool // userType Guest or #EXT# in the UPN
	Assigned  bool // the Okta user is assigned to an office365 app instance
	Federated bool // the UPN's domain, or the nearest listed parent, is Federated
	Sync      bool // onPremisesSyncEnabled: Entra Connect masters the user

	E   string   // Entra onPremisesImmutableId
	S   string   // the O365 app user's immutableId: what Okta sends
	X   []string // the values a correct anchor may have (see expectedAnchors)
	NAD int      // AD app instances the Okta user is assigned to

	// Conflict is set when E or S is also held by another identity, or when
	// this identity's ConsistencyGuid is another identity's too; the detail
	// names the value and the other holder.
	Conflict       bool
	ConflictDetail string
}

// inX reports whether v is one of the expected anchors; "" never is.
func (f *Facts) inX(v string) bool {
	if v == "" {
		return false
	}
	for _, x := range f.X {
		if x == v {
			return true
		}
	}
	return false
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// domainIndex answers whether a UPN's domain is federated.
type domainIndex map[string]bool // lower-cased domain → Federated

func newDomainIndex(domains []record.EntraDomain) domainIndex {
	idx := make(domainIndex, len(domains))
	for _, d := range domains {
		idx[strings.ToLower(d.ID)] = strings.EqualFold(d.AuthenticationType, "Federated")
	}
	return idx
}

// federated walks from the UPN's domain up its parents; the first listed
// domain decides, because a subdomain added to the tenant on its own (like
// cloud.contoso.example, Managed) overrides its federated parent while an
// unlisted subdomain inherits the parent's federation.
func (idx domainIndex) federated(domain string) bool {
	d := strings.ToLower(domain)
	for d != "" {
		if fed, ok := idx[d]; ok {
			return fed
		}
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			break
		}
		d = d[dot+1:]
	}
	return false
}

func domainOf(upn string) string {
	if at := strings.LastIndexByte(upn, '@'); at >= 0 {
		return upn[at+1:]
	}
	return ""
}

// containsFoldASCII is strings.Contains ignoring ASCII case, without
// allocating a lower-cased copy per identity.
func containsFoldASCII(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// factsOf gathers the facts of one identity, all but the conflict.
func factsOf(id *identity, domains domainIndex) Facts {
	var f Facts
	if e := id.entra; e != nil {
		u := e.user
		f.HasEntra = true
		f.EntraUserID, f.EntraUPN = u.ID, u.UserPrincipalName
		f.E = u.ImmutableID
		f.Sync = u.SyncEnabled
		f.Guest = strings.EqualFold(u.UserType, "Guest") || containsFoldASCII(u.UserPrincipalName, "#EXT#")
		f.UPN, f.DisplayName = u.UserPrincipalName, u.DisplayName
	}
	if o := id.okta; o != nil {
		f.HasOkta = true
		f.OktaUserID, f.OktaLogin = o.user.ID, o.user.Login
		f.NAD = countInstances(o.adApps)
		if len(o.o365) > 0 {
			f.Assigned = true
			au := o.linkedO365
			if au == nil {
				au = o.o365[0]
			}
			f.S = au.ImmutableID
		}
		if f.UPN == "" {
			f.UPN = o.user.Login
		}
		if f.DisplayName == "" {
			f.DisplayName = strings.TrimSpace(o.user.FirstName + " " + o.user.LastName)
		}
	}
	if len(id.ad) > 0 {
		a := id.ad[0]
		f.HasAD = true
		f.ADObjectGUID, f.ADDN = a.guid.String(), a.user.DistinguishedName
		if f.UPN == "" {
			f.UPN = a.user.UserPrincipalName
		}
		if f.DisplayName == "" {
			f.DisplayName = a.user.SAMAccountName
		}
	}
	f.Domain = domainOf(f.UPN)
	f.Federated = domains.federated(f.Domain)
	f.X = expectedAnchors(id)
	return f
}

func countInstances(aus []*record.OktaAppUser) int {
	n := 0
	for i, au := range aus { // sorted by app id
		if i == 0 || aus[i-1].AppID != au.AppID {
			n++
		}
	}
	return n
}

// expectedAnchors is X: for an AD-sourced identity, base64 of the objectGUID
// and of the ConsistencyGuid of every AD user in it, and the externalId of
// every AD app user (which is base64(objectGUID) of an AD object the snapshot
// may not hold, e.g. when that forest was not scanned); for a cloud-only
// identity, the Okta user id. The O365 app user id (0ua…) would be expected
// too, but the records do not carry it.
func expectedAnchors(id *identity) []string {
	var x []string
	add := func(v string) {
		if v == "" {
			return
		}
		for _, have := range x {
			if have == v {
				return
			}
		}
		x = append(x, v)
	}
	for _, a := range id.ad {
		add(a.anchor)
		add(a.consistency)
	}
	if o := id.okta; o != nil {
		for _, au := range o.adApps {
			add(au.ExternalID)
		}
		if len(x) == 0 && len(id.ad) == 0 {
			add(o.user.ID)
		}
	}
	return x
}

// holders records which identities hold a value: the first two distinct ones
// and how many there are, enough to say "also held by …".
type holders struct {
	first, second int32
	n             int32
}

func (h *holders) add(i int32) {
	switch {
	case h.n == 0:
		h.first, h.n = i, 1
	case h.first == i || (h.n > 1 && h.second == i):
		// already counted: E and S of one identity, or one person's two AD objects
	case h.n == 1:
		h.second, h.n = i, 2
	default:
		h.n++
	}
}

// other returns a holder that is not i.
func (h holders) other(i int32) int32 {
	if h.first == i {
		return h.second
	}
	return h.first
}

// markConflicts sets Conflict on every identity whose E or S is held by
// another identity (as E or as S: two Entra users with one anchor, an Okta
// user sending another person's anchor, two Okta users sending the same
// value), or whose AD user's ConsistencyGuid another identity's AD user has
// too. Comparisons are exact, as Entra's are.
func markConflicts(facts []Facts, idents []*identity) {
	// Values map to an index into held, so that the second pass needs no
	// map lookups.
	index := make(map[string]int32, 2*len(facts))
	var held []holders
	holderOf := func(v string, i int32) int32 {
		k, ok := index[v]
		if !ok {
			k = int32(len(held))
			index[v] = k
			held = append(held, holders{})
		}
		held[k].add(i)
		return k
	}
	const none = -1
	type refs struct{ e, s int32 }
	anchorRefs := make([]refs, len(facts))
	for i := range facts {
		f := &facts[i]
		r := refs{none, none}
		if f.E != "" {
			r.e = holderOf(f.E, int32(i))
		}
		if f.S != "" && f.S != f.E {
			r.s = holderOf(f.S, int32(i))
		}
		anchorRefs[i] = r
	}
	// ConsistencyGuids are counted apart: the same value as someone's E is
	// the normal case for the person it belongs to.
	consistency := make(map[string]holders)
	for i, id := range idents {
		for _, a := range id.ad {
			if a.consistency != "" {
				h := consistency[a.consistency]
				h.add(int32(i))
				consistency[a.consistency] = h
			}
		}
	}
	for i := range facts {
		f, r, self := &facts[i], anchorRefs[i], int32(i)
		var details []string
		if r.e != none && held[r.e].n > 1 {
			details = append(details, "Entra's ImmutableID "+quote(f.E)+" is also held by "+holderText(facts, held[r.e], self))
		}
		if r.s != none && held[r.s].n > 1 {
			details = append(details, "the value Okta sends, "+quote(f.S)+", is also held by "+holderText(facts, held[r.s], self))
		}
		for _, a := range idents[i].ad {
			if a.consistency == "" {
				continue
			}
			if h := consistency[a.consistency]; h.n > 1 {
				details = append(details, "the mS-DS-ConsistencyGuid "+quote(a.consistency)+" of AD object "+a.guid.String()+
					" is also on the AD user of "+holderText(facts, h, self))
			}
		}
		if len(details) > 0 {
			f.Conflict = true
			f.ConflictDetail = strings.Join(details, "; ")
		}
	}
}

func holderText(facts []Facts, h holders, self int32) string {
	o := &facts[h.other(self)]
	s := quote(o.UPN)
	if o.UPN == "" {
		s = "another identity"
	}
	if extra := h.n - 2; extra > 0 {
		s += " and " + strconv.Itoa(int(extra)) + " more"
	}
	return s
}
