package record

import (
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

// Index finds the records of a list by a string key without a map: by
// binary search over the first eight bytes of each key, held in a list of
// their own in key order, then over the full keys of the few records that
// share them. A map of a million records costs tens of bytes each and a
// string per key; a report or a plan of a large snapshot holds several.
// Searching the records themselves, or a permutation of them, costs a
// cache miss or two at every step: at a million records that was most of
// the lookup's time, where the prefixes (8 MB) mostly stay in cache.
// The list must not change while the Index is in use.
type Index[T any] struct {
	list   []T
	key    func(*T) string
	order  []int32  // list positions in key order; nil when the list is in key order
	prefix []uint64 // prefix[i] is keyPrefix of the i-th record in key order
}

// keyPrefix is a key's first eight bytes, zero-padded, as a big-endian
// number: for keys a ≤ b (bytewise), keyPrefix(a) ≤ keyPrefix(b), so the
// prefixes of a key-ordered list are in order too.
func keyPrefix(k string) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// NewIndex indexes list by key. Records with equal keys keep their list
// order.
func NewIndex[T any](list []T, key func(*T) string) *Index[T] {
	x := &Index[T]{list: list, key: key}
	sorted := true
	for i := 1; i < len(list); i++ {
		if key(&list[i-1]) > key(&list[i]) {
			sorted = false
			break
		}
	}
	if !sorted {
		x.order = make([]int32, len(list))
		for i := range x.order {
			x.order[i] = int32(i)
		}
		slices.SortStableFunc(x.order, func(a, b int32) int { return strings.Compare(key(&list[a]), key(&list[b])) })
	}
	x.prefix = make([]uint64, len(list))
	for i := range x.prefix {
		x.prefix[i] = keyPrefix(key(x.at(i)))
	}
	return x
}

func (x *Index[T]) at(i int) *T {
	if x.order == nil {
		return &x.list[i]
	}
	return &x.list[x.order[i]]
}

// first returns the position, in key order, of the first record whose key
// is k or after it.
func (x *Index[T]) first(k string) int {
	p := keyPrefix(k)
	lo, _ := slices.BinarySearch(x.prefix, p)
	// The records sharing k's prefix follow lo; there are few, so they are
	// found by doubling the step before the full keys are compared.
	end, step := lo, 1
	for end < len(x.prefix) && x.prefix[end] == p {
		end += step
		step *= 2
	}
	end = min(end, len(x.prefix))
	for lo < end {
		m := int(uint(lo+end) >> 1)
		if x.key(x.at(m)) < k {
			lo = m + 1
		} else {
			end = m
		}
	}
	return lo
}

// Get returns the first record with key k, or nil.
func (x *Index[T]) Get(k string) *T {
	if i := x.first(k); i < len(x.list) && x.key(x.at(i)) == k {
		return x.at(i)
	}
	return nil
}

// All calls fn with each record with key k, in list order.
func (x *Index[T]) All(k string, fn func(*T)) {
	for i := x.first(k); i < len(x.list) && x.key(x.at(i)) == k; i++ {
		fn(x.at(i))
	}
}

// The keys the report and the plan look a snapshot's records up by, for
// NewIndex.

// EntraUserID is an Entra user's object id.
func EntraUserID(u *EntraUser) string { return u.ID }

// OktaUserID is an Okta user's id.
func OktaUserID(u *OktaUser) string { return u.ID }

// OktaAppUserUserID is the Okta user id of an app assignment.
func OktaAppUserUserID(u *OktaAppUser) string { return u.UserID }

// ADUserDN is an AD user's distinguished name.
func ADUserDN(u *ADUser) string { return u.DistinguishedName }

// ADUserGUID is the raw objectGUID's 16 bytes viewed as a string, not
// copied: look a GUID up by string(raw[:]). Like every Index, one over it
// holds only while the records are not changed.
func ADUserGUID(u *ADUser) string { return unsafe.String(&u.ObjectGUID[0], len(u.ObjectGUID)) }
