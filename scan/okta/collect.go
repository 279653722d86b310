package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
	"golang.org/x/sync/errgroup"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
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

// run is one Collect call: its sink, where each list starts, and running
// totals.
type run struct {
	c      *Collector
	sink   record.Sink
	from   map[string]record.Checkpoint
	mu     sync.Mutex // guards counts, serverStart and appIDs: lists are read concurrently
	counts map[string]int
	// serverStart is the earliest Date header of the run's responses.
	serverStart time.Time
	// appIDs are the app instances whose users the run read, appCounts
	// how many each has (read, or carried over from the last scan).
	appIDs    []string
	appCounts map[string]int
	// since is the position an incremental read started from.
	since    map[string]string
	requests *requestCounters
	retries  atomic.Int64
}

// Names of the lists the collector checkpoints (record.Checkpoint.List).
const (
	listUsers = "users"
)

func listApps(name string) string      { return "apps/" + name }
func listAppUsers(appID string) string { return "appUsers/" + appID }

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
	return c.CollectFrom(ctx, sink, nil)
}

// CollectFrom is Collect continuing an interrupted collection: each page's
// batch carries the checkpoint of its list (the users list, each app
// template's instances, each app's users), and from holds the ones an
// earlier run committed. A list whose checkpoint is done is not read again
// (the app instances are listed again, without storing them, to learn their
// ids); a list with a cursor continues with after=cursor.
func (c *Collector) CollectFrom(ctx context.Context, sink record.Sink, from map[string]record.Checkpoint) (record.Stats, error) {
	ctx, requests := withRequestCounter(ctx)
	r := &run{c: c, sink: sink, from: from, counts: map[string]int{CountUsers: 0, CountApps: 0, CountAppUsers: 0}, requests: requests}
	err := r.collect(ctx)
	var sync map[string]string
	// Changes are read from the start of a read that covered every list;
	// a continued one started before its first part, which is not known.
	if err == nil && len(from) == 0 {
		sync = r.sync()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A 429 the SDK retried is a retry too; the collector's own retries of
	// 429s it gave up on are counted once, as 429 responses.
	return record.Stats{Requests: int(requests.requests.Load()), Counts: r.counts,
		Retries: int(r.retries.Load() + requests.throttled.Load()), Sync: sync}, err
}

// start is where list begins in this run: its cursor, and whether it was
// read to its end before.
func (r *run) start(list string) (cursor string, done bool) {
	cp, ok := r.from[list]
	if !ok {
		return "", false
	}
	return cp.Cursor, cp.Done()
}

// collect reads the users list and each app's users list concurrently: each
// list is a chain of cursor-linked pages, and the longest chain (users at 200
// a page) would otherwise set the pace for all of them. Both app templates
// are listed at once, and an app's users list starts as soon as the app is
// listed, before its O365 settings are read: the app-user chains are the
// longest once the users list is partitioned.
func (r *run) collect(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.users(ctx) })
	for _, name := range []string{appOffice365, appActiveDirectory} {
		g.Go(func() error {
			ids, err := r.apps(ctx, name, func(id string) {
				g.Go(func() error { return r.appUsers(ctx, id, false) })
			})
			r.mu.Lock()
			r.appIDs = append(r.appIDs, ids...) // in either order: sync sorts them
			r.mu.Unlock()
			return err
		})
	}
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
	after, done := r.start(listUsers)
	if done {
		return nil
	}
	if plan, ok := strings.CutPrefix(after, partitionPlanPrefix); ok {
		return r.partitionedUsers(ctx, plan)
	}
	if after == "" && r.c.userPartitions > 1 {
		return r.partitionedUsers(ctx, "")
	}
	return r.userList(ctx, listUsers, userQuery{}, after)
}

// userQuery narrows the users list: a search (a partition) or a filter
// (users changed since), or neither.
type userQuery struct {
	search, filter string
}

