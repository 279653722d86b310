package classify_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/sim"
)

const exampleTenant = "../sim/testdata/example-tenant.json"

func loadTenant(t testing.TB, path string) sim.Tenant {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var tenant sim.Tenant
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tenant); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return tenant
}

// inputFromTenant converts a fixture into the records the collectors would
// have produced from the simulated servers.
func inputFromTenant(t testing.TB, tn sim.Tenant) classify.Input {
	t.Helper()
	in, err := tn.Records()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// identityKey names an identity by the ids of its records, as the fixture's
// expected labels do.
func identityKey(entraID, oktaID, adGUID string) string {
	return "entra=" + entraID + " okta=" + oktaID + " ad=" + adGUID
}

type label struct {
	Scenario string
	UPN      string
}

func TestClassifyExampleTenant(t *testing.T) {
	tn := loadTenant(t, exampleTenant)
	if tn.Expected == nil {
		t.Fatal("fixture has no expected labels")
	}
	got := classify.Classify(inputFromTenant(t, tn), classify.Options{})

	want := map[string]label{}
	for _, e := range tn.Expected.Identities {
		want[identityKey(e.EntraUserID, e.OktaUserID, e.ADObjectGUID)] = label{e.Scenario, e.UPN}
	}
	gotLabels := map[string]label{}
	for _, f := range got.Identities {
		key := identityKey(f.EntraUserID, f.OktaUserID, f.ADObjectGUID)
		if _, dup := gotLabels[key]; dup {
			t.Errorf("two identities with key %s", key)
		}
		gotLabels[key] = label{string(f.Scenario), f.UPN}
	}
	if diff := cmp.Diff(want, gotLabels); diff != "" {
		t.Errorf("identity scenarios (-want +got):\n%s", diff)
	}

	var gotOrg []string
	for _, o := range got.Org {
		gotOrg = append(gotOrg, string(o.Code))
	}
	wantOrg := slices.Clone(tn.Expected.Org)
	slices.Sort(wantOrg)
	slices.Sort(gotOrg)
	if diff := cmp.Diff(wantOrg, gotOrg); diff != "" {
		t.Errorf("org codes (-want +got):\n%s", diff)
	}
}

// TestExampleTenantDetails pins the facts and evidence of a few identities
// of the fixture, where a wrong join would still pass the scenario check.
func TestExampleTenantDetails(t *testing.T) {
	got := classify.Classify(inputFromTenant(t, loadTenant(t, exampleTenant)), classify.Options{})
	byUPN := map[string]classify.Finding{}
	for _, f := range got.Identities {
		byUPN[f.UPN] = f
	}
	tests := []struct {
		name string
		upn  string
		want classify.Finding
		// explanationHas are substrings the explanation must name.
		explanationHas []string
	}{
		{
			name: "OK AD-sourced: Okta↔AD by AD app externalId, Okta↔Entra by O365 externalId",
			upn:  "ok-ad@contoso.example",
			want: classify.Finding{
				Scenario: classify.OK, Severity: classify.Info, UPN: "ok-ad@contoso.example", DisplayName: "Ok Test",
				EntraUserID: "3cd49c6d-00b7-4439-932a-b4141082be29", OktaUserID: "00utlmfhatxriapc6uir",
				ADObjectGUID: "7d5fa93e-36fa-4ab8-9b17-851c5fda6f15", ADDN: "CN=ok-ad,OU=Staff,DC=corp,DC=contoso,DC=example",
				EntraAnchor: "Pqlfffo2uEqbF4UcX9pvFQ==", OktaAnchor: "Pqlfffo2uEqbF4UcX9pvFQ==",
				ExpectedAnchor: []string{"Pqlfffo2uEqbF4UcX9pvFQ=="}, ADSources: 1, Federated: true, Assigned: true,
				Evidence: []classify.Link{
					{From: "okta:00utlmfhatxriapc6uir", To: "ad:CN=ok-ad,OU=Staff,DC=corp,DC=contoso,DC=example",
						Key: classify.KeyADAppExternalID, Value: "Pqlfffo2uEqbF4UcX9pvFQ=="},
					{From: "okta:00utlmfhatxriapc6uir", To: "entra:3cd49c6d-00b7-4439-932a-b4141082be29",
						Key: classify.KeyO365ExternalID, Value: "3cd49c6d-00b7-4439-932a-b4141082be29"},
				},
			},
			explanationHas: []string{`"ok-ad@contoso.example"`, `"Pqlfffo2uEqbF4UcX9pvFQ=="`, `"contoso.example"`},
		},
		{
			name: "NOT_ASSIGNED joins Okta by login and AD by objectGUID = ImmutableID",
			upn:  "unassigned@contoso.example",
			want: classify.Finding{
				Scenario: classify.NotAssigned, Severity: classify.High, UPN: "unassigned@contoso.example",
				DisplayName: "Unassigned Test", EntraUserID: "e5623f2f-6d3c-4b0b-b2b3-8d1251e5b45f",
				OktaUserID: "00uyr5d2sjviwrrbl62b", ADObjectGUID: "2372cdca-c9cd-4d1d-9b69-e8f54869de07",
				ADDN: "CN=unassigned,OU=Staff,DC=corp,DC=contoso,DC=example", EntraAnchor: "ys1yI83JHU2baej1SGneBw==",
				ExpectedAnchor: []string{"ys1yI83JHU2baej1SGneBw=="}, ADSources: 1, Federated: true,
				Evidence: []classify.Link{
					{From: "okta:00uyr5d2sjviwrrbl62b", To: "ad:CN=unassigned,OU=Staff,DC=corp,DC=contoso,DC=example",
						Key: classify.KeyADAppExternalID, Value: "ys1yI83JHU2baej1SGneBw=="},
					{From: "ad:CN=unassigned,OU=Staff,DC=corp,DC=contoso,DC=example", To: "entra:e5623f2f-6d3c-4b0b-b2b3-8d1251e5b45f",
						Key: classify.KeyADGUIDImmutableID, Value: "ys1yI83JHU2baej1SGneBw=="},
				},
			},
			explanationHas: []string{`"unassigned@contoso.example"`, `"ys1yI83JHU2baej1SGneBw=="`},
		},
		{
			name: "ENCODING_MISMATCH names the GUID and both encodings",
			upn:  "encoded@contoso.example",
			want: classify.Finding{
				Scenario: classify.EncodingMismatch, Severity: classify.Critical, UPN: "encoded@contoso.example",
				DisplayName: "Encoded Test", EntraUserID: "df09359e-99db-4191-bda8-d78217f04270",
				OktaUserID: "00uqdx7mk6gojvhk5eyf", ADObjectGUID: "0c9e4327-97df-4af9-afa3-b17edeaf1d0f",
				ADDN:        "CN=encoded,OU=Staff,DC=corp,DC=contoso,DC=example",
				EntraAnchor: "0c9e4327-97df-4af9-afa3-b17edeaf1d0f", OktaAnchor: "J0OeDN+X+Uqvo7F+3q8dDw==",
				ExpectedAnchor: []string{"J0OeDN+X+Uqvo7F+3q8dDw=="}, ADSources: 1, Federated: true, Assigned: true,
				Evidence: []classify.Link{
					{From: "okta:00uqdx7mk6gojvhk5eyf", To: "ad:CN=encoded,OU=Staff,DC=corp,DC=contoso,DC=example",
						Key: classify.KeyADAppExternalID, Value: "J0OeDN+X+Uqvo7F+3q8dDw=="},
					{From: "okta:00uqdx7mk6gojvhk5eyf", To: "entra:df09359e-99db-4191-bda8-d78217f04270",
						Key: classify.KeyO365ExternalID, Value: "df09359e-99db-4191-bda8-d78217f04270"},
				},
			},
			explanationHas: []string{"GUID 0c9e4327-97df-4af9-afa3-b17edeaf1d0f", "GUID string", "correct ImmutableID"},
		},
		{
			name: "MULTIPLE_AD_SOURCES counts both AD instances and keeps the unscanned one's externalId in X",
			upn:  "two-ad@contoso.example",
			want: classify.Finding{
				Scenario: classify.MultipleADSources, Severity: classify.Critical, UPN: "two-ad@contoso.example",
				DisplayName: "Two Test", EntraUserID: "44da37fd-7a0b-482a-9213-0b780b2ca796",
				OktaUserID: "00usbbsnnm7pabyorpsp", ADObjectGUID: "a1bcdcf0-9697-4f02-b224-85470e652593",
				ADDN:           "CN=two-ad,OU=Staff,DC=corp,DC=contoso,DC=example",
				ExpectedAnchor: []string{"8Ny8oZeWAk+yJIVHDmUlkw==", "veecnmbL5kC1X/JHCfzSog=="},
				ADSources:      2, Federated: true, Assigned: true,
				Evidence: []classify.Link{
					{From: "okta:00usbbsnnm7pabyorpsp", To: "ad:CN=two-ad,OU=Staff,DC=corp,DC=contoso,DC=example",
						Key: classify.KeyADAppExternalID, Value: "8Ny8oZeWAk+yJIVHDmUlkw=="},
					{From: "okta:00usbbsnnm7pabyorpsp", To: "entra:44da37fd-7a0b-482a-9213-0b780b2ca796",
						Key: classify.KeyO365ExternalID, Value: "44da37fd-7a0b-482a-9213-0b780b2ca796"},
				},
			},
			explanationHas: []string{"2 Active Directory app instances"},
		},
		{
			name: "ANCHOR_CONFLICT names the other holder",
			upn:  "dup-a@contoso.example",
			want: classify.Finding{
				Scenario: classify.AnchorConflict, Severity: classify.High, UPN: "dup-a@contoso.example",
				DisplayName: "Dup Test", EntraUserID: "3e4546f3-4680-4e54-99d4-32949f10432d",
				OktaUserID: "00uknx4krahgmggzafeg", ADObjectGUID: "a8074300-f8c0-4b21-8c6e-5536a9d2b28f",
				ADDN:        "CN=dup-a,OU=Staff,DC=corp,DC=contoso,DC=example",
				EntraAnchor: "AEMHqMD4IUuMblU2qdKyjw==", OktaAnchor: "AEMHqMD4IUuMblU2qdKyjw==",
				ExpectedAnchor: []string{"AEMHqMD4IUuMblU2qdKyjw=="}, ADSources: 1, Federated: true, Assigned: true,
				Evidence: []classify.Link{
					{From: "okta:00uknx4krahgmggzafeg", To: "ad:CN=dup-a,OU=Staff,DC=corp,DC=contoso,DC=example",
						Key: classify.KeyADAppExternalID, Value: "AEMHqMD4IUuMblU2qdKyjw=="},
					{From: "okta:00uknx4krahgmggzafeg", To: "entra:3e4546f3-4680-4e54-99d4-32949f10432d",
						Key: classify.KeyO365ExternalID, Value: "3e4546f3-4680-4e54-99d4-32949f10432d"},
				},
			},
			explanationHas: []string{`also held by "dup-b@contoso.example"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := byUPN[tc.upn]
			if !ok {
				t.Fatalf("no finding for %s", tc.upn)
			}
			for _, s := range tc.explanationHas {
				if !strings.Contains(f.Explanation, s) {
					t.Errorf("explanation %q does not contain %q", f.Explanation, s)
				}
			}
			f.Explanation = ""
			if diff := cmp.Diff(tc.want, f); diff != "" {
				t.Errorf("finding (-want +got):\n%s", diff)
			}
		})
	}
}
