package sim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unsafe"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// GenerateOptions says what tenant Generate builds.
type GenerateOptions struct {
	// Users is the number of identities (people across the three
	// directories) to generate; both halves of a conflicting pair count.
	Users int
	// Seed selects the tenant: the same options give the same tenant.
	Seed int64
}

// MaxGeneratedUsers bounds GenerateOptions.Users: a generated identity takes
// about 1 KiB of memory.
const MaxGeneratedUsers = 5_000_000

// Generate builds a consistent tenant of opts.Users identities in a realistic
// mix: most are OK (AD-sourced and cloud-only), the rest spread over every
// other scenario of DESIGN §5, each built the way the example fixture builds
// it. Every identity is labelled in Expected.Identities with its scenario and
// the ids of its records, and Expected.Org lists the org findings that hold.
// Every scenario fits from 32 users on (at least half of the identities stay
// OK); below that the scenarios come in the order of the decision table for
// as long as they fit, and OK always does.
func Generate(opts GenerateOptions) (*Tenant, error) {
	if opts.Users < 1 || opts.Users > MaxGeneratedUsers {
		return nil, fmt.Errorf("generate tenant: users must be between 1 and %d, got %d", MaxGeneratedUsers, opts.Users)
	}
	g := newTenantGen(opts.Seed)
	slots := genPlanSlots(opts.Users)
	g.skeleton(genCapacity(slots))
	plan := make([]genKind, 0, opts.Users)
	for kind, n := range slots {
		for range n {
			plan = append(plan, genKind(kind))
		}
	}
	// Interleave the scenarios, as in a real directory.
	g.rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	for _, kind := range plan {
		variants := genKinds[kind].variants
		v := variants[g.variantSeq[kind]%len(variants)]
		g.variantSeq[kind]++
		v.build(g)
	}
	return g.t, nil
}

// The generated org, shaped like the example fixture: an office365 app with
// the recommended mapping applied on create only, two AD instances (so that
// MULTIPLE_AD_SOURCES can occur, which makes that mapping's reliance on
// hasDirectoryUser() an org finding), Okta federating the main domain.
const (
	genOrg               = "https://contoso.okta.com"
	genFederatedDomain   = "contoso.example"
	genManagedDomain     = "cloud.contoso.example"
	genInitialDomain     = "contoso.onmicrosoft.com"
	genCorpADDomain      = "corp.contoso.example"
	genCorpBaseDN        = "DC=corp,DC=contoso,DC=example"
	genEMEAADDomain      = "emea.contoso.example"
	genImmutableIDMapped = `hasDirectoryUser()?findDirectoryUser().externalId:user.getInternalProperty("id")`
)

// genHostileDisplayNames go to the first OK identities: directory data is
// attacker-controlled, and the reports must show these verbatim and inert.
var genHostileDisplayNames = []string{
	`<img src=x onerror=alert(1)>`,
	`</script><script>alert(2)</script>`,
	`=HYPERLINK("http://x")`,
	`Robert'); DROP TABLE users;--`,
	"Zoë \u202eevil\u202c Ångström",
	"Tab\tand\nnewline",
	`{{.Secret}} ${jndi:ldap://x/a}`,
}

type genName struct{ display, slug string }

var (
	genFirstNames = []genName{
		{"Anna", "anna"}, {"Ben", "ben"}, {"Chloé", "chloe"}, {"David", "david"}, {"Emma", "emma"},
		{"Farid", "farid"}, {"Grace", "grace"}, {"Hiro", "hiro"}, {"Ines", "ines"}, {"Jonas", "jonas"},
		{"Kofi", "kofi"}, {"Lena", "lena"}, {"Mateo", "mateo"}, {"Nadia", "nadia"}, {"Oskar", "oskar"},
		{"Priya", "priya"}, {"Quinn", "quinn"}, {"Rosa", "rosa"}, {"Sven", "sven"}, {"Tariq", "tariq"},
		{"Uma", "uma"}, {"Viktor", "viktor"}, {"Wen", "wen"}, {"Ximena", "ximena"}, {"Yusuf", "yusuf"},
		{"Zoë", "zoe"}, {"Łukasz", "lukasz"}, {"Siobhán", "siobhan"}, {"José", "jose"}, {"Aiko", "aiko"},
		{"Björn", "bjorn"}, {"Camille", "camille"},
	}
	genLastNames = []genName{
		{"Smith", "smith"}, {"Müller", "muller"}, {"García", "garcia"}, {"Nguyen", "nguyen"}, {"Kowalski", "kowalski"},
		{"O'Brien", "obrien"}, {"Tanaka", "tanaka"}, {"Okafor", "okafor"}, {"Rossi", "rossi"}, {"Johansson", "johansson"},
		{"Dubois", "dubois"}, {"Patel", "patel"}, {"Kim", "kim"}, {"Novak", "novak"}, {"Silva", "silva"},
		{"Haddad", "haddad"}, {"Jensen", "jensen"}, {"Ivanova", "ivanova"}, {"Murphy", "murphy"}, {"Chen", "chen"},
		{"Van der Berg", "vanderberg"}, {"Fernández", "fernandez"}, {"Schmidt", "schmidt"}, {"Yılmaz", "yilmaz"},
		{"Andersen", "andersen"}, {"Costa", "costa"}, {"Mensah", "mensah"}, {"Lindqvist", "lindqvist"},
		{"Abara", "abara"}, {"Petrov", "petrov"}, {"Walsh", "walsh"}, {"Ødegaard", "odegaard"},
	}
)

// genKind is one way of building identities; its variants rotate so that
// every variant appears once a kind has as many identities as variants.
type genKind uint8

