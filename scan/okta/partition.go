package okta

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
	"golang.org/x/sync/errgroup"

	"github.com/anchorscan/anchorscan/scan/record"
)

// The users list is the longest chain of pages in an org (200 users a page,
// each page needing the cursor of the one before). Read as several searches
// over disjoint ranges of the users' creation time, its pages come in
// parallel. A search sees Okta's search index, which can lag a write by
// seconds; a user created during the scan may be missed, as it would be by
// a list read a moment earlier.

// partitionPlanPrefix marks the users checkpoint of a partitioned read: its
// cursor holds the partitions' search expressions, so that a resumed read
// continues the same partitions whatever the clock says by then.
const partitionPlanPrefix = "partitions:"

// partitionList is the checkpoint list of one partition.
func partitionList(search string) string { return listUsers + "?search=" + search }

// oktaTime is the time format of Okta's search expressions.
const oktaTime = "2006-01-02T15:04:05.000Z"

// partitionedUsers reads the users as searches over creation-time ranges,
// in parallel. plan is the stored plan of a resumed read, "" for a new one.
func (r *run) partitionedUsers(ctx context.Context, plan string) error {
	var searches []string
	if plan != "" {
		searches = strings.Split(plan, "\n")
	} else {
		var err error
		if searches, err = r.planPartitions(ctx); err != nil {
			return err
		}
		// The plan is committed before any partition's page, so that a
		// resumed read knows every partition, started or not.
		cp := &record.Checkpoint{List: listUsers, Cursor: partitionPlanPrefix + strings.Join(searches, "\n")}
		if err := r.write(ctx, "users partitions", 0, record.Batch{Checkpoint: cp}); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, search := range searches {
		after, done := r.start(partitionList(search))
		if done {
			continue
		}
		g.Go(func() error { return r.userList(gctx, partitionList(search), userQuery{search: search}, after) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return r.write(ctx, "users", 0, record.Batch{Checkpoint: &record.Checkpoint{List: listUsers}})
}

// planPartitions splits the time from the oldest user's creation to now
// into c.userPartitions equal ranges; the first and last are open-ended so
// that every user, however created, is in exactly one.
func (r *run) planPartitions(ctx context.Context) ([]string, error) {
	const first = `created gt "1970-01-01T00:00:00.000Z"`
	endpoint := "GET /api/v1/users?search=" + first + "&sortBy=created&limit=1"
	users, resp, err := fetch(ctx, r, endpoint, func(ctx context.Context) ([]okta.User, *okta.APIResponse, error) {
		return r.c.api.UserAPI.ListUsers(ctx).Search(first).SortBy("created").SortOrder("asc").Limit(1).Execute()
	})
	if err != nil {
		return nil, err
	}
	n := r.c.userPartitions
	if len(users) == 0 || users[0].Created == nil {
		return []string{first}, nil // no users, or no creation time: one search reads them all
	}
	oldest := users[0].Created.UTC()
	now, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		now = time.Now()
	}
	if !now.After(oldest) {
		return []string{first}, nil
	}
	step := now.Sub(oldest) / time.Duration(n)
	bounds := make([]string, 0, n-1)
	for i := 1; i < n; i++ {
		bounds = append(bounds, oldest.Add(time.Duration(i)*step).Format(oktaTime))
	}
	searches := make([]string, 0, n)
	searches = append(searches, fmt.Sprintf(`created lt "%s"`, bounds[0]))
	for i := 1; i < len(bounds); i++ {
		searches = append(searches, fmt.Sprintf(`created ge "%s" and created lt "%s"`, bounds[i-1], bounds[i]))
	}
	searches = append(searches, fmt.Sprintf(`created ge "%s"`, bounds[len(bounds)-1]))
	return searches, nil
}
