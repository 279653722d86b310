package sim

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The immutableId expressions the fake evaluates (DESIGN §1). Okta's
// expression language is far richer; a tenant that uses anything else is
// refused rather than evaluated wrongly.
const (
	oktaExprDefault     = `hasDirectoryUser()?findDirectoryUser().externalId:null`
	oktaExprRecommended = `hasDirectoryUser()?findDirectoryUser().externalId:user.getInternalProperty("id")`
	oktaExprOktaUserID  = `user.getInternalProperty("id")`
)

// maxOktaRequestBody bounds a write's body; Okta's own limit is larger, but
// nothing anchorscan sends comes near it.
const maxOktaRequestBody = 1 << 20

// oktaWriteError is a refusal with Okta's error code, summary and causes.
type oktaWriteError struct {
	status  int
	code    string
	summary string
	causes  []string
}

func (e *oktaWriteError) Error() string { return e.code + ": " + e.summary }

func oktaValidation(field, cause string) *oktaWriteError {
	return &oktaWriteError{status: http.StatusBadRequest, code: "E0000001", summary: "Api validation failed: " + field, causes: []string{cause}}
}

func oktaNotFound(id, kind string) *oktaWriteError {
	return &oktaWriteError{status: http.StatusNotFound, code: "E0000007", summary: "Not found: Resource not found: " + id + " (" + kind + ")"}
}

func (s *oktaServer) writeRefusal(w http.ResponseWriter, err error) {
	var we *oktaWriteError
	if errors.As(err, &we) {
		s.writeError(w, we.status, we.code, we.summary, we.causes...)
		return
	}
	s.writeError(w, http.StatusInternalServerError, "E0000009", "Internal Server Error", err.Error())
}

// readOktaJSON decodes the body into v; a body that is not JSON gets Okta's
// E0000003.
func readOktaJSON(r *http.Request, v any) *oktaWriteError {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxOktaRequestBody+1))
	if err != nil || len(data) > maxOktaRequestBody {
		return &oktaWriteError{status: http.StatusBadRequest, code: "E0000003", summary: "The request body was not well-formed."}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil || dec.More() {
		return &oktaWriteError{status: http.StatusBadRequest, code: "E0000003", summary: "The request body was not well-formed."}
	}
	return nil
}

// oktaProfilePatch is the O365 app user profile attributes the fake models;
// a present key with a nil value is JSON null.
type oktaProfilePatch struct {
	immutableID    *string
	hasImmutableID bool
	licenses       []string
	hasLicenses    bool
	roles          []string
	hasRoles       bool
}

// decodeOktaProfile reads an app user profile, refusing attributes the
// simulated O365 schema does not have and values of the wrong type.
func decodeOktaProfile(profile map[string]json.RawMessage) (oktaProfilePatch, *oktaWriteError) {
	var p oktaProfilePatch
	for key, raw := range profile {
		null := string(bytes.TrimSpace(raw)) == "null"
		switch key {
		case "immutableId":
			p.hasImmutableID = true
			if null {
				continue
			}
			var v string
			if json.Unmarshal(raw, &v) != nil {
				return p, oktaValidation("profile", "immutableId: must be a string")
			}
			p.immutableID = &v
		case "licenses", "roles":
			var v []string
			if !null && json.Unmarshal(raw, &v) != nil {
				return p, oktaValidation("profile", key+": must be an array of strings")
			}
			if v == nil {
				v = []string{}
			}
			if key == "licenses" {
				p.licenses, p.hasLicenses = v, true
			} else {
				p.roles, p.hasRoles = v, true
			}
		default:
			return p, oktaValidation("profile", key+": not an attribute of the simulated Office 365 app user profile (immutableId, licenses, roles)")
		}
	}
	return p, nil
}

// adInstances lists the active_directory app instances in tenant order with
// the names expressions refer to them by: the first is active_directory,
// the n-th active_directory_n. (Okta's naming of further instances of one
// template is not confirmed against a live org.)
func adInstances(t *Tenant) map[string]string {
	names := map[string]string{}
	n := 0
	for _, a := range t.Okta.Apps {
		if a.Name != "active_directory" {
			continue
		}
		n++
		if n == 1 {
			names["active_directory"] = a.ID
		} else {
			names["active_directory_"+strconv.Itoa(n)] = a.ID
		}
	}
	return names
}

