package sim

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestOktaWritesAreTracked checks that each Okta write path stamps what it
// changes (and only that) and logs the membership event Okta would.
func TestOktaWritesAreTracked(t *testing.T) {
	tests := []struct {
		name       string
		deactivate string
		method     string
		path       string
		body       string
		want       ChangeSet
		wantEvent  string
	}{
		{name: "assign", method: http.MethodPost, path: "/api/v1/apps/" + owO365 + "/users", body: `{"id":"` + owCloud + `"}`,
			want: ChangeSet{OktaAppUsers: []AppUserKey{{owO365, owCloud}}}, wantEvent: oktaEventAppUserAdd},
		{name: "reassign", method: http.MethodPost, path: "/api/v1/apps/" + owO365 + "/users", body: `{"id":"` + owOKAD + `"}`,
			want: ChangeSet{OktaAppUsers: []AppUserKey{{owO365, owOKAD}}}, wantEvent: oktaEventAppUserUpdate},
		{name: "profile update", method: http.MethodPost, path: "/api/v1/apps/" + owO365 + "/users/" + owOKAD, body: `{"profile":{"immutableId":"x"}}`,
			want: ChangeSet{OktaAppUsers: []AppUserKey{{owO365, owOKAD}}}, wantEvent: oktaEventAppUserUpdate},
		{name: "unassign with Deactivate Users", deactivate: "ENABLED", method: http.MethodDelete, path: "/api/v1/apps/" + owO365 + "/users/" + owOKAD,
			want: ChangeSet{OktaAppUsers: []AppUserKey{{owO365, owOKAD}}, EntraUsers: []string{owOKADEntra}}, wantEvent: oktaEventAppUserRemove},
		{name: "unassign without", deactivate: "DISABLED", method: http.MethodDelete, path: "/api/v1/apps/" + owO365 + "/users/" + owOKAD,
			want: ChangeSet{OktaAppUsers: []AppUserKey{{owO365, owOKAD}}}, wantEvent: oktaEventAppUserRemove},
		{name: "refused write stamps nothing", method: http.MethodDelete, path: "/api/v1/apps/" + owO365 + "/users/00unobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := oktaWriteTenant(t, "")
			if tt.deactivate != "" {
				tenant.Okta.Apps[0].DeactivateUsers = tt.deactivate
			}
			s := newOktaTestServer(t, tenant, OktaOptions{})
			res := s.write(t, tt.method, tt.path, tt.body)
			if (res.status >= 300) != (tt.wantEvent == "") {
				t.Fatalf("%s %s: status %d: %s", tt.method, tt.path, res.status, res.body)
			}
			if diff := cmp.Diff(tt.want, s.state.ChangesSince(0), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			var events []string
			s.state.readChanges(func(_ *Tenant, c *changeLog) {
				for _, e := range c.logs {
					events = append(events, e.eventType)
				}
			})
			want := []string{}
			if tt.wantEvent != "" {
				want = append(want, tt.wantEvent)
			}
			if diff := cmp.Diff(want, events, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("System Log events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportO365IsTracked(t *testing.T) {
	st := NewState(oktaWriteTenant(t, ""))
	res, err := st.ImportO365()
	if err != nil {
		t.Fatal(err)
	}
	var want []AppUserKey
	for _, u := range res.Imported {
		want = append(want, AppUserKey{AppID: res.AppID, UserID: u.OktaUserID})
	}
	sortAppUserKeys(want)
	if diff := cmp.Diff(want, st.ChangesSince(0).OktaAppUsers, cmpopts.EquateEmpty()); diff != "" || len(want) == 0 {
		t.Errorf("import stamps (-imported +stamped):\n%s", diff)
	}
}