const (
	genOKAD genKind = iota
	genOKCloud
	genOutOfScope
	genNotInEntra
	genUnfederatedUPN
	genOrphanEntra
	genAnchorConflict
	genMultipleAD
	genMissingAnchorAD
	genMissingAnchorCloud
	genNotAssigned
	genOktaAnchorEmpty
	genSyncManagedMismatch
	genEncodingMismatch
	genOktaAssignmentStale
	genEntraAnchorStale
	genUnknownMismatch
	genKindCount
)

// genShape counts the records one build adds, so that the tenant's slices
// are allocated once at their final size.
type genShape struct{ okta, ad, entra, appUsers, labels int }

func (s genShape) plus(o genShape, n int) genShape {
	return genShape{s.okta + n*o.okta, s.ad + n*o.ad, s.entra + n*o.entra, s.appUsers + n*o.appUsers, s.labels + n*o.labels}
}

type genVariant struct {
	name  string
	shape genShape
	build func(*tenantGen)
}

// Common shapes: AD-sourced with AD and O365 assignments; cloud-only with an
// O365 assignment.
var (
	genShapeFull  = genShape{okta: 1, ad: 1, entra: 1, appUsers: 2, labels: 1}
	genShapeCloud = genShape{okta: 1, entra: 1, appUsers: 1, labels: 1}
)

// genKinds lists, per kind, the scenario it produces, its share of the
// identities in a large tenant (per mille; the OK kinds take what is left),
// and its variants.
var genKinds = [genKindCount]struct {
	scenario classify.Scenario
	perMille int
	variants []genVariant
}{
	genOKAD:    {classify.OK, 0, []genVariant{{"ad", genShapeFull, (*tenantGen).okAD}}},
	genOKCloud: {classify.OK, 0, []genVariant{{"cloud", genShapeCloud, (*tenantGen).okCloud}}},
	genOutOfScope: {classify.OutOfScope, 40, []genVariant{
		{"guest", genShape{entra: 1, labels: 1}, (*tenantGen).outOfScopeGuest},
		{"ad-only", genShape{ad: 1, labels: 1}, (*tenantGen).outOfScopeADOnly},
		{"managed-member", genShape{entra: 1, labels: 1}, (*tenantGen).outOfScopeManagedMember},
		{"okta-only", genShape{okta: 1, labels: 1}, (*tenantGen).outOfScopeOktaOnly},
		{"okta-ad-no-o365", genShape{okta: 1, ad: 1, appUsers: 1, labels: 1}, (*tenantGen).outOfScopeOktaAD},
	}},
	genNotInEntra: {classify.NotInEntra, 10, []genVariant{
		{"cloud", genShape{okta: 1, appUsers: 1, labels: 1}, (*tenantGen).notInEntraCloud},
		{"ad", genShape{okta: 1, ad: 1, appUsers: 2, labels: 1}, (*tenantGen).notInEntraAD},
	}},
	genUnfederatedUPN: {classify.UnfederatedUPN, 10, []genVariant{
		{"ad", genShapeFull, (*tenantGen).unfederatedAD},
		{"cloud", genShapeCloud, (*tenantGen).unfederatedCloud},
	}},
	genOrphanEntra: {classify.OrphanEntra, 8, []genVariant{
		{"entra-only", genShape{entra: 1, labels: 1}, (*tenantGen).orphanEntraOnly},
		{"ad-entra", genShape{ad: 1, entra: 1, labels: 1}, (*tenantGen).orphanADEntra},
	}},
	genAnchorConflict: {classify.AnchorConflict, 4, []genVariant{
		{"ad-pair", genShapeFull.plus(genShapeFull, 1), (*tenantGen).conflictADPair},
		{"cloud-pair", genShapeCloud.plus(genShapeCloud, 1), (*tenantGen).conflictCloudPair},
	}},
	genMultipleAD: {classify.MultipleADSources, 6, []genVariant{
		{"no-anchors", genShape{okta: 1, ad: 1, entra: 1, appUsers: 3, labels: 1}, (*tenantGen).multipleADNoAnchors},
		{"entra-anchor", genShape{okta: 1, ad: 1, entra: 1, appUsers: 3, labels: 1}, (*tenantGen).multipleADEntraAnchor},
	}},
	genMissingAnchorAD: {classify.MissingAnchorAD, 10, []genVariant{
		{"anchor-sent", genShapeFull, (*tenantGen).missingAnchorADSent},
		{"nothing-sent", genShapeFull, (*tenantGen).missingAnchorADEmpty},
	}},
	genMissingAnchorCloud: {classify.MissingAnchorCloud, 8, []genVariant{
		{"user-id-sent", genShapeCloud, (*tenantGen).missingAnchorCloudUserID},
		{"app-user-id-sent", genShapeCloud, (*tenantGen).missingAnchorCloudAppUserID},
	}},
	genNotAssigned: {classify.NotAssigned, 10, []genVariant{
		{"ad", genShape{okta: 1, ad: 1, entra: 1, appUsers: 1, labels: 1}, (*tenantGen).notAssignedAD},
		{"cloud", genShape{okta: 1, entra: 1, labels: 1}, (*tenantGen).notAssignedCloud},
	}},
	genOktaAnchorEmpty: {classify.OktaAnchorEmpty, 8, []genVariant{
		{"ad-empty-string", genShapeFull, (*tenantGen).oktaAnchorEmptyAD},
		{"cloud-absent", genShapeCloud, (*tenantGen).oktaAnchorEmptyCloud},
	}},
	genSyncManagedMismatch: {classify.SyncManagedMismatch, 6, []genVariant{
		{"other-anchor-sent", genShapeFull, (*tenantGen).syncMismatchOther},
		{"app-user-id-sent", genShapeFull, (*tenantGen).syncMismatchAppUserID},
	}},
	genEncodingMismatch: {classify.EncodingMismatch, 6, []genVariant{
		{"entra-guid-string", genShapeFull, (*tenantGen).encodingEntraGUIDString},
		{"okta-base64-big-endian", genShapeFull, (*tenantGen).encodingOktaBigEndian},
		{"entra-unpadded", genShapeFull, (*tenantGen).encodingEntraUnpadded},
		{"entra-braced-upper", genShapeFull, (*tenantGen).encodingEntraBraced},
		{"entra-hex", genShapeFull, (*tenantGen).encodingEntraHex},
		{"okta-base64-ascii", genShapeFull, (*tenantGen).encodingOktaASCII},
	}},
	genOktaAssignmentStale: {classify.OktaAssignmentStale, 8, []genVariant{
		{"ad-other-anchor-sent", genShapeFull, (*tenantGen).oktaStaleADOther},
		{"ad-app-user-id-sent", genShapeFull, (*tenantGen).oktaStaleADAppUserID},
		{"cloud-app-user-id-sent", genShapeCloud, (*tenantGen).oktaStaleCloud},
	}},
	genEntraAnchorStale: {classify.EntraAnchorStale, 6, []genVariant{
		{"ad-recreated", genShapeFull, (*tenantGen).entraStaleAD},
		{"cloud", genShapeCloud, (*tenantGen).entraStaleCloud},
	}},
	genUnknownMismatch: {classify.UnknownMismatch, 5, []genVariant{
		{"ad", genShapeFull, (*tenantGen).unknownAD},
		{"cloud", genShapeCloud, (*tenantGen).unknownCloud},
	}},
}