// evalImmutableIDExpression evaluates the O365 immutableId mapping for an
// Okta user, as Okta does on assignment. nil is the expression's null.
func evalImmutableIDExpression(t *Tenant, expression, userID string) (*string, error) {
	var adUsers []*OktaAppUser
	adApps := adInstances(t)
	isAD := map[string]bool{}
	for _, id := range adApps {
		isAD[id] = true
	}
	for i := range t.Okta.AppUsers {
		if au := &t.Okta.AppUsers[i]; au.UserID == userID && isAD[au.AppID] {
			adUsers = append(adUsers, au)
		}
	}
	directoryExternalID := func() *string {
		// hasDirectoryUser() is true only for exactly one AD source.
		if len(adUsers) != 1 || adUsers[0].ExternalID == nil {
			return nil
		}
		v := *adUsers[0].ExternalID
		return &v
	}
	id := userID
	expr := strings.TrimSpace(expression)
	switch expr {
	case "":
		return nil, nil
	case oktaExprDefault:
		return directoryExternalID(), nil
	case oktaExprRecommended:
		if v := directoryExternalID(); v != nil {
			return v, nil
		}
		return &id, nil
	case oktaExprOktaUserID:
		return &id, nil
	}
	if instance, ok := strings.CutSuffix(expr, ".externalId"); ok {
		appID, known := adApps[instance]
		if !known {
			return nil, fmt.Errorf("expression %q names app instance %q, which is not an active_directory instance of this org", expression, instance)
		}
		for _, au := range adUsers {
			if au.AppID == appID && au.ExternalID != nil {
				v := *au.ExternalID
				return &v, nil
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("expression %q is not one the simulator evaluates (%s; %s; %s; <active_directory instance>.externalId)",
		expression, oktaExprDefault, oktaExprRecommended, oktaExprOktaUserID)
}

// newOktaAppUserID returns a fresh 0ua… id not yet used in t.
func newOktaAppUserID(t *Tenant) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	for {
		var b [17]byte
		_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
		id := []byte("0ua")
		for _, c := range b {
			id = append(id, alphabet[c&31])
		}
		if !slices.ContainsFunc(t.Okta.AppUsers, func(au OktaAppUser) bool { return au.AppUserID == string(id) }) {
			return string(id)
		}
	}
}

func findOktaApp(t *Tenant, id string) *OktaApp {
	for i := range t.Okta.Apps {
		if t.Okta.Apps[i].ID == id {
			return &t.Okta.Apps[i]
		}
	}
	return nil
}

func findOktaAppUser(t *Tenant, appID, userID string) int {
	return slices.IndexFunc(t.Okta.AppUsers, func(au OktaAppUser) bool { return au.AppID == appID && au.UserID == userID })
}

type oktaAssignBody struct {
	ID          string `json:"id"`
	Scope       string `json:"scope"`
	Credentials *struct {
		UserName string `json:"userName"`
	} `json:"credentials"`
	Profile map[string]json.RawMessage `json:"profile"`
}

// assignAppUser is POST /api/v1/apps/{appId}/users. For the O365 app it
// evaluates the immutableId mapping (a profile.immutableId in the body is
// used only where the mapping yields null), and sets licences and roles to
// what the body says, empty when it says nothing: Okta overwrites them. A
// user already assigned is reassigned in place, with the same overwrite.
func (s *oktaServer) assignAppUser(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appId")
	var body oktaAssignBody
	if werr := readOktaJSON(r, &body); werr != nil {
		s.writeRefusal(w, werr)
		return
	}
	var obj oktaAppUserJSON
	err := s.st.update(func(t *Tenant, rec *changeRecorder) error {
		app := findOktaApp(t, appID)
		if app == nil {
			return oktaNotFound(appID, "AppInstance")
		}
		if app.Name != "office365" {
			return oktaValidation("appId", "the simulator assigns users to office365 app instances only")
		}
		if body.ID == "" {
			return oktaValidation("id", "id: the Okta user id is required")
		}
		if body.Scope != "" && body.Scope != "USER" {
			return oktaValidation("scope", "scope: only USER assignments are supported, got "+strconv.Quote(body.Scope))
		}
		ui := slices.IndexFunc(t.Okta.Users, func(u OktaUser) bool { return u.ID == body.ID })
		if ui < 0 {
			return oktaNotFound(body.ID, "User")
		}
		user := t.Okta.Users[ui]
		profile, werr := decodeOktaProfile(body.Profile)
		if werr != nil {
			return werr
		}
		userName := user.Login // the O365 template's ${source.login}
		if body.Credentials != nil && body.Credentials.UserName != "" {
			userName = body.Credentials.UserName
		}
		licenses, roles := profile.licenses, profile.roles
		if licenses == nil {
			licenses = []string{}
		}
		if roles == nil {
			roles = []string{}
		}
		if i := findOktaAppUser(t, appID, user.ID); i >= 0 {
			au := &t.Okta.AppUsers[i]
			au.UserName = userName
			au.Profile.Licenses, au.Profile.Roles = licenses, roles
			rec.appUser(oktaEventAppUserUpdate, app, au, &t.Okta.Users[ui])
			obj = oktaAppUserObject(au, app, oktaBaseURL(r))
			return nil
		}
		expression := ""
		if app.ImmutableIDMapping != nil {
			expression = app.ImmutableIDMapping.Expression
		}
		immutableID, err := evalImmutableIDExpression(t, expression, user.ID)
		if err != nil {
			return oktaValidation("profile.immutableId", err.Error())
		}
		appUserID := newOktaAppUserID(t)
		if immutableID == nil && profile.immutableID != nil && *profile.immutableID != "" {
			immutableID = profile.immutableID
		}
		if immutableID == nil {
			// The O365 app substitutes the new app user's own id.
			immutableID = &appUserID
		}
		au := OktaAppUser{
			AppID: appID, UserID: user.ID, AppUserID: appUserID, UserName: userName, Status: "PROVISIONED",
			Profile: AppUserProfile{ImmutableID: immutableID, Licenses: licenses, Roles: roles},
		}
		// Provisioning links the app user to the Entra user it matches by
		// UPN; the fake creates no Entra users.
		for _, eu := range t.Entra.Users {
			if strings.EqualFold(eu.UserPrincipalName, userName) {
				ext := eu.ID
				au.ExternalID = &ext
				break
			}
		}
		t.Okta.AppUsers = append(t.Okta.AppUsers, au)
		rec.appUser(oktaEventAppUserAdd, app, &au, &t.Okta.Users[ui])
		obj = oktaAppUserObject(&t.Okta.AppUsers[len(t.Okta.AppUsers)-1], app, oktaBaseURL(r))
		return nil
	})
	if err != nil {
		s.writeRefusal(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, obj)
}

// unassignAppUser is DELETE /api/v1/apps/{appId}/users/{userId}. With the
// O365 app's Deactivate Users ENABLED it deprovisions the linked Entra user
// (the one whose id is the app user's externalId): sign-in blocked and
// licences removed, as Okta's Microsoft 365 provisioning does.
func (s *oktaServer) unassignAppUser(w http.ResponseWriter, r *http.Request) {
	appID, userID := r.PathValue("appId"), r.PathValue("userId")
	err := s.st.update(func(t *Tenant, rec *changeRecorder) error {
		app := findOktaApp(t, appID)
		if app == nil {
			return oktaNotFound(appID, "AppInstance")
		}
		i := findOktaAppUser(t, appID, userID)
		if i < 0 {
			return oktaNotFound(userID, "AppUser")
		}
		au := t.Okta.AppUsers[i]
		t.Okta.AppUsers = slices.Delete(t.Okta.AppUsers, i, i+1)
		var user *OktaUser
		if ui := findOktaUserIndex(t, userID); ui >= 0 {
			user = &t.Okta.Users[ui]
		}
		rec.appUser(oktaEventAppUserRemove, app, &au, user)
		if app.Name == "office365" && app.DeactivateUsers == "ENABLED" && au.ExternalID != nil {
			for k := range t.Entra.Users {
				if eu := &t.Entra.Users[k]; eu.ID == *au.ExternalID {
					eu.AccountEnabled = false
					eu.AssignedLicenses = nil
					rec.entraUser(eu.ID)
				}
			}
		}
		return nil
	})
	if err != nil {
		s.writeRefusal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// updateAppUser is POST /api/v1/apps/{appId}/users/{userId}: a partial
// profile update (only the attributes sent change) and/or a new userName.
func (s *oktaServer) updateAppUser(w http.ResponseWriter, r *http.Request) {
	appID, userID := r.PathValue("appId"), r.PathValue("userId")
	var body oktaAssignBody
	if werr := readOktaJSON(r, &body); werr != nil {
		s.writeRefusal(w, werr)
		return
	}
	var obj oktaAppUserJSON
	err := s.st.update(func(t *Tenant, rec *changeRecorder) error {
		app := findOktaApp(t, appID)
		if app == nil {
			return oktaNotFound(appID, "AppInstance")
		}
		i := findOktaAppUser(t, appID, userID)
		if i < 0 {
			return oktaNotFound(userID, "AppUser")
		}
		if body.Profile == nil && body.Credentials == nil {
			return oktaValidation("appUser", "the body must carry a profile or credentials")
		}
		p, werr := decodeOktaProfile(body.Profile)
		if werr != nil {
			return werr
		}
		au := &t.Okta.AppUsers[i]
		if p.hasImmutableID {
			au.Profile.ImmutableID = p.immutableID
		}
		if p.hasLicenses {
			au.Profile.Licenses = p.licenses
		}
		if p.hasRoles {
			au.Profile.Roles = p.roles
		}
		if body.Credentials != nil && body.Credentials.UserName != "" {
			au.UserName = body.Credentials.UserName
		}
		var user *OktaUser
		if ui := findOktaUserIndex(t, userID); ui >= 0 {
			user = &t.Okta.Users[ui]
		}
		rec.appUser(oktaEventAppUserUpdate, app, au, user)
		obj = oktaAppUserObject(au, app, oktaBaseURL(r))
		return nil
	})
	if err != nil {
		s.writeRefusal(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, obj)
}

type oktaStatusJSON struct {
	Status string `json:"status"`
}

type oktaCapabilitiesBody struct {
	Create *struct {
		LifecycleCreate *oktaStatusJSON `json:"lifecycleCreate"`
	} `json:"create"`
	Update *struct {
		LifecycleDeactivate *oktaStatusJSON `json:"lifecycleDeactivate"`
		Profile             *oktaStatusJSON `json:"profile"`
		Password            map[string]any  `json:"password"`
	} `json:"update"`
}

// updateFeature is PUT /api/v1/apps/{appId}/features/USER_PROVISIONING.
// Only lifecycleDeactivate is modelled; the other capabilities stay as the
// fake serves them.
func (s *oktaServer) updateFeature(w http.ResponseWriter, r *http.Request) {
	appID, name := r.PathValue("appId"), r.PathValue("featureName")
	var body oktaCapabilitiesBody
	if werr := readOktaJSON(r, &body); werr != nil {
		s.writeRefusal(w, werr)
		return
	}
	var app OktaApp
	err := s.st.update(func(t *Tenant, rec *changeRecorder) error {
		a := findOktaApp(t, appID)
		if a == nil {
			return oktaNotFound(appID, "AppInstance")
		}
		if a.Name != "office365" || name != "USER_PROVISIONING" {
			return oktaNotFound(name, "AppFeature")
		}
		if body.Update != nil && body.Update.LifecycleDeactivate != nil {
			switch st := body.Update.LifecycleDeactivate.Status; st {
			case "ENABLED", "DISABLED":
				a.DeactivateUsers = st
			default:
				return oktaValidation("capabilities", "update.lifecycleDeactivate.status: want ENABLED or DISABLED, got "+strconv.Quote(st))
			}
		}
		app = *a
		app.ImmutableIDMapping = nil
		return nil
	})
	if err != nil {
		s.writeRefusal(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, oktaUserProvisioningFeature(&app, oktaBaseURL(r)))
}

type oktaMappingBody struct {
	Properties map[string]*struct {
		Expression *string `json:"expression"`
		PushStatus *string `json:"pushStatus"`
	} `json:"properties"`
}

// updateMapping is POST /api/v1/mappings/{mappingId}: properties not sent
// keep their mapping. immutableId takes any expression the fake can
// evaluate; the fixed firstName/lastName/email mappings may be sent back
// unchanged but not altered.
func (s *oktaServer) updateMapping(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("mappingId")
	var body oktaMappingBody
	if werr := readOktaJSON(r, &body); werr != nil {
		s.writeRefusal(w, werr)
		return
	}
	var obj map[string]any
	err := s.st.update(func(t *Tenant, rec *changeRecorder) error {
		var app *OktaApp
		for i := range t.Okta.Apps {
			if a := &t.Okta.Apps[i]; a.ImmutableIDMapping != nil && oktaMappingID(a.ID) == id {
				app = a
			}
		}
		if app == nil {
			return oktaNotFound(id, "Mapping")
		}
		if len(body.Properties) == 0 {
			return oktaValidation("properties", "properties: at least one property mapping is required")
		}
		next := *app.ImmutableIDMapping
		fixed := map[string]string{"firstName": "user.firstName", "lastName": "user.lastName", "email": "user.email"}
		for name, p := range body.Properties {
			if p == nil {
				return oktaValidation("properties", name+": removing a mapping is not supported by the simulator")
			}
			if name != "immutableId" {
				want, ok := fixed[name]
				if !ok || (p.Expression != nil && *p.Expression != want) || (p.PushStatus != nil && *p.PushStatus != "PUSH") {
					return oktaValidation("properties", name+": the simulator maps only immutableId; other properties are fixed")
				}
				continue
			}
			if p.Expression != nil {
				if _, err := evalImmutableIDExpression(t, *p.Expression, "00uexpressioncheck"); err != nil || strings.TrimSpace(*p.Expression) == "" {
					return oktaValidation("properties", "immutableId.expression: "+strconv.Quote(*p.Expression)+" is not an expression the simulator evaluates")
				}
				next.Expression = *p.Expression
			}
			if p.PushStatus != nil {
				if *p.PushStatus != "PUSH" && *p.PushStatus != "DONT_PUSH" {
					return oktaValidation("properties", "immutableId.pushStatus: want PUSH or DONT_PUSH, got "+strconv.Quote(*p.PushStatus))
				}
				next.PushStatus = *p.PushStatus
			}
		}
		app.ImmutableIDMapping = &next
		obj = oktaMappingObject(app, oktaBaseURL(r))
		return nil
	})
	if err != nil {
		s.writeRefusal(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, obj)
}
