package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
	"golang.org/x/sync/errgroup"

	"github.com/anchorscan/anchorscan/scan/record"
)

// Stats.Sync keys: the time changes are read from, and the app instances
// whose assignments the records hold.
const (
	syncSince = "since"
	syncApps  = "apps"
	// syncAppCount + app id: the app's assignments, to weigh reading the
	// changed ones one by one against listing the app again.
	syncAppCount = "appUsers."
)

func (r *run) addAppCount(appID string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.appCounts == nil {
		r.appCounts = map[string]int{}
	}
	r.appCounts[appID] += n
}

// syncMargin is how far before the server's clock at the start of a read the
// next read starts: the System Log is eventually consistent, and reading a
// few minutes twice costs a handful of records, while a gap loses changes.
const syncMargin = 5 * time.Minute

// logRetention is how long Okta keeps System Log events: a read from
// further back would miss changes, so the collector reads the org whole.
const logRetention = 90 * 24 * time.Hour

// System Log event types that change the records the collector keeps and
// that the users list filtered by lastUpdated does not show.
const (
	eventAppUserAdd    = "application.user_membership.add"
	eventAppUserRemove = "application.user_membership.remove"
	eventAppUserUpdate = "application.user_membership.update"
	eventUserDelete    = "user.lifecycle.delete.initiated"
)

// logsPageSize is the System Log's maximum page.
const logsPageSize = 1000

// appUserFetchers is how many changed app users are read at once.
const appUserFetchers = 8

// noteDate keeps the earliest Date header the run saw: the server's clock at
// the start of the read, which the next incremental read starts from.
func (r *run) noteDate(resp *okta.APIResponse) {
	if resp == nil || resp.Response == nil {
		return
	}
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	r.mu.Lock()
	if r.serverStart.IsZero() || d.Before(r.serverStart) {
		r.serverStart = d
	}
	r.mu.Unlock()
}

// sync is the Stats.Sync of a run that read everything it was to read.
func (r *run) sync() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.serverStart.IsZero() {
		return nil
	}
	apps := slices.Sorted(slices.Values(r.appIDs))
	sync := map[string]string{
		syncSince: r.serverStart.Add(-syncMargin).UTC().Format(time.RFC3339),
		syncApps:  strings.Join(apps, ","),
	}
	for _, id := range apps {
		sync[syncAppCount+id] = strconv.Itoa(r.appCounts[id])
	}
	return sync
}

// CollectChanges reads what changed in the org since a read that reported
// since as its Stats.Sync: the users whose lastUpdated is later, and the
// assignments the System Log shows added, updated or removed, each changed
// app user read again. The app instances and their settings, a handful of
// requests, are read whole.
func (c *Collector) CollectChanges(ctx context.Context, sink record.Sink, since map[string]string) (record.Stats, error) {
	from, err := time.Parse(time.RFC3339, since[syncSince])
	if err != nil {
		return record.Stats{}, fmt.Errorf("okta: no usable change position (%q): %w", since[syncSince], record.ErrResync)
	}
	if age := time.Since(from); age > logRetention {
		return record.Stats{}, fmt.Errorf("okta: the last scan is %s old, beyond the System Log's %s: %w",
			age.Round(time.Hour), logRetention, record.ErrResync)
	}
	ctx, requests := withRequestCounter(ctx)
	r := &run{c: c, sink: sink, counts: map[string]int{CountUsers: 0, CountApps: 0, CountAppUsers: 0}, requests: requests}
	r.since = since
	err = r.changes(ctx, from, since[syncApps])
	stats := record.Stats{Requests: int(requests.requests.Load()), Counts: r.counts,
		Retries: int(r.retries.Load() + requests.throttled.Load())}
	if err == nil {
		stats.Sync = r.sync()
	}
	return stats, err
}

