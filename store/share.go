package store

import "encoding/json"

// sharer hands out one copy of values that repeat across a snapshot's
// records (statuses, app ids, domains, licence lists): a million records
// hold a few dozen distinct ones, and each row read from SQLite is a new
// string. It stops taking new values past a bound, so a column that turns
// out to be distinct per record costs a map of that bound, not of the
// snapshot.
type sharer struct {
	values map[string]string
	lists  map[string][]string
}

// maxShared bounds each of the sharer's maps.
const maxShared = 4096

func newSharer() *sharer {
	return &sharer{values: map[string]string{}, lists: map[string][]string{}}
}

func (s *sharer) value(v string) string {
	if shared, ok := s.values[v]; ok {
		return shared
	}
	if len(s.values) < maxShared {
		s.values[v] = v
	}
	return v
}

// list decodes a JSON list of strings. Records that hold the same list
// share one slice, with its capacity cut to its length so that an append by
// one of them copies it rather than writing into the others'.
func (s *sharer) list(text string) ([]string, error) {
	if l, ok := s.lists[text]; ok {
		return l, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, err
	}
	l = l[:len(l):len(l)]
	if len(s.lists) < maxShared {
		s.lists[text] = l
	}
	return l, nil
}