// userList reads one users list from cursor after, each page committed with
// the checkpoint of list (none when list is "").
func (r *run) userList(ctx context.Context, list string, q userQuery, after string) error {
	path := "/api/v1/users"
	switch {
	case q.search != "":
		path += "?search=" + q.search
	case q.filter != "":
		path += "?filter=" + q.filter
	}
	call := func(ctx context.Context, after string) ([]okta.User, *okta.APIResponse, error) {
		req := r.c.api.UserAPI.ListUsers(ctx).Limit(r.c.usersPageSize)
		if q.search != "" {
			req = req.Search(q.search)
		}
		if q.filter != "" {
			req = req.Filter(q.filter)
		}
		if after != "" {
			req = req.After(after)
		}
		return req.Execute()
	}
	return readList(ctx, r, path, after, call, func(page int, endpoint string, users []okta.User, next string) error {
		b := record.Batch{OktaUsers: make([]record.OktaUser, 0, len(users))}
		for i := range users {
			u, err := convertUser(&users[i])
			if err != nil {
				return fmt.Errorf("okta: %s: user %d: %w", endpoint, i, err)
			}
			b.OktaUsers = append(b.OktaUsers, u)
		}
		if list != "" {
			b.Checkpoint = &record.Checkpoint{List: list, Cursor: next}
		}
		if err := r.write(ctx, "users", page, b); err != nil {
			return err
		}
		r.add(CountUsers, len(users))
		return nil
	})
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
// for office365, and returns the instance ids. The instances, a handful at
// most, are stored in one batch once all pages are read, so that the list's
// checkpoint is all or nothing: a resumed run that finds it done lists the
// instances again only to learn their ids, storing and reading nothing else.
// found, if not nil, is called with each instance's id as soon as it is
// listed.
func (r *run) apps(ctx context.Context, name string, found func(id string)) ([]string, error) {
	var ids []string
	_, stored := r.start(listApps(name))
	b := record.Batch{Checkpoint: &record.Checkpoint{List: listApps(name)}}
	after := ""
	for page := 1; ; page++ {
		endpoint := pageEndpoint("/api/v1/apps?filter=name eq \""+name+"\"", page, after)
		_, resp, err := fetch(ctx, r, endpoint, func(ctx context.Context) ([]okta.ListApplications200ResponseInner, *okta.APIResponse, error) {
			req := r.c.api.ApplicationAPI.ListApplications(ctx).Filter(`name eq "` + name + `"`).Limit(appsPageSize)
			if after != "" {
				req = req.After(after)
			}
			return req.Execute()
		})
		if err != nil {
			return nil, err
		}
		var apps []appJSON
		if err := decodeBody(resp, &apps); err != nil {
			return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		for i, a := range apps {
			if a.ID == "" || a.Name != name {
				return nil, fmt.Errorf("okta: %s: app %d (id %q, name %q) is not a %s instance: the filter was not applied", endpoint, i, a.ID, a.Name, name)
			}
			ids = append(ids, a.ID)
			if found != nil {
				found(a.ID)
			}
			if stored {
				continue
			}
			app := record.OktaApp{ID: a.ID, Name: a.Name, Label: a.Label}
			if name == appOffice365 {
				if err := r.office365Settings(ctx, &app); err != nil {
					return nil, err
				}
			}
			b.OktaApps = append(b.OktaApps, app)
		}
		if after, err = nextCursor(resp); err != nil {
			return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		if after == "" {
			break
		}
	}
	if stored {
		return ids, nil
	}
	if err := r.write(ctx, "apps", 1, b); err != nil {
		return nil, err
	}
	r.add(CountApps, len(b.OktaApps))
	return ids, nil
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
	absent := false
	var f *okta.ListFeaturesForApplication200ResponseInner
	retries, err := retry.Do(ctx, r.c.retry, func(ctx context.Context) error {
		v, resp, err := r.c.api.ApplicationFeaturesAPI.GetFeatureForApplication(ctx, appID, "USER_PROVISIONING").Execute()
		if err != nil && resp != nil && resp.Response != nil &&
			(resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest) && ctx.Err() == nil {
			absent = true
			return nil
		}
		if checked := checkResponse(ctx, endpoint, resp, err); checked != nil {
			return transient(resp, err, checked)
		}
		f = v
		return nil
	})
	r.retries.Add(int64(retries))
	if err != nil {
		return "", err
	}
	if absent {
		return "", nil
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
		endpoint := pageEndpoint("/api/v1/mappings?targetId="+app.ID, page, after)
		mappings, resp, err := fetch(ctx, r, endpoint, func(ctx context.Context) ([]okta.ListProfileMappings, *okta.APIResponse, error) {
			req := r.c.api.ProfileMappingAPI.ListProfileMappings(ctx).TargetId(app.ID).Limit(mappingsPageSize)
			if after != "" {
				req = req.After(after)
			}
			return req.Execute()
		})
		if err != nil {
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
	m, _, err := fetch(ctx, r, endpoint, func(ctx context.Context) (*okta.ProfileMapping, *okta.APIResponse, error) {
		return r.c.api.ProfileMappingAPI.GetProfileMapping(ctx, mappingID).Execute()
	})
	if err != nil {
		return err
	}
	app.MappingID = mappingID
	if p, ok := m.GetProperties()["immutableId"]; ok {
		app.ImmutableIDExpression = p.GetExpression()
		app.ImmutableIDPushStatus = p.GetPushStatus()
	}
	return nil
}

// appUsers reads the users of one app instance. replace marks the first
// page as replacing every stored assignment of the app (an incremental read
// that found listing again cheaper than reading each changed one).
func (r *run) appUsers(ctx context.Context, appID string, replace bool) error {
	path := "/api/v1/apps/" + appID + "/users"
	after, done := r.start(listAppUsers(appID))
	if done {
		return nil
	}
	call := func(ctx context.Context, after string) ([]okta.AppUser, *okta.APIResponse, error) {
		req := r.c.api.ApplicationUsersAPI.ListApplicationUsers(ctx, appID).Limit(r.c.appUsersPageSize)
		if after != "" {
			req = req.After(after)
		}
		return req.Execute()
	}
	return readList(ctx, r, path, after, call, func(page int, endpoint string, users []okta.AppUser, next string) error {
		b := record.Batch{OktaAppUsers: make([]record.OktaAppUser, 0, len(users))}
		for i := range users {
			au, err := convertAppUser(appID, &users[i])
			if err != nil {
				return fmt.Errorf("okta: %s: app user %d: %w", endpoint, i, err)
			}
			b.OktaAppUsers = append(b.OktaAppUsers, au)
		}
		b.Checkpoint = &record.Checkpoint{List: listAppUsers(appID), Cursor: next}
		if replace && page == 1 {
			b.Removed = &record.Removals{OktaAppUsersOf: []string{appID}}
		}
		if err := r.write(ctx, "app users", page, b); err != nil {
			return err
		}
		r.add(CountAppUsers, len(users))
		r.addAppCount(appID, len(users))
		return nil
	})
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
