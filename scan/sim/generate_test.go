package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/classify"
)

func mustGenerate(t testing.TB, users int, seed int64) *Tenant {
	t.Helper()
	tenant, err := Generate(GenerateOptions{Users: users, Seed: seed})
	if err != nil {
		t.Fatalf("Generate(%d users, seed %d): %v", users, seed, err)
	}
	return tenant
}

func TestGenerateDeterministic(t *testing.T) {
	a := mustGenerate(t, 2000, 7)
	b := mustGenerate(t, 2000, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different tenants:\n%.2000s", diff)
	}
	c := mustGenerate(t, 2000, 8)
	if a.Okta.Users[0].ID == c.Okta.Users[0].ID || a.Entra.TenantID == c.Entra.TenantID {
		t.Errorf("seeds 7 and 8 gave the same ids: %s, %s", a.Okta.Users[0].ID, a.Entra.TenantID)
	}
	if cmp.Equal(a.Expected, c.Expected) {
		t.Errorf("seeds 7 and 8 gave the same labels")
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name  string
		users int
	}{
		{name: "zero", users: 0},
		{name: "negative", users: -5},
		{name: "too many", users: MaxGeneratedUsers + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(GenerateOptions{Users: tt.users})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint(tt.users)) {
				t.Fatalf("Generate(%d users) = %v, want an error naming the count", tt.users, err)
			}
		})
	}
}

// TestGenerateConsistent checks every size against Validate and the
// labelling: one label per identity, every record labelled exactly once,
// slices allocated at their final size.
func TestGenerateConsistent(t *testing.T) {
	for _, users := range []int{1, 2, 10, 33, 100, 5000} {
		t.Run(fmt.Sprint(users), func(t *testing.T) {
			tenant := mustGenerate(t, users, int64(users))
			if err := tenant.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := len(tenant.Expected.Identities); got != users {
				t.Errorf("%d labels, want %d", got, users)
			}
			labelled := map[string]int{}
			for _, x := range tenant.Expected.Identities {
				for _, id := range []string{"okta:" + x.OktaUserID, "entra:" + x.EntraUserID, "ad:" + x.ADObjectGUID} {
					if !strings.HasSuffix(id, ":") {
						labelled[id]++
					}
				}
			}
			var unlabelled []string
			for _, u := range tenant.Okta.Users {
				if labelled["okta:"+u.ID] != 1 {
					unlabelled = append(unlabelled, "okta:"+u.ID)
				}
			}
			for _, u := range tenant.Entra.Users {
				if labelled["entra:"+u.ID] != 1 {
					unlabelled = append(unlabelled, "entra:"+u.ID)
				}
			}
			for _, u := range tenant.AD.Users {
				if labelled["ad:"+u.ObjectGUID] != 1 {
					unlabelled = append(unlabelled, "ad:"+u.ObjectGUID)
				}
			}
			if len(unlabelled) > 0 {
				t.Errorf("%d records not labelled exactly once, e.g. %v", len(unlabelled), unlabelled[:min(3, len(unlabelled))])
			}
			sizes := map[string][2]int{
				"okta.users":          {len(tenant.Okta.Users), cap(tenant.Okta.Users)},
				"okta.appUsers":       {len(tenant.Okta.AppUsers), cap(tenant.Okta.AppUsers)},
				"entra.users":         {len(tenant.Entra.Users), cap(tenant.Entra.Users)},
				"ad.users":            {len(tenant.AD.Users), cap(tenant.AD.Users)},
				"expected.identities": {len(tenant.Expected.Identities), cap(tenant.Expected.Identities)},
			}
			for name, s := range sizes {
				if s[0] != s[1] {
					t.Errorf("%s: len %d, cap %d: genCapacity and the builders disagree", name, s[0], s[1])
				}
			}
		})
	}
}

