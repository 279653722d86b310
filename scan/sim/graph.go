package sim

import (
	"compress/gzip"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// GraphOptions configures the fake Microsoft Graph server.
type GraphOptions struct {
	// Token is the bearer token every request must carry, as
	// "Authorization: Bearer <Token>". It is required: a handler built
	// without one rejects every request, so a forgotten token fails loudly
	// instead of serving an unauthenticated tenant.
	Token string
}

// Graph paging limits, as Microsoft Graph enforces them on /users.
const (
	graphDefaultPageSize = 100
	graphMaxPageSize     = 999
)

// graphContentType is what Graph sends on every JSON response. The SDK's
// parse-node registry must cope with the parameters, so the fake sends them
// too.
const graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// NewGraphHandler serves st as Microsoft Graph v1.0 under the path prefix
// /v1.0: /organization, /domains, /domains/{id},
// /domains/{id}/federationConfiguration, /users (with $select, $filter, $top
// and absolute @odata.nextLink paging) and /users/{id or UPN}. Responses
// carry Graph's headers and its OData error bodies.
func NewGraphHandler(st *State, opts GraphOptions) http.Handler {
	g := &graphServer{st: st, token: opts.Token, mux: http.NewServeMux()}
	g.mux.HandleFunc("GET /v1.0/organization", g.getOrganization)
	g.mux.HandleFunc("GET /v1.0/domains", g.listDomains)
	g.mux.HandleFunc("GET /v1.0/domains/{id}", g.getDomain)
	g.mux.HandleFunc("GET /v1.0/domains/{id}/federationConfiguration", g.listFederationConfiguration)
	g.mux.HandleFunc("GET /v1.0/users", g.listUsers)
	g.mux.HandleFunc("GET /v1.0/users/{id}", g.getUser)
	// The delta function, by its short name and as the SDKs spell it.
	g.mux.HandleFunc("GET /v1.0/users/delta", g.listUsersDelta)
	g.mux.HandleFunc("GET /v1.0/users/delta()", g.listUsersDelta)
	g.mux.HandleFunc("GET /v1.0/users/microsoft.graph.delta()", g.listUsersDelta)
	// Writes (PATCH /v1.0/users/{id}, POST /v1.0/$batch) register here; a
	// $batch step is dispatched through g.mux so it sees the same routes.
	g.mux.HandleFunc("PATCH /v1.0/users/{id}", g.patchUser)
	g.mux.HandleFunc("POST /v1.0/$batch", g.batch)
	g.mux.HandleFunc("/", g.notFound)
	return g
}

// graphServer is the fake Graph. The user index is rebuilt lazily whenever
// the shared state's version moves, so reads stay O(1) per lookup at 100,000
// users without the handlers having to track writes made through other fakes.
type graphServer struct {
	st    *State
	token string
	mux   *http.ServeMux

	mu  sync.Mutex
	idx *graphUserIndex
}

func (g *graphServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	requestID := newGraphUUID()
	clientRequestID := r.Header.Get("client-request-id")
	if clientRequestID == "" {
		clientRequestID = requestID
	}
	h.Set("request-id", requestID)
	h.Set("client-request-id", clientRequestID)
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")

	if g.token == "" {
		writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken",
			"The simulated Graph server has no token configured (GraphOptions.Token), so it accepts no request.")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		h.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	if auth != "Bearer "+g.token {
		h.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return
	}
	g.mux.ServeHTTP(w, r)
}

// notFound answers whatever no route matched. A known path with another
// method is a 405, as in Graph; an unknown path is Graph's 400 for a segment
// it cannot resolve.
func (g *graphServer) notFound(w http.ResponseWriter, r *http.Request) {
	probe := r.Clone(r.Context())
	probe.Method = http.MethodGet
	if _, pattern := g.mux.Handler(probe); pattern != "/" && r.Method != http.MethodGet {
		writeGraphError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest",
			"Specified HTTP method is not allowed for the request target.")
		return
	}
	segment := strings.TrimPrefix(r.URL.Path, "/v1.0/")
	if i := strings.IndexByte(segment, '/'); i >= 0 {
		segment = segment[:i]
	}
	writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
		fmt.Sprintf("Resource not found for the segment '%s'.", segment))
}

// --- organization and domains ---

