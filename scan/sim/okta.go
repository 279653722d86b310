package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OktaOptions configures the fake Okta management API.
type OktaOptions struct {
	// Token is the API token every request must present as
	// "Authorization: SSWS <token>". An empty Token accepts nothing: the fake
	// fails closed rather than serving an unauthenticated org.
	Token string
	// RateLimit is the per-minute limit reported in the X-Rate-Limit-*
	// headers; 0 means 600. The fake reports the budget but does not refuse
	// requests when it is spent: injected 429s belong to the fault layer.
	RateLimit int
	// OAuth registers service apps that may get "Bearer" tokens from
	// /oauth2/v1/token with a private-key JWT (okta_oauth.go).
	OAuth OktaOAuthOptions
}

// Paging limits of the endpoints the fake serves, as Okta documents them.
const (
	oktaUsersDefaultLimit    = 200
	oktaUsersMaxLimit        = 200
	oktaAppsDefaultLimit     = 20
	oktaAppsMaxLimit         = 200
	oktaAppUsersDefaultLimit = 50
	oktaAppUsersMaxLimit     = 500
	oktaMappingsDefaultLimit = 20
	oktaMappingsMaxLimit     = 200
)

// oktaUserTypeID is the id of the org's default user type: the source of
// every Okta→app profile mapping. Okta ids are opaque; this one is fixed so
// that mapping ids and links stay stable across runs.
const oktaUserTypeID = "otyanchorscandefault"

// The fixture carries no timestamps; these are plausible fixed ones so that
// responses are reproducible.
const (
	oktaCreated     = "2024-01-09T15:36:04.000Z"
	oktaLastUpdated = "2024-03-02T10:12:45.000Z"
)

// NewOktaHandler serves the part of Okta's management API that anchorscan
// reads, over the Okta side of st: users, apps, app users, the
// USER_PROVISIONING feature and the Okta→app profile mappings, with Okta's
// cursor paging (Link headers), error bodies and rate-limit headers.
func NewOktaHandler(st *State, opts OktaOptions) http.Handler {
	if opts.RateLimit <= 0 {
		opts.RateLimit = 600
	}
	s := &oktaServer{st: st, opts: opts, mux: http.NewServeMux(), now: time.Now}
	// Routes are registered without a method so that a wrong method gets
	// Okta's E0000022 body instead of ServeMux's plain-text 405. Writes
	// (assign, unassign, profile update) are added as further methods here.
	s.route("/api/v1/users", oktaMethods{http.MethodGet: s.listUsers})
	s.route("/api/v1/users/{userId}", oktaMethods{http.MethodGet: s.getUser})
	s.route("/api/v1/apps", oktaMethods{http.MethodGet: s.listApps})
	s.route("/api/v1/apps/{appId}", oktaMethods{http.MethodGet: s.getApp})
	s.route("/api/v1/apps/{appId}/users", oktaMethods{http.MethodGet: s.listAppUsers, http.MethodPost: s.assignAppUser})
	s.route("/api/v1/apps/{appId}/users/{userId}", oktaMethods{http.MethodGet: s.getAppUser, http.MethodPost: s.updateAppUser, http.MethodDelete: s.unassignAppUser})
	s.route("/api/v1/apps/{appId}/features", oktaMethods{http.MethodGet: s.listFeatures})
	s.route("/api/v1/apps/{appId}/features/{featureName}", oktaMethods{http.MethodGet: s.getFeature, http.MethodPut: s.updateFeature})
	s.route("/api/v1/mappings", oktaMethods{http.MethodGet: s.listMappings})
	s.route("/api/v1/logs", oktaMethods{http.MethodGet: s.listLogs})
	s.route("/api/v1/mappings/{mappingId}", oktaMethods{http.MethodGet: s.getMapping, http.MethodPost: s.updateMapping})
	// Not an Okta API: the simulator's stand-in for the console's O365 import.
	s.route(SimImportPath, oktaMethods{http.MethodPost: s.simImport})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.URL.Path+" (Resource)")
	})
	return withOktaOAuth(s, opts.OAuth)
}

type oktaMethods map[string]http.HandlerFunc