func TestGenerateScenarioMix(t *testing.T) {
	tests := []struct {
		name       string
		users      int
		wantAll    bool
		okMin      float64
		okMax      float64
		minCounted int // scenarios present at least
	}{
		{name: "small", users: 10, okMin: 0.5, okMax: 0.9, minCounted: 5},
		{name: "smallest with every scenario", users: 32, wantAll: true, okMin: 0.5, okMax: 0.5},
		{name: "hundred", users: 100, wantAll: true, okMin: 0.75, okMax: 0.9},
		{name: "thousand", users: 1000, wantAll: true, okMin: 0.82, okMax: 0.88},
		{name: "fifty thousand", users: 50000, wantAll: true, okMin: 0.84, okMax: 0.87},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := mustGenerate(t, tt.users, 1)
			counts := map[string]int{}
			for _, x := range tenant.Expected.Identities {
				counts[x.Scenario]++
			}
			if share := float64(counts[string(classify.OK)]) / float64(tt.users); share < tt.okMin || share > tt.okMax {
				t.Errorf("OK share %.3f, want %.2f..%.2f (counts %v)", share, tt.okMin, tt.okMax, counts)
			}
			if tt.wantAll {
				for code := range fixtureScenarios {
					if counts[code] == 0 {
						t.Errorf("scenario %s missing (counts %v)", code, counts)
					}
				}
				if n := counts[string(classify.AnchorConflict)]; n%2 != 0 {
					t.Errorf("%d ANCHOR_CONFLICT identities, want pairs", n)
				}
			}
			if len(counts) < tt.minCounted {
				t.Errorf("%d scenarios present, want at least %d: %v", len(counts), tt.minCounted, counts)
			}
		})
	}
}

// Every variant of every kind is built once a tenant has 1000 identities.
func TestGenerateEveryVariantAtThousand(t *testing.T) {
	slots := genPlanSlots(1000)
	for kind, n := range slots {
		k := genKinds[kind]
		if n < len(k.variants) {
			t.Errorf("%s: %d builds for %d variants", k.scenario, n, len(k.variants))
		}
	}
}

func TestGenerateIDsUnique(t *testing.T) {
	tenant := mustGenerate(t, 20000, 3)
	seen := map[string]string{}
	check := func(kind, id string) {
		if prev, dup := seen[id]; dup {
			t.Errorf("%s %q also used as %s", kind, id, prev)
		}
		seen[id] = kind
	}
	for _, u := range tenant.Okta.Users {
		check("okta user id", u.ID)
	}
	for _, a := range tenant.Okta.Apps {
		check("okta app id", a.ID)
	}
	for _, au := range tenant.Okta.AppUsers {
		check("app user id", au.AppUserID)
	}
	check("tenant id", tenant.Entra.TenantID)
	for _, u := range tenant.Entra.Users {
		check("entra id", u.ID)
	}
	anchors := map[string]bool{}
	for _, u := range tenant.AD.Users {
		check("objectGUID", u.ObjectGUID)
		check("objectSid", u.ObjectSID)
		anchors[genTestAnchor(t, u.ObjectGUID)] = true
	}
	// Okta ids and GUIDs from the generator are lower-case letters and digits.
	if id := tenant.Okta.Users[0].ID; strings.ToLower(id) != id || len(id) != 20 {
		t.Errorf("okta id %q", id)
	}
	// The AD app users' externalIds of the corp instance are the anchors of
	// AD objects; those of the second instance name none.
	corp := tenant.Okta.Apps[1].ID
	for _, au := range tenant.Okta.AppUsers {
		if au.AppID == corp && !anchors[*au.ExternalID] {
			t.Errorf("corp AD app user %s externalId %q is no AD user's anchor", au.AppUserID, *au.ExternalID)
		}
	}
}

func TestGenerateOrg(t *testing.T) {
	tenant := mustGenerate(t, 50, 1)
	o365 := tenant.Okta.Apps[0]
	if o365.Name != "office365" || o365.DeactivateUsers != "DISABLED" || o365.ImmutableIDMapping == nil ||
		o365.ImmutableIDMapping.Expression != `hasDirectoryUser()?findDirectoryUser().externalId:user.getInternalProperty("id")` ||
		o365.ImmutableIDMapping.PushStatus != "DONT_PUSH" {
		t.Errorf("office365 app %+v, mapping %+v", o365, o365.ImmutableIDMapping)
	}
	ad := 0
	for _, a := range tenant.Okta.Apps {
		if a.Name == "active_directory" {
			ad++
		}
	}
	if ad != 2 {
		t.Errorf("%d active_directory instances, want 2", ad)
	}
	var federated []EntraDomain
	for _, d := range tenant.Entra.Domains {
		if d.AuthenticationType == "Federated" {
			federated = append(federated, d)
		}
	}
	if len(federated) != 1 || !strings.HasPrefix(federated[0].IssuerURI, "http://www.okta.com/exk") {
		t.Errorf("federated domains %+v, want one with an Okta issuer", federated)
	}
	if diff := cmp.Diff([]string{string(classify.OrgMultipleADDefaultExpression)}, tenant.Expected.Org); diff != "" {
		t.Errorf("org labels (-want +got):\n%s", diff)
	}
}

