package sim

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Okta users carry created and lastUpdated times the fixture does not have.
// created is spread over oktaCreatedFrom..oktaCreatedTo by a hash of the
// user id, so that it is stable across runs and differs between users: a
// reader can partition the user list into created ranges and page them in
// parallel. lastUpdated is the later of created and oktaLastUpdated until
// the user changes, then the time of its last change.
var (
	oktaCreatedFrom = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	oktaCreatedTo   = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
	oktaFixedUpdate = mustParseOktaTime(oktaLastUpdated)
)

func mustParseOktaTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// oktaUserTimes are the lifecycle times the fake reports for a user.
type oktaUserTimes struct {
	created, lastUpdated, statusChanged time.Time
}

// oktaTimesOf is the times of the user with this id. Called under the
// state's read lock.
func oktaTimesOf(c *changeLog, id string) oktaUserTimes {
	created, ok := c.oktaCreated[id]
	if !ok {
		h := fnv.New64a()
		h.Write([]byte(id))
		span := uint64(oktaCreatedTo.Sub(oktaCreatedFrom) / time.Second)
		created = oktaCreatedFrom.Add(time.Duration(h.Sum64()%span) * time.Second)
	}
	t := oktaUserTimes{created: created, lastUpdated: created, statusChanged: created}
	if oktaFixedUpdate.After(created) {
		t.lastUpdated = oktaFixedUpdate
	}
	if st, ok := c.okta[id]; ok && st.At.After(t.lastUpdated) {
		t.lastUpdated, t.statusChanged = st.At, st.At
	}
	return t
}

// oktaUserPredicate is one clause of a users filter or search expression.
type oktaUserPredicate struct {
	attr  string // created, lastUpdated, status
	op    string // eq, gt, ge, lt, le
	value string
	at    time.Time
}

var oktaUserClause = regexp.MustCompile(`^(\w+)\s+(eq|gt|ge|lt|le)\s+"([^"]*)"$`)

// The expressions each parameter accepts: what incremental and partitioned
// reads need. Okta supports far more; the rest is refused by name.
var (
	oktaUserFilterOps = map[string][]string{"lastUpdated": {"gt", "ge", "lt", "le"}, "status": {"eq"}}
	oktaUserSearchOps = map[string][]string{"created": {"gt", "ge", "lt", "le"}, "lastUpdated": {"gt", "ge", "lt", "le"}, "status": {"eq"}}
)

// parseOktaUserQuery reads `clause and clause …`.
func parseOktaUserQuery(param, expr string, allowed map[string][]string) ([]oktaUserPredicate, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("%s: the expression is empty", param)
	}
	if len(splitOktaExpr(expr, "or")) > 1 {
		return nil, fmt.Errorf("%s: '%s': or is not supported by the simulator; join clauses with and", param, expr)
	}
	var preds []oktaUserPredicate
	for _, clause := range splitOktaExpr(expr, "and") {
		clause = strings.TrimSpace(clause)
		m := oktaUserClause.FindStringSubmatch(clause)
		if m == nil {
			return nil, fmt.Errorf("%s: '%s' is not an expression the simulator supports (attribute op \"value\")", param, clause)
		}
		p := oktaUserPredicate{attr: m[1], op: m[2], value: m[3]}
		ops, known := allowed[p.attr]
		opOK := false
		for _, o := range ops {
			opOK = opOK || o == p.op
		}
		if !known || !opOK {
			return nil, fmt.Errorf("%s: '%s' is not supported by the simulator (supported: %s)", param, clause, describeOps(allowed))
		}
		if p.attr != "status" {
			t, err := time.Parse(time.RFC3339Nano, p.value)
			if err != nil {
				return nil, fmt.Errorf("%s: '%s': %q is not a date-time such as 2026-01-02T15:04:05.000Z", param, clause, p.value)
			}
			p.at = t
		}
		preds = append(preds, p)
	}
	return preds, nil
}

