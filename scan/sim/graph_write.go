package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Graph's messages for the refusals the fake reproduces. The first is the
// live text (DESIGN §1). The others are unconfirmed against a live tenant
// (DESIGN §10): they follow Graph's wording for its other uniqueness and
// validation errors, and callers must branch on the status and code, never
// on these strings.
const (
	graphMsgSyncMastered = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
	// Unconfirmed: the text Entra sends when onPremisesImmutableId changes
	// on a user whose UPN is in a federated domain.
	graphMsgFederatedAnchor = "Unable to update the specified properties for objects in a federated domain: onPremisesImmutableId cannot be changed while the userPrincipalName is in a federated domain. Move the userPrincipalName to a managed domain first."
	// Unconfirmed: a held anchor may also belong to a soft-deleted user.
	graphMsgAnchorTaken = "Another object with the same value for property onPremisesImmutableId already exists."
	graphMsgUPNTaken    = "Another object with the same value for property userPrincipalName already exists."
	graphMsgUPNDomain   = "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."
	graphMsgBadPayload  = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
)

// graphMaxBatchSteps is Graph's limit on the requests of one $batch.
const graphMaxBatchSteps = 20

// graphReadOnlyUserProperties are user properties Graph serves but refuses
// in a PATCH.
var graphReadOnlyUserProperties = map[string]bool{
	"id": true, "onPremisesSyncEnabled": true, "onPremisesSecurityIdentifier": true,
	"onPremisesDistinguishedName": true, "onPremisesSamAccountName": true,
	"onPremisesUserPrincipalName": true, "onPremisesDomainName": true,
	"creationType": true, "deletedDateTime": true, "assignedLicenses": true,
}

// graphUserPatch is a decoded PATCH body: nil fields are absent.
type graphUserPatch struct {
	upn            *string
	anchor         *string // the new value when setAnchor
	setAnchor      bool    // onPremisesImmutableId present (null clears: anchor nil)
	accountEnabled *bool
	displayName    *string
	mail           *string
}

// graphRefusal is a 4xx the fake answers with Graph's error body.
type graphRefusal struct {
	status  int
	code    string
	message string
}

func (e *graphRefusal) Error() string { return e.code + ": " + e.message }

func badRequest(message string) *graphRefusal {
	return &graphRefusal{status: http.StatusBadRequest, code: "Request_BadRequest", message: message}
}

// decodeGraphUserPatch reads a PATCH body property by property, so that an
// unknown, read-only or mistyped property is refused by name rather than
// ignored, as Graph does.
func decodeGraphUserPatch(body []byte) (*graphUserPatch, *graphRefusal) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return nil, &graphRefusal{status: http.StatusBadRequest, code: "BadRequest", message: graphMsgBadPayload}
	}
	p := &graphUserPatch{}
	for name, raw := range fields {
		isNull := string(bytes.TrimSpace(raw)) == "null"
		invalid := badRequest(fmt.Sprintf("Invalid value specified for property '%s' of resource 'User'.", name))
		str := func() (*string, bool) {
			var s string
			if isNull || json.Unmarshal(raw, &s) != nil {
				return nil, false
			}
			return &s, true
		}
		switch name {
		case "@odata.type":
			// The SDK sends the type annotation with every model.
			if s, ok := str(); !ok || *s != "#microsoft.graph.user" {
				return nil, invalid
			}
		case "userPrincipalName":
			s, ok := str()
			if !ok {
				return nil, invalid
			}
			p.upn = s
		case "onPremisesImmutableId":
			p.setAnchor = true
			if isNull {
				continue
			}
			s, ok := str()
			if !ok || *s == "" {
				// Clearing is JSON null; an empty string is not a value.
				return nil, invalid
			}
			p.anchor = s
		case "accountEnabled":
			var b bool
			if isNull || json.Unmarshal(raw, &b) != nil {
				return nil, invalid
			}
			p.accountEnabled = &b
		case "displayName":
			s, ok := str()
			if !ok || *s == "" {
				return nil, invalid
			}
			p.displayName = s
		case "mail":
			if isNull {
				empty := ""
				p.mail = &empty
				continue
			}
			s, ok := str()
			if !ok {
				return nil, invalid
			}
			p.mail = s
		case "passwordProfile":
			// Accepted and not stored: parking may need a new password
			// (DESIGN §10), and the fake keeps no credentials.
			var pp map[string]any
			if isNull || json.Unmarshal(raw, &pp) != nil {
				return nil, invalid
			}
		default:
			if graphReadOnlyUserProperties[name] {
				return nil, badRequest(fmt.Sprintf("Property '%s' is read-only and cannot be set.", name))
			}
			return nil, badRequest(fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", name))
		}
	}
	return p, nil
}

