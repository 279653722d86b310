package entra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
)

// MaxPageSize is the largest $top Graph accepts on /users.
const MaxPageSize = 999

// Config says which tenant to read and how to reach it.
type Config struct {
	// TenantID, when set, must equal the id /organization reports: a scan
	// of the wrong tenant fails instead of producing a plausible snapshot.
	TenantID string
	// BaseURL is Graph's v1.0 root; DefaultBaseURL when empty. It must be
	// https: the SDK's Azure token provider refuses to authenticate anything
	// else.
	BaseURL string
	// Credential obtains tokens: an azidentity credential, or StaticToken.
	Credential azcore.TokenCredential
	// HTTPClient supplies the transport (TLS roots, proxy) and the
	// per-request timeout. The SDK's middleware (retry, redirect,
	// compression) is layered on top of its Transport.
	HTTPClient *http.Client
	// PageSize is the $top of /users, 1..MaxPageSize; MaxPageSize when 0.
	PageSize int
	// Retry bounds the re-issuing of a request that failed transiently
	// (5xx, reset connection, truncated body, no answer in time, a 429 the
	// SDK's retry handler gave up on); the zero value means the defaults.
	Retry retry.Policy
}

// userSelect are the user properties a scan reads. onPremisesImmutableId in
// particular is returned only when selected.
var userSelect = []string{
	"id", "userPrincipalName", "displayName", "mail", "accountEnabled", "userType",
	"creationType", "onPremisesImmutableId", "onPremisesSyncEnabled",
	"onPremisesSecurityIdentifier", "onPremisesDistinguishedName", "onPremisesSamAccountName",
}

// Collector reads one Entra tenant. Collect may be called more than once
// but not concurrently: its request count is the counter's difference.
type Collector struct {
	tenantID string
	base     *url.URL
	pageSize int
	client   *msgraphsdk.GraphServiceClient
	counter  *requestCounter
	retry    retry.Policy
	// retries counts re-sent requests: the collector's own and the 429s
	// the SDK's retry handler re-sent.
	retries atomic.Int64
}

// New checks cfg and builds the Graph client. It sends no request.
func New(cfg Config) (*Collector, error) {
	if cfg.Credential == nil {
		return nil, errors.New("entra: Config.Credential is required")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("entra: Config.BaseURL %q is not a URL: %w", raw, err)
	}
	if base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("entra: Config.BaseURL %q must be an absolute https URL (the Graph SDK sends tokens over https only)", raw)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("entra: Config.BaseURL %q must not carry a query or fragment", raw)
	}
	pageSize := cfg.PageSize
	if pageSize == 0 {
		pageSize = MaxPageSize
	}
	if pageSize < 1 || pageSize > MaxPageSize {
		return nil, fmt.Errorf("entra: Config.PageSize %d is outside 1..%d, the range Graph accepts", cfg.PageSize, MaxPageSize)
	}
	counter := &requestCounter{}
	client, err := newGraphClient(base, cfg.Credential, cfg.HTTPClient, counter)
	if err != nil {
		return nil, err
	}
	return &Collector{tenantID: cfg.TenantID, base: base, pageSize: pageSize, client: client, counter: counter, retry: cfg.Retry}, nil
}

// Name is the source this collector reads.
func (c *Collector) Name() record.Source { return record.SourceEntra }

// Collect reads the organization, the domains (with the issuer of each
// federated one) and every user, writing each to sink as it arrives: one
// batch for the organization, one for the domains, one per page of users.
// Before the users it asks Graph for a users delta link, which Stats.Sync
// carries for the next CollectChanges.
// On error the stats say how far it got; the batches already written are
// a partial snapshot and the error says which endpoint failed.
func (c *Collector) Collect(ctx context.Context, sink record.Sink) (stats record.Stats, err error) {
	return c.CollectFrom(ctx, sink, nil)
}

// Names of the lists the collector checkpoints (record.Checkpoint.List).
const (
	listOrganization = "organization"
	listDomains      = "domains"
	listUsers        = "users"
	// listUsersDelta keeps the delta link asked for before the users list
	// started (its Cursor), so that a resumed list reports the same one.
	listUsersDelta = "usersDelta"
)

