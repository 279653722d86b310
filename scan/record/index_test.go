package record

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
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

// Keys that share their first eight bytes, are shorter than eight, or hold
// zero bytes are where a search by prefix could go wrong.
func TestIndexAgreesWithAScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 'a', 'b', 0xff}
	randomKey := func() string {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for _, sorted := range []bool{false, true} {
		users := make([]OktaUser, 3000)
		for i := range users {
			users[i] = OktaUser{ID: randomKey(), Login: strconv.Itoa(i)}
		}
		if sorted {
			slices.SortStableFunc(users, func(a, b OktaUser) int { return strings.Compare(a.ID, b.ID) })
		}
		x := NewIndex(users, func(u *OktaUser) string { return u.ID })
		if (x.order == nil) != sorted {
			t.Fatalf("sorted %v: permutation %v", sorted, x.order != nil)
		}
		for range 3000 {
			k := randomKey()
			if r.IntN(2) == 0 {
				k = users[r.IntN(len(users))].ID
			}
			var want []string
			for _, u := range users {
				if u.ID == k {
					want = append(want, u.Login)
				}
			}
			var got []string
			x.All(k, func(u *OktaUser) { got = append(got, u.Login) })
			if !slices.Equal(got, want) {
				t.Fatalf("sorted %v: All(%q) = %v, want %v", sorted, k, got, want)
			}
			if g := x.Get(k); (g == nil) != (want == nil) || g != nil && g.Login != want[0] {
				t.Fatalf("sorted %v: Get(%q) = %v, want %v", sorted, k, g, want)
			}
		}
	}
}

// BenchmarkIndexGet looks up a million Okta-like ids, in an order unlike
// the list's, as the report and the plan do.
func BenchmarkIndexGet(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	users := make([]OktaUser, 1_000_000)
	for i := range users {
		id := []byte("00u")
		for range 17 {
			id = append(id, chars[r.IntN(len(chars))])
		}
		users[i] = OktaUser{ID: string(id), Login: strconv.Itoa(i)}
	}
	x := NewIndex(users, func(u *OktaUser) string { return u.ID })
	queries := make([]string, len(users))
	for i, j := range r.Perm(len(users)) {
		queries[i] = users[j].ID
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if x.Get(queries[i%len(queries)]) == nil {
			b.Fatal("missing")
		}
	}
}