func TestGenerateHostileDisplayNames(t *testing.T) {
	tenant := mustGenerate(t, 200, 11)
	ok := map[string]bool{}
	for _, x := range tenant.Expected.Identities {
		if x.Scenario == string(classify.OK) {
			ok[x.EntraUserID] = true
		}
	}
	found := 0
	for _, u := range tenant.Entra.Users {
		for _, h := range genHostileDisplayNames {
			if u.DisplayName == h {
				found++
				if !ok[u.ID] {
					t.Errorf("hostile display name %q on a non-OK identity %s", h, u.UserPrincipalName)
				}
			}
		}
	}
	if found != len(genHostileDisplayNames) {
		t.Errorf("%d hostile display names, want %d", found, len(genHostileDisplayNames))
	}
}

func TestGenerateWriteLoadRoundTrip(t *testing.T) {
	tenant := mustGenerate(t, 700, 5)
	var buf bytes.Buffer
	if err := WriteFixture(&buf, tenant); err != nil {
		t.Fatal(err)
	}
	again, err := LoadFixture(&buf)
	if err != nil {
		t.Fatalf("LoadFixture(generated): %v", err)
	}
	if diff := cmp.Diff(tenant, again, equateEmpty); diff != "" {
		t.Errorf("generated tenant changed by a write and load:\n%.2000s", diff)
	}
}

// TestReferenceClassifierOnExample checks the test's own reading of DESIGN §5
// against the normative example before it is trusted with generated tenants.
func TestGenerateReferenceClassifierOnExample(t *testing.T) {
	checkLabelsFollowDesign(t, loadExample(t))
}

func TestGenerateLabelsFollowDesign(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkLabelsFollowDesign(t, mustGenerate(t, 3000, seed))
		})
	}
}

// checkLabelsFollowDesign joins the records of tenant as DESIGN §5 says,
// classifies each identity by the decision table, and compares with the
// labels. It is a small independent reading of §5, not the classifier.
func checkLabelsFollowDesign(t *testing.T, tenant *Tenant) {
	t.Helper()
	ids := refJoin(t, tenant)
	byRecord := map[string]*refIdentity{}
	for _, id := range ids {
		for _, key := range id.keys() {
			byRecord[key] = id
		}
	}
	failures := 0
	for i, x := range tenant.Expected.Identities {
		var keys []string
		if x.OktaUserID != "" {
			keys = append(keys, "okta:"+x.OktaUserID)
		}
		if x.EntraUserID != "" {
			keys = append(keys, "entra:"+x.EntraUserID)
		}
		if x.ADObjectGUID != "" {
			keys = append(keys, "ad:"+x.ADObjectGUID)
		}
		id := byRecord[keys[0]]
		if id == nil {
			t.Fatalf("label %d names unknown record %s", i, keys[0])
		}
		if got := strings.Join(id.keys(), " "); got != strings.Join(keys, " ") {
			t.Errorf("label %d (%s %s) groups %v, the join groups %s", i, x.Scenario, x.UPN, keys, got)
			failures++
			continue
		}
		if got := id.scenario; string(got) != x.Scenario {
			t.Errorf("label %d %s: labelled %s, §5 gives %s (E=%q S=%q X=%q nAD=%d)",
				i, x.UPN, x.Scenario, got, id.e, id.s, id.x, id.nAD)
			failures++
		}
		if failures > 10 {
			t.Fatal("too many failures")
		}
	}
	if len(ids) != len(tenant.Expected.Identities) {
		t.Errorf("the join finds %d identities, %d are labelled", len(ids), len(tenant.Expected.Identities))
	}
}