func (r *run) changes(ctx context.Context, from time.Time, knownApps string) error {
	// The apps are read before anything is stored: an app instance added or
	// removed since has assignments the System Log need not mention, so the
	// org is then read whole.
	sink := r.sink
	held := &heldSink{}
	r.sink = held
	var appIDs []string
	for _, name := range []string{appOffice365, appActiveDirectory} {
		ids, err := r.apps(ctx, name, nil)
		if err != nil {
			r.sink = sink
			return err
		}
		appIDs = append(appIDs, ids...)
	}
	r.sink = sink
	if got := strings.Join(slices.Sorted(slices.Values(appIDs)), ","); got != knownApps {
		return fmt.Errorf("okta: the app instances changed since the last scan (%q, now %q): %w", knownApps, got, record.ErrResync)
	}
	for _, b := range held.batches {
		if err := sink.Write(ctx, b); err != nil {
			return fmt.Errorf("okta: storing apps: %w", err)
		}
	}
	r.appIDs = appIDs
	for _, id := range appIDs {
		// A count carried over is an estimate until the app is listed
		// again; it only weighs the cost of the next read.
		n, _ := strconv.Atoi(r.since[syncAppCount+id])
		r.addAppCount(id, n)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.changedUsers(gctx, from) })
	g.Go(func() error { return r.changedAppUsers(gctx, from, appIDs) })
	return g.Wait()
}

// heldSink keeps batches until the caller decides to store them.
type heldSink struct {
	batches []record.Batch
}

func (s *heldSink) Write(_ context.Context, b record.Batch) error {
	s.batches = append(s.batches, b)
	return nil
}

// changedUsers reads the users updated after from, page by page.
func (r *run) changedUsers(ctx context.Context, from time.Time) error {
	filter := `lastUpdated gt "` + from.UTC().Format(oktaTime) + `"`
	return r.userList(ctx, "", userQuery{filter: filter}, "")
}

