package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestImportO365(t *testing.T) {
	tenant := oktaExampleTenant(t)
	before := len(tenant.Okta.AppUsers)
	st := NewState(tenant)
	res, err := st.ImportO365()
	if err != nil {
		t.Fatal(err)
	}
	anchor := "ys1yI83JHU2baej1SGneBw=="
	want := ImportResult{
		AppID: owO365,
		Imported: []ImportedUser{{OktaUserID: owUnassigned, EntraUserID: "e5623f2f-6d3c-4b0b-b2b3-8d1251e5b45f",
			UserPrincipalName: "unassigned@contoso.example", ImmutableID: &anchor}},
		// The orphan has no Okta user; the guest is not a member.
		Unmatched: []string{"orphan@contoso.example"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("import result (-want +got):\n%s", diff)
	}
	st.Read(func(tn *Tenant) {
		if len(tn.Okta.AppUsers) != before+1 {
			t.Errorf("%d app users, want %d", len(tn.Okta.AppUsers), before+1)
		}
		i := findOktaAppUser(tn, owO365, owUnassigned)
		if i < 0 {
			t.Fatal("no O365 app user for the imported user")
		}
		au := tn.Okta.AppUsers[i]
		if au.Status != "PROVISIONED" || strOrNil(au.ExternalID) != "e5623f2f-6d3c-4b0b-b2b3-8d1251e5b45f" ||
			strOrNil(au.Profile.ImmutableID) != anchor || au.UserName != "unassigned@contoso.example" || !strings.HasPrefix(au.AppUserID, "0ua") {
			t.Errorf("imported app user %+v", au)
		}
	})
	again, err := st.ImportO365()
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Imported) != 0 {
		t.Errorf("a second import imported %v again", again.Imported)
	}
}

func TestImportO365MatchesLoginCaseInsensitively(t *testing.T) {
	tenant := oktaWriteTenant(t, "") // the cloud user is no longer assigned
	for i := range tenant.Entra.Users {
		if tenant.Entra.Users[i].UserPrincipalName == "missing-cloud@contoso.example" {
			tenant.Entra.Users[i].UserPrincipalName = "Missing-Cloud@CONTOSO.example"
		}
	}
	res, err := NewState(tenant).ImportO365()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range res.Imported {
		if u.OktaUserID == owCloud {
			found = true
			if u.ImmutableID != nil {
				t.Errorf("an Entra user without an anchor was imported with immutableId %q", *u.ImmutableID)
			}
		}
	}
	if !found {
		t.Errorf("the cloud user was not imported: %+v", res)
	}
}

func TestImportO365NeedsOneOffice365App(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Tenant)
		wantErr string
	}{
		{name: "none", edit: func(tn *Tenant) { tn.Okta.Apps = tn.Okta.Apps[1:] }, wantErr: "no office365 app"},
		{name: "two", edit: func(tn *Tenant) {
			second := tn.Okta.Apps[0]
			second.ID = "0oasecondo365instanc"
			tn.Okta.Apps = append(tn.Okta.Apps, second)
		}, wantErr: "more than one office365 app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := oktaExampleTenant(t)
			tt.edit(tenant)
			st := NewState(tenant)
			v := st.Version()
			if _, err := st.ImportO365(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if st.Version() != v {
				t.Error("a failed import changed the state")
			}
		})
	}
}

func TestRunImport(t *testing.T) {
	st, srv := oktaHandlerOnly(t, oktaExampleTenant(t))
	res, err := RunImport(context.Background(), srv.URL, oktaTestToken, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Imported) != 1 || res.Imported[0].OktaUserID != owUnassigned || res.AppID != owO365 {
		t.Errorf("result %+v, want the unassigned user imported into %s", res, owO365)
	}
	st.Read(func(tn *Tenant) {
		if findOktaAppUser(tn, owO365, owUnassigned) < 0 {
			t.Error("the import did not reach the shared state")
		}
	})

	tests := []struct {
		name, url, token, wantErr string
		client                    *http.Client
	}{
		{name: "wrong token", url: srv.URL, token: "wrong", client: srv.Client(), wantErr: "HTTP 401: E0000011"},
		{name: "empty token", url: srv.URL, client: srv.Client(), wantErr: "token is empty"},
		{name: "not a URL", url: "127.0.0.1:1", token: oktaTestToken, client: srv.Client(), wantErr: "not an absolute URL"},
		{name: "untrusted certificate", url: srv.URL, token: oktaTestToken, client: &http.Client{}, wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunImport(context.Background(), tt.url, tt.token, tt.client)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), oktaTestToken) {
				t.Errorf("error %q leaks the token", err)
			}
		})
	}
	t.Run("not a simulator", func(t *testing.T) {
		ps := httptest.NewTLSServer(http.NotFoundHandler()) // any server without the endpoint
		defer ps.Close()
		_, err := RunImport(context.Background(), ps.URL, oktaTestToken, ps.Client())
		if err == nil || !strings.Contains(err.Error(), "Okta has no import API") {
			t.Fatalf("error %v, want the not-a-simulator hint", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := RunImport(ctx, srv.URL, oktaTestToken, srv.Client()); err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("error %v, want context canceled", err)
		}
	})
}