func (g *graphServer) getOrganization(w http.ResponseWriter, r *http.Request) {
	var org jsonObject
	g.st.Read(func(t *Tenant) {
		verified := make([]jsonObject, 0, len(t.Entra.Domains))
		defaultDomain := graphDefaultDomain(t.Entra)
		for _, d := range t.Entra.Domains {
			if !d.IsVerified {
				continue
			}
			verified = append(verified, jsonObject{
				{"capabilities", graphDomainCapabilities(d)},
				{"isDefault", d.ID == defaultDomain},
				{"isInitial", graphIsInitial(t.Entra, d)},
				{"name", d.ID},
				{"type", d.AuthenticationType},
			})
		}
		org = jsonObject{
			{"id", t.Entra.TenantID},
			{"deletedDateTime", nil},
			{"businessPhones", []string{}},
			{"city", nil},
			{"country", nil},
			{"countryLetterCode", "US"},
			{"createdDateTime", "2019-04-01T09:00:00Z"},
			{"displayName", graphTenantDisplayName(t.Entra)},
			{"onPremisesLastSyncDateTime", nil},
			{"onPremisesSyncEnabled", graphAnySynced(t.Entra)},
			{"postalCode", nil},
			{"preferredLanguage", "en"},
			{"state", nil},
			{"street", nil},
			{"tenantType", "AAD"},
			{"verifiedDomains", verified},
		}
	})
	writeGraphJSON(w, http.StatusOK, jsonObject{
		{"@odata.context", graphContext(r, "organization")},
		{"value", []jsonObject{org}},
	})
}

func (g *graphServer) listDomains(w http.ResponseWriter, r *http.Request) {
	if !graphRejectUnsupportedQuery(w, r, "$select", "$top") {
		return
	}
	sel, ok := parseGraphSelect(w, r, domainProperties, "microsoft.graph.domain")
	if !ok {
		return
	}
	var value []jsonObject
	g.st.Read(func(t *Tenant) {
		value = make([]jsonObject, 0, len(t.Entra.Domains))
		for _, d := range t.Entra.Domains {
			value = append(value, graphDomain(t.Entra, d).selectFields(sel))
		}
	})
	writeGraphJSON(w, http.StatusOK, jsonObject{
		{"@odata.context", graphContext(r, "domains"+sel.contextSuffix())},
		{"value", value},
	})
}

func (g *graphServer) getDomain(w http.ResponseWriter, r *http.Request) {
	sel, ok := parseGraphSelect(w, r, domainProperties, "microsoft.graph.domain")
	if !ok {
		return
	}
	id := r.PathValue("id")
	var body jsonObject
	g.st.Read(func(t *Tenant) {
		if d, found := findGraphDomain(t.Entra, id); found {
			body = append(jsonObject{{"@odata.context", graphContext(r, "domains"+sel.contextSuffix()+"/$entity")}},
				graphDomain(t.Entra, d).selectFields(sel)...)
		}
	})
	if body == nil {
		writeGraphNotFound(w, r, id)
		return
	}
	writeGraphJSON(w, http.StatusOK, body)
}

func (g *graphServer) listFederationConfiguration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		found bool
		value = []jsonObject{}
	)
	g.st.Read(func(t *Tenant) {
		d, ok := findGraphDomain(t.Entra, id)
		if !ok {
			return
		}
		found = true
		id = d.ID
		if strings.EqualFold(d.AuthenticationType, "Federated") {
			value = append(value, graphFederation(t.Okta.Org, d))
		}
	})
	if !found {
		writeGraphNotFound(w, r, id)
		return
	}
	writeGraphJSON(w, http.StatusOK, jsonObject{
		{"@odata.context", graphContext(r, "domains('"+id+"')/federationConfiguration")},
		{"value", value},
	})
}

func findGraphDomain(e Entra, id string) (EntraDomain, bool) {
	for _, d := range e.Domains {
		if strings.EqualFold(d.ID, id) {
			return d, true
		}
	}
	return EntraDomain{}, false
}

// domainProperties are the domain properties the fake serves, in Graph's
// order; each one is typed as in the CSDL (graph_spec_test.go checks).
var domainProperties = []string{
	"authenticationType", "availabilityStatus", "id", "isAdminManaged", "isDefault",
	"isInitial", "isRoot", "isVerified", "supportedServices",
	"passwordValidityPeriodInDays", "passwordNotificationWindowInDays", "state",
}