// applyGraphUserPatch checks p against Entra's rules and applies it to the
// user named key, all or nothing, and returns the user's id. Called under
// st.update.
func applyGraphUserPatch(t *Tenant, key string, p *graphUserPatch) (string, *graphRefusal) {
	users := t.Entra.Users
	target := -1
	for i := range users {
		if strings.EqualFold(users[i].ID, key) || strings.EqualFold(users[i].UserPrincipalName, key) {
			target = i
			break
		}
	}
	if target < 0 {
		return "", &graphRefusal{status: http.StatusNotFound, code: "Request_ResourceNotFound",
			message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key)}
	}
	u := &users[target]
	if u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled {
		return "", badRequest(graphMsgSyncMastered)
	}
	if p.setAnchor && !sameAnchor(u.OnPremisesImmutableID, p.anchor) {
		// Checked against the UPN before this PATCH: parking must be its own
		// PATCH, while setting the anchor and restoring the UPN may share one.
		if graphDomainFederated(t.Entra, upnDomain(u.UserPrincipalName)) {
			return "", badRequest(graphMsgFederatedAnchor)
		}
		if p.anchor != nil {
			for i := range users {
				if i != target && users[i].OnPremisesImmutableID != nil && *users[i].OnPremisesImmutableID == *p.anchor {
					return "", badRequest(graphMsgAnchorTaken)
				}
			}
		}
	}
	if p.upn != nil && !strings.EqualFold(*p.upn, u.UserPrincipalName) {
		local, domain, ok := strings.Cut(*p.upn, "@")
		if !ok || local == "" || strings.Contains(domain, "@") {
			return "", badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
		}
		if d, found := findGraphDomain(t.Entra, domain); !found || !d.IsVerified {
			return "", badRequest(graphMsgUPNDomain)
		}
		for i := range users {
			if i != target && strings.EqualFold(users[i].UserPrincipalName, *p.upn) {
				return "", badRequest(graphMsgUPNTaken)
			}
		}
	}
	if p.setAnchor {
		if p.anchor == nil {
			u.OnPremisesImmutableID = nil
		} else {
			v := *p.anchor
			u.OnPremisesImmutableID = &v
		}
	}
	if p.upn != nil {
		u.UserPrincipalName = *p.upn
	}
	if p.accountEnabled != nil {
		u.AccountEnabled = *p.accountEnabled
	}
	if p.displayName != nil {
		u.DisplayName = *p.displayName
	}
	if p.mail != nil {
		u.Mail = *p.mail
	}
	return u.ID, nil
}

func sameAnchor(current, next *string) bool {
	if current == nil || next == nil {
		return current == nil && next == nil
	}
	return *current == *next // anchors compare case-sensitively
}

func upnDomain(upn string) string {
	return upn[strings.LastIndexByte(upn, '@')+1:]
}

// graphDomainFederated walks from domain up its parents; the first domain
// the tenant lists decides, so a listed managed subdomain overrides its
// federated parent and an unlisted one inherits it (as classify reads it).
func graphDomainFederated(e Entra, domain string) bool {
	for d := strings.ToLower(domain); d != ""; {
		if found, ok := findGraphDomain(e, d); ok {
			return strings.EqualFold(found.AuthenticationType, "Federated")
		}
		_, parent, ok := strings.Cut(d, ".")
		if !ok {
			return false
		}
		d = parent
	}
	return false
}

func graphAssignedLicenses(u *EntraUser) []jsonObject {
	out := make([]jsonObject, 0, len(u.AssignedLicenses))
	for _, sku := range u.AssignedLicenses {
		out = append(out, jsonObject{{"disabledPlans", []string{}}, {"skuId", sku}})
	}
	return out
}

