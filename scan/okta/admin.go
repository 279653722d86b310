package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/record"
)

// ErrNotFound marks a 404: the app, user, assignment or mapping does not
// exist (for AppUser: the user is not assigned to the app).
var ErrNotFound = errors.New("not found")

// Admin makes the few Okta writes a fix plan needs (DESIGN §6), on the same
// SDK client, token handling and 429 retries as the collector.
type Admin struct {
	c *Collector
}

// AppUserState is an app assignment as apply reads and compares it.
type AppUserState struct {
	AppID, UserID, ExternalID, UserName, Status, ImmutableID string
	Licenses, Roles                                          []string
}

// MappingState is the immutableId property of an Okta user → app mapping.
type MappingState struct {
	ID, Expression, PushStatus string
}

// AssignRequest is an O365 assignment. Licences and roles are always sent:
// Okta overwrites them with what the assignment carries, nil included, so
// the caller must pass the ones to keep.
type AssignRequest struct {
	UserName    string
	ImmutableID string // "" lets the mapping decide
	Licenses    []string
	Roles       []string
}

// NewAdmin checks cfg and builds the client exactly as New does. It sends
// no request.
func NewAdmin(cfg Config) (*Admin, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Admin{c: c}, nil
}

// checkWrite turns the result of a call into an error naming endpoint:
// ErrNotFound on 404, a permission error on 403 (writes need an admin role
// that may manage apps), and otherwise what checkResponse says. A write
// answered 204 has no body and wantBody is false.
func checkWrite(ctx context.Context, endpoint string, resp *okta.APIResponse, err error, wantBody bool) error {
	if resp != nil && resp.Response != nil && ctx.Err() == nil {
		switch resp.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("okta: %s: %w (HTTP 404%s)", endpoint, ErrNotFound, oktaErrorDetail(err))
		case http.StatusForbidden:
			return fmt.Errorf("okta: %s: permission denied: the API token's admin may not make this change (HTTP 403%s)", endpoint, oktaErrorDetail(err))
		}
		if !wantBody && err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
	}
	return checkResponse(ctx, endpoint, resp, err)
}

// DeactivateUsers reports whether unassigning a user from appID would
// deprovision them in the app: USER_PROVISIONING lifecycleDeactivate is
// ENABLED. An app without provisioning deprovisions no one.
func (a *Admin) DeactivateUsers(ctx context.Context, appID string) (bool, error) {
	status, err := (&run{c: a.c}).deactivateUsers(ctx, appID)
	if err != nil {
		return false, err
	}
	return status == "ENABLED", nil
}

// SetDeactivateUsers switches lifecycleDeactivate. It reads the feature
// first and sends its capabilities back with only that status changed, so
// that the other provisioning settings are kept.
func (a *Admin) SetDeactivateUsers(ctx context.Context, appID string, enabled bool) error {
	want := "DISABLED"
	if enabled {
		want = "ENABLED"
	}
	getEndpoint := "GET /api/v1/apps/" + appID + "/features/USER_PROVISIONING"
	f, resp, err := a.c.api.ApplicationFeaturesAPI.GetFeatureForApplication(ctx, appID, "USER_PROVISIONING").Execute()
	if err := checkWrite(ctx, getEndpoint, resp, err, true); err != nil {
		return err
	}
	if f == nil || f.UserProvisioningApplicationFeature == nil {
		return fmt.Errorf("okta: %s: the response is not a USER_PROVISIONING feature", getEndpoint)
	}
	caps := f.UserProvisioningApplicationFeature.Capabilities
	if caps == nil {
		caps = okta.NewCapabilitiesObject()
	}
	if caps.Update == nil {
		caps.Update = okta.NewCapabilitiesUpdateObject()
	}
	caps.Update.LifecycleDeactivate = &okta.LifecycleDeactivateSettingObject{Status: &want}

	endpoint := "PUT /api/v1/apps/" + appID + "/features/USER_PROVISIONING"
	updated, resp, err := a.c.api.ApplicationFeaturesAPI.UpdateFeatureForApplication(ctx, appID, "USER_PROVISIONING").
		UpdateFeatureForApplicationRequest(okta.CapabilitiesObjectAsUpdateFeatureForApplicationRequest(caps)).Execute()
	if err := checkWrite(ctx, endpoint, resp, err, true); err != nil {
		return err
	}
	got := ""
	if updated != nil && updated.UserProvisioningApplicationFeature != nil {
		if c := updated.UserProvisioningApplicationFeature.Capabilities; c != nil && c.Update != nil && c.Update.LifecycleDeactivate != nil {
			got = c.Update.LifecycleDeactivate.GetStatus()
		}
	}
	if got != want {
		return fmt.Errorf("okta: %s: asked for lifecycleDeactivate %s, the org reports %q", endpoint, want, got)
	}
	return nil
}

// AppUser reads userID's assignment to appID; errors.Is(err, ErrNotFound)
// when there is none.
func (a *Admin) AppUser(ctx context.Context, appID, userID string) (*AppUserState, error) {
	endpoint := "GET /api/v1/apps/" + appID + "/users/" + userID
	au, resp, err := a.c.api.ApplicationUsersAPI.GetApplicationUser(ctx, appID, userID).Execute()
	if err := checkWrite(ctx, endpoint, resp, err, true); err != nil {
		return nil, err
	}
	return appUserState(endpoint, appID, au)
}