// CollectFrom is Collect continuing an interrupted collection: the
// organization and the domains are one batch each, checkpointed as done;
// each users page carries the absolute @odata.nextLink of the next page as
// its checkpoint. Lists that from says are done are not read again; the
// users list continues at its stored nextLink (which must still point at
// the configured Graph host).
func (c *Collector) CollectFrom(ctx context.Context, sink record.Sink, from map[string]record.Checkpoint) (stats record.Stats, err error) {
	stats.Counts = map[string]int{}
	start, startRetries := c.counter.requests.Load(), c.retries.Load()
	defer func() {
		stats.Requests = int(c.counter.requests.Load() - start)
		stats.Retries = int(c.retries.Load() - startRetries)
	}()
	done := func(list string) bool {
		cp, ok := from[list]
		return ok && cp.Done()
	}
	tenantID := c.tenantID
	if !done(listOrganization) {
		org, err := c.readOrganization(ctx)
		if err != nil {
			return stats, err
		}
		if err := writeOrganization(ctx, sink, org, &stats); err != nil {
			return stats, err
		}
		tenantID = org.TenantID
	}
	if !done(listDomains) {
		if err := c.collectDomains(ctx, sink, &stats); err != nil {
			return stats, err
		}
	}
	usersCP, usersStarted := from[listUsers]
	deltaLink := from[listUsersDelta].Cursor
	if !usersStarted {
		// Asked before the list, not after: a user changed while the list
		// is read then shows up in the next incremental read (perhaps
		// again, which is harmless: a change replaces by id) instead of
		// being lost.
		deltaLink, err = c.latestDeltaLink(ctx)
		if err != nil {
			return stats, err
		}
		if err := sink.Write(ctx, record.Batch{Checkpoint: &record.Checkpoint{List: listUsersDelta, Cursor: deltaLink}}); err != nil {
			return stats, fmt.Errorf("entra: storing the users delta link: %w", err)
		}
	}
	if !usersStarted || !usersCP.Done() {
		if err := c.collectUsers(ctx, sink, usersCP.Cursor, &stats); err != nil {
			return stats, err
		}
	}
	// A list resumed from a run that predates delta links has none: the
	// next incremental scan then reads the tenant whole.
	if deltaLink != "" {
		stats.Sync = syncState(deltaLink, tenantID)
	}
	return stats, nil
}

// fetchPage runs one SDK call through the retry policy and turns every way it
// can fail, including a 2xx with no body, into a GraphError naming
// endpoint. The SDK's retry handler keeps 429s (it honours Retry-After);
// server errors, broken connections and unreadable bodies come back here
// and the same request (the same nextLink) is issued again.
func fetchPage[T any](ctx context.Context, c *Collector, endpoint string, call func(context.Context) (T, error)) (T, error) {
	var out T
	retries, err := retry.Do(ctx, c.retry, func(ctx context.Context) error {
		var status int
		resp, err := call(c.withRetryHandler(withStatusRecorder(ctx, &status)))
		if err != nil {
			return transient(describe(endpoint, status, err), err)
		}
		if any(resp) == nil {
			return retry.Transient(&GraphError{Endpoint: endpoint, Status: status, Message: "empty response body"}, 0)
		}
		out = resp
		return nil
	})
	c.retries.Add(int64(retries))
	return out, err
}

// fetch runs one SDK call once and turns every way it can fail, including
// a 2xx with no body, into a GraphError naming endpoint. Writes use it: they
// are not re-sent blindly.
func fetch[T any](ctx context.Context, endpoint string, call func(context.Context) (T, error)) (T, error) {
	var status int
	resp, err := call(withStatusRecorder(ctx, &status))
	if err != nil {
		var zero T
		return zero, describe(endpoint, status, err)
	}
	if any(resp) == nil {
		var zero T
		return zero, &GraphError{Endpoint: endpoint, Status: status, Message: "empty response body"}
	}
	return resp, nil
}

// withRetryHandler sets the SDK retry handler's options for the calls made
// under ctx (kiota reads request options from the context, where its
// adapter puts a request's own): retry 429s only, and close the body of
// every response it discards, which the handler itself does not.
func (c *Collector) withRetryHandler(ctx context.Context) context.Context {
	opts := &khttp.RetryHandlerOptions{
		MaxRetries: 5,
		ShouldRetry: func(_ time.Duration, _ int, _ *http.Request, resp *http.Response) bool {
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				return false
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			c.retries.Add(1)
			return true
		},
	}
	return context.WithValue(ctx, opts.GetKey(), opts)
}

