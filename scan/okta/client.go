package okta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/retry"
)

// Page sizes: Okta's maximum for each endpoint, which is also what DESIGN §4
// asks for, so that a scan costs the fewest requests.
const (
	DefaultUsersPageSize    = 200
	DefaultAppUsersPageSize = 500
	maxUsersPageSize        = 200
	maxAppUsersPageSize     = 500
	appsPageSize            = 200
	// maxUserPartitions bounds the parallel searches: each holds a
	// connection and draws on the same per-org rate limit.
	maxUserPartitions = 16
	mappingsPageSize  = 200
)

// Retry budget for 429s. The SDK retries a 429 only when both are set; it
// waits until X-Rate-Limit-Reset, capped at the back-off (seconds).
const (
	rateLimitMaxRetries = 5
	rateLimitMaxBackoff = 60
)

// Config says which org to read and how.
type Config struct {
	// OrgURL is the org's https URL, e.g. https://contoso.okta.com; a port is
	// kept (the fake servers listen on loopback ports).
	OrgURL string
	// Token is an SSWS API token. It is sent only to OrgURL.
	Token string
	// OAuth, instead of Token, signs in as an OAuth 2.0 service app with a
	// private-key JWT; the SDK fetches and renews the access token from
	// OrgURL/oauth2/v1/token.
	OAuth *OAuthConfig
	// HTTPClient carries TLS settings (a private CA for the simulator);
	// nil means a client with http.DefaultTransport.
	HTTPClient *http.Client
	// UsersPageSize is the limit of each /api/v1/users page: 1..200, 0 means 200.
	UsersPageSize int
	// AppUsersPageSize is the limit of each app users page: 1..500, 0 means 500.
	AppUsersPageSize int
	// UserPartitions is how many searches over creation-time ranges read
	// the users list in parallel; 0 or 1 reads it as one list.
	UserPartitions int
	// Retry bounds the re-issuing of a request that failed transiently
	// (5xx, reset connection, truncated body, no answer in time, a 429 the
	// SDK's own retries did not absorb); the zero value means the defaults.
	Retry retry.Policy
}

// Collector reads one Okta org. It holds no state between Collect calls
// beyond the SDK client, so one Collector may serve several scans.
type Collector struct {
	orgURL           string
	oauth            *OAuthConfig
	httpClient       *http.Client
	api              *okta.APIClient
	usersPageSize    int32
	appUsersPageSize int32
	userPartitions   int
	retry            retry.Policy
}