// genPlanSlots decides how many builds of each kind a tenant of n identities
// gets: each non-OK kind its share but at least one build while they fit
// into half of n (in the order of the decision table), OK the rest, split
// 70/30 between AD-sourced and cloud-only.
func genPlanSlots(n int) [genKindCount]int {
	var slots [genKindCount]int
	budget := n - max(1, (n+1)/2)
	used := 0
	for kind := genOutOfScope; kind < genKindCount; kind++ {
		k := genKinds[kind]
		size := k.variants[0].shape.labels
		want := max(1, (n*k.perMille+500)/1000/size)
		take := min(want, (budget-used)/size)
		slots[kind] = take
		used += take * size
	}
	ok := n - used
	slots[genOKAD] = (ok*7 + 5) / 10
	slots[genOKCloud] = ok - slots[genOKAD]
	return slots
}

// genCapacity sums the shapes of the builds slots asks for, following the
// rotation Generate uses to pick variants.
func genCapacity(slots [genKindCount]int) genShape {
	var total genShape
	for kind, n := range slots {
		variants := genKinds[kind].variants
		for i, v := range variants {
			total = total.plus(v.shape, (n+len(variants)-1-i)/len(variants))
		}
	}
	return total
}

// tenantGen builds one tenant. Ids are unique by construction rather than by
// checking: each carries a counter passed through a seeded bijection, so
// they look random and never collide.
type tenantGen struct {
	rng *rand.Rand
	t   *Tenant

	o365App, corpADApp, emeaADApp string
	sidPrefix                     string

	oktaSeq, guidSeq uint64
	mixXor           uint64
	mixMul           [2]uint64
	person           int
	rid              int
	hostileUsed      int
	variantSeq       [genKindCount]int

	displayNames []string // first × last
	buf          []byte   // scratch for newIdentity
	cur          genIdentity
	arena        genArena

	// Slabs: pointers and one-element slices come from shared chunks rather
	// than one allocation each; every element is distinct, so no two
	// records alias the same value.
	strSlab  []string
	boolSlab []bool
	licSlab  []string
}

// genPCGStream is the second PCG word; the seed is the first.
const genPCGStream = 0x616e63686f727363 // "anchorsc"

const genMask48 = 1<<48 - 1

func newTenantGen(seed int64) *tenantGen {
	rng := rand.New(rand.NewPCG(uint64(seed), genPCGStream))
	g := &tenantGen{
		rng:    rng,
		mixXor: rng.Uint64() & genMask48,
		mixMul: [2]uint64{(rng.Uint64() | 1) & genMask48, (rng.Uint64() | 1) & genMask48},
		buf:    make([]byte, 0, 512),
	}
	g.sidPrefix = fmt.Sprintf("S-1-5-21-%d-%d-%d-",
		1_000_000_000+rng.Uint32N(3_000_000_000), 1_000_000_000+rng.Uint32N(3_000_000_000), 1_000_000_000+rng.Uint32N(3_000_000_000))
	g.displayNames = make([]string, 0, len(genFirstNames)*len(genLastNames))
	for _, f := range genFirstNames {
		for _, l := range genLastNames {
			g.displayNames = append(g.displayNames, f.display+" "+l.display)
		}
	}
	return g
}

// mix48 is a bijection on 48-bit numbers (xor, odd multiply and xorshift
// each are), keyed by the seed.
func (g *tenantGen) mix48(x uint64) uint64 {
	x = (x ^ g.mixXor) & genMask48
	x = (x * g.mixMul[0]) & genMask48
	x ^= x >> 23
	x = (x * g.mixMul[1]) & genMask48
	x ^= x >> 19
	return x
}

const genBase36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// appendOktaID appends a 20-character Okta id: the type prefix (00u, 0ua,
// 0oa, exk), 7 random characters and 10 that encode a unique counter.
func (g *tenantGen) appendOktaID(dst []byte, prefix string) []byte {
	dst = append(dst, prefix...)
	r := g.rng.Uint64()
	for range 7 {
		dst = append(dst, genBase36[r%36])
		r /= 36
	}
	c := g.mix48(g.oktaSeq)
	g.oktaSeq++
	var digits [10]byte // 36^10 > 2^48
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = genBase36[c%36]
		c /= 36
	}
	return append(dst, digits[:]...)
}

func (g *tenantGen) oktaID(prefix string) string {
	return string(g.appendOktaID(make([]byte, 0, 20), prefix))
}

