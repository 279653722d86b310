package classify_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

var (
	guidA   = mustGUID("3ab39606-c642-489b-84b6-58c038d3ef39")
	guidB   = mustGUID("8c4ac332-975f-4717-ad7b-ba4a4e968fff")
	guidC   = mustGUID("5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
	anchorA = guidA.ImmutableID() // BpazOkLGm0iEtljAONPvOQ==
	anchorB = guidB.ImmutableID() // MsNKjF+XF0ete7pKTpaP/w==
	anchorC = guidC.ImmutableID()
)

func mustGUID(s string) anchor.GUID {
	g, err := anchor.ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

func rawOf(g anchor.GUID) []byte {
	r := g.Raw()
	return r[:]
}

// base is a tenant with an O365 app, one AD app and a federated domain;
// tests add users to it.
func base() classify.Input {
	return classify.Input{
		OktaOrgURL: "https://contoso.okta.com",
		OktaApps: []record.OktaApp{
			{ID: "0oa365", Name: "office365", Label: "Microsoft Office 365", DeactivateUsers: "DISABLED",
				ImmutableIDExpression: classify.ExpressionRecommended, ImmutableIDPushStatus: "DONT_PUSH"},
			{ID: "0oaad1", Name: "active_directory", Label: "corp.contoso.example"},
			{ID: "0oaad2", Name: "active_directory", Label: "emea.contoso.example"},
		},
		EntraDomains: []record.EntraDomain{
			{ID: "contoso.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exk1"},
			{ID: "contoso.onmicrosoft.com", AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
		},
	}
}

func TestJoin(t *testing.T) {
	type want struct {
		scenario classify.Scenario
		entra    string
		okta     string
		adGUID   string
		keys     []string // evidence keys, in order
	}
	tests := []struct {
		name  string
		build func(in *classify.Input)
		want  []want // ordered by UPN
	}{
		{
			name: "externalId naming a deleted Entra object falls through to immutableId",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: "00u1", Login: "ada@contoso.example"})
				in.OktaAppUsers = append(in.OktaAppUsers, record.OktaAppUser{AppID: "0oa365", UserID: "00u1",
					ExternalID: "deleted-object-id", UserName: "someone-else@contoso.example", ImmutableID: "00u1"})
				in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: "ada.renamed@contoso.example", UserType: "Member", ImmutableID: "00u1"})
			},
			want: []want{{scenario: classify.OK, entra: "e1", okta: "00u1", keys: []string{classify.KeyO365ImmutableID}}},
		},
		{
			name: "no externalId, no matching immutableId: app username = UPN, case-insensitive",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: "00u1", Login: "ada.okta@contoso.example"})
				in.OktaAppUsers = append(in.OktaAppUsers, record.OktaAppUser{AppID: "0oa365", UserID: "00u1",
					UserName: "ADA@Contoso.Example", ImmutableID: "00u1"})
				in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member", ImmutableID: "0ua9"})
			},
			want: []want{{scenario: classify.EntraAnchorStale, entra: "e1", okta: "00u1", keys: []string{classify.KeyO365UserNameUPN}}},
		},
		{
			name: "unassigned Okta user joins Entra by login, case-insensitive",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: "00u1", Login: "Ada@CONTOSO.example"})
				in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member", ImmutableID: "00u1"})
			},
			want: []want{{scenario: classify.NotAssigned, entra: "e1", okta: "00u1", keys: []string{classify.KeyOktaLoginUPN}}},
		},
		{
			name: "immutableId differing only in case is no link and a mismatch",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: "00u1", Login: "ada@contoso.example"})
				in.OktaAppUsers = append(in.OktaAppUsers, record.OktaAppUser{AppID: "0oa365", UserID: "00u1",
					UserName: "ada@contoso.example", ImmutableID: "00U1"})
				in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member", ImmutableID: "00u1"})
			},
			want: []want{{scenario: classify.OktaAssignmentStale, entra: "e1", okta: "00u1", keys: []string{classify.KeyO365UserNameUPN}}},
		},
		{
			name: "AD joins Entra by ConsistencyGuid; no Okta user: ORPHAN_ENTRA",
			build: func(in *classify.Input) {
				in.ADUsers = append(in.ADUsers, record.ADUser{DistinguishedName: "CN=ada", ObjectGUID: guidA.Raw(),
					ConsistencyGUID: rawOf(guidB), UserPrincipalName: "ada@corp.contoso.example"})
				in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member", ImmutableID: anchorB})
			},
			want: []want{{scenario: classify.OrphanEntra, entra: "e1", adGUID: guidA.String(), keys: []string{classify.KeyADConsistencyGUID}}},
		},
		{
			name: "AD joins Entra by objectSid, then by UPN",
			build: func(in *classify.Input) {
				in.ADUsers = append(in.ADUsers,
					record.ADUser{DistinguishedName: "CN=ada", ObjectGUID: guidA.Raw(), ObjectSID: "S-1-5-21-1-1", UserPrincipalName: "x@corp"},
					record.ADUser{DistinguishedName: "CN=bob", ObjectGUID: guidB.Raw(), ObjectSID: "S-1-5-21-1-2", UserPrincipalName: "BOB@contoso.example"})
				in.EntraUsers = append(in.EntraUsers,
					record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member", SecurityID: "S-1-5-21-1-1", ImmutableID: anchorC},
					record.EntraUser{ID: "e2", UserPrincipalName: "bob@contoso.example", UserType: "Member"})
			},
			want: []want{
				{scenario: classify.OrphanEntra, entra: "e1", adGUID: guidA.String(), keys: []string{classify.KeyADSID}},
				{scenario: classify.OrphanEntra, entra: "e2", adGUID: guidB.String(), keys: []string{classify.KeyADUPNEntraUPN}},
			},
		},
		{
			name: "a user only in AD is OUT_OF_SCOPE",
			build: func(in *classify.Input) {
				in.ADUsers = append(in.ADUsers, record.ADUser{DistinguishedName: "CN=svc", ObjectGUID: guidA.Raw(), UserPrincipalName: "svc@corp"})
			},
			want: []want{{scenario: classify.OutOfScope, adGUID: guidA.String()}},
		},
		{
			name: "a taken Entra user is not joined twice: the weaker link falls through to login",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers,
					record.OktaUser{ID: "00u1", Login: "ada@contoso.example"},
					record.OktaUser{ID: "00u2", Login: "bob@contoso.example"})
				in.OktaAppUsers = append(in.OktaAppUsers,
					record.OktaAppUser{AppID: "0oa365", UserID: "00u1", ExternalID: "e1", UserName: "ada@contoso.example", ImmutableID: anchorA},
					// bob sends ada's anchor and has no externalId: the S = E key names ada's Entra user, already ada's.
					record.OktaAppUser{AppID: "0oa365", UserID: "00u2", UserName: "bob@contoso.example", ImmutableID: anchorA})
				in.EntraUsers = append(in.EntraUsers,
					record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member", ImmutableID: anchorA},
					record.EntraUser{ID: "e2", UserPrincipalName: "bob@contoso.example", UserType: "Member", ImmutableID: anchorB})
			},
			want: []want{
				{scenario: classify.AnchorConflict, entra: "e1", okta: "00u1", keys: []string{classify.KeyO365ExternalID}},
				{scenario: classify.AnchorConflict, entra: "e2", okta: "00u2", keys: []string{classify.KeyO365UserNameUPN}},
			},
		},
		{
			name: "two AD users sharing a ConsistencyGuid conflict",
			build: func(in *classify.Input) {
				for i, name := range []string{"ada", "bob"} {
					g := []anchor.GUID{guidA, guidB}[i]
					okta := "00u" + name
					in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: okta, Login: name + "@contoso.example"})
					in.OktaAppUsers = append(in.OktaAppUsers,
						record.OktaAppUser{AppID: "0oaad1", UserID: okta, ExternalID: g.ImmutableID()},
						record.OktaAppUser{AppID: "0oa365", UserID: okta, ExternalID: "e-" + name, ImmutableID: g.ImmutableID()})
					in.ADUsers = append(in.ADUsers, record.ADUser{DistinguishedName: "CN=" + name, ObjectGUID: g.Raw(), ConsistencyGUID: rawOf(guidC)})
					in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e-" + name, UserPrincipalName: name + "@contoso.example", UserType: "Member", ImmutableID: g.ImmutableID()})
				}
			},
			want: []want{
				{scenario: classify.AnchorConflict, entra: "e-ada", okta: "00uada", adGUID: guidA.String(),
					keys: []string{classify.KeyADAppExternalID, classify.KeyO365ExternalID}},
				{scenario: classify.AnchorConflict, entra: "e-bob", okta: "00ubob", adGUID: guidB.String(),
					keys: []string{classify.KeyADAppExternalID, classify.KeyO365ExternalID}},
			},
		},
		{
			name: "Okta user in two scanned AD forests: both AD users join it, nAD = 2",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: "00u1", Login: "ada@contoso.example"})
				in.OktaAppUsers = append(in.OktaAppUsers,
					record.OktaAppUser{AppID: "0oaad1", UserID: "00u1", ExternalID: anchorA},
					record.OktaAppUser{AppID: "0oaad2", UserID: "00u1", ExternalID: anchorB},
					record.OktaAppUser{AppID: "0oa365", UserID: "00u1", ExternalID: "e1", ImmutableID: anchorA})
				in.ADUsers = append(in.ADUsers,
					record.ADUser{DistinguishedName: "CN=ada,DC=corp", ObjectGUID: guidA.Raw()},
					record.ADUser{DistinguishedName: "CN=ada,DC=emea", ObjectGUID: guidB.Raw()})
				in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.example", UserType: "Member"})
			},
			want: []want{{scenario: classify.MultipleADSources, entra: "e1", okta: "00u1", adGUID: guidA.String(),
				keys: []string{classify.KeyADAppExternalID, classify.KeyADAppExternalID, classify.KeyO365ExternalID}}},
		},
		{
			name: "UPN on a managed domain, not assigned: OUT_OF_SCOPE; assigned: UNFEDERATED_UPN",
			build: func(in *classify.Input) {
				in.OktaUsers = append(in.OktaUsers,
					record.OktaUser{ID: "00u1", Login: "ada@contoso.onmicrosoft.com"},
					record.OktaUser{ID: "00u2", Login: "bob@contoso.onmicrosoft.com"})
				in.OktaAppUsers = append(in.OktaAppUsers, record.OktaAppUser{AppID: "0oa365", UserID: "00u2", ExternalID: "e2", ImmutableID: "00u2"})
				in.EntraUsers = append(in.EntraUsers,
					record.EntraUser{ID: "e1", UserPrincipalName: "ada@contoso.onmicrosoft.com", UserType: "Member"},
					record.EntraUser{ID: "e2", UserPrincipalName: "bob@contoso.onmicrosoft.com", UserType: "Member", ImmutableID: "00u2"})
			},
			want: []want{
				{scenario: classify.OutOfScope, entra: "e1", okta: "00u1", keys: []string{classify.KeyOktaLoginUPN}},
				{scenario: classify.UnfederatedUPN, entra: "e2", okta: "00u2", keys: []string{classify.KeyO365ExternalID}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.build(&in)
			res := classify.Classify(in, classify.Options{})
			checkMembership(t, in, res)
			var got []want
			for _, f := range res.Identities {
				w := want{scenario: f.Scenario, entra: f.EntraUserID, okta: f.OktaUserID, adGUID: f.ADObjectGUID}
				for _, l := range f.Evidence {
					w.keys = append(w.keys, l.Key)
				}
				got = append(got, w)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("identities (-want +got):\n%s\nfindings: %+v", diff, res.Identities)
			}
		})
	}
}