func describeOps(allowed map[string][]string) string {
	var parts []string
	for attr, ops := range allowed {
		parts = append(parts, attr+" "+strings.Join(ops, "|"))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func (p oktaUserPredicate) matches(u *OktaUser, t oktaUserTimes) bool {
	if p.attr == "status" {
		return u.Status == p.value
	}
	v := t.created
	if p.attr == "lastUpdated" {
		v = t.lastUpdated
	}
	// Okta compares at the millisecond its timestamps carry.
	v, at := v.Truncate(time.Millisecond), p.at.Truncate(time.Millisecond)
	switch p.op {
	case "gt":
		return v.After(at)
	case "ge":
		return !v.Before(at)
	case "lt":
		return v.Before(at)
	case "le":
		return !v.After(at)
	}
	return false
}

func matchesAll(preds []oktaUserPredicate, u *OktaUser, t oktaUserTimes) bool {
	for _, p := range preds {
		if !p.matches(u, t) {
			return false
		}
	}
	return true
}

// oktaUserOrder is the users sorted by a search's sortBy, built once per
// state version.
type oktaUserOrder struct {
	positions []int32 // into Okta.Users
	created   []int64 // Unix ms per position in Okta.Users
}

// sortedUsers returns the users' order by sortBy ("created" or "id"), each
// tie broken by id. Called under the state's read lock.
func (idx *oktaIndex) sortedUsers(t *Tenant, c *changeLog, sortBy string) *oktaUserOrder {
	idx.orderMu.Lock()
	defer idx.orderMu.Unlock()
	if o := idx.orders[sortBy]; o != nil {
		return o
	}
	users := t.Okta.Users
	o := &oktaUserOrder{positions: make([]int32, len(users)), created: make([]int64, len(users))}
	for i := range users {
		o.positions[i] = int32(i)
		o.created[i] = oktaTimesOf(c, users[i].ID).created.UnixMilli()
	}
	sort.Slice(o.positions, func(a, b int) bool {
		return o.less(users, sortBy, int(o.positions[a]), int(o.positions[b]))
	})
	if idx.orders == nil {
		idx.orders = map[string]*oktaUserOrder{}
	}
	idx.orders[sortBy] = o
	return o
}

func (o *oktaUserOrder) key(users []OktaUser, sortBy string, i int) oktaSearchCursor {
	k := oktaSearchCursor{id: users[i].ID}
	if sortBy == "created" {
		k.created = o.created[i]
	}
	return k
}

func (o *oktaUserOrder) less(users []OktaUser, sortBy string, a, b int) bool {
	return o.key(users, sortBy, a).less(o.key(users, sortBy, b))
}

// oktaSearchCursor is a position in a search's order: the sort key and id
// of the last user served, so a page resumes right after it even when
// users were added or removed in between.
type oktaSearchCursor struct {
	created int64
	id      string
}

func (a oktaSearchCursor) less(b oktaSearchCursor) bool {
	if a.created != b.created {
		return a.created < b.created
	}
	return a.id < b.id
}

const oktaSearchCursorPrefix = "anchorscan-sim/search/"

func (a oktaSearchCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(oktaSearchCursorPrefix + strconv.FormatInt(a.created, 10) + "/" + a.id))
}

func decodeOktaSearchCursor(s string) (oktaSearchCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return oktaSearchCursor{}, false
	}
	rest, ok := strings.CutPrefix(string(raw), oktaSearchCursorPrefix)
	if !ok {
		return oktaSearchCursor{}, false
	}
	ms, id, ok := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return oktaSearchCursor{}, false
	}
	return oktaSearchCursor{created: n, id: id}, true
}

// listUsers is GET /api/v1/users: every user in tenant order, or those a
// filter (lastUpdated, status) or a search (created, lastUpdated, status;
// sortBy created|id, sortOrder asc|desc) selects, with Okta's cursor paging.
func (s *oktaServer) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	invalid := func(cause string) {
		s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", cause)
	}
	if q.Has("q") {
		invalid("q: the simulator does not support the q prefix search; use search or filter")
		return
	}
	if q.Has("filter") && q.Has("search") {
		invalid("filter and search cannot be combined; use search")
		return
	}
	if (q.Has("sortBy") || q.Has("sortOrder")) && !q.Has("search") {
		invalid("sortBy and sortOrder apply to search only")
		return
	}
	limit, ok := s.pageLimit(w, q, oktaUsersDefaultLimit, oktaUsersMaxLimit)
	if !ok {
		return
	}
	var preds []oktaUserPredicate
	var err error
	switch {
	case q.Has("search"):
		preds, err = parseOktaUserQuery("search", q.Get("search"), oktaUserSearchOps)
	case q.Has("filter"):
		preds, err = parseOktaUserQuery("filter", q.Get("filter"), oktaUserFilterOps)
	}
	if err != nil {
		invalid(err.Error())
		return
	}
	if q.Has("search") {
		s.searchUsers(w, r, preds, limit)
		return
	}
	base := oktaBaseURL(r)
	after := q.Get("after")
	var page []oktaUserJSON
	var next string
	badCursor := false
	s.readWithChanges(func(t *Tenant, idx *oktaIndex, c *changeLog) {
		start := 0
		if after != "" {
			i, found := idx.users[after]
			if !found {
				badCursor = true
				return
			}
			start = i + 1
		}
		users := t.Okta.Users
		page = make([]oktaUserJSON, 0, min(limit, len(users)))
		for i := start; i < len(users); i++ {
			u := &users[i]
			times := oktaTimesOf(c, u.ID)
			if !matchesAll(preds, u, times) {
				continue
			}
			if len(page) == limit {
				// Another user matches: the cursor is the last one served.
				next = page[len(page)-1].ID
				break
			}
			page = append(page, oktaUserObject(u, idx.adSource[u.ID], base, false, times))
		}
	})
	if badCursor {
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "after: the cursor is not valid")
		return
	}
	oktaSetLinks(w, r, limit, next)
	s.writeJSON(w, http.StatusOK, page)
}

