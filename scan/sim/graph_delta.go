package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Users delta paging. Graph sizes delta pages with the Prefer header, not
// $top; Microsoft's answers give 200 objects as both the default and the cap
// for directory objects (unconfirmed in the reference docs).
const (
	graphDeltaDefaultPageSize = 200
	graphDeltaMaxPageSize     = 200
)

// Graph's answer to a delta or skip token it no longer has the state for
// (for directory resources a 400, not the 410 other workloads send).
const (
	graphCodeSyncStateNotFound = "syncStateNotFound"
	graphMsgSyncStateNotFound  = "The sync state generation is not found. The delta token is expired and data must be synchronized again."
)

// graphDeltaToken is the state a $skiptoken or $deltatoken carries. A full
// round pages the users in tenant order; an incremental round pages the
// Entra changes with since < Seq <= upto in (Seq, id) order. upto is the
// clock when the round began: changes made while it pages are left for the
// next round, whose since is this round's upto.
type graphDeltaToken struct {
	syncState string
	full      bool
	since     uint64
	upto      uint64
	offset    int
	selection []string
}

const graphDeltaTokenPrefix = "anchorscan-sim/delta/v1"

func (tk graphDeltaToken) encode() string {
	mode := "inc"
	if tk.full {
		mode = "full"
	}
	raw := strings.Join([]string{graphDeltaTokenPrefix, tk.syncState, mode,
		strconv.FormatUint(tk.since, 10), strconv.FormatUint(tk.upto, 10), strconv.Itoa(tk.offset),
		strings.Join(tk.selection, ",")}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeGraphDeltaToken(s string) (graphDeltaToken, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return graphDeltaToken{}, fmt.Errorf("not base64: %w", err)
	}
	f := strings.Split(string(raw), "|")
	if len(f) != 7 || f[0] != graphDeltaTokenPrefix || (f[2] != "full" && f[2] != "inc") {
		return graphDeltaToken{}, fmt.Errorf("not a token this server issued")
	}
	tk := graphDeltaToken{syncState: f[1], full: f[2] == "full"}
	if tk.since, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return tk, fmt.Errorf("since: %w", err)
	}
	if tk.upto, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return tk, fmt.Errorf("upto: %w", err)
	}
	if tk.offset, err = strconv.Atoi(f[5]); err != nil || tk.offset < 0 {
		return tk, fmt.Errorf("offset %q is not a non-negative integer", f[5])
	}
	if f[6] != "" {
		tk.selection = strings.Split(f[6], ",")
	}
	return tk, nil
}

