package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/okta/okta-sdk-golang/v5/okta"
	"golang.org/x/sync/errgroup"

	"github.com/anchorscan/anchorscan/scan/record"
)

// App template names the collector reads.
const (
	appOffice365       = "office365"
	appActiveDirectory = "active_directory"
)

// Keys of record.Stats.Counts.
const (
	CountUsers    = "users"
	CountApps     = "apps"
	CountAppUsers = "appUsers"
)

// run is one Collect call: its sink and running totals.
type run struct {
	c        *Collector
	sink     record.Sink
	mu       sync.Mutex // guards counts: lists are read concurrently
	counts   map[string]int
	requests *atomic.Int64
}

func (r *run) add(kind string, n int) {
	r.mu.Lock()
	r.counts[kind] += n
	r.mu.Unlock()
}

// Collect reads the org (DESIGN §4) and writes one batch per page to sink:
// users, then the office365 and active_directory apps with the O365
// provisioning and mapping settings, then each app's users. On error the
// returned Stats still count what was read and written before it.
func (c *Collector) Collect(ctx context.Context, sink record.Sink) (record.Stats, error) {
	ctx, requests := withRequestCounter(ctx)
	r := &run{c: c, sink: sink, counts: map[string]int{CountUsers: 0, CountApps: 0, CountAppUsers: 0}, requests: requests}
	err := r.collect(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return record.Stats{Requests: int(requests.Load()), Counts: r.counts}, err
}

// collect reads the users list and each app's users list concurrently: each
// list is a chain of cursor-linked pages, and the longest chain (users at 200
// a page) would otherwise set the pace for all of them.
func (r *run) collect(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.users(ctx) })
	g.Go(func() error {
		var appIDs []string
		for _, name := range []string{appOffice365, appActiveDirectory} {
			ids, err := r.apps(ctx, name)
			if err != nil {
				return err
			}
			appIDs = append(appIDs, ids...)
		}
		for _, id := range appIDs {
			g.Go(func() error { return r.appUsers(ctx, id) })
		}
		return nil
	})
	return g.Wait()
}

func (r *run) write(ctx context.Context, what string, page int, b record.Batch) error {
	if err := r.sink.Write(ctx, b); err != nil {
		return fmt.Errorf("okta: storing %s page %d: %w", what, page, err)
	}
	return nil
}

// pageEndpoint names a page in errors: the endpoint, its number and cursor.
func pageEndpoint(path string, page int, after string) string {
	if after == "" {
		return fmt.Sprintf("GET %s (page %d)", path, page)
	}
	return fmt.Sprintf("GET %s (page %d, after=%s)", path, page, after)
}

func (r *run) users(ctx context.Context) error {
	after := ""
	for page := 1; ; page++ {
		req := r.c.api.UserAPI.ListUsers(ctx).Limit(r.c.usersPageSize)
		if after != "" {
			req = req.After(after)
		}
		users, resp, err := req.Execute()
		endpoint := pageEndpoint("/api/v1/users", page, after)
		if err := checkResponse(ctx, endpoint, resp, err); err != nil {
			return err
		}
		b := record.Batch{OktaUsers: make([]record.OktaUser, 0, len(users))}
		for i := range users {
			u, err := convertUser(&users[i])
			if err != nil {
				return fmt.Errorf("okta: %s: user %d: %w", endpoint, i, err)
			}
			b.OktaUsers = append(b.OktaUsers, u)
		}
		if err := r.write(ctx, "users", page, b); err != nil {
			return err
		}
		r.add(CountUsers, len(users))
		if after, err = nextCursor(resp); err != nil {
			return fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		if after == "" {
			return nil
		}
	}
}

func convertUser(u *okta.User) (record.OktaUser, error) {
	if u.GetId() == "" {
		return record.OktaUser{}, fmt.Errorf("user without an id")
	}
	p := u.GetProfile()
	return record.OktaUser{
		ID:        u.GetId(),
		Status:    u.GetStatus(),
		Login:     p.GetLogin(),
		Email:     p.GetEmail(),
		FirstName: p.GetFirstName(),
		LastName:  p.GetLastName(),
	}, nil
}

// appJSON is the part of an app instance the collector needs. The SDK's
// typed app decoder dispatches on signOnMode and yields an empty value for
// an app whose signOnMode is null, which is what every active_directory
// instance reports (okta-sdk-dotnet#821 shows the same for .NET), so apps are
// decoded here from the body the SDK read.
type appJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Label  string `json:"label"`
	Status string `json:"status"`
}