func graphDomain(e Entra, d EntraDomain) jsonObject {
	var services []string
	if d.IsVerified {
		services = []string{"Email", "OfficeCommunicationsOnline"}
	} else {
		services = []string{}
	}
	return jsonObject{
		{"authenticationType", d.AuthenticationType},
		{"availabilityStatus", nil},
		{"id", d.ID},
		{"isAdminManaged", true},
		{"isDefault", d.ID == graphDefaultDomain(e)},
		{"isInitial", graphIsInitial(e, d)},
		{"isRoot", graphIsRoot(e, d)},
		{"isVerified", d.IsVerified},
		{"supportedServices", services},
		{"passwordValidityPeriodInDays", 2147483647},
		{"passwordNotificationWindowInDays", 14},
		{"state", nil},
	}
}

// graphIsInitial reports whether d is the tenant's *.onmicrosoft.com
// domain; fixtures may mark it on the domain or only name it as
// initialDomain.
func graphIsInitial(e Entra, d EntraDomain) bool {
	return d.IsInitial || strings.EqualFold(d.ID, e.InitialDomain)
}

// graphDefaultDomain picks the domain Graph reports as isDefault. The
// fixture format has no such field; admins almost always make their first
// verified custom domain the default, so the fake does the same and falls
// back to the initial domain.
func graphDefaultDomain(e Entra) string {
	for _, d := range e.Domains {
		if d.IsVerified && !graphIsInitial(e, d) {
			return d.ID
		}
	}
	return e.InitialDomain
}

// graphIsRoot is false for a subdomain of another domain of the tenant, as
// Graph reports it.
func graphIsRoot(e Entra, d EntraDomain) bool {
	for _, other := range e.Domains {
		if other.ID != d.ID && strings.HasSuffix(strings.ToLower(d.ID), "."+strings.ToLower(other.ID)) {
			return false
		}
	}
	return true
}

func graphDomainCapabilities(d EntraDomain) string {
	if d.IsVerified {
		return "Email, OfficeCommunicationsOnline"
	}
	return "None"
}

