package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/anchorscan/anchorscan/scan/record"
)

// Keys of the collector's record.Stats.Sync.
const (
	// SyncDeltaLink is the users delta link the next CollectChanges follows.
	SyncDeltaLink = "deltaLink"
	// SyncTenantID is the tenant the delta link belongs to, when known: a
	// link read from one tenant must not patch another's records.
	SyncTenantID = "tenantId"
)

// syncState is the Stats.Sync of a read that ended with deltaLink.
func syncState(deltaLink, tenantID string) map[string]string {
	s := map[string]string{SyncDeltaLink: deltaLink}
	if tenantID != "" {
		s[SyncTenantID] = strings.ToLower(tenantID)
	}
	return s
}

// latestDeltaLink asks Graph for a users delta link for now
// ($deltatoken=latest), without listing any user. The $select is the users
// list's: a delta link keeps the selection of the call that made it.
func (c *Collector) latestDeltaLink(ctx context.Context) (string, error) {
	const endpoint = "GET /users/delta?$deltatoken=latest"
	// The SDK's delta builder has no $deltatoken parameter, hence the URL.
	latest := strings.TrimRight(c.base.String(), "/") + "/users/delta()?$select=" + strings.Join(userSelect, ",") + "&$deltatoken=latest"
	resp, err := fetchPage(ctx, c, endpoint, func(ctx context.Context) (users.DeltaGetResponseable, error) {
		return c.client.Users().Delta().WithUrl(latest).GetAsDeltaGetResponse(ctx, nil)
	})
	if err != nil {
		return "", err
	}
	link, err := c.followLink(endpoint, "@odata.deltaLink", resp.GetOdataDeltaLink())
	if err != nil {
		return "", err
	}
	if link == "" {
		return "", &GraphError{Endpoint: endpoint, Message: "response has no @odata.deltaLink"}
	}
	return link, nil
}

// CollectChanges reads what changed in the tenant since the read whose
// Stats.Sync is since, and writes it to sink: the organization and the
// domains whole (one batch each, as Collect does), then one batch per page
// of the users delta with the changed users whole and the removed ones in
// Batch.Removed. The returned Stats.Sync is the delta link the round ended
// with. When the stored link cannot be followed (none, another host,
// another tenant, expired) it returns record.ErrResync before it writes
// anything.
func (c *Collector) CollectChanges(ctx context.Context, sink record.Sink, since map[string]string) (stats record.Stats, err error) {
	stats.Counts = map[string]int{}
	start, startRetries := c.counter.requests.Load(), c.retries.Load()
	defer func() {
		stats.Requests = int(c.counter.requests.Load() - start)
		stats.Retries = int(c.retries.Load() - startRetries)
	}()

	stored := since[SyncDeltaLink]
	if stored == "" {
		return stats, fmt.Errorf("entra: the last scan recorded no users delta link: %w", record.ErrResync)
	}
	link, err := c.followLink("the last scan's users delta link", "@odata.deltaLink", &stored)
	if err != nil {
		return stats, fmt.Errorf("%w: %w", record.ErrResync, err)
	}
	// The first page is read before anything is written, so that an
	// expired link still leaves the runner free to read the tenant whole.
	endpoint := "GET /users/delta (changes since the last scan)"
	resp, err := c.deltaPage(ctx, endpoint, link)
	if err != nil {
		if syncStateLost(err) {
			return stats, fmt.Errorf("entra: the users delta link of the last scan expired: %w: %w", record.ErrResync, err)
		}
		return stats, err
	}
	org, err := c.readOrganization(ctx)
	if err != nil {
		return stats, err
	}
	if want := since[SyncTenantID]; want != "" && !strings.EqualFold(want, org.TenantID) {
		return stats, fmt.Errorf("entra: the last scan read tenant %s, the credential reads tenant %s: %w", want, org.TenantID, record.ErrResync)
	}
	if err := writeOrganization(ctx, sink, org, &stats); err != nil {
		return stats, err
	}
	if err := c.collectDomains(ctx, sink, &stats); err != nil {
		return stats, err
	}

	for page := 1; ; page++ {
		changed, removed, err := deltaChanges(endpoint, resp.GetValue())
		if err != nil {
			return stats, err
		}
		next, err := c.nextLink(endpoint, resp.GetOdataNextLink())
		if err != nil {
			return stats, err
		}
		var deltaLink string
		if next == "" {
			deltaLink, err = c.followLink(endpoint, "@odata.deltaLink", resp.GetOdataDeltaLink())
			if err != nil {
				return stats, err
			}
			if deltaLink == "" {
				return stats, &GraphError{Endpoint: endpoint, Message: "page has neither @odata.nextLink nor @odata.deltaLink"}
			}
		}
		batch := record.Batch{EntraUsers: changed}
		if len(removed) > 0 {
			batch.Removed = &record.Removals{EntraUsers: removed}
		}
		if err := sink.Write(ctx, batch); err != nil {
			return stats, fmt.Errorf("entra: storing users delta page %d: %w", page, err)
		}
		stats.Counts["users"] += len(changed)
		stats.Counts["removed"] += len(removed)
		if next == "" {
			stats.Sync = syncState(deltaLink, org.TenantID)
			return stats, nil
		}
		if err := ctx.Err(); err != nil {
			return stats, fmt.Errorf("entra: stopped after users delta page %d: %w", page, err)
		}
		endpoint = fmt.Sprintf("GET /users/delta page %d (%s)", page+1, next)
		resp, err = c.deltaPage(ctx, endpoint, next)
		if err != nil {
			return stats, err
		}
	}
}

