package okta

import (
	"encoding/json"
	"testing"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// FuzzAppUsersPage decodes an arbitrary app users page the way the SDK does
// and converts each entry: a hostile or broken page must give an error,
// never a panic or a record without its user id.
func FuzzAppUsersPage(f *testing.F) {
	f.Add([]byte(`[{"id":"00u1","externalId":"x","status":"PROVISIONED","syncState":"SYNCHRONIZED","credentials":{"userName":"a@b"},"profile":{"immutableId":"Pqlfffo2uEqbF4UcX9pvFQ==","licenses":["E3"],"roles":[]}}]`))
	f.Add([]byte(`[{"id":"00u1","profile":{"immutableId":5,"licenses":"E3"}}]`))
	f.Add([]byte(`[{"profile":null}]`))
	f.Add([]byte(`{"not":"a list"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var users []okta.AppUser
		if err := json.Unmarshal(body, &users); err != nil {
			return
		}
		for i := range users {
			r, err := convertAppUser("0oa1", &users[i])
			if err == nil && r.UserID == "" {
				t.Fatalf("app user %d converted without a user id", i)
			}
		}
	})
}

// FuzzUsersPage does the same for a users page.
func FuzzUsersPage(f *testing.F) {
	f.Add([]byte(`[{"id":"00u1","status":"ACTIVE","profile":{"login":"a@b","email":"a@b","firstName":"A","lastName":"B"}}]`))
	f.Add([]byte(`[{"id":7}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var users []okta.User
		if err := json.Unmarshal(body, &users); err != nil {
			return
		}
		for i := range users {
			r, err := convertUser(&users[i])
			if err == nil && r.ID == "" {
				t.Fatalf("user %d converted without an id", i)
			}
		}
	})
}