func graphTenantDisplayName(e Entra) string {
	name, _, _ := strings.Cut(e.InitialDomain, ".")
	if name == "" {
		return "Simulated tenant"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

func graphAnySynced(e Entra) any {
	for _, u := range e.Users {
		if u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled {
			return true
		}
	}
	return nil
}

// graphFederation describes d's federation with the Okta org, with the
// endpoints an Okta Office 365 app configures (WS-Federation).
func graphFederation(oktaOrg string, d EntraDomain) jsonObject {
	org := strings.TrimRight(oktaOrg, "/")
	if org == "" {
		org = "https://okta.invalid"
	}
	appKey := d.IssuerURI[strings.LastIndexByte(d.IssuerURI, '/')+1:]
	base := org + "/app/office365/" + appKey + "/sso/wsfed"
	return jsonObject{
		{"id", graphNameUUID("internalDomainFederation:" + strings.ToLower(d.ID))},
		{"displayName", "Okta federation for " + d.ID},
		{"issuerUri", d.IssuerURI},
		{"metadataExchangeUri", base + "/mex"},
		{"passiveSignInUri", base + "/passive"},
		{"preferredAuthenticationProtocol", "wsFed"},
		{"signingCertificate", base64.StdEncoding.EncodeToString([]byte("simulated signing certificate for " + d.ID))},
		{"activeSignInUri", base + "/active"},
		{"federatedIdpMfaBehavior", "acceptIfMfaDoneByFederatedIdp"},
		{"isSignedAuthenticationRequestRequired", false},
		{"nextSigningCertificate", nil},
		{"passwordResetUri", nil},
		{"promptLoginBehavior", "nativeSupport"},
		{"signingCertificateUpdateStatus", nil},
		{"signOutUri", org + "/login/signout"},
	}
}

// --- users ---

// userProperties are the user properties the fake serves. A $select naming
// any other property is refused rather than answered with a silently thinner
// object. Each is typed as in the CSDL (graph_spec_test.go checks).
var userProperties = []string{
	"id", "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName",
	"accountEnabled", "userType", "creationType", "onPremisesImmutableId",
	"onPremisesSyncEnabled", "onPremisesSecurityIdentifier", "onPremisesDistinguishedName",
	"onPremisesSamAccountName", "onPremisesUserPrincipalName", "onPremisesDomainName",
	"deletedDateTime", "assignedLicenses",
}

// userDefaultSelect is what Graph returns for a user without $select.
var userDefaultSelect = graphSelection{names: []string{
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}}

func graphUserField(u *EntraUser, name string) any {
	switch name {
	case "id":
		return u.ID
	case "businessPhones":
		return []string{}
	case "displayName":
		return u.DisplayName
	case "mail":
		return optionalString(u.Mail)
	case "userPrincipalName":
		return u.UserPrincipalName
	case "accountEnabled":
		return u.AccountEnabled
	case "userType":
		return optionalString(u.UserType)
	case "onPremisesImmutableId":
		return u.OnPremisesImmutableID
	case "onPremisesSyncEnabled":
		return u.OnPremisesSyncEnabled
	case "onPremisesSecurityIdentifier":
		return u.OnPremisesSecurityIdentifier
	case "assignedLicenses":
		return graphAssignedLicenses(u)
	default:
		// Modelled as Graph reports them for a cloud tenant the fixture
		// does not describe further: creationType is null for ordinary
		// members, the other on-premises attributes are null unless synced.
		return nil
	}
}

func optionalString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func graphUserObject(u *EntraUser, sel graphSelection) jsonObject {
	names := sel.names
	if len(names) == 0 {
		names = userDefaultSelect.names
	}
	obj := make(jsonObject, 0, len(names))
	for _, name := range names {
		obj = append(obj, jsonField{name, graphUserField(u, name)})
	}
	return obj
}

// graphUserIndex maps the lookup keys Graph resolves in O(1) to positions in
// Tenant.Entra.Users. It is only a hint: every hit is re-checked against the
// user at that position under the state's read lock, so an index built just
// before a concurrent write can never return the wrong user.
type graphUserIndex struct {
	version     uint64
	byID        map[string]int
	byUPN       map[string]int // lower-cased
	byImmutable map[string][]int
}

func (g *graphServer) userIndex() *graphUserIndex {
	// Read the version before the tenant: if a write lands in between, the
	// index is labelled older than its content and is merely rebuilt once
	// more, never trusted when stale.
	v := g.st.Version()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.idx != nil && g.idx.version == v {
		return g.idx
	}
	idx := &graphUserIndex{version: v}
	g.st.Read(func(t *Tenant) {
		n := len(t.Entra.Users)
		idx.byID = make(map[string]int, n)
		idx.byUPN = make(map[string]int, n)
		idx.byImmutable = make(map[string][]int, n)
		for i := range t.Entra.Users {
			u := &t.Entra.Users[i]
			idx.byID[strings.ToLower(u.ID)] = i
			idx.byUPN[strings.ToLower(u.UserPrincipalName)] = i
			if u.OnPremisesImmutableID != nil {
				idx.byImmutable[*u.OnPremisesImmutableID] = append(idx.byImmutable[*u.OnPremisesImmutableID], i)
			}
		}
	})
	g.idx = idx
	return idx
}

// findUser resolves an object id or a UPN, case-insensitively as Graph does.
// It must be called under st.Read.
func (idx *graphUserIndex) findUser(t *Tenant, key string) *EntraUser {
	users := t.Entra.Users
	lower := strings.ToLower(key)
	for _, m := range []map[string]int{idx.byID, idx.byUPN} {
		if i, ok := m[lower]; ok && i < len(users) &&
			(strings.EqualFold(users[i].ID, key) || strings.EqualFold(users[i].UserPrincipalName, key)) {
			return &users[i]
		}
	}
	// The index was stale: fall back to a scan rather than answer 404 for a
	// user that exists.
	for i := range users {
		if strings.EqualFold(users[i].ID, key) || strings.EqualFold(users[i].UserPrincipalName, key) {
			return &users[i]
		}
	}
	return nil
}

func (g *graphServer) getUser(w http.ResponseWriter, r *http.Request) {
	if !graphRejectUnsupportedQuery(w, r, "$select") {
		return
	}
	sel, ok := parseGraphSelect(w, r, userProperties, "microsoft.graph.user")
	if !ok {
		return
	}
	key := r.PathValue("id")
	idx := g.userIndex()
	var body jsonObject
	g.st.Read(func(t *Tenant) {
		if u := idx.findUser(t, key); u != nil {
			body = append(jsonObject{{"@odata.context", graphContext(r, "users"+sel.contextSuffix()+"/$entity")}},
				graphUserObject(u, sel)...)
		}
	})
	if body == nil {
		writeGraphNotFound(w, r, key)
		return
	}
	writeGraphJSON(w, http.StatusOK, body)
}

func (g *graphServer) listUsers(w http.ResponseWriter, r *http.Request) {
	if !graphRejectUnsupportedQuery(w, r, "$select", "$top", "$filter", "$skiptoken", "$count") {
		return
	}
	q := r.URL.Query()
	sel, ok := parseGraphSelect(w, r, userProperties, "microsoft.graph.user")
	if !ok {
		return
	}
	top := graphDefaultPageSize
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
				fmt.Sprintf("Invalid value '%s' for $top query option found.", s))
			return
		}
		if n < 1 || n > graphMaxPageSize {
			writeGraphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery",
				fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and %d inclusive.", n, graphMaxPageSize))
			return
		}
		top = n
	}
	var filter *graphEqFilter
	if s := q.Get("$filter"); s != "" {
		f, problem := parseGraphEqFilter(s)
		if f == nil {
			writeGraphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", problem)
			return
		}
		filter = f
	}
	offset := 0
	if s := q.Get("$skiptoken"); s != "" {
		n, err := decodeGraphSkipToken(s)
		if err != nil {
			writeGraphError(w, r, http.StatusBadRequest, "Directory_ExpiredPageToken",
				"The specified page token value has expired and can no longer be included in your request.")
			return
		}
		offset = n
	}

	idx := g.userIndex()
	var (
		page []jsonObject
		more bool
	)
	g.st.Read(func(t *Tenant) {
		users := t.Entra.Users
		// Without a filter the page is a slice of the tenant: O(page).
		// With one, the matches come from the index and are re-checked.
		positions := filter.positions(idx, users)
		total := len(users)
		if positions != nil {
			total = len(positions)
		}
		if offset > total {
			offset = total
		}
		end := min(offset+top, total)
		page = make([]jsonObject, 0, end-offset)
		for k := offset; k < end; k++ {
			i := k
			if positions != nil {
				i = positions[k]
			}
			page = append(page, graphUserObject(&users[i], sel))
		}
		more = end < total
	})
	body := jsonObject{{"@odata.context", graphContext(r, "users"+sel.contextSuffix())}}
	if more {
		body = append(body, jsonField{"@odata.nextLink", graphNextLink(r, offset+len(page))})
	}
	body = append(body, jsonField{"value", page})
	writeGraphJSON(w, http.StatusOK, body)
}

