package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// System Log event types the simulator writes, as Okta names them.
const (
	oktaEventAppUserAdd    = "application.user_membership.add"
	oktaEventAppUserRemove = "application.user_membership.remove"
	oktaEventAppUserUpdate = "application.user_membership.update"
	oktaEventUserProfile   = "user.account.update_profile"
	oktaEventUserSuspend   = "user.lifecycle.suspend"
	oktaEventUserUnsuspend = "user.lifecycle.unsuspend"
	oktaEventUserDelete    = "user.lifecycle.delete.initiated"
	oktaEventUserCreate    = "user.lifecycle.create"
)

// System Log paging, as Okta documents it.
const (
	oktaLogsDefaultLimit = 100
	oktaLogsMaxLimit     = 1000
	// oktaLogsDefaultWindow is how far back a request without since reads.
	oktaLogsDefaultWindow = 7 * 24 * time.Hour
)

// oktaEventMessages are the displayMessage of each event type. Okta's
// legacyEventType is left out: the simulator does not know every one.
var oktaEventMessages = map[string]string{
	oktaEventAppUserAdd:    "Add user to application membership",
	oktaEventAppUserRemove: "Remove users from application membership",
	oktaEventAppUserUpdate: "Updated user application property",
	oktaEventUserProfile:   "Update user profile for Okta",
	oktaEventUserSuspend:   "Suspend Okta user",
	oktaEventUserUnsuspend: "Unsuspend Okta user",
	oktaEventUserDelete:    "Delete Okta user",
	oktaEventUserCreate:    "Create Okta user",
}

// oktaLogTarget is one entry of a LogEvent's target list.
type oktaLogTarget struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// oktaLogDraft is an event recorded by a write, before the commit gives it
// its time and uuid.
type oktaLogDraft struct {
	eventType string
	targets   []oktaLogTarget
}

// oktaLogEvent is a committed System Log event.
type oktaLogEvent struct {
	uuid      string
	published time.Time
	seq       uint64
	eventType string
	targets   []oktaLogTarget
}

func (d oktaLogDraft) event(seq uint64, i int, at time.Time) oktaLogEvent {
	return oktaLogEvent{
		uuid:      graphNameUUID(fmt.Sprintf("okta-system-log:%d:%d", seq, i)),
		published: at,
		seq:       seq,
		eventType: d.eventType,
		targets:   d.targets,
	}
}

func oktaUserTarget(u *OktaUser) oktaLogTarget {
	return oktaLogTarget{ID: u.ID, Type: "User", AlternateID: u.Login, DisplayName: strings.TrimSpace(u.FirstName + " " + u.LastName)}
}

// newAppMembershipEvent describes an assignment change as Okta logs it: the
// app user (its own 0ua… id), the app instance and the Okta user.
func newAppMembershipEvent(eventType string, app *OktaApp, au *OktaAppUser, user *OktaUser) oktaLogDraft {
	var userTarget oktaLogTarget
	if user != nil {
		userTarget = oktaUserTarget(user)
	} else {
		userTarget = oktaLogTarget{ID: au.UserID, Type: "User", AlternateID: au.UserName, DisplayName: au.UserName}
	}
	return oktaLogDraft{eventType: eventType, targets: []oktaLogTarget{
		{ID: au.AppUserID, Type: "AppUser", AlternateID: au.UserName, DisplayName: userTarget.DisplayName},
		{ID: app.ID, Type: "AppInstance", AlternateID: app.Label, DisplayName: app.Label},
		userTarget,
	}}
}

// oktaUserEvent records a lifecycle or profile event of an Okta user.
func (r *changeRecorder) oktaUserEvent(eventType string, u *OktaUser) {
	r.logs = append(r.logs, oktaLogDraft{eventType: eventType, targets: []oktaLogTarget{oktaUserTarget(u)}})
}

// oktaLogFilter is a parsed System Log filter: OR of ANDs of
// `eventType eq "…"` clauses (and binds tighter, as in Okta's SCIM filters).
type oktaLogFilter [][]string

var oktaLogClause = regexp.MustCompile(`^eventType\s+eq\s+"([^"]+)"$`)

func parseOktaLogFilter(s string) (oktaLogFilter, error) {
	var f oktaLogFilter
	for _, alt := range splitOktaExpr(s, "or") {
		var all []string
		for _, clause := range splitOktaExpr(alt, "and") {
			m := oktaLogClause.FindStringSubmatch(strings.TrimSpace(clause))
			if m == nil {
				return nil, fmt.Errorf("filter: '%s' is not supported by the simulator (eventType eq \"…\" joined by and/or)", strings.TrimSpace(clause))
			}
			all = append(all, m[1])
		}
		f = append(f, all)
	}
	return f, nil
}

func (f oktaLogFilter) matches(eventType string) bool {
	if f == nil {
		return true
	}
	for _, all := range f {
		ok := true
		for _, want := range all {
			ok = ok && want == eventType
		}
		if ok {
			return true
		}
	}
	return false
}