type refIdentity struct {
	okta  *OktaUser
	entra *EntraUser
	ad    *ADUser

	o365     *OktaAppUser
	nAD      int
	e, s     string
	x        []string
	scenario classify.Scenario
}

func (id *refIdentity) keys() []string {
	var keys []string
	if id.okta != nil {
		keys = append(keys, "okta:"+id.okta.ID)
	}
	if id.entra != nil {
		keys = append(keys, "entra:"+id.entra.ID)
	}
	if id.ad != nil {
		keys = append(keys, "ad:"+id.ad.ObjectGUID)
	}
	return keys
}

func genTestAnchor(t testing.TB, guid string) string {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(guid, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("bad GUID %q", guid)
	}
	raw := genRawGUID([16]byte(b))
	return base64.StdEncoding.EncodeToString(raw[:])
}

// refJoin links records strongest key first (§5) and classifies each
// identity. A link to a record already linked elsewhere is a test failure:
// the generator must not produce ambiguous joins.
func refJoin(t *testing.T, tn *Tenant) []*refIdentity {
	t.Helper()
	apps := map[string]string{}
	for _, a := range tn.Okta.Apps {
		apps[a.ID] = a.Name
	}
	entraByID, entraByAnchor, entraBySID, entraByUPN := map[string]*EntraUser{}, map[string]*EntraUser{}, map[string]*EntraUser{}, map[string]*EntraUser{}
	for i := range tn.Entra.Users {
		u := &tn.Entra.Users[i]
		entraByID[u.ID] = u
		if u.OnPremisesImmutableID != nil && *u.OnPremisesImmutableID != "" {
			entraByAnchor[*u.OnPremisesImmutableID] = u
		}
		if u.OnPremisesSecurityIdentifier != nil {
			entraBySID[*u.OnPremisesSecurityIdentifier] = u
		}
		entraByUPN[strings.ToLower(u.UserPrincipalName)] = u
	}
	adByAnchor := map[string]*ADUser{}
	adAnchors := map[*ADUser][]string{}
	for i := range tn.AD.Users {
		u := &tn.AD.Users[i]
		anchors := []string{genTestAnchor(t, u.ObjectGUID)}
		if u.MSDSConsistencyGUID != nil && *u.MSDSConsistencyGUID != u.ObjectGUID {
			anchors = append(anchors, genTestAnchor(t, *u.MSDSConsistencyGUID))
		}
		for _, a := range anchors {
			adByAnchor[a] = u
		}
		adAnchors[u] = anchors
	}
	var ids []*refIdentity
	entraTaken := map[*EntraUser]*refIdentity{}
	adTaken := map[*ADUser]*refIdentity{}
	claimEntra := func(id *refIdentity, u *EntraUser) {
		if prev := entraTaken[u]; prev != nil && prev != id {
			t.Errorf("Entra user %s joins two identities (%v and %v)", u.UserPrincipalName, prev.keys(), id.keys())
			return
		}
		entraTaken[u], id.entra = id, u
	}
	appUsers := map[string][]*OktaAppUser{}
	for i := range tn.Okta.AppUsers {
		au := &tn.Okta.AppUsers[i]
		appUsers[au.UserID] = append(appUsers[au.UserID], au)
	}
	for i := range tn.Okta.Users {
		o := &tn.Okta.Users[i]
		id := &refIdentity{okta: o}
		ids = append(ids, id)
		for _, au := range appUsers[o.ID] {
			switch apps[au.AppID] {
			case "office365":
				id.o365 = au
			case "active_directory":
				id.nAD++
				if au.ExternalID != nil {
					if a := adByAnchor[*au.ExternalID]; a != nil {
						if prev := adTaken[a]; prev != nil {
							t.Errorf("AD user %s joins two Okta users", a.DistinguishedName)
						}
						adTaken[a], id.ad = id, a
					}
				}
			}
		}
		switch au := id.o365; {
		case au != nil && au.ExternalID != nil && entraByID[*au.ExternalID] != nil:
			claimEntra(id, entraByID[*au.ExternalID])
		case au != nil && au.Profile.ImmutableID != nil && entraByAnchor[*au.Profile.ImmutableID] != nil:
			claimEntra(id, entraByAnchor[*au.Profile.ImmutableID])
		case au != nil && entraByUPN[strings.ToLower(au.UserName)] != nil:
			claimEntra(id, entraByUPN[strings.ToLower(au.UserName)])
		case entraByUPN[strings.ToLower(o.Login)] != nil:
			claimEntra(id, entraByUPN[strings.ToLower(o.Login)])
		}
	}
	for i := range tn.AD.Users {
		a := &tn.AD.Users[i]
		id := adTaken[a]
		if id == nil {
			id = &refIdentity{ad: a}
			ids = append(ids, id)
			adTaken[a] = id
		}
		var linked *EntraUser
		for _, anchor := range adAnchors[a] {
			if u := entraByAnchor[anchor]; u != nil && linked == nil {
				linked = u
			}
		}
		if linked == nil {
			linked = entraBySID[a.ObjectSID]
		}
		if linked == nil && a.UserPrincipalName != "" {
			linked = entraByUPN[strings.ToLower(a.UserPrincipalName)]
		}
		if linked != nil {
			if id.entra != nil && id.entra != linked {
				t.Errorf("AD user %s links to Entra %s, its Okta user to %s", a.DistinguishedName, linked.UserPrincipalName, id.entra.UserPrincipalName)
				continue
			}
			claimEntra(id, linked)
		}
	}
	for i := range tn.Entra.Users {
		u := &tn.Entra.Users[i]
		if entraTaken[u] == nil {
			id := &refIdentity{entra: u}
			ids = append(ids, id)
			entraTaken[u] = id
		}
	}
	refClassify(tn, ids)
	return ids
}