// changedAppUsers reads the System Log after from for assignment changes
// and user deletions in the given app instances, then reads each assignment
// still there again and removes the others. The last event of an
// assignment decides: added then removed is removed.
func (r *run) changedAppUsers(ctx context.Context, from time.Time, appIDs []string) error {
	events, err := r.logEvents(ctx, from)
	if err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, id := range appIDs {
		ours[id] = true
	}
	present := map[record.AppUserKey]bool{} // true: read it again; false: remove it
	deletedUsers := map[string]bool{}
	for i, e := range events {
		var appID, userID string
		for _, t := range e.Target {
			switch t.GetType() {
			case "AppInstance":
				appID = t.GetId()
			case "User":
				userID = t.GetId()
			}
		}
		if userID == "" {
			return fmt.Errorf("okta: System Log event %d (%s, %s) has no User target", i, e.GetEventType(), e.GetUuid())
		}
		switch e.GetEventType() {
		case eventUserDelete:
			deletedUsers[userID] = true
			for _, id := range appIDs {
				present[record.AppUserKey{AppID: id, UserID: userID}] = false
			}
		case eventAppUserAdd, eventAppUserUpdate, eventAppUserRemove:
			if appID == "" {
				return fmt.Errorf("okta: System Log event %d (%s, %s) has no AppInstance target", i, e.GetEventType(), e.GetUuid())
			}
			if ours[appID] {
				present[record.AppUserKey{AppID: appID, UserID: userID}] = e.GetEventType() != eventAppUserRemove
			}
		}
	}
	// An app with more changed assignments than pages in its list is
	// listed again: fewer requests than one per assignment.
	perApp := map[string]int{}
	for k, again := range present {
		if again {
			perApp[k.AppID]++
		}
	}
	relist := map[string]bool{}
	r.mu.Lock()
	for app, n := range perApp {
		if n > (r.appCounts[app]+int(r.c.appUsersPageSize)-1)/int(r.c.appUsersPageSize) {
			relist[app] = true
			r.appCounts[app] = 0 // counted anew as its pages arrive
		}
	}
	r.mu.Unlock()
	var fetchKeys []record.AppUserKey
	removed := &record.Removals{}
	for k, again := range present {
		switch {
		case relist[k.AppID]:
		case again:
			fetchKeys = append(fetchKeys, k)
		default:
			removed.OktaAppUsers = append(removed.OktaAppUsers, k)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for app := range relist {
		g.Go(func() error { return r.appUsers(gctx, app, true) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for id := range deletedUsers {
		removed.OktaUsers = append(removed.OktaUsers, id)
	}
	sort.Slice(fetchKeys, func(i, j int) bool {
		return fetchKeys[i].AppID+"/"+fetchKeys[i].UserID < fetchKeys[j].AppID+"/"+fetchKeys[j].UserID
	})
	users, gone, err := r.fetchAppUsers(ctx, fetchKeys)
	if err != nil {
		return err
	}
	removed.OktaAppUsers = append(removed.OktaAppUsers, gone...)
	for start := 0; start < len(users); start += appUsersPerBatch {
		b := record.Batch{OktaAppUsers: users[start:min(start+appUsersPerBatch, len(users))]}
		if err := r.write(ctx, "changed app users", start/appUsersPerBatch+1, b); err != nil {
			return err
		}
		r.add(CountAppUsers, len(b.OktaAppUsers))
	}
	if removed.Len() > 0 {
		if err := r.write(ctx, "removals", 1, record.Batch{Removed: removed}); err != nil {
			return err
		}
	}
	return nil
}

const appUsersPerBatch = 500

// logEvents pages the System Log from from for the event types that change
// assignments. Okta's polling listing always links a next page; a page
// shorter than the limit is the end of what exists now.
func (r *run) logEvents(ctx context.Context, from time.Time) ([]okta.LogEvent, error) {
	filter := strings.Join([]string{
		`eventType eq "` + eventAppUserAdd + `"`,
		`eventType eq "` + eventAppUserUpdate + `"`,
		`eventType eq "` + eventAppUserRemove + `"`,
		`eventType eq "` + eventUserDelete + `"`,
	}, " or ")
	var all []okta.LogEvent
	after := ""
	for page := 1; ; page++ {
		endpoint := pageEndpoint("/api/v1/logs?since="+from.UTC().Format(time.RFC3339), page, after)
		events, resp, err := fetch(ctx, r, endpoint, func(ctx context.Context) ([]okta.LogEvent, *okta.APIResponse, error) {
			req := r.c.api.SystemLogAPI.ListLogEvents(ctx).Since(from).Filter(filter).Limit(logsPageSize).SortOrder("ASCENDING")
			if after != "" {
				req = req.After(after)
			}
			return req.Execute()
		})
		if err != nil {
			return nil, err
		}
		all = append(all, events...)
		if len(events) < logsPageSize {
			return all, nil
		}
		if after, err = nextCursor(resp); err != nil {
			return nil, fmt.Errorf("okta: %s: %w", endpoint, err)
		}
		if after == "" {
			return all, nil
		}
	}
}

// fetchAppUsers reads each assignment again, a few at a time. One that is
// gone (404) by now is returned as gone: a later event removed it.
func (r *run) fetchAppUsers(ctx context.Context, keys []record.AppUserKey) ([]record.OktaAppUser, []record.AppUserKey, error) {
	out := make([]record.OktaAppUser, len(keys))
	found := make([]bool, len(keys))
	var mu sync.Mutex
	var gone []record.AppUserKey
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(appUserFetchers)
	for i, k := range keys {
		g.Go(func() error {
			endpoint := "GET /api/v1/apps/" + k.AppID + "/users/" + k.UserID
			au, _, err := fetch(ctx, r, endpoint, func(ctx context.Context) (*okta.AppUser, *okta.APIResponse, error) {
				return r.c.api.ApplicationUsersAPI.GetApplicationUser(ctx, k.AppID, k.UserID).Execute()
			})
			if errors.Is(err, errNotFound) {
				mu.Lock()
				gone = append(gone, k)
				mu.Unlock()
				return nil
			}
			if err != nil {
				return err
			}
			u, err := convertAppUser(k.AppID, au)
			if err != nil {
				return fmt.Errorf("okta: %s: %w", endpoint, err)
			}
			out[i], found[i] = u, true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	kept := out[:0]
	for i := range out {
		if found[i] {
			kept = append(kept, out[i])
		}
	}
	return kept, gone, nil
}