// readOrganization reads the tenant and checks it is the configured one.
func (c *Collector) readOrganization(ctx context.Context) (record.EntraOrg, error) {
	const endpoint = "GET /organization"
	resp, err := fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.OrganizationCollectionResponseable, error) {
		return c.client.Organization().Get(ctx, nil)
	})
	if err != nil {
		return record.EntraOrg{}, err
	}
	orgs := resp.GetValue()
	if len(orgs) == 0 {
		return record.EntraOrg{}, &GraphError{Endpoint: endpoint, Message: "no organization in the response"}
	}
	org := orgs[0]
	rec := record.EntraOrg{TenantID: deref(org.GetId()), DisplayName: deref(org.GetDisplayName())}
	if rec.TenantID == "" {
		return record.EntraOrg{}, &GraphError{Endpoint: endpoint, Message: "organization has no id"}
	}
	if c.tenantID != "" && !strings.EqualFold(rec.TenantID, c.tenantID) {
		return record.EntraOrg{}, fmt.Errorf("entra: the credential reads tenant %s, but the configuration names tenant %s", rec.TenantID, c.tenantID)
	}
	for _, d := range org.GetVerifiedDomains() {
		if deref(d.GetIsInitial()) {
			rec.InitialDomain = deref(d.GetName())
		}
	}
	return rec, nil
}

func writeOrganization(ctx context.Context, sink record.Sink, org record.EntraOrg, stats *record.Stats) error {
	if err := sink.Write(ctx, record.Batch{EntraOrgs: []record.EntraOrg{org}, Checkpoint: &record.Checkpoint{List: listOrganization}}); err != nil {
		return fmt.Errorf("entra: storing the organization: %w", err)
	}
	stats.Counts["organizations"]++
	return nil
}

func (c *Collector) collectDomains(ctx context.Context, sink record.Sink, stats *record.Stats) error {
	var domains []record.EntraDomain
	endpoint := "GET /domains"
	resp, err := fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.DomainCollectionResponseable, error) {
		return c.client.Domains().Get(ctx, nil)
	})
	for page := 1; ; page++ {
		if err != nil {
			return err
		}
		value := resp.GetValue()
		if value == nil {
			return &GraphError{Endpoint: endpoint, Message: "response has no value array"}
		}
		for _, d := range value {
			domains = append(domains, record.EntraDomain{
				ID:                 deref(d.GetId()),
				AuthenticationType: deref(d.GetAuthenticationType()),
				IsVerified:         deref(d.GetIsVerified()),
				IsInitial:          deref(d.GetIsInitial()),
			})
		}
		next, linkErr := c.nextLink(endpoint, resp.GetOdataNextLink())
		if linkErr != nil {
			return linkErr
		}
		if next == "" {
			break
		}
		endpoint = fmt.Sprintf("GET /domains page %d (%s)", page+1, next)
		resp, err = fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.DomainCollectionResponseable, error) {
			return c.client.Domains().WithUrl(next).Get(ctx, nil)
		})
	}

	for i := range domains {
		d := &domains[i]
		if !strings.EqualFold(d.AuthenticationType, "Federated") {
			continue
		}
		endpoint := "GET /domains/" + d.ID + "/federationConfiguration"
		resp, err := fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.InternalDomainFederationCollectionResponseable, error) {
			return c.client.Domains().ByDomainId(d.ID).FederationConfiguration().Get(ctx, nil)
		})
		if err != nil {
			return err
		}
		// A federated domain has at most one federation configuration; one
		// without any keeps an empty issuer, which classification reports.
		for _, f := range resp.GetValue() {
			if issuer := deref(f.GetIssuerUri()); issuer != "" {
				d.IssuerURI = issuer
				break
			}
		}
		stats.Counts["federationConfigurations"]++
	}
	if err := sink.Write(ctx, record.Batch{EntraDomains: domains, Checkpoint: &record.Checkpoint{List: listDomains}}); err != nil {
		return fmt.Errorf("entra: storing %d domains: %w", len(domains), err)
	}
	stats.Counts["domains"] += len(domains)
	return nil
}

