package record

import (
	"slices"
	"testing"
)

func TestIndex(t *testing.T) {
	key := func(u *OktaUser) string { return u.ID }
	for _, tc := range []struct {
		name  string
		users []OktaUser
	}{
		{"in key order", []OktaUser{{ID: "a", Login: "1"}, {ID: "b", Login: "2"}, {ID: "b", Login: "3"}, {ID: "d", Login: "4"}}},
		{"out of order", []OktaUser{{ID: "d", Login: "4"}, {ID: "b", Login: "2"}, {ID: "a", Login: "1"}, {ID: "b", Login: "3"}}},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex(tc.users, key)
			for _, u := range tc.users {
				var want []string
				for _, v := range tc.users {
					if v.ID == u.ID {
						want = append(want, v.Login)
					}
				}
				var got []string
				x.All(u.ID, func(v *OktaUser) { got = append(got, v.Login) })
				if !slices.Equal(got, want) {
					t.Errorf("All(%q) = %v, want %v (list order)", u.ID, got, want)
				}
				if g := x.Get(u.ID); g == nil || g.Login != want[0] {
					t.Errorf("Get(%q) = %v, want the first, %q", u.ID, g, want[0])
				}
			}
			for _, missing := range []string{"", "0", "c", "z"} {
				if g := x.Get(missing); g != nil {
					t.Errorf("Get(%q) = %v, want nil", missing, g)
				}
				x.All(missing, func(v *OktaUser) { t.Errorf("All(%q) yielded %v", missing, v) })
			}
		})
	}
}