type oktaServer struct {
	st   *State
	opts OktaOptions
	mux  *http.ServeMux
	now  func() time.Time

	indexMu sync.Mutex
	index   *oktaIndex
	buildMu sync.Mutex // held while one request rebuilds the index

	rateMu      sync.Mutex
	windowStart time.Time
	windowUsed  int

	requestSeq atomic.Uint64
}

func (s *oktaServer) route(pattern string, methods oktaMethods) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok {
			s.writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
			return
		}
		h(w, r)
	})
}

func (s *oktaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	limit, remaining, reset := s.spendRateBudget(now)
	h := w.Header()
	// Date and X-Rate-Limit-Reset come from the same clock: the SDK computes
	// its 429 back-off as reset - Date.
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-Okta-Request-Id", fmt.Sprintf("sim%017d", s.requestSeq.Add(1)))
	if !s.authorized(r) {
		s.writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *oktaServer) authorized(r *http.Request) bool {
	if oauthAuthorized(r) {
		return true
	}
	if s.opts.Token == "" {
		return false
	}
	return r.Header.Get("Authorization") == "SSWS "+s.opts.Token
}

// spendRateBudget counts the request against a fixed one-minute window, as
// Okta's per-endpoint limits do, and returns what the headers report.
func (s *oktaServer) spendRateBudget(now time.Time) (limit, remaining int, reset time.Time) {
	s.rateMu.Lock()
	defer s.rateMu.Unlock()
	if s.windowStart.IsZero() || now.Sub(s.windowStart) >= time.Minute {
		s.windowStart = now.Truncate(time.Second)
		s.windowUsed = 0
	}
	s.windowUsed++
	remaining = max(s.opts.RateLimit-s.windowUsed, 0)
	return s.opts.RateLimit, remaining, s.windowStart.Add(time.Minute)
}

// oktaIndex maps ids to positions in the tenant's slices so that a page or a
// lookup costs O(page), not O(tenant). It is rebuilt when the state version
// changes.
type oktaIndex struct {
	version uint64
	users   map[string]int // user id → position in Okta.Users
	apps    map[string]int // app id → position in Okta.Apps
	// appUsers lists, per app, the positions in Okta.AppUsers in fixture
	// order; appUserOrdinal maps app id → user id → index into that list.
	appUsers       map[string][]int
	appUserOrdinal map[string]map[string]int
	// adSource names the AD app (its label) a user's credentials come from.
	adSource map[string]string

	// orders are the users sorted for searches, by sortBy, built on first
	// use (okta_search.go).
	orderMu sync.Mutex
	orders  map[string]*oktaUserOrder
}

func buildOktaIndex(t *Tenant, version uint64) *oktaIndex {
	o := &t.Okta
	idx := &oktaIndex{
		version:        version,
		users:          make(map[string]int, len(o.Users)),
		apps:           make(map[string]int, len(o.Apps)),
		appUsers:       make(map[string][]int),
		appUserOrdinal: make(map[string]map[string]int),
		adSource:       make(map[string]string),
	}
	for i, u := range o.Users {
		idx.users[u.ID] = i
	}
	for i, a := range o.Apps {
		idx.apps[a.ID] = i
	}
	for i, au := range o.AppUsers {
		ord := idx.appUserOrdinal[au.AppID]
		if ord == nil {
			ord = make(map[string]int)
			idx.appUserOrdinal[au.AppID] = ord
		}
		ord[au.UserID] = len(idx.appUsers[au.AppID])
		idx.appUsers[au.AppID] = append(idx.appUsers[au.AppID], i)
		if ai, ok := idx.apps[au.AppID]; ok && o.Apps[ai].Name == "active_directory" {
			if _, seen := idx.adSource[au.UserID]; !seen {
				idx.adSource[au.UserID] = o.Apps[ai].Label
			}
		}
	}
	return idx
}

// read calls fn with the tenant and an index of it under the state's read
// lock. The version is read before the lock is taken, so a write racing in
// between at worst makes the index look older than the data: valid checks
// every position against the data, and a stale index is rebuilt in place.
func (s *oktaServer) read(fn func(t *Tenant, idx *oktaIndex)) {
	version := s.st.Version()
	s.indexMu.Lock()
	idx := s.index
	s.indexMu.Unlock()
	s.st.Read(func(t *Tenant) {
		if idx == nil || idx.version != version || !idx.valid(t) {
			// One request builds; concurrent ones (a partitioned reader's
			// first pages) wait for it instead of each building their own.
			s.buildMu.Lock()
			s.indexMu.Lock()
			idx = s.index
			s.indexMu.Unlock()
			if idx == nil || idx.version != version || !idx.valid(t) {
				idx = buildOktaIndex(t, version)
				s.indexMu.Lock()
				s.index = idx
				s.indexMu.Unlock()
			}
			s.buildMu.Unlock()
		}
		fn(t, idx)
	})
}

// valid is a cheap consistency check (sizes) that catches an index built
// before a write that added or removed records.
func (idx *oktaIndex) valid(t *Tenant) bool {
	n := 0
	for _, l := range idx.appUsers {
		n += len(l)
	}
	return len(idx.users) == len(t.Okta.Users) && len(idx.apps) == len(t.Okta.Apps) && n == len(t.Okta.AppUsers)
}

func (idx *oktaIndex) user(t *Tenant, id string) *OktaUser {
	if i, ok := idx.users[id]; ok && i < len(t.Okta.Users) && t.Okta.Users[i].ID == id {
		return &t.Okta.Users[i]
	}
	return nil
}

func (idx *oktaIndex) app(t *Tenant, id string) *OktaApp {
	if i, ok := idx.apps[id]; ok && i < len(t.Okta.Apps) && t.Okta.Apps[i].ID == id {
		return &t.Okta.Apps[i]
	}
	return nil
}

func (idx *oktaIndex) appUser(t *Tenant, appID, userID string) *OktaAppUser {
	ord, ok := idx.appUserOrdinal[appID][userID]
	if !ok {
		return nil
	}
	i := idx.appUsers[appID][ord]
	if i < len(t.Okta.AppUsers) && t.Okta.AppUsers[i].AppID == appID && t.Okta.AppUsers[i].UserID == userID {
		return &t.Okta.AppUsers[i]
	}
	return nil
}

// ---- users ----

func (s *oktaServer) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("userId")
	base := oktaBaseURL(r)
	var obj *oktaUserJSON
	s.readWithChanges(func(t *Tenant, idx *oktaIndex, c *changeLog) {
		u := idx.user(t, id)
		if u == nil {
			// Okta accepts a login here too.
			for i := range t.Okta.Users {
				if strings.EqualFold(t.Okta.Users[i].Login, id) {
					u = &t.Okta.Users[i]
					break
				}
			}
		}
		if u != nil {
			o := oktaUserObject(u, idx.adSource[u.ID], base, true, oktaTimesOf(c, u.ID))
			obj = &o
		}
	})
	if obj == nil {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)")
		return
	}
	s.writeJSON(w, http.StatusOK, obj)
}