// New checks cfg and builds the SDK client. It sends no request.
func New(cfg Config) (*Collector, error) {
	u, err := url.Parse(cfg.OrgURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("okta: org URL %q is not an absolute URL like https://contoso.okta.com", cfg.OrgURL)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("okta: org URL %q must use https: the API token must not travel in clear text", cfg.OrgURL)
	}
	auth, err := authSetters(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.UserPartitions < 0 || cfg.UserPartitions > maxUserPartitions {
		return nil, fmt.Errorf("okta: UserPartitions %d is out of range 0..%d", cfg.UserPartitions, maxUserPartitions)
	}
	users, err := pageSize("UsersPageSize", cfg.UsersPageSize, DefaultUsersPageSize, maxUsersPageSize)
	if err != nil {
		return nil, err
	}
	appUsers, err := pageSize("AppUsersPageSize", cfg.AppUsersPageSize, DefaultAppUsersPageSize, maxAppUsersPageSize)
	if err != nil {
		return nil, err
	}

	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	hc := *base // a copy: the caller's client keeps its own transport
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = countingTransport{next: next}

	orgURL := u.Scheme + "://" + u.Host
	conf, err := okta.NewConfiguration(
		isolateFromAmbientConfig,
		okta.WithOrgUrl(orgURL),
		auth,
		okta.WithCache(false), // a cached page would hide changes between scans
		okta.WithHttpClientPtr(&hc),
		okta.WithRateLimitMaxRetries(rateLimitMaxRetries),
		okta.WithRateLimitMaxBackOff(rateLimitMaxBackoff),
		okta.WithUserAgentExtra("anchorscan"),
	)
	if err != nil {
		return nil, fmt.Errorf("okta: configuring the SDK for %s: %w", orgURL, err)
	}
	// NewConfiguration keeps only the hostname of the org URL; requests must
	// go to host:port. The OAuth token request is not affected: the SDK
	// builds its URL from the org URL as given (orgURL, with the port), and
	// the client assertion's audience is that same URL.
	conf.Host = u.Host
	return &Collector{
		orgURL:           orgURL,
		oauth:            cfg.OAuth,
		httpClient:       &hc,
		api:              okta.NewAPIClient(conf),
		usersPageSize:    users,
		appUsersPageSize: appUsers,
		userPartitions:   cfg.UserPartitions,
		retry:            cfg.Retry,
	}, nil
}

func pageSize(name string, v, def, maxSize int) (int32, error) {
	switch {
	case v == 0:
		return int32(def), nil
	case v < 0 || v > maxSize:
		return 0, fmt.Errorf("okta: %s %d is outside 1..%d", name, v, maxSize)
	}
	return int32(v), nil
}

// isolateFromAmbientConfig runs before anchorscan's own settings.
// NewConfiguration has already merged ~/.okta/okta.yaml, an .okta.yaml next
// to the SDK's sources and every OKTA_* variable (envconfig maps even
// OKTA_DEBUG, which would log the Authorization header). A scan must use only
// what it was configured with, so all of that is reset to the defaults.
func isolateFromAmbientConfig(c *okta.Configuration) {
	var fresh okta.Configuration
	c.Okta = fresh.Okta
	c.Okta.Client.AuthorizationMode = "SSWS"
	c.Debug = false
	c.DefaultHeader = map[string]string{}
	c.UserAgentExtra = ""
	c.Host, c.Scheme = "", ""
	c.PrivateKeySigner = nil
	c.CacheManager = nil
}

// Name is the source this collector reads.
func (c *Collector) Name() record.Source { return record.SourceOkta }

// requestCountKey carries a run's request counters in the request context,
// so that concurrent Collect calls on one Collector count their own requests.
type requestCountKey struct{}

// requestCounters are one run's: requests that reached the network, and
// the 429s among them (each one a retry by the SDK or the collector).
type requestCounters struct {
	requests, throttled atomic.Int64
}

// countingTransport counts every request that reaches the network, retries
// included, for the run whose context the request carries, and shows a list
// reader the headers of each answer before the SDK reads its body.
type countingTransport struct {
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n, _ := r.Context().Value(requestCountKey{}).(*requestCounters)
	if n != nil {
		n.requests.Add(1)
	}
	resp, err := t.next.RoundTrip(r)
	if n != nil && resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		n.throttled.Add(1)
	}
	if saw, ok := r.Context().Value(headersKey{}).(func(http.Header)); ok && err == nil && resp.StatusCode == http.StatusOK {
		saw(resp.Header)
	}
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// The SDK re-sends a request that failed with EOF at once and
		// without counting, for as long as the context lasts: a server that
		// closes every connection would be hammered. The collector retries
		// it with back-off instead.
		return nil, closedConnError{err}
	}
	return resp, err
}

// headersKey carries, in a request's context, a function the transport
// calls with the headers of a 200 answer before its body is read (see
// readList).
type headersKey struct{}

// closedConnError is a connection the server closed before answering. It
// deliberately does not unwrap to io.EOF (see countingTransport).
type closedConnError struct{ err error }

func (e closedConnError) Error() string {
	return "the server closed the connection before answering: " + e.err.Error()
}

// withRequestCounter returns ctx carrying fresh counters.
func withRequestCounter(ctx context.Context) (context.Context, *requestCounters) {
	n := new(requestCounters)
	return context.WithValue(ctx, requestCountKey{}, n), n
}