// graphNextLink is the absolute URL of the next page: the same query with a
// new $skiptoken, as Graph builds it, so a client that follows it verbatim
// keeps its $select, $filter and $top.
func graphNextLink(r *http.Request, next int) string {
	var b strings.Builder
	b.WriteString(graphBaseURL(r))
	b.WriteString(r.URL.Path)
	sep := byte('?')
	for _, key := range []string{"$select", "$filter", "$top"} {
		if v := r.URL.Query().Get(key); v != "" {
			b.WriteByte(sep)
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
			sep = '&'
		}
	}
	b.WriteByte(sep)
	b.WriteString("$skiptoken=")
	b.WriteString(encodeGraphSkipToken(next))
	return b.String()
}

// The skiptoken is an offset dressed as an opaque token: Graph's tokens are
// opaque, and a client that builds or edits one must be caught.
const graphSkipTokenPrefix = "anchorscan-sim/users/"

func encodeGraphSkipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(graphSkipTokenPrefix + strconv.Itoa(offset)))
}

func decodeGraphSkipToken(token string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, fmt.Errorf("skiptoken is not base64: %w", err)
	}
	rest, ok := strings.CutPrefix(string(raw), graphSkipTokenPrefix)
	if !ok {
		return 0, errors.New("skiptoken was not issued by this server")
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("skiptoken offset %q is not a non-negative integer", rest)
	}
	return n, nil
}

// graphEqFilter is the one $filter shape the fake understands:
// `property eq 'literal'` on an indexed property.
type graphEqFilter struct {
	property string
	value    string
}

// graphFilterable are the properties Graph lets /users filter with eq that
// anchorscan looks users up by.
var graphFilterable = []string{"id", "userPrincipalName", "onPremisesImmutableId", "mail"}