func refClassify(tn *Tenant, ids []*refIdentity) {
	held := map[string]map[*refIdentity]bool{}
	hold := func(v string, id *refIdentity) {
		if v == "" {
			return
		}
		if held[v] == nil {
			held[v] = map[*refIdentity]bool{}
		}
		held[v][id] = true
	}
	cgHolders := map[string]int{}
	for _, id := range ids {
		if id.entra != nil && id.entra.OnPremisesImmutableID != nil {
			id.e = *id.entra.OnPremisesImmutableID
		}
		if id.o365 != nil && id.o365.Profile.ImmutableID != nil {
			id.s = *id.o365.Profile.ImmutableID
		}
		switch {
		case id.ad != nil:
			id.x = []string{genTestAnchorNoT(id.ad.ObjectGUID)}
			if cg := id.ad.MSDSConsistencyGUID; cg != nil {
				id.x = append(id.x, genTestAnchorNoT(*cg))
				cgHolders[*cg]++
			}
		case id.okta != nil:
			id.x = []string{id.okta.ID}
			if id.o365 != nil {
				id.x = append(id.x, id.o365.AppUserID)
			}
		}
		hold(id.e, id)
		hold(id.s, id)
	}
	domainType := map[string]string{}
	for _, d := range tn.Entra.Domains {
		domainType[strings.ToLower(d.ID)] = d.AuthenticationType
	}
	federated := func(upn string) bool {
		d := strings.ToLower(upn[strings.LastIndexByte(upn, '@')+1:])
		for d != "" {
			if typ, ok := domainType[d]; ok {
				return typ == "Federated"
			}
			_, d, _ = strings.Cut(d, ".")
		}
		return false
	}
	for _, id := range ids {
		u, assigned := id.entra, id.o365 != nil
		fed := u != nil && federated(u.UserPrincipalName)
		conflict := len(held[id.e]) > 1 || len(held[id.s]) > 1
		if id.ad != nil && id.ad.MSDSConsistencyGUID != nil && cgHolders[*id.ad.MSDSConsistencyGUID] > 1 {
			conflict = true
		}
		in := func(v string, set []string) bool {
			for _, s := range set {
				if s == v {
					return true
				}
			}
			return false
		}
		switch {
		case u != nil && (u.UserType == "Guest" || strings.Contains(u.UserPrincipalName, "#EXT#")),
			u == nil && !assigned,
			u != nil && !fed && !assigned,
			id.ad != nil && id.okta == nil && u == nil:
			id.scenario = classify.OutOfScope
		case assigned && u == nil:
			id.scenario = classify.NotInEntra
		case assigned && !fed:
			id.scenario = classify.UnfederatedUPN
		case fed && u.UserType == "Member" && id.okta == nil:
			id.scenario = classify.OrphanEntra
		case conflict:
			id.scenario = classify.AnchorConflict
		case id.nAD > 1 && (id.e == "" || id.s == "" || id.e != id.s):
			id.scenario = classify.MultipleADSources
		case id.e == "" && id.nAD == 1:
			id.scenario = classify.MissingAnchorAD
		case id.e == "" && id.nAD == 0:
			id.scenario = classify.MissingAnchorCloud
		case fed && !assigned:
			id.scenario = classify.NotAssigned
		case assigned && id.s == "":
			id.scenario = classify.OktaAnchorEmpty
		case id.e == id.s:
			id.scenario = classify.OK
		case u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled:
			id.scenario = classify.SyncManagedMismatch
		case refSameGUID(id.e, id.s):
			id.scenario = classify.EncodingMismatch
		case in(id.e, id.x):
			id.scenario = classify.OktaAssignmentStale
		case in(id.s, id.x):
			id.scenario = classify.EntraAnchorStale
		default:
			id.scenario = classify.UnknownMismatch
		}
	}
}