// Assign assigns userID to appID, or reassigns them: Okta then overwrites
// their licences and roles with req's.
func (a *Admin) Assign(ctx context.Context, appID, userID string, req AssignRequest) (*AppUserState, error) {
	profile := map[string]any{"licenses": nonNil(req.Licenses), "roles": nonNil(req.Roles)}
	if req.ImmutableID != "" {
		profile["immutableId"] = req.ImmutableID
	}
	body := okta.NewAppUserAssignRequest(userID)
	body.SetScope("USER")
	body.SetProfile(profile)
	if req.UserName != "" {
		creds := okta.NewAppUserCredentials()
		creds.SetUserName(req.UserName)
		body.SetCredentials(*creds)
	}
	endpoint := "POST /api/v1/apps/" + appID + "/users (user " + userID + ")"
	au, resp, err := a.c.api.ApplicationUsersAPI.AssignUserToApplication(ctx, appID).AppUser(*body).Execute()
	if err := checkWrite(ctx, endpoint, resp, err, true); err != nil {
		return nil, err
	}
	return appUserState(endpoint, appID, au)
}

// Unassign removes userID's assignment to appID. The caller must have made
// sure Deactivate Users is off (DeactivateUsers): Okta would otherwise
// deprovision the user in Microsoft 365.
func (a *Admin) Unassign(ctx context.Context, appID, userID string) error {
	endpoint := "DELETE /api/v1/apps/" + appID + "/users/" + userID
	resp, err := a.c.api.ApplicationUsersAPI.UnassignUserFromApplication(ctx, appID, userID).Execute()
	return checkWrite(ctx, endpoint, resp, err, false)
}

// SetAppUserImmutableID sets the immutableId of the app user's profile,
// leaving its other attributes as they are.
func (a *Admin) SetAppUserImmutableID(ctx context.Context, appID, userID, value string) (*AppUserState, error) {
	if value == "" {
		return nil, errors.New("okta: SetAppUserImmutableID: the value is empty; an anchor cannot be cleared this way")
	}
	payload := okta.NewAppUserProfileRequestPayload()
	payload.SetProfile(map[string]any{"immutableId": value})
	endpoint := "POST /api/v1/apps/" + appID + "/users/" + userID
	au, resp, err := a.c.api.ApplicationUsersAPI.UpdateApplicationUser(ctx, appID, userID).
		AppUser(okta.AppUserProfileRequestPayloadAsAppUserUpdateRequest(payload)).Execute()
	if err := checkWrite(ctx, endpoint, resp, err, true); err != nil {
		return nil, err
	}
	return appUserState(endpoint, appID, au)
}

// ImmutableIDMapping reads the immutableId property of the Okta user →
// appID mapping; ErrNotFound when the app has no such mapping.
func (a *Admin) ImmutableIDMapping(ctx context.Context, appID string) (*MappingState, error) {
	app := record.OktaApp{ID: appID}
	if err := (&run{c: a.c}).immutableIDMapping(ctx, &app); err != nil {
		return nil, err
	}
	if app.MappingID == "" {
		return nil, fmt.Errorf("okta: the Okta user → app %s mapping: %w", appID, ErrNotFound)
	}
	return &MappingState{ID: app.MappingID, Expression: app.ImmutableIDExpression, PushStatus: app.ImmutableIDPushStatus}, nil
}

// SetImmutableIDMapping sets the immutableId expression and pushStatus
// (PUSH or DONT_PUSH) of a mapping; the other properties keep theirs.
func (a *Admin) SetImmutableIDMapping(ctx context.Context, mappingID, expression, pushStatus string) (*MappingState, error) {
	if expression == "" {
		return nil, errors.New("okta: SetImmutableIDMapping: the expression is empty")
	}
	if pushStatus != "PUSH" && pushStatus != "DONT_PUSH" {
		return nil, fmt.Errorf("okta: SetImmutableIDMapping: pushStatus %q is neither PUSH nor DONT_PUSH", pushStatus)
	}
	prop := okta.NewProfileMappingProperty()
	prop.SetExpression(expression)
	prop.SetPushStatus(pushStatus)
	body := okta.NewProfileMappingRequest(map[string]okta.ProfileMappingProperty{"immutableId": *prop})
	endpoint := "POST /api/v1/mappings/" + mappingID
	m, resp, err := a.c.api.ProfileMappingAPI.UpdateProfileMapping(ctx, mappingID).ProfileMapping(*body).Execute()
	if err := checkWrite(ctx, endpoint, resp, err, true); err != nil {
		return nil, err
	}
	p, ok := m.GetProperties()["immutableId"]
	if !ok {
		return nil, fmt.Errorf("okta: %s: the updated mapping has no immutableId property", endpoint)
	}
	return &MappingState{ID: m.GetId(), Expression: p.GetExpression(), PushStatus: p.GetPushStatus()}, nil
}

func appUserState(endpoint, appID string, au *okta.AppUser) (*AppUserState, error) {
	if au == nil {
		return nil, fmt.Errorf("okta: %s: no app user in the response", endpoint)
	}
	r, err := convertAppUser(appID, au)
	if err != nil {
		return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
	}
	return &AppUserState{
		AppID: r.AppID, UserID: r.UserID, ExternalID: r.ExternalID, UserName: r.UserName, Status: r.Status,
		ImmutableID: r.ImmutableID, Licenses: nonNil(r.Licenses), Roles: nonNil(r.Roles),
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