type oktaUserJSON struct {
	ID              string              `json:"id"`
	Status          string              `json:"status"`
	Created         string              `json:"created"`
	Activated       *string             `json:"activated"`
	StatusChanged   *string             `json:"statusChanged"`
	LastLogin       *string             `json:"lastLogin"`
	LastUpdated     string              `json:"lastUpdated"`
	PasswordChanged *string             `json:"passwordChanged"`
	Type            oktaTypeRef         `json:"type"`
	Profile         oktaUserProfileJSON `json:"profile"`
	Credentials     oktaUserCredentials `json:"credentials"`
	Links           map[string]oktaHref `json:"_links"`
}

type oktaTypeRef struct {
	ID string `json:"id"`
}

type oktaUserProfileJSON struct {
	FirstName   string  `json:"firstName"`
	LastName    string  `json:"lastName"`
	MobilePhone *string `json:"mobilePhone"`
	SecondEmail *string `json:"secondEmail"`
	Login       string  `json:"login"`
	Email       string  `json:"email"`
}

type oktaUserCredentials struct {
	Password *struct{}        `json:"password,omitempty"`
	Provider oktaUserProvider `json:"provider"`
}

type oktaUserProvider struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

type oktaHref struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

func oktaUserObject(u *OktaUser, adSource, base string, full bool, times oktaUserTimes) oktaUserJSON {
	created := times.created.Format(oktaTimeLayout)
	statusChanged := times.statusChanged.Format(oktaTimeLayout)
	self := base + "/api/v1/users/" + u.ID
	o := oktaUserJSON{
		ID:            u.ID,
		Status:        u.Status,
		Created:       created,
		StatusChanged: &statusChanged,
		LastUpdated:   times.lastUpdated.Format(oktaTimeLayout),
		Type:          oktaTypeRef{ID: oktaUserTypeID},
		Profile: oktaUserProfileJSON{
			FirstName: u.FirstName,
			LastName:  u.LastName,
			Login:     u.Login,
			Email:     u.Email,
		},
		Credentials: oktaUserCredentials{Provider: oktaUserProvider{Type: "OKTA", Name: "OKTA"}},
		Links:       map[string]oktaHref{"self": {Href: self}},
	}
	if full {
		// A single user carries its lifecycle links; list pages only self.
		o.Links["type"] = oktaHref{Href: base + "/api/v1/meta/types/user/" + oktaUserTypeID}
		o.Links["schema"] = oktaHref{Href: base + "/api/v1/meta/schemas/user/oscanchorscandefault"}
		o.Links["suspend"] = oktaHref{Href: self + "/lifecycle/suspend", Method: "POST"}
		o.Links["deactivate"] = oktaHref{Href: self + "/lifecycle/deactivate", Method: "POST"}
	}
	if u.Status != "STAGED" {
		o.Activated = &created
	}
	if adSource != "" {
		// AD-sourced users authenticate against AD: no Okta password.
		o.Credentials.Provider = oktaUserProvider{Type: "ACTIVE_DIRECTORY", Name: adSource}
	} else {
		o.Credentials.Password = &struct{}{}
		o.PasswordChanged = &created
	}
	return o
}