// newGUID returns a random version-4 GUID in canonical byte order. Its last
// six bytes (the node group) carry a unique counter; no mis-encoding of
// DESIGN §1 moves those bytes, so no reading of one generated GUID is ever
// another one. Bytes 0 and 3 differ, so the first group is no palindrome and
// the raw (LDAP) order always differs from the canonical order.
func (g *tenantGen) newGUID() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], g.rng.Uint64())
	binary.BigEndian.PutUint16(b[8:10], uint16(g.rng.Uint32()))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	if b[0] == b[3] {
		b[3] ^= 0x5a
	}
	c := g.mix48(g.guidSeq)
	g.guidSeq++
	var node [8]byte
	binary.BigEndian.PutUint64(node[:], c)
	copy(b[10:16], node[2:8])
	return b
}

// genRawGUID converts canonical byte order to the order LDAP returns
// objectGUID in (.NET Guid.ToByteArray): the first three groups reversed.
func genRawGUID(g [16]byte) [16]byte {
	r := g
	r[0], r[1], r[2], r[3] = g[3], g[2], g[1], g[0]
	r[4], r[5] = g[5], g[4]
	r[6], r[7] = g[7], g[6]
	return r
}

func appendGenGUIDString(dst []byte, g [16]byte) []byte {
	var s [36]byte
	hex.Encode(s[0:8], g[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], g[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], g[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], g[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], g[10:16])
	return append(dst, s[:]...)
}

// appendGenImmutableID appends the AD-sourced anchor of g: base64 of its raw
// bytes.
func appendGenImmutableID(dst []byte, g [16]byte) []byte {
	raw := genRawGUID(g)
	return base64.StdEncoding.AppendEncode(dst, raw[:])
}

// freshAnchor is an anchor of a GUID no object has: what an AD object that
// was deleted and re-created, or a wrong import, leaves behind.
func (g *tenantGen) freshAnchor() string {
	return string(appendGenImmutableID(make([]byte, 0, 24), g.newGUID()))
}

// genArena hands out strings cut from 64 KiB chunks: at a million
// identities, one allocation per identity is a million small objects for the
// allocator to set up and the GC to visit. Each byte is written once, before
// the string over it exists, and never again, so the strings are immutable
// as Go requires.
type genArena struct{ chunk []byte }

func (a *genArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.chunk)-len(a.chunk) < len(b) {
		a.chunk = make([]byte, 0, max(64<<10, len(b)))
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return unsafe.String(&a.chunk[start], len(b))
}

func (g *tenantGen) str(s string) *string {
	if len(g.strSlab) == cap(g.strSlab) {
		g.strSlab = make([]string, 0, 4096)
	}
	g.strSlab = append(g.strSlab, s)
	return &g.strSlab[len(g.strSlab)-1]
}

func (g *tenantGen) boolPtr(v bool) *bool {
	if len(g.boolSlab) == cap(g.boolSlab) {
		g.boolSlab = make([]bool, 0, 4096)
	}
	g.boolSlab = append(g.boolSlab, v)
	return &g.boolSlab[len(g.boolSlab)-1]
}

// license returns a one-element licence list whose capacity ends with it, so
// an append by a fake copies instead of writing into a neighbour's.
func (g *tenantGen) license() []string {
	if len(g.licSlab) == cap(g.licSlab) {
		g.licSlab = make([]string, 0, 4096)
	}
	sku := "ENTERPRISEPACK"
	if g.rng.IntN(10) < 3 {
		sku = "SPE_E5"
	}
	n := len(g.licSlab)
	g.licSlab = append(g.licSlab, sku)
	return g.licSlab[n : n+1 : n+1]
}

