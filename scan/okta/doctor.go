package okta

import (
	"context"
	"fmt"

	"github.com/anchorscan/anchorscan/scan/record"
)

// The read helpers below each send one or two requests, so that doctor can
// check every permission a scan needs without reading the org.

// ProbeUsers reads one user (okta.users.read).
func (c *Collector) ProbeUsers(ctx context.Context) error {
	_, resp, err := c.api.UserAPI.ListUsers(ctx).Limit(1).Execute()
	return checkResponse(ctx, "GET /api/v1/users?limit=1", resp, err)
}

// Office365Apps lists the org's office365 app instances (okta.apps.read),
// without their settings.
func (c *Collector) Office365Apps(ctx context.Context) ([]record.OktaApp, error) {
	endpoint := `GET /api/v1/apps?filter=name eq "office365"`
	_, resp, err := c.api.ApplicationAPI.ListApplications(ctx).Filter(`name eq "` + appOffice365 + `"`).Limit(appsPageSize).Execute()
	if err := checkResponse(ctx, endpoint, resp, err); err != nil {
		return nil, err
	}
	var apps []appJSON
	if err := decodeBody(resp, &apps); err != nil {
		return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
	}
	out := make([]record.OktaApp, 0, len(apps))
	for _, a := range apps {
		out = append(out, record.OktaApp{ID: a.ID, Name: a.Name, Label: a.Label})
	}
	return out, nil
}

// ProbeAppUsers reads one user of appID (okta.apps.read).
func (c *Collector) ProbeAppUsers(ctx context.Context, appID string) error {
	_, resp, err := c.api.ApplicationUsersAPI.ListApplicationUsers(ctx, appID).Limit(1).Execute()
	return checkResponse(ctx, "GET /api/v1/apps/"+appID+"/users?limit=1", resp, err)
}

// DeactivateUsersStatus is the app's USER_PROVISIONING lifecycleDeactivate
// status (ENABLED, DISABLED), or "" when it has no provisioning.
func (c *Collector) DeactivateUsersStatus(ctx context.Context, appID string) (string, error) {
	return (&run{c: c}).deactivateUsers(ctx, appID)
}

// ImmutableIDMappingOf reads the Okta user → app mapping's immutableId
// expression and push status into app (okta.profileMappings.read).
func (c *Collector) ImmutableIDMappingOf(ctx context.Context, app *record.OktaApp) error {
	return (&run{c: c}).immutableIDMapping(ctx, app)
}

// OrgURL is the org the collector reads.
func (c *Collector) OrgURL() string { return c.orgURL }

// UsesOAuth reports whether the collector signs in as a service app.
func (c *Collector) UsesOAuth() bool { return c.oauth != nil }