// ---- apps ----

var oktaNameFilter = regexp.MustCompile(`^\s*name\s+eq\s+"([^"]*)"\s*$`)

func (s *oktaServer) listApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := s.pageLimit(w, q, oktaAppsDefaultLimit, oktaAppsMaxLimit)
	if !ok {
		return
	}
	if q.Has("q") {
		s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "q: the simulator does not support app queries")
		return
	}
	nameFilter, filtered := "", false
	if f := q.Get("filter"); f != "" {
		m := oktaNameFilter.FindStringSubmatch(f)
		if m == nil {
			s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "filter: only name eq \"…\" is supported, got "+strconv.Quote(f))
			return
		}
		nameFilter, filtered = m[1], true
	}
	base := oktaBaseURL(r)
	after := q.Get("after")
	var page []map[string]any
	var next string
	badCursor := false
	s.read(func(t *Tenant, idx *oktaIndex) {
		start := 0
		if after != "" {
			i, found := idx.apps[after]
			if !found {
				badCursor = true
				return
			}
			start = i + 1
		}
		apps := t.Okta.Apps
		for i := start; i < len(apps); i++ {
			if filtered && apps[i].Name != nameFilter {
				continue
			}
			if len(page) == limit {
				// More match: the cursor is the last app served.
				next = page[len(page)-1]["id"].(string)
				break
			}
			page = append(page, oktaAppObject(&apps[i], base))
		}
	})
	if badCursor {
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "after: the cursor is not valid")
		return
	}
	if page == nil {
		page = []map[string]any{}
	}
	oktaSetLinks(w, r, limit, next)
	s.writeJSON(w, http.StatusOK, page)
}

func (s *oktaServer) getApp(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("appId")
	base := oktaBaseURL(r)
	var obj map[string]any
	s.read(func(t *Tenant, idx *oktaIndex) {
		if a := idx.app(t, id); a != nil {
			obj = oktaAppObject(a, base)
		}
	})
	if obj == nil {
		s.writeAppNotFound(w, id)
		return
	}
	s.writeJSON(w, http.StatusOK, obj)
}