// listUsersDelta is GET /v1.0/users/delta (also spelled delta() and
// microsoft.graph.delta()): a first call pages every user and ends with an
// @odata.deltaLink; calling that link returns the users changed since,
// deleted ones as {"id", "@removed": {"reason": "changed"}} (soft-deleted,
// restorable, as Entra reports a deleted user). $select is fixed by the
// first call and carried in the tokens, as in Graph.
func (g *graphServer) listUsersDelta(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("$top") {
		writeGraphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery",
			"The query option '$top' is not supported on users delta; size pages with the header Prefer: odata.maxpagesize=N.")
		return
	}
	if !graphRejectUnsupportedQuery(w, r, "$select", "$skiptoken", "$deltatoken") {
		return
	}
	pageSize, applied, ok := graphPreferredPageSize(w, r)
	if !ok {
		return
	}
	var tk graphDeltaToken
	token, isSkip := q.Get("$skiptoken"), true
	if token == "" {
		token, isSkip = q.Get("$deltatoken"), false
	}
	// $deltatoken=latest asks for a delta link for now and no users (Graph's
	// "sync from now"); its $select is fixed by this call, as by a first one.
	latest := !isSkip && token == "latest"
	if token != "" && !latest {
		var err error
		tk, err = decodeGraphDeltaToken(token)
		if err != nil {
			writeGraphError(w, r, http.StatusBadRequest, graphCodeSyncStateNotFound, graphMsgSyncStateNotFound+" ("+err.Error()+")")
			return
		}
		if !isSkip && (tk.full || tk.offset != 0) {
			writeGraphError(w, r, http.StatusBadRequest, graphCodeSyncStateNotFound, graphMsgSyncStateNotFound+" (a $skiptoken was sent as $deltatoken)")
			return
		}
	} else {
		sel, ok := parseGraphSelect(w, r, userProperties, "microsoft.graph.user")
		if !ok {
			return
		}
		tk = graphDeltaToken{full: !latest, selection: sel.names}
	}
	sel := graphSelection{names: tk.selection}

	var (
		page    []jsonObject
		next    *graphDeltaToken
		expired bool
	)
	g.st.readChanges(func(t *Tenant, c *changeLog) {
		switch {
		case latest:
			tk.syncState, tk.upto = c.syncState, c.seq
			page = []jsonObject{}
			return
		case token == "":
			tk.syncState, tk.upto = c.syncState, c.seq
		case tk.syncState != c.syncState || tk.upto > c.seq:
			expired = true
			return
		case !isSkip:
			// A delta link starts an incremental round up to now.
			tk.since, tk.upto = tk.upto, c.seq
		}
		if tk.full {
			users := t.Entra.Users
			start := min(tk.offset, len(users))
			end := min(start+pageSize, len(users))
			page = make([]jsonObject, 0, end-start)
			for i := start; i < end; i++ {
				page = append(page, graphUserObject(&users[i], sel))
			}
			if end < len(users) {
				n := tk
				n.offset = end
				next = &n
			}
			return
		}
		changed := entraChangesBetween(c, tk.since, tk.upto)
		start := min(tk.offset, len(changed))
		end := min(start+pageSize, len(changed))
		byID := make(map[string]*EntraUser, end-start)
		for _, id := range changed[start:end] {
			byID[id] = nil
		}
		for i := range t.Entra.Users {
			if _, want := byID[t.Entra.Users[i].ID]; want {
				byID[t.Entra.Users[i].ID] = &t.Entra.Users[i]
			}
		}
		page = make([]jsonObject, 0, end-start)
		for _, id := range changed[start:end] {
			if u := byID[id]; u != nil {
				page = append(page, graphUserObject(u, sel))
				continue
			}
			page = append(page, jsonObject{
				{"@odata.type", "#microsoft.graph.user"},
				{"id", id},
				{"@removed", jsonObject{{"reason", "changed"}}},
			})
		}
		if end < len(changed) {
			n := tk
			n.offset = end
			next = &n
		}
	})
	if expired {
		writeGraphError(w, r, http.StatusBadRequest, graphCodeSyncStateNotFound, graphMsgSyncStateNotFound)
		return
	}
	if applied {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	body := jsonObject{{"@odata.context", graphContext(r, "users"+sel.contextSuffix())}}
	link := graphBaseURL(r) + "/v1.0/users/delta()?"
	if next != nil {
		body = append(body, jsonField{"@odata.nextLink", link + "$skiptoken=" + url.QueryEscape(next.encode())})
	} else {
		done := graphDeltaToken{syncState: tk.syncState, upto: tk.upto, selection: tk.selection}
		body = append(body, jsonField{"@odata.deltaLink", link + "$deltatoken=" + url.QueryEscape(done.encode())})
	}
	body = append(body, jsonField{"value", page})
	writeGraphJSON(w, http.StatusOK, body)
}

// entraChangesBetween lists the Entra user ids stamped in (since, upto],
// in (Seq, id) order. Called under the state's read lock.
func entraChangesBetween(c *changeLog, since, upto uint64) []string {
	type change struct {
		seq uint64
		id  string
	}
	var list []change
	for id, st := range c.entra {
		if st.Seq > since && st.Seq <= upto {
			list = append(list, change{st.Seq, id})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].seq != list[j].seq {
			return list[i].seq < list[j].seq
		}
		return list[i].id < list[j].id
	})
	ids := make([]string, len(list))
	for i, ch := range list {
		ids[i] = ch.id
	}
	return ids
}

// graphPreferredPageSize reads Prefer: odata.maxpagesize=N. applied says whether
// the client asked, so the answer can carry Preference-Applied. Graph caps
// larger sizes rather than refusing them.
func graphPreferredPageSize(w http.ResponseWriter, r *http.Request) (size int, applied, ok bool) {
	for _, header := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(header, ",") {
			name, value, found := strings.Cut(strings.TrimSpace(pref), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(name), "odata.maxpagesize") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`))
			if err != nil || n < 1 {
				writeGraphError(w, r, http.StatusBadRequest, "Request_BadRequest",
					fmt.Sprintf("Invalid value '%s' for the preference odata.maxpagesize; it must be a positive integer.", value))
				return 0, false, false
			}
			return min(n, graphDeltaMaxPageSize), true, true
		}
	}
	return graphDeltaDefaultPageSize, false, true
}