// apps reads every instance of the app template name, with the O365 settings
// for office365, writes one batch per page and returns the instance ids.
func (r *run) apps(ctx context.Context, name string) ([]string, error) {
	var ids []string
	after := ""
	for page := 1; ; page++ {
		req := r.c.api.ApplicationAPI.ListApplications(ctx).Filter(`name eq "` + name + `"`).Limit(appsPageSize)
		if after != "" {
			req = req.After(after)
		}
		_, resp, err := req.Execute()
		endpoint := pageEndpoint("/api/v1/apps?filter=name eq \""+name+"\"", page, after)
		if err := checkResponse(ctx, endpoint, resp, err); err != nil {
			return nil, err
		}
		var apps []appJSON
		if err := decodeBody(resp, &apps); err != nil {
			return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		b := record.Batch{OktaApps: make([]record.OktaApp, 0, len(apps))}
		for i, a := range apps {
			if a.ID == "" || a.Name != name {
				return nil, fmt.Errorf("okta: %s: app %d (id %q, name %q) is not a %s instance: the filter was not applied", endpoint, i, a.ID, a.Name, name)
			}
			app := record.OktaApp{ID: a.ID, Name: a.Name, Label: a.Label}
			if name == appOffice365 {
				if err := r.office365Settings(ctx, &app); err != nil {
					return nil, err
				}
			}
			b.OktaApps = append(b.OktaApps, app)
			ids = append(ids, a.ID)
		}
		if err := r.write(ctx, "apps", page, b); err != nil {
			return nil, err
		}
		r.add(CountApps, len(apps))
		if after, err = nextCursor(resp); err != nil {
			return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		if after == "" {
			return ids, nil
		}
	}
}

func decodeBody(resp *okta.APIResponse, v any) error {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("the body is not the JSON Okta sends: %w", err)
	}
	return nil
}

// office365Settings fills the Deactivate Users status and the immutableId
// mapping of an O365 instance.
func (r *run) office365Settings(ctx context.Context, app *record.OktaApp) error {
	status, err := r.deactivateUsers(ctx, app.ID)
	if err != nil {
		return err
	}
	app.DeactivateUsers = status
	return r.immutableIDMapping(ctx, app)
}

// deactivateUsers reads USER_PROVISIONING's lifecycleDeactivate status. An
// app without provisioning configured has no such feature (Okta answers 404
// or 400): nothing can be deprovisioned, and "" says it was not read.
func (r *run) deactivateUsers(ctx context.Context, appID string) (string, error) {
	endpoint := "GET /api/v1/apps/" + appID + "/features/USER_PROVISIONING"
	f, resp, err := r.c.api.ApplicationFeaturesAPI.GetFeatureForApplication(ctx, appID, "USER_PROVISIONING").Execute()
	if err != nil && resp != nil && resp.Response != nil &&
		(resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest) && ctx.Err() == nil {
		return "", nil
	}
	if err := checkResponse(ctx, endpoint, resp, err); err != nil {
		return "", err
	}
	if f == nil || f.UserProvisioningApplicationFeature == nil {
		return "", fmt.Errorf("okta: %s: the response is not a USER_PROVISIONING feature", endpoint)
	}
	caps := f.UserProvisioningApplicationFeature.Capabilities
	if caps == nil || caps.Update == nil || caps.Update.LifecycleDeactivate == nil || caps.Update.LifecycleDeactivate.Status == nil {
		return "", fmt.Errorf("okta: %s: capabilities.update.lifecycleDeactivate.status is missing", endpoint)
	}
	return *caps.Update.LifecycleDeactivate.Status, nil
}

// immutableIDMapping finds the Okta user → app mapping among the app's
// mappings (its source is the Okta user type, whose id the collector need
// not know) and reads its immutableId property.
func (r *run) immutableIDMapping(ctx context.Context, app *record.OktaApp) error {
	mappingID := ""
	after := ""
	for page := 1; mappingID == ""; page++ {
		req := r.c.api.ProfileMappingAPI.ListProfileMappings(ctx).TargetId(app.ID).Limit(mappingsPageSize)
		if after != "" {
			req = req.After(after)
		}
		mappings, resp, err := req.Execute()
		endpoint := pageEndpoint("/api/v1/mappings?targetId="+app.ID, page, after)
		if err := checkResponse(ctx, endpoint, resp, err); err != nil {
			return err
		}
		for i := range mappings {
			src, tgt := mappings[i].GetSource(), mappings[i].GetTarget()
			if src.GetType() == "user" && tgt.GetId() == app.ID {
				mappingID = mappings[i].GetId()
				break
			}
		}
		if after, err = nextCursor(resp); err != nil {
			return fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		if after == "" {
			break
		}
	}
	if mappingID == "" {
		return nil
	}
	endpoint := "GET /api/v1/mappings/" + mappingID
	m, resp, err := r.c.api.ProfileMappingAPI.GetProfileMapping(ctx, mappingID).Execute()
	if err := checkResponse(ctx, endpoint, resp, err); err != nil {
		return err
	}
	app.MappingID = mappingID
	if p, ok := m.GetProperties()["immutableId"]; ok {
		app.ImmutableIDExpression = p.GetExpression()
		app.ImmutableIDPushStatus = p.GetPushStatus()
	}
	return nil
}

func (r *run) appUsers(ctx context.Context, appID string) error {
	path := "/api/v1/apps/" + appID + "/users"
	after := ""
	for page := 1; ; page++ {
		req := r.c.api.ApplicationUsersAPI.ListApplicationUsers(ctx, appID).Limit(r.c.appUsersPageSize)
		if after != "" {
			req = req.After(after)
		}
		users, resp, err := req.Execute()
		endpoint := pageEndpoint(path, page, after)
		if err := checkResponse(ctx, endpoint, resp, err); err != nil {
			return err
		}
		b := record.Batch{OktaAppUsers: make([]record.OktaAppUser, 0, len(users))}
		for i := range users {
			au, err := convertAppUser(appID, &users[i])
			if err != nil {
				return fmt.Errorf("okta: %s: app user %d: %w", endpoint, i, err)
			}
			b.OktaAppUsers = append(b.OktaAppUsers, au)
		}
		if err := r.write(ctx, "app users", page, b); err != nil {
			return err
		}
		r.add(CountAppUsers, len(users))
		if after, err = nextCursor(resp); err != nil {
			return fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		if after == "" {
			return nil
		}
	}
}

func convertAppUser(appID string, u *okta.AppUser) (record.OktaAppUser, error) {
	if u.GetId() == "" {
		return record.OktaAppUser{}, fmt.Errorf("app user without an id")
	}
	creds := u.GetCredentials()
	profile := u.GetProfile()
	immutableID, err := profileString(profile, "immutableId")
	if err != nil {
		return record.OktaAppUser{}, fmt.Errorf("user %s: %w", u.GetId(), err)
	}
	licenses, err := profileStrings(profile, "licenses")
	if err != nil {
		return record.OktaAppUser{}, fmt.Errorf("user %s: %w", u.GetId(), err)
	}
	roles, err := profileStrings(profile, "roles")
	if err != nil {
		return record.OktaAppUser{}, fmt.Errorf("user %s: %w", u.GetId(), err)
	}
	return record.OktaAppUser{
		AppID:       appID,
		UserID:      u.GetId(),
		ExternalID:  u.GetExternalId(),
		UserName:    creds.GetUserName(),
		Status:      u.GetStatus(),
		SyncState:   u.GetSyncState(),
		ImmutableID: immutableID,
		Licenses:    licenses,
		Roles:       roles,
	}, nil
}

// profileString reads a string attribute of an app user profile; absent and
// null are "".
func profileString(profile map[string]any, key string) (string, error) {
	switch v := profile[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("profile.%s is a %s, not a string", key, jsonKind(v))
	}
}

// profileStrings reads a string-array attribute; absent and null are nil.
func profileStrings(profile map[string]any, key string) ([]string, error) {
	switch v := profile[key].(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("profile.%s[%d] is a %s, not a string", key, i, jsonKind(e))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("profile.%s is a %s, not an array of strings", key, jsonKind(v))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return strconv.Quote(fmt.Sprintf("%T", v))
}