// checkMembership asserts that every Entra, Okta and AD user of in is in
// exactly one identity: as the identity's record, or (for a second AD user of
// one person) named by the identity's evidence.
func checkMembership(t *testing.T, in classify.Input, res classify.Result) {
	t.Helper()
	count := map[string]int{}
	for _, f := range res.Identities {
		members := map[string]bool{}
		if f.EntraUserID != "" {
			members["entra:"+f.EntraUserID] = true
		}
		if f.OktaUserID != "" {
			members["okta:"+f.OktaUserID] = true
		}
		if f.ADDN != "" {
			members["ad:"+f.ADDN] = true
		}
		for _, l := range f.Evidence {
			members[l.From], members[l.To] = true, true
		}
		for m := range members {
			count[m]++
		}
	}
	check := func(key string) {
		if n := count[key]; n != 1 {
			t.Errorf("%s is in %d identities, want 1", key, n)
		}
	}
	for _, u := range in.EntraUsers {
		check("entra:" + u.ID)
	}
	for _, u := range in.OktaUsers {
		check("okta:" + u.ID)
	}
	for _, u := range in.ADUsers {
		check("ad:" + u.DistinguishedName)
	}
	if want := len(in.EntraUsers) + len(in.OktaUsers) + len(in.ADUsers); len(count) != want {
		t.Errorf("identities name %d records, input has %d", len(count), want)
	}
}