// splitOktaExpr splits s at the keyword op (case-insensitive, surrounded by
// whitespace) outside double quotes.
func splitOktaExpr(s, op string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"' && (i == 0 || s[i-1] != '\\'):
			inQuote = !inQuote
		case !inQuote && i > 0 && isSpace(s[i-1]) && i+len(op) < len(s) &&
			strings.EqualFold(s[i:i+len(op)], op) && isSpace(s[i+len(op)]):
			parts = append(parts, s[start:i])
			start = i + len(op)
		}
	}
	return append(parts, s[start:])
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// listLogs is GET /api/v1/logs: the events published in [since, until],
// oldest first (or newest first with sortOrder=DESCENDING), filtered by
// eventType, paged with an opaque after cursor. Okta's polling requests
// (no until) always get a next link; the fake keeps it simple: a full page
// gets a next link, a shorter one ends the listing.
func (s *oktaServer) listLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("q") {
		s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "q: the simulator does not support keyword search of the System Log")
		return
	}
	limit, ok := s.pageLimit(w, q, oktaLogsDefaultLimit, oktaLogsMaxLimit)
	if !ok {
		return
	}
	now := s.now().UTC()
	since, until := now.Add(-oktaLogsDefaultWindow), now
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: "+p.name,
					p.name+": "+strconv.Quote(v)+" is not an ISO 8601 date-time such as 2026-01-02T15:04:05.000Z")
				return
			}
			*p.dst = t
		}
	}
	if until.Before(since) {
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: until", "until must not be earlier than since")
		return
	}
	descending := false
	switch order := q.Get("sortOrder"); order {
	case "", "ASCENDING":
	case "DESCENDING":
		descending = true
	default:
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: sortOrder", "sortOrder: want ASCENDING or DESCENDING, got "+strconv.Quote(order))
		return
	}
	var filter oktaLogFilter
	if expr := q.Get("filter"); expr != "" {
		var err error
		if filter, err = parseOktaLogFilter(expr); err != nil {
			s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
			return
		}
	}
	start := -1
	if after := q.Get("after"); after != "" {
		n, ok := decodeOktaLogCursor(after)
		if !ok {
			s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "after: the cursor is not valid")
			return
		}
		start = n
	}
	base := oktaBaseURL(r)
	var page []map[string]any
	next := ""
	s.st.readChanges(func(_ *Tenant, c *changeLog) {
		n := len(c.logs)
		if start >= n {
			return // a cursor past the end (forged, or from another run): nothing follows
		}
		step, i := 1, start+1
		if descending {
			step, i = -1, n-1
			if start >= 0 {
				i = start - 1
			}
		}
		for ; i >= 0 && i < n; i += step {
			e := &c.logs[i]
			if e.published.Before(since) || e.published.After(until) || !filter.matches(e.eventType) {
				continue
			}
			page = append(page, oktaLogEventObject(e, base))
			if len(page) == limit {
				next = encodeOktaLogCursor(i)
				break
			}
		}
	})
	if page == nil {
		page = []map[string]any{}
	}
	oktaSetLinks(w, r, limit, next)
	s.writeJSON(w, http.StatusOK, page)
}

const oktaLogCursorPrefix = "anchorscan-sim/logs/"

func encodeOktaLogCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(oktaLogCursorPrefix + strconv.Itoa(i)))
}

func decodeOktaLogCursor(s string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(raw), oktaLogCursorPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// oktaSimActor is who the simulator's writes are logged as: the admin the
// API token belongs to.
var oktaSimActor = map[string]any{
	"id": "00usimadmin0000000001", "type": "User", "alternateId": "admin@anchorscan.invalid", "displayName": "anchorscan simulator admin",
}

func oktaLogEventObject(e *oktaLogEvent, base string) map[string]any {
	targets := make([]map[string]any, 0, len(e.targets))
	for _, t := range e.targets {
		targets = append(targets, map[string]any{"id": t.ID, "type": t.Type, "alternateId": t.AlternateID, "displayName": t.DisplayName})
	}
	return map[string]any{
		"actor":  oktaSimActor,
		"client": map[string]any{"ipAddress": "127.0.0.1", "device": "Unknown", "zone": "null", "userAgent": map[string]any{"rawUserAgent": "okta-sdk-golang", "os": "Unknown", "browser": "UNKNOWN"}},
		"authenticationContext": map[string]any{
			"authenticationStep": 0, "externalSessionId": "trs" + strings.ReplaceAll(e.uuid, "-", "")[:19],
		},
		"displayMessage":  oktaEventMessages[e.eventType],
		"eventType":       e.eventType,
		"outcome":         map[string]any{"result": "SUCCESS"},
		"published":       e.published.Format(oktaTimeLayout),
		"securityContext": map[string]any{},
		"severity":        "INFO",
		"debugContext":    map[string]any{"debugData": map[string]any{"requestUri": "/api/v1/apps", "url": base + "/api/v1/apps"}},
		"request":         map[string]any{"ipChain": []any{map[string]any{"ip": "127.0.0.1", "version": "V4"}}},
		"target":          targets,
		"transaction":     map[string]any{"type": "WEB", "id": "sim" + strconv.FormatUint(e.seq, 10), "detail": map[string]any{}},
		"uuid":            e.uuid,
		"version":         "0",
	}
}

// oktaTimeLayout is how Okta writes timestamps: UTC with milliseconds.
const oktaTimeLayout = "2006-01-02T15:04:05.000Z"

// readChanges calls fn with the tenant and its change log under the read
// lock.
func (s *State) readChanges(fn func(t *Tenant, c *changeLog)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.tenant, &s.changes)
}