// deltaPage fetches one page of a users delta round at link (a delta or
// next link, carrying the round's $select). The page size is asked for
// with Prefer, as delta refuses $top; Graph caps it at what it serves.
func (c *Collector) deltaPage(ctx context.Context, endpoint, link string) (users.DeltaGetResponseable, error) {
	headers := abs.NewRequestHeaders()
	headers.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(c.pageSize))
	cfg := &users.DeltaRequestBuilderGetRequestConfiguration{Headers: headers}
	resp, err := fetchPage(ctx, c, endpoint, func(ctx context.Context) (users.DeltaGetResponseable, error) {
		return c.client.Users().Delta().WithUrl(link).GetAsDeltaGetResponse(ctx, cfg)
	})
	if err != nil {
		return nil, err
	}
	if resp.GetValue() == nil {
		return nil, &GraphError{Endpoint: endpoint, Message: "response has no value array"}
	}
	return resp, nil
}

// deltaChanges splits one delta page into the users to store whole and the
// ids to remove ("@removed", whether soft-deleted or gone for good: neither
// is in /users). A user listed twice on the page keeps its last state,
// since the store applies a batch's removals before its records.
func deltaChanges(endpoint string, value []models.Userable) (changed []record.EntraUser, removed []string, err error) {
	last := make(map[string]int, len(value))
	for i, u := range value {
		id := deref(u.GetId())
		if id == "" {
			return nil, nil, &GraphError{Endpoint: endpoint, Message: fmt.Sprintf("user %d of the page has no id", i)}
		}
		last[id] = i
	}
	for i, u := range value {
		id := deref(u.GetId())
		if last[id] != i {
			continue
		}
		if r, ok := u.GetAdditionalData()["@removed"]; ok && r != nil {
			removed = append(removed, id)
			continue
		}
		changed = append(changed, entraUser(u))
	}
	return changed, removed, nil
}

// syncStateLost reports whether Graph refused a delta or skip token because
// it no longer holds the state behind it: 400 syncStateNotFound for
// directory objects, 410 Gone (resyncRequired) where other workloads say so.
// syncState is the Stats.Sync of a read that ended with deltaLink.
func syncStateLost(err error) bool {
	var ge *GraphError
	if !errors.As(err, &ge) {
		return false
	}
	switch {
	case ge.Status == http.StatusGone:
		return true
	case ge.Status == http.StatusBadRequest:
		return strings.EqualFold(ge.Code, "syncStateNotFound") || strings.EqualFold(ge.Code, "resyncRequired")
	}
	return false
}