// oktaAppObject renders an app instance. Apps differ by template, so a map
// keeps each template's shape readable next to the others.
func oktaAppObject(a *OktaApp, base string) map[string]any {
	self := base + "/api/v1/apps/" + a.ID
	links := map[string]any{
		"self":       oktaHref{Href: self},
		"users":      oktaHref{Href: self + "/users"},
		"groups":     oktaHref{Href: self + "/groups"},
		"deactivate": oktaHref{Href: self + "/lifecycle/deactivate", Method: "POST"},
		"logo":       []oktaHref{{Href: "https://ok12static.oktacdn.com/assets/img/logos/" + a.Name + ".png"}},
	}
	obj := map[string]any{
		"id":          a.ID,
		"name":        a.Name,
		"label":       a.Label,
		"status":      "ACTIVE",
		"created":     oktaCreated,
		"lastUpdated": oktaLastUpdated,
		"accessibility": map[string]any{
			"selfService": false,
		},
		"visibility": map[string]any{
			"autoSubmitToolbar": false,
			"hide":              map[string]bool{"iOS": false, "web": false},
			"appLinks":          map[string]bool{},
		},
		"_links": links,
	}
	switch a.Name {
	case "office365":
		features := []string{"IMPORT_NEW_USERS", "IMPORT_PROFILE_UPDATES", "PUSH_NEW_USERS", "PUSH_PROFILE_UPDATES"}
		if a.DeactivateUsers == "ENABLED" {
			// Okta lists the app-level feature that the USER_PROVISIONING
			// lifecycleDeactivate capability switches on.
			features = append(features, "PUSH_USER_DEACTIVATION")
		}
		obj["features"] = features
		// Which signOnMode a live office365 instance reports is not confirmed
		// (DESIGN §10); WS-Federation is what Okta's O365 setup configures.
		obj["signOnMode"] = "WS_FEDERATION"
		obj["credentials"] = map[string]any{
			"userNameTemplate": map[string]string{"template": "${source.login}", "type": "BUILT_IN"},
			"signing":          map[string]any{},
		}
		obj["settings"] = map[string]any{
			"app": map[string]any{
				"wReplyURL":         "https://login.microsoftonline.com/login.srf",
				"realm":             "urn:federation:MicrosoftOnline",
				"siteURL":           "https://portal.office.com",
				"usernameAttribute": "username",
				"wReplyOverride":    false,
			},
			"implicitAssignment": false,
			"notifications":      map[string]any{"vpn": map[string]any{"network": map[string]any{"connection": "DISABLED"}}},
		}
		links["appLinks"] = []map[string]string{{"name": "login", "href": base + "/home/office365/" + a.ID + "/login", "type": "text/html"}}
	case "active_directory":
		// Directory integrations report signOnMode null on a live org; the
		// management spec has no schema for them (okta-sdk-dotnet#821).
		obj["signOnMode"] = nil
		obj["features"] = []string{"IMPORT_NEW_USERS", "IMPORT_PROFILE_UPDATES", "IMPORT_USER_SCHEMA", "PROFILE_MASTERING"}
		obj["credentials"] = map[string]any{
			"userNameTemplate": map[string]string{"template": "${source.samAccountName}", "type": "BUILT_IN"},
			"signing":          map[string]any{},
		}
		obj["settings"] = map[string]any{
			"app": map[string]any{
				"namingContext":    a.Label,
				"filterGroupsByOU": false,
				"activationEmail":  "",
			},
		}
	default:
		obj["signOnMode"] = "BOOKMARK"
		obj["settings"] = map[string]any{"app": map[string]any{}}
	}
	return obj
}

// ---- app users ----

