package record

import (
	"slices"
	"strings"
)

// Index finds the records of a list by a string key without a map: by
// binary search over the list itself when it is in key order, as the store
// loads each table, or else over a permutation sorted once (four bytes a
// record). A map of a million records costs tens of bytes each and a
// string per key; a report or a plan of a large snapshot holds several.
// The list must not change while the Index is in use.
type Index[T any] struct {
	list  []T
	key   func(*T) string
	order []int32 // list positions in key order; nil when the list is in key order
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
	return x
}

func (x *Index[T]) at(i int) *T {
	if x.order == nil {
		return &x.list[i]
	}
	return &x.list[x.order[i]]
}

func (x *Index[T]) first(k string) int {
	lo, hi := 0, len(x.list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.key(x.at(m)) < k {
			lo = m + 1
		} else {
			hi = m
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
