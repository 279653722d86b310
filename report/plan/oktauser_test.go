package plan

import (
	"fmt"
	"testing"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

func TestOktaUserLookup(t *testing.T) {
	sorted := []record.OktaUser{{ID: "00u1", Login: "a"}, {ID: "00u2", Login: "b"}, {ID: "00u3", Login: "c"}}
	unsorted := []record.OktaUser{{ID: "00u3", Login: "c"}, {ID: "00u1", Login: "a"}, {ID: "00u2", Login: "b"},
		{ID: "00u1", Login: "second a"}}
	for name, users := range map[string][]record.OktaUser{"sorted": sorted, "unsorted": unsorted} {
		t.Run(name, func(t *testing.T) {
			g := &generator{in: &classify.Input{OktaUsers: users}, oktaByID: record.NewIndex(users, func(u *record.OktaUser) string { return u.ID })}
			for i, want := range []string{"a", "b", "c"} {
				id := fmt.Sprintf("00u%d", i+1)
				// The first user with the id, as a scan in input order finds.
				if got := oktaLogin(g, &classify.Finding{OktaUserID: id, UPN: "fallback"}); got != want {
					t.Errorf("login of %s = %q, want %q", id, got, want)
				}
			}
			if got := oktaLogin(g, &classify.Finding{OktaUserID: "00u9", UPN: "fallback"}); got != "fallback" {
				t.Errorf("login of an unknown user = %q, want the finding's UPN", got)
			}
		})
	}
}