func (s *oktaServer) listAppUsers(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appId")
	q := r.URL.Query()
	limit, ok := s.pageLimit(w, q, oktaAppUsersDefaultLimit, oktaAppUsersMaxLimit)
	if !ok {
		return
	}
	if q.Has("q") || q.Has("expand") {
		s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.", "q/expand: the simulator does not support them on app users")
		return
	}
	base := oktaBaseURL(r)
	after := q.Get("after")
	var page []oktaAppUserJSON
	var next string
	appFound, badCursor := false, false
	s.read(func(t *Tenant, idx *oktaIndex) {
		app := idx.app(t, appID)
		if app == nil {
			return
		}
		appFound = true
		list := idx.appUsers[appID]
		start := 0
		if after != "" {
			ord, found := idx.appUserOrdinal[appID][after]
			if !found {
				badCursor = true
				return
			}
			start = ord + 1
		}
		end := min(start+limit, len(list))
		page = make([]oktaAppUserJSON, 0, max(end-start, 0))
		for _, i := range list[start:max(end, start)] {
			page = append(page, oktaAppUserObject(&t.Okta.AppUsers[i], app, base))
		}
		if end < len(list) {
			next = t.Okta.AppUsers[list[end-1]].UserID
		}
	})
	switch {
	case !appFound:
		s.writeAppNotFound(w, appID)
		return
	case badCursor:
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after", "after: the cursor is not valid")
		return
	}
	oktaSetLinks(w, r, limit, next)
	s.writeJSON(w, http.StatusOK, page)
}

func (s *oktaServer) getAppUser(w http.ResponseWriter, r *http.Request) {
	appID, userID := r.PathValue("appId"), r.PathValue("userId")
	base := oktaBaseURL(r)
	var obj *oktaAppUserJSON
	appFound := false
	s.read(func(t *Tenant, idx *oktaIndex) {
		app := idx.app(t, appID)
		if app == nil {
			return
		}
		appFound = true
		if au := idx.appUser(t, appID, userID); au != nil {
			o := oktaAppUserObject(au, app, base)
			obj = &o
		}
	})
	switch {
	case !appFound:
		s.writeAppNotFound(w, appID)
	case obj == nil:
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+userID+" (AppUser)")
	default:
		s.writeJSON(w, http.StatusOK, obj)
	}
}

type oktaAppUserJSON struct {
	ID              string              `json:"id"`
	ExternalID      *string             `json:"externalId"`
	Created         string              `json:"created"`
	LastUpdated     string              `json:"lastUpdated"`
	Scope           string              `json:"scope"`
	Status          string              `json:"status"`
	StatusChanged   string              `json:"statusChanged"`
	PasswordChanged *string             `json:"passwordChanged"`
	SyncState       string              `json:"syncState"`
	LastSync        *string             `json:"lastSync,omitempty"`
	Credentials     oktaAppUserCreds    `json:"credentials"`
	Profile         map[string]any      `json:"profile"`
	Links           map[string]oktaHref `json:"_links"`
}

type oktaAppUserCreds struct {
	UserName string `json:"userName"`
}

func oktaAppUserObject(au *OktaAppUser, app *OktaApp, base string) oktaAppUserJSON {
	o := oktaAppUserJSON{
		ID:            au.UserID,
		Created:       oktaCreated,
		LastUpdated:   oktaLastUpdated,
		Scope:         "USER",
		Status:        au.Status,
		StatusChanged: oktaCreated,
		SyncState:     "DISABLED",
		Credentials:   oktaAppUserCreds{UserName: au.UserName},
		Profile:       map[string]any{},
		Links: map[string]oktaHref{
			"app":  {Href: base + "/api/v1/apps/" + au.AppID},
			"user": {Href: base + "/api/v1/users/" + au.UserID},
		},
	}
	if au.ExternalID != nil {
		ext := *au.ExternalID
		o.ExternalID = &ext
	}
	p := au.Profile
	if app.Name == "office365" {
		// The O365 app schema always carries these attributes; Okta sends
		// null for an unset immutableId and empty lists for no licences.
		o.Profile["immutableId"] = nil
		o.Profile["licenses"] = []string{}
		o.Profile["roles"] = []string{}
		if au.Status == "PROVISIONED" {
			o.SyncState = "SYNCHRONIZED"
			last := oktaLastUpdated
			o.LastSync = &last
		}
	}
	if p.ImmutableID != nil {
		o.Profile["immutableId"] = *p.ImmutableID
	}
	if p.Licenses != nil {
		o.Profile["licenses"] = append([]string{}, p.Licenses...)
	}
	if p.Roles != nil {
		o.Profile["roles"] = append([]string{}, p.Roles...)
	}
	return o
}