func TestSyntheticTenant(t *testing.T) {
	in, want := syntheticInput(4000)
	res := classify.Classify(in, classify.Options{})
	checkMembership(t, in, res)
	got := map[string]classify.Scenario{}
	for _, f := range res.Identities {
		got[identityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)] = f.Scenario
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scenarios (-want +got):\n%s", diff)
	}
	if len(res.Org) != 0 {
		t.Errorf("org findings on a healthy tenant: %+v", res.Org)
	}
}

// TestDeterministic checks that the order the collectors deliver records in
// changes nothing, and that findings are sorted by UPN.
func TestDeterministic(t *testing.T) {
	inputs := map[string]classify.Input{"example tenant": inputFromTenant(t, loadTenant(t, exampleTenant))}
	inputs["synthetic"], _ = syntheticInput(800)
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			want := classify.Classify(in, classify.Options{})
			rng := rand.New(rand.NewPCG(1, 2))
			for range 3 {
				shuffled := in
				shuffled.OktaUsers = shuffle(rng, in.OktaUsers)
				shuffled.OktaAppUsers = shuffle(rng, in.OktaAppUsers)
				shuffled.EntraUsers = shuffle(rng, in.EntraUsers)
				shuffled.ADUsers = shuffle(rng, in.ADUsers)
				if diff := cmp.Diff(want, classify.Classify(shuffled, classify.Options{})); diff != "" {
					t.Fatalf("shuffled input classifies differently (-first +shuffled):\n%s", diff)
				}
			}
			if !slices.IsSortedFunc(want.Identities, func(a, b classify.Finding) int {
				return strings.Compare(strings.ToLower(a.UPN), strings.ToLower(b.UPN))
			}) {
				t.Error("findings are not sorted by UPN")
			}
		})
	}
}