// parseGraphEqFilter returns the filter, or Graph's message for a clause it
// cannot evaluate.
func parseGraphEqFilter(s string) (*graphEqFilter, string) {
	unsupported := fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", strings.Fields(s + " ?")[0])
	prop, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return nil, unsupported
	}
	rest = strings.TrimSpace(rest)
	op, literal, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(op, "eq") {
		return nil, unsupported
	}
	literal = strings.TrimSpace(literal)
	if len(literal) < 2 || literal[0] != '\'' || literal[len(literal)-1] != '\'' {
		return nil, unsupported
	}
	inner := literal[1 : len(literal)-1]
	// OData escapes a quote inside a literal by doubling it; a lone quote
	// means the clause is malformed (e.g. an `and` we do not support).
	if strings.Count(strings.ReplaceAll(inner, "''", ""), "'") != 0 {
		return nil, unsupported
	}
	for _, name := range graphFilterable {
		if strings.EqualFold(name, prop) {
			return &graphEqFilter{property: name, value: strings.ReplaceAll(inner, "''", "'")}, ""
		}
	}
	return nil, unsupported
}

// positions returns the matching users' positions, or nil for "all users"
// when there is no filter. Called under st.Read.
func (f *graphEqFilter) positions(idx *graphUserIndex, users []EntraUser) []int {
	if f == nil {
		return nil
	}
	matches := []int{}
	switch f.property {
	case "id", "userPrincipalName":
		m := idx.byID
		if f.property == "userPrincipalName" {
			m = idx.byUPN
		}
		if i, ok := m[strings.ToLower(f.value)]; ok && i < len(users) && f.matches(&users[i]) {
			return append(matches, i)
		}
	case "onPremisesImmutableId":
		// Anchors compare case-sensitively, as Entra's lookup does.
		for _, i := range idx.byImmutable[f.value] {
			if i < len(users) && f.matches(&users[i]) {
				matches = append(matches, i)
			}
		}
		if len(matches) > 0 {
			return matches
		}
	}
	// Unindexed property, or the index missed (it may predate a write):
	// scan, so a miss is a real miss.
	for i := range users {
		if f.matches(&users[i]) {
			matches = append(matches, i)
		}
	}
	return matches
}

func (f *graphEqFilter) matches(u *EntraUser) bool {
	switch f.property {
	case "id":
		return strings.EqualFold(u.ID, f.value)
	case "userPrincipalName":
		return strings.EqualFold(u.UserPrincipalName, f.value)
	case "mail":
		return strings.EqualFold(u.Mail, f.value)
	case "onPremisesImmutableId":
		return u.OnPremisesImmutableID != nil && *u.OnPremisesImmutableID == f.value
	}
	return false
}

// --- query options ---

// graphSelection is a parsed $select; no names means the entity's default set.
type graphSelection struct {
	names []string
}

func (s graphSelection) contextSuffix() string {
	if len(s.names) == 0 {
		return ""
	}
	return "(" + strings.Join(s.names, ",") + ")"
}

// selectFields keeps the selected fields of obj in the selection's order, or
// all of them without a selection.
func (obj jsonObject) selectFields(sel graphSelection) jsonObject {
	if len(sel.names) == 0 {
		return obj
	}
	out := make(jsonObject, 0, len(sel.names))
	for _, name := range sel.names {
		for _, f := range obj {
			if f.name == name {
				out = append(out, f)
			}
		}
	}
	return out
}

// parseGraphSelect reads $select against the properties the fake serves.
// Graph matches names case-insensitively and answers in the canonical case.
// It writes the error response and returns false on a bad selection.
func parseGraphSelect(w http.ResponseWriter, r *http.Request, known []string, entity string) (graphSelection, bool) {
	raw := r.URL.Query().Get("$select")
	if raw == "" {
		return graphSelection{}, true
	}
	var sel graphSelection
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		canonical := ""
		for _, k := range known {
			if strings.EqualFold(k, part) {
				canonical = k
				break
			}
		}
		if canonical == "" {
			writeGraphError(w, r, http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Could not find a property named '%s' on type '%s'.", part, entity))
			return graphSelection{}, false
		}
		if !seen[canonical] {
			seen[canonical] = true
			sel.names = append(sel.names, canonical)
		}
	}
	return sel, true
}