// ---- features ----

func (s *oktaServer) listFeatures(w http.ResponseWriter, r *http.Request) {
	s.serveFeature(w, r, "", true)
}

func (s *oktaServer) getFeature(w http.ResponseWriter, r *http.Request) {
	s.serveFeature(w, r, r.PathValue("featureName"), false)
}

func (s *oktaServer) serveFeature(w http.ResponseWriter, r *http.Request, name string, list bool) {
	appID := r.PathValue("appId")
	var app OktaApp
	found := false
	s.read(func(t *Tenant, idx *oktaIndex) {
		if a := idx.app(t, appID); a != nil {
			app, found = *a, true
			app.ImmutableIDMapping = nil // not needed; drop the pointer into the tenant
		}
	})
	if !found {
		s.writeAppNotFound(w, appID)
		return
	}
	// Only the O365 app has provisioning configured in a simulated tenant.
	if app.Name != "office365" || (!list && name != "USER_PROVISIONING") {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+name+" (AppFeature)")
		return
	}
	f := oktaUserProvisioningFeature(&app, oktaBaseURL(r))
	if list {
		s.writeJSON(w, http.StatusOK, []map[string]any{f})
		return
	}
	s.writeJSON(w, http.StatusOK, f)
}

func oktaUserProvisioningFeature(app *OktaApp, base string) map[string]any {
	deactivate := app.DeactivateUsers
	if deactivate == "" {
		deactivate = "DISABLED"
	}
	status := func(s string) map[string]string { return map[string]string{"status": s} }
	return map[string]any{
		"name":        "USER_PROVISIONING",
		"status":      "ENABLED",
		"description": "User provisioning settings from Okta to a downstream app",
		"capabilities": map[string]any{
			"create": map[string]any{"lifecycleCreate": status("ENABLED")},
			"update": map[string]any{
				"profile":             status("ENABLED"),
				"lifecycleDeactivate": status(deactivate),
				"password":            map[string]string{"status": "DISABLED", "seed": "RANDOM", "change": "KEEP_EXISTING"},
			},
		},
		"_links": map[string]any{
			"self": map[string]any{
				"href":  base + "/api/v1/apps/" + app.ID + "/features/USER_PROVISIONING",
				"hints": map[string][]string{"allow": {"GET", "PUT"}},
			},
		},
	}
}

// ---- mappings ----

// oktaMappingID derives a stable mapping id from the app id.
func oktaMappingID(appID string) string {
	return "prm" + strings.TrimPrefix(appID, "0oa")
}

func (s *oktaServer) listMappings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := s.pageLimit(w, q, oktaMappingsDefaultLimit, oktaMappingsMaxLimit)
	if !ok {
		return
	}
	sourceID, targetID, after := q.Get("sourceId"), q.Get("targetId"), q.Get("after")
	base := oktaBaseURL(r)
	var page []map[string]any
	var next string
	s.read(func(t *Tenant, _ *oktaIndex) {
		started := after == ""
		for i := range t.Okta.Apps {
			a := &t.Okta.Apps[i]
			if a.ImmutableIDMapping == nil {
				continue
			}
			id := oktaMappingID(a.ID)
			if !started {
				started = id == after
				continue
			}
			if (sourceID != "" && sourceID != oktaUserTypeID) || (targetID != "" && targetID != a.ID) {
				continue
			}
			if len(page) == limit {
				next = page[len(page)-1]["id"].(string)
				break
			}
			m := oktaMappingObject(a, base)
			delete(m, "properties") // the list carries no properties
			page = append(page, m)
		}
	})
	if page == nil {
		page = []map[string]any{}
	}
	oktaSetLinks(w, r, limit, next)
	s.writeJSON(w, http.StatusOK, page)
}

func (s *oktaServer) getMapping(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("mappingId")
	base := oktaBaseURL(r)
	var obj map[string]any
	s.read(func(t *Tenant, _ *oktaIndex) {
		for i := range t.Okta.Apps {
			a := &t.Okta.Apps[i]
			if a.ImmutableIDMapping != nil && oktaMappingID(a.ID) == id {
				obj = oktaMappingObject(a, base)
				return
			}
		}
	})
	if obj == nil {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (Mapping)")
		return
	}
	s.writeJSON(w, http.StatusOK, obj)
}