// searchUsers serves a search: the matches in sortBy order, paged by a
// cursor holding the last sort key served. With sortBy=created, created
// ranges are found by binary search, so N disjoint ranges page in parallel
// at the cost of what they return.
func (s *oktaServer) searchUsers(w http.ResponseWriter, r *http.Request, preds []oktaUserPredicate, limit int) {
	q := r.URL.Query()
	sortBy := q.Get("sortBy")
	switch sortBy {
	case "":
		sortBy = "id"
	case "id", "created":
	default:
		s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "sortBy: "+strconv.Quote(sortBy)+" is not supported by the simulator (created, id)")
		return
	}
	desc := false
	switch o := q.Get("sortOrder"); o {
	case "", "asc":
	case "desc":
		desc = true
	default:
		s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "sortOrder: want asc or desc, got "+strconv.Quote(o))
		return
	}
	var cursor *oktaSearchCursor
	if after := q.Get("after"); after != "" {
		c, ok := decodeOktaSearchCursor(after)
		if !ok {
			s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "after: the cursor is not valid")
			return
		}
		cursor = &c
	}
	base := oktaBaseURL(r)
	var page []oktaUserJSON
	var next string
	s.readWithChanges(func(t *Tenant, idx *oktaIndex, c *changeLog) {
		users := t.Okta.Users
		order := idx.sortedUsers(t, c, sortBy)
		pos := order.positions
		keyAt := func(k int) oktaSearchCursor { return order.key(users, sortBy, int(pos[k])) }
		lo, hi := 0, len(pos) // the range of positions that can match
		if sortBy == "created" {
			for _, p := range preds {
				if p.attr != "created" {
					continue
				}
				ms := p.at.Truncate(time.Millisecond).UnixMilli()
				firstAbove := func(v int64) int { // first k with created > v
					return sort.Search(len(pos), func(k int) bool { return order.created[pos[k]] > v })
				}
				switch p.op {
				case "gt":
					lo = max(lo, firstAbove(ms))
				case "ge":
					lo = max(lo, firstAbove(ms-1))
				case "lt":
					hi = min(hi, firstAbove(ms-1))
				case "le":
					hi = min(hi, firstAbove(ms))
				}
			}
		}
		if cursor != nil {
			after := sort.Search(len(pos), func(k int) bool { return cursor.less(keyAt(k)) })
			if desc {
				hi = min(hi, sort.Search(len(pos), func(k int) bool { return !keyAt(k).less(*cursor) }))
			} else {
				lo = max(lo, after)
			}
		}
		page = make([]oktaUserJSON, 0, min(limit, max(hi-lo, 0)))
		var last oktaSearchCursor
		for n := 0; n < hi-lo; n++ {
			k := lo + n
			if desc {
				k = hi - 1 - n
			}
			u := &users[pos[k]]
			times := oktaTimesOf(c, u.ID)
			if !matchesAll(preds, u, times) {
				continue
			}
			if len(page) == limit {
				next = last.encode()
				break
			}
			page = append(page, oktaUserObject(u, idx.adSource[u.ID], base, false, times))
			last = keyAt(k)
		}
	})
	oktaSetLinks(w, r, limit, next)
	s.writeJSON(w, http.StatusOK, page)
}

// readWithChanges is read with the state's change log as well.
func (s *oktaServer) readWithChanges(fn func(t *Tenant, idx *oktaIndex, c *changeLog)) {
	s.read(func(t *Tenant, idx *oktaIndex) {
		fn(t, idx, &s.st.changes)
	})
}