// patchUser is PATCH /v1.0/users/{id or UPN}: 204 No Content, or Graph's
// 400/404 with the rule that refused it.
func (g *graphServer) patchUser(w http.ResponseWriter, r *http.Request) {
	if !graphRejectUnsupportedQuery(w, r) {
		return
	}
	body, err := readGraphRequestBody(r)
	if err != nil {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", graphMsgBadPayload+" ("+err.Error()+")")
		return
	}
	p, refusal := decodeGraphUserPatch(body)
	if refusal == nil {
		err = g.st.update(func(t *Tenant, rec *changeRecorder) error {
			id, rf := applyGraphUserPatch(t, r.PathValue("id"), p)
			if rf != nil {
				return rf
			}
			rec.entraUser(id)
			return nil
		})
		if err != nil && !errors.As(err, &refusal) {
			writeGraphError(w, r, http.StatusInternalServerError, "generalException", err.Error())
			return
		}
	}
	if refusal != nil {
		writeGraphError(w, r, refusal.status, refusal.code, refusal.message)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// graphBatchRequest and graphBatchStep are the JSON batching request body.
type graphBatchRequest struct {
	Requests []graphBatchStep `json:"requests"`
}

type graphBatchStep struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

type graphBatchResponse struct {
	Responses []graphBatchStepResult `json:"responses"`
}

type graphBatchStepResult struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch is POST /v1.0/$batch: up to 20 steps run in order through the same
// routes as single requests; a step whose dependency failed is answered 424
// without running, as Graph does.
func (g *graphServer) batch(w http.ResponseWriter, r *http.Request) {
	raw, err := readGraphRequestBody(r)
	if err != nil {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", graphMsgBadPayload+" ("+err.Error()+")")
		return
	}
	var req graphBatchRequest
	if err := json.Unmarshal(raw, &req); err != nil || req.Requests == nil {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(req.Requests) > graphMaxBatchSteps {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Number of batch request steps exceeds the maximum of %d.", graphMaxBatchSteps))
		return
	}
	seen := map[string]bool{}
	for _, s := range req.Requests {
		if s.ID == "" || s.Method == "" || s.URL == "" {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "Batch request steps must have an id, a method and a url.")
			return
		}
		if seen[s.ID] {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request contains duplicate id '%s'.", s.ID))
			return
		}
		for _, dep := range s.DependsOn {
			if !seen[dep] {
				// Dependencies must name an earlier step: that also rules
				// out cycles.
				writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
					fmt.Sprintf("Batch request step '%s' depends on '%s', which is not an earlier step.", s.ID, dep))
				return
			}
		}
		seen[s.ID] = true
	}
	status := map[string]int{}
	out := graphBatchResponse{Responses: make([]graphBatchStepResult, 0, len(req.Requests))}
	for _, s := range req.Requests {
		res := g.runBatchStep(r, s, status)
		status[s.ID] = res.Status
		out.Responses = append(out.Responses, res)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeGraphError(w, r, http.StatusInternalServerError, "generalException", err.Error())
		return
	}
	w.Header().Set("Content-Type", graphContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (g *graphServer) runBatchStep(outer *http.Request, s graphBatchStep, status map[string]int) graphBatchStepResult {
	for _, dep := range s.DependsOn {
		if status[dep] >= 400 {
			rec := newStepRecorder()
			writeGraphError(rec, outer, http.StatusFailedDependency, "FailedDependency",
				fmt.Sprintf("The request '%s' depends on the request '%s', which failed.", s.ID, dep))
			return rec.result(s.ID)
		}
	}
	target := s.URL
	if strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "http://") {
		rec := newStepRecorder()
		writeGraphError(rec, outer, http.StatusBadRequest, "BadRequest", "Batch step urls must be relative, e.g. /users/{id}.")
		return rec.result(s.ID)
	}
	target = "/v1.0/" + strings.TrimPrefix(target, "/")
	var body *bytes.Reader
	if len(s.Body) > 0 {
		body = bytes.NewReader(s.Body)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(s.Method), target, body)
	if err != nil {
		rec := newStepRecorder()
		writeGraphError(rec, outer, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch step '%s' has an invalid url or method.", s.ID))
		return rec.result(s.ID)
	}
	req.Host = outer.Host
	req.TLS = outer.TLS
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	if len(s.Body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := newStepRecorder()
	g.mux.ServeHTTP(rec, req)
	return rec.result(s.ID)
}

// stepRecorder captures one $batch step's response.
type stepRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newStepRecorder() *stepRecorder { return &stepRecorder{header: http.Header{}} }

func (s *stepRecorder) Header() http.Header { return s.header }

func (s *stepRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.body.Write(b)
}

func (s *stepRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

func (s *stepRecorder) result(id string) graphBatchStepResult {
	res := graphBatchStepResult{ID: id, Status: s.status, Headers: map[string]string{}}
	if res.Status == 0 {
		res.Status = http.StatusOK
	}
	if ct := s.header.Get("Content-Type"); ct != "" {
		res.Headers["Content-Type"] = ct
	}
	if s.body.Len() > 0 {
		res.Body = json.RawMessage(s.body.Bytes())
	}
	return res
}