func oktaMappingObject(a *OktaApp, base string) map[string]any {
	id := oktaMappingID(a.ID)
	prop := func(expr, push string) map[string]string {
		return map[string]string{"expression": expr, "pushStatus": push}
	}
	return map[string]any{
		"id": id,
		"source": map[string]any{
			"id":   oktaUserTypeID,
			"name": "user",
			"type": "user",
			"_links": map[string]oktaHref{
				"self":   {Href: base + "/api/v1/meta/types/user/" + oktaUserTypeID},
				"schema": {Href: base + "/api/v1/meta/schemas/user/oscanchorscandefault"},
			},
		},
		"target": map[string]any{
			"id":   a.ID,
			"name": a.Name,
			"type": "appuser",
			"_links": map[string]oktaHref{
				"self":   {Href: base + "/api/v1/apps/" + a.ID},
				"schema": {Href: base + "/api/v1/meta/schemas/apps/" + a.ID + "/default"},
			},
		},
		"properties": map[string]any{
			"firstName":   prop("user.firstName", "PUSH"),
			"lastName":    prop("user.lastName", "PUSH"),
			"email":       prop("user.email", "PUSH"),
			"immutableId": prop(a.ImmutableIDMapping.Expression, a.ImmutableIDMapping.PushStatus),
		},
		"_links": map[string]oktaHref{"self": {Href: base + "/api/v1/mappings/" + id}},
	}
}

// ---- shared plumbing ----

// pageLimit reads limit the way Okta does: absent or non-positive means the
// endpoint's default, above the maximum is clamped, not a number is a 400.
func (s *oktaServer) pageLimit(w http.ResponseWriter, q url.Values, def, maxLimit int) (int, bool) {
	raw := q.Get("limit")
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit", "limit: "+strconv.Quote(raw)+" is not a number")
		return 0, false
	}
	if n <= 0 {
		return def, true
	}
	return min(n, maxLimit), true
}

// oktaBaseURL is the absolute origin the client reached, so that links work
// behind any loopback port.
func oktaBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// oktaSetLinks writes Okta's Link headers: self always, next when there is a
// further page, with the cursor in after= and the effective limit.
func oktaSetLinks(w http.ResponseWriter, r *http.Request, limit int, nextCursor string) {
	self := oktaBaseURL(r) + r.URL.Path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	w.Header().Add("Link", "<"+self+">; rel=\"self\"")
	if nextCursor == "" {
		return
	}
	q := r.URL.Query()
	q.Set("after", nextCursor)
	q.Set("limit", strconv.Itoa(limit))
	w.Header().Add("Link", "<"+oktaBaseURL(r)+r.URL.Path+"?"+q.Encode()+">; rel=\"next\"")
}

func (s *oktaServer) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, http.StatusInternalServerError, "E0000009", "Internal Server Error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to tell it
}

type oktaErrorJSON struct {
	ErrorCode    string           `json:"errorCode"`
	ErrorSummary string           `json:"errorSummary"`
	ErrorLink    string           `json:"errorLink"`
	ErrorID      string           `json:"errorId"`
	ErrorCauses  []oktaErrorCause `json:"errorCauses"`
}

type oktaErrorCause struct {
	ErrorSummary string `json:"errorSummary"`
}

func (s *oktaServer) writeError(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	e := oktaErrorJSON{
		ErrorCode:    code,
		ErrorSummary: summary,
		ErrorLink:    code,
		ErrorID:      fmt.Sprintf("oaesim%016d", s.requestSeq.Load()),
		ErrorCauses:  []oktaErrorCause{},
	}
	for _, c := range causes {
		e.ErrorCauses = append(e.ErrorCauses, oktaErrorCause{ErrorSummary: c})
	}
	body, _ := json.Marshal(e) // plain strings: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *oktaServer) writeAppNotFound(w http.ResponseWriter, appID string) {
	s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+appID+" (AppInstance)")
}