func genTestAnchorNoT(guid string) string {
	b, _ := hex.DecodeString(strings.ReplaceAll(guid, "-", ""))
	raw := genRawGUID([16]byte(b))
	return base64.StdEncoding.EncodeToString(raw[:])
}

// refReadings lists, in canonical byte order, every GUID v can stand for
// under the encodings of DESIGN §1.
func refReadings(v string) [][16]byte {
	var out [][16]byte
	bothOrders := func(b []byte) {
		if len(b) == 16 {
			out = append(out, genRawGUID([16]byte(b)), [16]byte(b))
		}
	}
	parseGUID := func(s string) {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
		if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
			if b, err := hex.DecodeString(strings.ReplaceAll(s, "-", "")); err == nil {
				out = append(out, [16]byte(b))
			}
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			bothOrders(b)
			parseGUID(string(b))
		}
	}
	parseGUID(v)
	if len(v) == 32 {
		if b, err := hex.DecodeString(v); err == nil {
			bothOrders(b)
		}
	}
	return out
}

func refSameGUID(a, b string) bool {
	for _, x := range refReadings(a) {
		for _, y := range refReadings(b) {
			if x == y {
				return true
			}
		}
	}
	return false
}

func TestGenerateRefReadings(t *testing.T) {
	// DESIGN §1 test vector, in its mis-encodings.
	const guid, anchor = "3ab39606-c642-489b-84b6-58c038d3ef39", "BpazOkLGm0iEtljAONPvOQ=="
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "anchor and GUID string", a: anchor, b: guid, want: true},
		{name: "braced upper", a: "{" + strings.ToUpper(guid) + "}", b: anchor, want: true},
		{name: "unpadded", a: strings.TrimRight(anchor, "="), b: guid, want: true},
		{name: "hex raw", a: "0696b33a42c69b4884b658c038d3ef39", b: anchor, want: true},
		{name: "base64 ascii", a: base64.StdEncoding.EncodeToString([]byte(guid)), b: anchor, want: true},
		{name: "other GUID", a: "MsNKjF+XF0ete7pKTpaP/w==", b: anchor, want: false},
		{name: "okta id", a: "00utlmfhatxriapc6uir", b: anchor, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refSameGUID(tt.a, tt.b); got != tt.want {
				t.Errorf("refSameGUID(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	const users = 100_000
	b.ReportAllocs()
	var tenant *Tenant
	for b.Loop() {
		var err error
		tenant, err = Generate(GenerateOptions{Users: users, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(users)*float64(b.N)/b.Elapsed().Seconds(), "identities/s")
	b.ReportMetric(float64(m.HeapAlloc)/float64(users), "live-B/identity")
	runtime.KeepAlive(tenant)
}