// collectUsers reads the users list from its start, or from the absolute
// nextLink resumeAt of an interrupted run.
func (c *Collector) collectUsers(ctx context.Context, sink record.Sink, resumeAt string, stats *record.Stats) error {
	top := int32(c.pageSize)
	query := &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: userSelect, Top: &top},
	}
	endpoint := "GET /users"
	var resp models.UserCollectionResponseable
	var err error
	if resumeAt == "" {
		resp, err = fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.UserCollectionResponseable, error) {
			return c.client.Users().Get(ctx, query)
		})
	} else {
		endpoint = "GET /users resumed at " + resumeAt
		next, linkErr := c.nextLink(endpoint, &resumeAt)
		if linkErr != nil {
			return linkErr
		}
		resp, err = fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.UserCollectionResponseable, error) {
			return c.client.Users().WithUrl(next).Get(ctx, nil)
		})
	}
	for page := 1; ; page++ {
		if err != nil {
			return err
		}
		value := resp.GetValue()
		if value == nil {
			return &GraphError{Endpoint: endpoint, Message: "response has no value array"}
		}
		batch := make([]record.EntraUser, 0, len(value))
		for i, u := range value {
			rec := entraUser(u)
			if rec.ID == "" {
				return &GraphError{Endpoint: endpoint, Message: fmt.Sprintf("user %d of the page has no id", i)}
			}
			batch = append(batch, rec)
		}
		next, linkErr := c.nextLink(endpoint, resp.GetOdataNextLink())
		if linkErr != nil {
			return linkErr
		}
		cp := &record.Checkpoint{List: listUsers, Cursor: next}
		if writeErr := sink.Write(ctx, record.Batch{EntraUsers: batch, Checkpoint: cp}); writeErr != nil {
			return fmt.Errorf("entra: storing users page %d: %w", page, writeErr)
		}
		stats.Counts["users"] += len(batch)
		if next == "" {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("entra: stopped after users page %d: %w", page, ctxErr)
		}
		endpoint = fmt.Sprintf("GET /users page %d (%s)", page+1, next)
		resp, err = fetchPage(ctx, c, endpoint, func(ctx context.Context) (models.UserCollectionResponseable, error) {
			return c.client.Users().WithUrl(next).Get(ctx, nil)
		})
	}
}

// nextLink returns the @odata.nextLink to follow, "" at the end. Graph's
// link is absolute and followed verbatim; one that leaves the configured
// host is refused, since the token provider would also authenticate to the
// other national-cloud hosts on its allow-list.
func (c *Collector) nextLink(endpoint string, link *string) (string, error) {
	return c.followLink(endpoint, "@odata.nextLink", link)
}

// followLink checks a link Graph handed out (annotation names which) the
// way nextLink does; "" when there is none.
func (c *Collector) followLink(endpoint, annotation string, link *string) (string, error) {
	next := deref(link)
	if next == "" {
		return "", nil
	}
	u, err := url.Parse(next)
	if err != nil || !u.IsAbs() {
		return "", &GraphError{Endpoint: endpoint, Message: fmt.Sprintf("%s %q is not an absolute URL", annotation, next)}
	}
	if !strings.EqualFold(u.Host, c.base.Host) || u.Scheme != c.base.Scheme {
		return "", &GraphError{Endpoint: endpoint, Message: fmt.Sprintf("%s %q leaves the configured Graph host %s", annotation, next, c.base.Host)}
	}
	return next, nil
}

func entraUser(u models.Userable) record.EntraUser {
	return record.EntraUser{
		ID:                deref(u.GetId()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		DisplayName:       deref(u.GetDisplayName()),
		Mail:              deref(u.GetMail()),
		AccountEnabled:    deref(u.GetAccountEnabled()),
		UserType:          deref(u.GetUserType()),
		CreationType:      deref(u.GetCreationType()),
		ImmutableID:       deref(u.GetOnPremisesImmutableId()),
		SyncEnabled:       deref(u.GetOnPremisesSyncEnabled()),
		SecurityID:        deref(u.GetOnPremisesSecurityIdentifier()),
		OnPremisesDN:      deref(u.GetOnPremisesDistinguishedName()),
		OnPremisesSAM:     deref(u.GetOnPremisesSamAccountName()),
	}
}