// graphRejectUnsupportedQuery answers 400 for an OData system query option
// the fake does not implement, so that a client relying on one finds out
// instead of receiving an unfiltered or unordered answer.
func graphRejectUnsupportedQuery(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for key := range r.URL.Query() {
		if !strings.HasPrefix(key, "$") {
			continue
		}
		ok := false
		for _, a := range allowed {
			if strings.EqualFold(a, key) {
				ok = true
			}
		}
		if !ok {
			writeGraphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery",
				fmt.Sprintf("The query option '%s' is not supported by the simulated Graph server on this resource.", key))
			return false
		}
	}
	return true
}

// --- responses ---

func graphBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func graphContext(r *http.Request, fragment string) string {
	return graphBaseURL(r) + "/v1.0/$metadata#" + fragment
}

func writeGraphJSON(w http.ResponseWriter, status int, body jsonObject) {
	buf := body.appendJSON(make([]byte, 0, 4096))
	w.Header().Set("Content-Type", graphContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(status)
	_, _ = w.Write(buf) // the client went away; nothing left to tell it
}

// writeGraphError writes Graph's OData error body; innerError carries the
// request ids a support ticket asks for.
func writeGraphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	h := w.Header()
	writeGraphJSON(w, status, jsonObject{{"error", jsonObject{
		{"code", code},
		{"message", message},
		{"innerError", jsonObject{
			{"date", time.Now().UTC().Format(time.RFC3339)},
			{"request-id", h.Get("request-id")},
			{"client-request-id", h.Get("client-request-id")},
		}},
	}}})
}

func writeGraphNotFound(w http.ResponseWriter, r *http.Request, id string) {
	writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

// writeGraphThrottled answers 429 with the headers Graph sends only then.
// The fault injector uses it.
func writeGraphThrottled(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeGraphError(w, r, http.StatusTooManyRequests, "TooManyRequests",
		"Too many requests are being made. Please retry later.")
}

// maxGraphRequestBody bounds a decoded request body; Graph itself refuses
// bodies over 4 MB.
const maxGraphRequestBody = 4 << 20

// readGraphRequestBody returns r's body, gunzipped when the client sent
// Content-Encoding: gzip, as the Graph SDK's compression middleware does for
// every PATCH and POST. The limit applies after decompression.
func readGraphRequestBody(r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("request body says Content-Encoding gzip but is not gzip: %w", err)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, fmt.Errorf("request body has unsupported Content-Encoding %q", enc)
	}
	data, err := io.ReadAll(io.LimitReader(body, maxGraphRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(data) > maxGraphRequestBody {
		return nil, fmt.Errorf("request body exceeds %d bytes", maxGraphRequestBody)
	}
	return data, nil
}

func newGraphUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// graphNameUUID derives a stable UUID from name, so that ids the fixture
// does not carry stay the same across runs.
func graphNameUUID(name string) string {
	sum := sha1.Sum([]byte(name))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// --- ordered JSON ---

// jsonObject is a JSON object whose fields keep their order, as Graph's do,
// and that encodes without reflection: a 999-user page is encoded once per
// request and must stay cheap at 100,000 users. Values are nil, string,
// *string, bool, *bool, int, []string, jsonObject or []jsonObject.
type jsonObject []jsonField

type jsonField struct {
	name  string
	value any
}

func (obj jsonObject) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range obj {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		b = appendJSONValue(b, f.value)
	}
	return append(b, '}')
}

func appendJSONValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, v)
	case *string:
		if v == nil {
			return append(b, "null"...)
		}
		return appendJSONString(b, *v)
	case bool:
		return strconv.AppendBool(b, v)
	case *bool:
		if v == nil {
			return append(b, "null"...)
		}
		return strconv.AppendBool(b, *v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']')
	case jsonObject:
		return v.appendJSON(b)
	case []jsonObject:
		b = append(b, '[')
		for i, o := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = o.appendJSON(b)
		}
		return append(b, ']')
	default:
		// A programming error in this file; fail the response visibly.
		panic(fmt.Sprintf("sim: jsonObject cannot encode %T", v))
	}
}

// appendJSONString quotes s as JSON. Directory data is attacker-controlled,
// so control characters are escaped and invalid UTF-8 becomes U+FFFD, as
// Graph's own serializer does; everything else is sent verbatim.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