func (g *tenantGen) skeleton(c genShape) {
	g.o365App = g.oktaID("0oa")
	g.corpADApp = g.oktaID("0oa")
	g.emeaADApp = g.oktaID("0oa")
	tenantID := string(appendGenGUIDString(nil, g.newGUID()))
	issuer := "http://www.okta.com/" + g.oktaID("exk")
	g.t = &Tenant{
		Format: FormatV1,
		Okta: Okta{
			Org:   genOrg,
			Users: make([]OktaUser, 0, c.okta),
			Apps: []OktaApp{
				{ID: g.o365App, Name: "office365", Label: "Microsoft Office 365", DeactivateUsers: "DISABLED",
					ImmutableIDMapping: &Mapping{Expression: genImmutableIDMapped, PushStatus: "DONT_PUSH"}},
				{ID: g.corpADApp, Name: "active_directory", Label: genCorpADDomain},
				{ID: g.emeaADApp, Name: "active_directory", Label: genEMEAADDomain},
			},
			AppUsers: make([]OktaAppUser, 0, c.appUsers),
		},
		Entra: Entra{
			TenantID:      tenantID,
			InitialDomain: genInitialDomain,
			Domains: []EntraDomain{
				{ID: genFederatedDomain, AuthenticationType: "Federated", IsVerified: true, IssuerURI: issuer},
				{ID: genInitialDomain, AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
				{ID: genManagedDomain, AuthenticationType: "Managed", IsVerified: true},
			},
			Users: make([]EntraUser, 0, c.entra),
		},
		AD: AD{
			Domains: []ADDomain{{Name: genCorpADDomain, BaseDN: genCorpBaseDN}},
			Users:   make([]ADUser, 0, c.ad),
		},
		Expected: &Expected{
			Identities: make([]ExpectedIdentity, 0, c.labels),
			Org:        []string{string(classify.OrgMultipleADDefaultExpression)},
		},
	}
}

// genIdentity holds the values of one person's records.
type genIdentity struct {
	first, last, display string
	local                string // the part before @ of every UPN
	login                string // local@contoso.example: Okta login, AD UPN, Entra UPN, mail
	oktaID               string
	o365AppUserID        string
	entraID              string

	// AD-sourced identities only.
	guidBytes     [16]byte // canonical order
	guid          string   // canonical string
	anchor        string   // base64 of the raw objectGUID bytes
	sam           string
	dn            string
	sid           string
	adAppUserID   string
	adAppUserName string
}

// newIdentity makes up a person. All its strings are cut from one string
// in the arena rather than allocated one by one.
func (g *tenantGen) newIdentity(withAD bool) *genIdentity {
	g.person++
	fi, li := g.rng.IntN(len(genFirstNames)), g.rng.IntN(len(genLastNames))
	first, last := genFirstNames[fi], genLastNames[li]
	p := &g.cur
	*p = genIdentity{first: first.display, last: last.display, display: g.displayNames[fi*len(genLastNames)+li]}

	b := g.buf[:0]
	b = append(b, first.slug...)
	b = append(b, '.')
	b = append(b, last.slug...)
	b = strconv.AppendInt(b, int64(g.person), 10)
	endLocal := len(b)
	b = append(b, "@"+genFederatedDomain...)
	endLogin := len(b)
	b = g.appendOktaID(b, "00u")
	endOkta := len(b)
	b = g.appendOktaID(b, "0ua")
	endO365 := len(b)
	b = appendGenGUIDString(b, g.newGUID())
	endEntra := len(b)
	var endSam, endADUserName, endADAppUser, endGUID, endAnchor, endDN, endSID int
	if withAD {
		p.guidBytes = g.newGUID()
		b = append(b, first.slug[0])
		b = append(b, last.slug[:min(len(last.slug), 10)]...)
		b = strconv.AppendInt(b, int64(g.person), 10)
		endSam = len(b)
		b = append(b, "@"+genCorpADDomain...)
		endADUserName = len(b)
		b = g.appendOktaID(b, "0ua")
		endADAppUser = len(b)
		b = appendGenGUIDString(b, p.guidBytes)
		endGUID = len(b)
		b = appendGenImmutableID(b, p.guidBytes)
		endAnchor = len(b)
		b = append(b, "CN="...)
		b = append(b, b[endEntra:endSam]...)
		b = append(b, ",OU=Staff,"+genCorpBaseDN...)
		endDN = len(b)
		b = append(b, g.sidPrefix...)
		g.rid++
		b = strconv.AppendInt(b, int64(1100+g.rid), 10)
		endSID = len(b)
	}
	g.buf = b
	s := g.arena.string(b)
	p.local, p.login = s[:endLocal], s[:endLogin]
	p.oktaID, p.o365AppUserID, p.entraID = s[endLogin:endOkta], s[endOkta:endO365], s[endO365:endEntra]
	if withAD {
		p.sam, p.adAppUserName = s[endEntra:endSam], s[endEntra:endADUserName]
		p.adAppUserID, p.guid, p.anchor = s[endADUserName:endADAppUser], s[endADAppUser:endGUID], s[endGUID:endAnchor]
		p.dn, p.sid = s[endAnchor:endDN], s[endDN:endSID]
	}
	return p
}

func (g *tenantGen) addOktaUser(p *genIdentity) {
	g.t.Okta.Users = append(g.t.Okta.Users, OktaUser{
		ID: p.oktaID, Status: "ACTIVE", Login: p.login, Email: p.login, FirstName: p.first, LastName: p.last,
	})
}

func (g *tenantGen) addADUser(p *genIdentity, userAccountControl int, consistencyGUID bool) {
	var cg *string
	if consistencyGUID {
		// Entra Connect writes the objectGUID into mS-DS-ConsistencyGuid.
		cg = g.str(p.guid)
	}
	g.t.AD.Users = append(g.t.AD.Users, ADUser{
		DistinguishedName: p.dn, ObjectGUID: p.guid, MSDSConsistencyGUID: cg, ObjectSID: p.sid,
		UserPrincipalName: p.login, SAMAccountName: p.sam, Mail: p.login, UserAccountControl: userAccountControl,
	})
}

// addADAppUser assigns the person to the corp AD instance: the AD agent
// imported them, with externalId = base64(objectGUID).
func (g *tenantGen) addADAppUser(p *genIdentity) {
	g.t.Okta.AppUsers = append(g.t.Okta.AppUsers, OktaAppUser{
		AppID: g.corpADApp, UserID: p.oktaID, AppUserID: p.adAppUserID, ExternalID: g.str(p.anchor),
		UserName: p.adAppUserName, Status: "ACTIVE",
	})
}

// addEMEAADAppUser assigns the person to the second AD instance too, under
// an object of that forest the corp forest does not have.
func (g *tenantGen) addEMEAADAppUser(p *genIdentity) {
	g.t.Okta.AppUsers = append(g.t.Okta.AppUsers, OktaAppUser{
		AppID: g.emeaADApp, UserID: p.oktaID, AppUserID: g.oktaID("0ua"), ExternalID: g.str(g.freshAnchor()),
		UserName: p.sam + "@" + genEMEAADDomain, Status: "ACTIVE",
	})
}

// addO365AppUser assigns the person to Office 365 with immutableId sent
// (nil: the profile has none). linked says whether Okta has imported or
// provisioned the Entra user, making externalId its object id.
func (g *tenantGen) addO365AppUser(p *genIdentity, immutableID *string, linked bool) {
	var ext *string
	if linked {
		ext = g.str(p.entraID)
	}
	g.t.Okta.AppUsers = append(g.t.Okta.AppUsers, OktaAppUser{
		AppID: g.o365App, UserID: p.oktaID, AppUserID: p.o365AppUserID, ExternalID: ext, UserName: p.login,
		Status: "PROVISIONED", Profile: AppUserProfile{ImmutableID: immutableID, Licenses: g.license(), Roles: []string{}},
	})
}

// addEntraUser adds the person's Entra member. synced marks it mastered by
// Entra Connect.
func (g *tenantGen) addEntraUser(p *genIdentity, upn string, anchor *string, synced bool) {
	u := EntraUser{
		ID: p.entraID, UserPrincipalName: upn, DisplayName: p.display, Mail: p.login,
		AccountEnabled: true, UserType: "Member", OnPremisesImmutableID: anchor,
	}
	if synced {
		u.OnPremisesSyncEnabled = g.boolPtr(true)
		u.OnPremisesSecurityIdentifier = g.str(p.sid)
	}
	g.t.Entra.Users = append(g.t.Entra.Users, u)
}

// genHas says which of a person's records an identity label names.
type genHas uint8

const (
	genHasOkta genHas = 1 << iota
	genHasEntra
	genHasAD
	genHasAll = genHasOkta | genHasEntra | genHasAD
)

func (g *tenantGen) label(s classify.Scenario, upn string, p *genIdentity, has genHas) {
	x := ExpectedIdentity{Scenario: string(s), UPN: upn}
	if has&genHasEntra != 0 {
		x.EntraUserID = p.entraID
	}
	if has&genHasOkta != 0 {
		x.OktaUserID = p.oktaID
	}
	if has&genHasAD != 0 {
		x.ADObjectGUID = p.guid
	}
	g.t.Expected.Identities = append(g.t.Expected.Identities, x)
}

// adSourced builds the records every AD-sourced identity has: AD user, Okta
// user, corp AD assignment.
func (g *tenantGen) adSourced() *genIdentity {
	p := g.newIdentity(true)
	g.addOktaUser(p)
	g.addADUser(p, 512, false)
	g.addADAppUser(p)
	return p
}

func (g *tenantGen) cloudOnly() *genIdentity {
	p := g.newIdentity(false)
	g.addOktaUser(p)
	return p
}

// adMismatch builds an AD-sourced, assigned, federated identity sending s
// while Entra holds e.
func (g *tenantGen) adMismatch(s classify.Scenario, e, sent string) {
	p := g.adSourced()
	g.addO365AppUser(p, g.str(sent), true)
	g.addEntraUser(p, p.login, g.str(e), false)
	g.label(s, p.login, p, genHasAll)
}

func (g *tenantGen) cloudMismatch(s classify.Scenario, e, sent func(p *genIdentity) string) {
	p := g.cloudOnly()
	g.addO365AppUser(p, g.str(sent(p)), true)
	g.addEntraUser(p, p.login, g.str(e(p)), false)
	g.label(s, p.login, p, genHasOkta|genHasEntra)
}

func (g *tenantGen) okDisplayName(p *genIdentity) {
	if g.hostileUsed < len(genHostileDisplayNames) {
		p.display = genHostileDisplayNames[g.hostileUsed]
		g.hostileUsed++
	}
}

// OK: E == S, non-empty, federated UPN, assigned. Some AD users carry a
// ConsistencyGuid (equal to the objectGUID), some are synced by Entra
// Connect (which is fine while E == S).
func (g *tenantGen) okAD() {
	p := g.newIdentity(true)
	g.okDisplayName(p)
	uac := 512
	if g.rng.IntN(5) == 0 {
		uac = 66048 // password never expires
	}
	g.addOktaUser(p)
	g.addADUser(p, uac, g.rng.IntN(4) == 0)
	g.addADAppUser(p)
	g.addO365AppUser(p, g.str(p.anchor), true)
	g.addEntraUser(p, p.login, g.str(p.anchor), g.rng.IntN(10) < 3)
	g.label(classify.OK, p.login, p, genHasAll)
}

// okCloud: the anchor is the Okta user id (the recommended mapping), or for
// some the app user id (assigned under the default mapping, which yields
// null for cloud users, so Office 365 substituted the app user id).
func (g *tenantGen) okCloud() {
	p := g.cloudOnly()
	g.okDisplayName(p)
	anchor := p.oktaID
	if g.rng.IntN(5) == 0 {
		anchor = p.o365AppUserID
	}
	g.addO365AppUser(p, g.str(anchor), true)
	g.addEntraUser(p, p.login, g.str(anchor), false)
	g.label(classify.OK, p.login, p, genHasOkta|genHasEntra)
}

func (g *tenantGen) outOfScopeGuest() {
	p := g.newIdentity(false)
	upn := p.local + "_partner.example#EXT#@" + genInitialDomain
	g.t.Entra.Users = append(g.t.Entra.Users, EntraUser{
		ID: p.entraID, UserPrincipalName: upn, DisplayName: p.display, Mail: p.local + "@partner.example",
		AccountEnabled: true, UserType: "Guest",
	})
	g.label(classify.OutOfScope, upn, p, genHasEntra)
}

// outOfScopeADOnly is a disabled or service account nobody assigned anywhere.
func (g *tenantGen) outOfScopeADOnly() {
	p := g.newIdentity(true)
	g.addADUser(p, 514, false)
	g.label(classify.OutOfScope, p.login, p, genHasAD)
}

// outOfScopeManagedMember is a cloud account on a managed domain (an admin
// or a room), not in Okta.
func (g *tenantGen) outOfScopeManagedMember() {
	p := g.newIdentity(false)
	upn := p.local + "@" + genManagedDomain
	if p.local[0]%2 == 0 {
		upn = p.local + "@" + genInitialDomain
	}
	g.addEntraUser(p, upn, nil, false)
	g.label(classify.OutOfScope, upn, p, genHasEntra)
}

func (g *tenantGen) outOfScopeOktaOnly() {
	p := g.cloudOnly()
	g.label(classify.OutOfScope, p.login, p, genHasOkta)
}

// outOfScopeOktaAD is imported from AD into Okta but never given Office 365.
func (g *tenantGen) outOfScopeOktaAD() {
	p := g.adSourced()
	g.label(classify.OutOfScope, p.login, p, genHasOkta|genHasAD)
}

// NOT_IN_ENTRA: assigned to O365 in Okta, provisioning has not created the
// Entra user (externalId null).
func (g *tenantGen) notInEntraCloud() {
	p := g.cloudOnly()
	g.addO365AppUser(p, g.str(p.oktaID), false)
	g.label(classify.NotInEntra, p.login, p, genHasOkta)
}

func (g *tenantGen) notInEntraAD() {
	p := g.adSourced()
	g.addO365AppUser(p, g.str(p.anchor), false)
	g.label(classify.NotInEntra, p.login, p, genHasOkta|genHasAD)
}

// UNFEDERATED_UPN: anchors agree, but the Entra UPN is on the managed
// cloud.contoso.example, so Okta never signs the user in.
func (g *tenantGen) unfederatedAD() {
	p := g.adSourced()
	upn := p.local + "@" + genManagedDomain
	g.addO365AppUser(p, g.str(p.anchor), true)
	g.addEntraUser(p, upn, g.str(p.anchor), false)
	g.label(classify.UnfederatedUPN, upn, p, genHasAll)
}

func (g *tenantGen) unfederatedCloud() {
	p := g.cloudOnly()
	upn := p.local + "@" + genManagedDomain
	g.addO365AppUser(p, g.str(p.oktaID), true)
	g.addEntraUser(p, upn, g.str(p.oktaID), false)
	g.label(classify.UnfederatedUPN, upn, p, genHasOkta|genHasEntra)
}

// ORPHAN_ENTRA: a federated member no Okta user links to, holding an anchor
// nobody sends.
func (g *tenantGen) orphanEntraOnly() {
	p := g.newIdentity(false)
	g.addEntraUser(p, p.login, g.str(g.freshAnchor()), false)
	g.label(classify.OrphanEntra, p.login, p, genHasEntra)
}

// orphanADEntra is in AD and Entra (anchor from its objectGUID) but was
// never imported into Okta.
func (g *tenantGen) orphanADEntra() {
	p := g.newIdentity(true)
	g.addADUser(p, 512, false)
	g.addEntraUser(p, p.login, g.str(p.anchor), false)
	g.label(classify.OrphanEntra, p.login, p, genHasAD|genHasEntra)
}

// ANCHOR_CONFLICT: b sends a's anchor (a copy-and-paste fix gone wrong), so
// a's E and S and b's S are one value held by two identities. Both are
// labelled.
func (g *tenantGen) conflictADPair() {
	a := *g.adSourced()
	g.addO365AppUser(&a, g.str(a.anchor), true)
	g.addEntraUser(&a, a.login, g.str(a.anchor), false)
	g.label(classify.AnchorConflict, a.login, &a, genHasAll)

	b := g.adSourced()
	g.addO365AppUser(b, g.str(a.anchor), true)
	g.addEntraUser(b, b.login, g.str(b.anchor), false)
	g.label(classify.AnchorConflict, b.login, b, genHasAll)
}

func (g *tenantGen) conflictCloudPair() {
	a := *g.cloudOnly()
	g.addO365AppUser(&a, g.str(a.oktaID), true)
	g.addEntraUser(&a, a.login, g.str(a.oktaID), false)
	g.label(classify.AnchorConflict, a.login, &a, genHasOkta|genHasEntra)

	b := g.cloudOnly()
	g.addO365AppUser(b, g.str(a.oktaID), true)
	g.addEntraUser(b, b.login, g.str(b.oktaID), false)
	g.label(classify.AnchorConflict, b.login, b, genHasOkta|genHasEntra)
}

// MULTIPLE_AD_SOURCES: in both AD instances, so hasDirectoryUser() is false
// and the mapping sent nothing.
func (g *tenantGen) multipleADNoAnchors() {
	p := g.adSourced()
	g.addEMEAADAppUser(p)
	g.addO365AppUser(p, g.str(""), true)
	g.addEntraUser(p, p.login, nil, false)
	g.label(classify.MultipleADSources, p.login, p, genHasAll)
}

func (g *tenantGen) multipleADEntraAnchor() {
	p := g.adSourced()
	g.addEMEAADAppUser(p)
	g.addO365AppUser(p, g.str(""), true)
	g.addEntraUser(p, p.login, g.str(p.anchor), false)
	g.label(classify.MultipleADSources, p.login, p, genHasAll)
}

// MISSING_ANCHOR_AD: Entra has no anchor; one AD source.
func (g *tenantGen) missingAnchorADSent() {
	p := g.adSourced()
	g.addO365AppUser(p, g.str(p.anchor), true)
	g.addEntraUser(p, p.login, nil, false)
	g.label(classify.MissingAnchorAD, p.login, p, genHasAll)
}

func (g *tenantGen) missingAnchorADEmpty() {
	p := g.adSourced()
	g.addO365AppUser(p, g.str(""), true)
	g.addEntraUser(p, p.login, nil, false)
	g.label(classify.MissingAnchorAD, p.login, p, genHasAll)
}

// MISSING_ANCHOR_CLOUD: Entra has no anchor; no AD source.
func (g *tenantGen) missingAnchorCloudUserID() {
	p := g.cloudOnly()
	g.addO365AppUser(p, g.str(p.oktaID), true)
	g.addEntraUser(p, p.login, nil, false)
	g.label(classify.MissingAnchorCloud, p.login, p, genHasOkta|genHasEntra)
}

func (g *tenantGen) missingAnchorCloudAppUserID() {
	p := g.cloudOnly()
	g.addO365AppUser(p, g.str(p.o365AppUserID), true)
	g.addEntraUser(p, p.login, nil, false)
	g.label(classify.MissingAnchorCloud, p.login, p, genHasOkta|genHasEntra)
}

// NOT_ASSIGNED: federated, anchored, linked by login = UPN, but not assigned
// to Office 365 in Okta.
func (g *tenantGen) notAssignedAD() {
	p := g.adSourced()
	g.addEntraUser(p, p.login, g.str(p.anchor), false)
	g.label(classify.NotAssigned, p.login, p, genHasAll)
}

func (g *tenantGen) notAssignedCloud() {
	p := g.cloudOnly()
	g.addEntraUser(p, p.login, g.str(p.oktaID), false)
	g.label(classify.NotAssigned, p.login, p, genHasOkta|genHasEntra)
}

// OKTA_ANCHOR_EMPTY: assigned, Entra anchored, Okta sends nothing (an empty
// string, or no immutableId in the profile at all).
func (g *tenantGen) oktaAnchorEmptyAD() {
	p := g.adSourced()
	g.addO365AppUser(p, g.str(""), true)
	g.addEntraUser(p, p.login, g.str(p.anchor), false)
	g.label(classify.OktaAnchorEmpty, p.login, p, genHasAll)
}

func (g *tenantGen) oktaAnchorEmptyCloud() {
	p := g.cloudOnly()
	g.addO365AppUser(p, nil, true)
	g.addEntraUser(p, p.login, g.str(p.oktaID), false)
	g.label(classify.OktaAnchorEmpty, p.login, p, genHasOkta|genHasEntra)
}

// SYNC_MANAGED_MISMATCH: Entra Connect masters the user (its anchor is the
// objectGUID's) and Okta sends something else.
func (g *tenantGen) syncMismatch(sent string, p *genIdentity) {
	g.addO365AppUser(p, g.str(sent), true)
	g.addEntraUser(p, p.login, g.str(p.anchor), true)
	g.label(classify.SyncManagedMismatch, p.login, p, genHasAll)
}

func (g *tenantGen) syncMismatchOther() {
	p := g.adSourced()
	g.syncMismatch(g.freshAnchor(), p)
}

func (g *tenantGen) syncMismatchAppUserID() {
	p := g.adSourced()
	g.syncMismatch(p.o365AppUserID, p)
}

// ENCODING_MISMATCH: one side holds the objectGUID in a mis-encoding of
// DESIGN §1, the other the proper anchor.
func (g *tenantGen) encodingEntraGUIDString() {
	p := g.adSourced()
	g.addEncoding(p, p.guid, p.anchor)
}

func (g *tenantGen) encodingOktaBigEndian() {
	p := g.adSourced()
	g.addEncoding(p, p.anchor, base64.StdEncoding.EncodeToString(p.guidBytes[:]))
}

func (g *tenantGen) encodingEntraUnpadded() {
	p := g.adSourced()
	g.addEncoding(p, strings.TrimRight(p.anchor, "="), p.anchor)
}

func (g *tenantGen) encodingEntraBraced() {
	p := g.adSourced()
	g.addEncoding(p, "{"+strings.ToUpper(p.guid)+"}", p.anchor)
}

func (g *tenantGen) encodingEntraHex() {
	p := g.adSourced()
	raw := genRawGUID(p.guidBytes)
	g.addEncoding(p, strings.ToUpper(hex.EncodeToString(raw[:])), p.anchor)
}

func (g *tenantGen) encodingOktaASCII() {
	p := g.adSourced()
	g.addEncoding(p, p.anchor, base64.StdEncoding.EncodeToString([]byte(p.guid)))
}

func (g *tenantGen) addEncoding(p *genIdentity, e, sent string) {
	g.addO365AppUser(p, g.str(sent), true)
	g.addEntraUser(p, p.login, g.str(e), false)
	g.label(classify.EncodingMismatch, p.login, p, genHasAll)
}

// OKTA_ASSIGNMENT_STALE: Entra holds the expected anchor; the O365 app user
// still sends what it got when assigned before the anchor was set.
func (g *tenantGen) oktaStaleADOther() {
	g.adMismatchFresh(classify.OktaAssignmentStale, false)
}

func (g *tenantGen) oktaStaleADAppUserID() {
	p := g.adSourced()
	g.addO365AppUser(p, g.str(p.o365AppUserID), true)
	g.addEntraUser(p, p.login, g.str(p.anchor), false)
	g.label(classify.OktaAssignmentStale, p.login, p, genHasAll)
}

func (g *tenantGen) oktaStaleCloud() {
	g.cloudMismatch(classify.OktaAssignmentStale,
		func(p *genIdentity) string { return p.oktaID },
		func(p *genIdentity) string { return p.o365AppUserID })
}

// adMismatchFresh builds an AD-sourced identity where one side holds the
// proper anchor and the other (Entra when staleEntra) a fresh one.
func (g *tenantGen) adMismatchFresh(s classify.Scenario, staleEntra bool) {
	p := g.adSourced()
	e, sent := p.anchor, g.freshAnchor()
	if staleEntra {
		e, sent = sent, e
	}
	g.addO365AppUser(p, g.str(sent), true)
	g.addEntraUser(p, p.login, g.str(e), false)
	g.label(s, p.login, p, genHasAll)
}

// ENTRA_ANCHOR_STALE: Okta sends the expected value; Entra holds the anchor
// of an AD object since deleted and re-created, or a stray value.
func (g *tenantGen) entraStaleAD() {
	g.adMismatchFresh(classify.EntraAnchorStale, true)
}

func (g *tenantGen) entraStaleCloud() {
	fresh := g.freshAnchor()
	g.cloudMismatch(classify.EntraAnchorStale,
		func(*genIdentity) string { return fresh },
		func(p *genIdentity) string { return p.oktaID })
}

// UNKNOWN_MISMATCH: both sides hold values nobody expects.
func (g *tenantGen) unknownAD() {
	g.adMismatch(classify.UnknownMismatch, g.freshAnchor(), g.freshAnchor())
}

func (g *tenantGen) unknownCloud() {
	e, sent := g.freshAnchor(), g.freshAnchor()
	g.cloudMismatch(classify.UnknownMismatch,
		func(*genIdentity) string { return e },
		func(*genIdentity) string { return sent })
}