func shuffle[T any](rng *rand.Rand, s []T) []T {
	out := slices.Clone(s)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestHostileStrings checks that attacker-controlled directory strings are
// kept verbatim: escaping is the renderers' job, and a finding must show
// exactly what the directory holds.
func TestHostileStrings(t *testing.T) {
	const (
		name = "<script>alert(1)</script>\x00\x1b[31m\u202eevil & \"quoted\""
		upn  = "<img src=x onerror=alert(1)>\x07@contoso.example"
	)
	in := base()
	in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: "e1", UserPrincipalName: upn, DisplayName: name,
		UserType: "Member", ImmutableID: "<b>anchor</b>"})
	res := classify.Classify(in, classify.Options{})
	if len(res.Identities) != 1 {
		t.Fatalf("got %d identities, want 1", len(res.Identities))
	}
	f := res.Identities[0]
	if f.DisplayName != name || f.UPN != upn || f.EntraAnchor != "<b>anchor</b>" {
		t.Errorf("values changed: displayName %q, upn %q, anchor %q", f.DisplayName, f.UPN, f.EntraAnchor)
	}
	if f.Scenario != classify.OrphanEntra {
		t.Errorf("scenario %s, want %s", f.Scenario, classify.OrphanEntra)
	}
	for _, s := range []string{upn, "<b>anchor</b>"} {
		if !strings.Contains(f.Explanation, s) {
			t.Errorf("explanation %q does not hold %q verbatim", f.Explanation, s)
		}
	}
}

func TestOrgFindings(t *testing.T) {
	tests := []struct {
		name string
		edit func(in *classify.Input)
		opts classify.Options
		want []classify.OrgCode
	}{
		{name: "healthy, one AD instance", edit: func(in *classify.Input) { in.OktaApps = in.OktaApps[:2] }},
		{
			name: "default expression, pushed, deactivate on, two AD instances",
			edit: func(in *classify.Input) {
				in.OktaApps[0].ImmutableIDExpression = classify.ExpressionDefault
				in.OktaApps[0].ImmutableIDPushStatus = "PUSH"
				in.OktaApps[0].DeactivateUsers = "ENABLED"
			},
			want: []classify.OrgCode{classify.OrgDeactivateEnabled, classify.OrgMappingDefaultNull,
				classify.OrgMappingPushes, classify.OrgMultipleADDefaultExpression},
		},
		{
			name: "no federated domain",
			edit: func(in *classify.Input) {
				in.OktaApps = in.OktaApps[:2]
				in.EntraDomains[0].AuthenticationType = "Managed"
			},
			want: []classify.OrgCode{classify.OrgNoFederatedDomain},
		},
		{
			name: "foreign issuer",
			edit: func(in *classify.Input) {
				in.OktaApps = in.OktaApps[:2]
				in.EntraDomains[0].IssuerURI = "http://sts.contoso.example/adfs/services/trust"
			},
			want: []classify.OrgCode{classify.OrgFederationIssuerNotOkta},
		},
		{
			name: "configured issuer is accepted",
			edit: func(in *classify.Input) {
				in.OktaApps = in.OktaApps[:2]
				in.EntraDomains[0].IssuerURI = "https://login.contoso.example/oauth2/default"
			},
			opts: classify.Options{OktaIssuer: "https://login.contoso.example/oauth2/default"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.edit(&in)
			var got []classify.OrgCode
			for _, o := range classify.Classify(in, tc.opts).Org {
				got = append(got, o.Code)
				if o.Explanation == "" || o.Severity == "" {
					t.Errorf("%s: empty explanation or severity", o.Code)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("org codes (-want +got):\n%s", diff)
			}
		})
	}
}
