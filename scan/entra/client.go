package entra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// DefaultBaseURL is Microsoft Graph v1.0 in the global cloud.
const DefaultBaseURL = "https://graph.microsoft.com/v1.0"

// graphHosts are the national-cloud Graph hosts the SDK trusts by default;
// the configured BaseURL's host is added to them.
var graphHosts = []string{
	"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us",
	"graph.microsoft.de", "microsoftgraph.chinacloudapi.cn", "canary.graph.microsoft.com",
}

// defaultHTTPTimeout bounds one request, retries excluded; it is the SDK's
// own default.
const defaultHTTPTimeout = 100 * time.Second

// newGraphClient builds the SDK client: the caller's transport (or the
// SDK's) wrapped in a counting round tripper, under the SDK's default
// middleware (retry, redirect, compression, …), with the Azure token
// provider allowed to authenticate to base's host.
func newGraphClient(base *url.URL, cred azcore.TokenCredential, hc *http.Client, counter *requestCounter) (*msgraphsdk.GraphServiceClient, error) {
	// The allow-list matches url.Hostname(), without the port: adding
	// "127.0.0.1:8443" would match nothing and the SDK would then send every
	// request without a token, silently.
	hosts := append([]string{strings.ToLower(base.Hostname())}, graphHosts...)
	scopes := []string{"https://" + base.Host + "/.default"}
	auth, err := kiotaazure.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, scopes, hosts)
	if err != nil {
		return nil, fmt.Errorf("entra: building the Graph token provider: %w", err)
	}

	parent := khttp.GetDefaultTransport()
	timeout := defaultHTTPTimeout
	if hc != nil {
		if hc.Transport != nil {
			parent = hc.Transport
		}
		if hc.Timeout > 0 {
			timeout = hc.Timeout
		}
	}
	counter.next = parent
	options := msgraphsdk.GetDefaultClientOptions()
	middleware := msgraphcore.GetDefaultMiddlewaresWithOptions(&options)
	httpClient := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(counter, middleware...),
		Timeout:   timeout,
		// The SDK's redirect middleware follows redirects itself (and drops
		// the Authorization header across hosts); net/http must not.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, fmt.Errorf("entra: building the Graph request adapter: %w", err)
	}
	adapter.SetBaseUrl(strings.TrimRight(base.String(), "/"))
	return msgraphsdk.NewGraphServiceClient(adapter), nil
}

// requestCounter counts the HTTP requests that leave the process, retries
// included, and notes the status of the last response of each Graph call so
// that an error the SDK reports without one (an unparsable body) can still
// name it.
type requestCounter struct {
	next     http.RoundTripper
	requests atomic.Int64
}

type statusKey struct{}

// withStatusRecorder returns a context under which the counter records the
// HTTP status of each response into *status.
func withStatusRecorder(ctx context.Context, status *int) context.Context {
	return context.WithValue(ctx, statusKey{}, status)
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := c.next.RoundTrip(req)
	if resp != nil {
		if p, ok := req.Context().Value(statusKey{}).(*int); ok {
			*p = resp.StatusCode
		}
	}
	return resp, err
}

// StaticToken is an azcore.TokenCredential that always returns the same
// bearer token: for the simulator, or a token obtained elsewhere. It never
// prints the token, whatever the formatting verb or logger.
type StaticToken struct {
	token string
}

// NewStaticToken returns a credential that always answers token.
func NewStaticToken(token string) *StaticToken {
	return &StaticToken{token: token}
}

// GetToken implements azcore.TokenCredential.
func (s *StaticToken) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if s == nil || s.token == "" {
		return azcore.AccessToken{}, errors.New("entra: static token is empty")
	}
	return azcore.AccessToken{Token: s.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

const redactedToken = "entra.StaticToken{[redacted]}"

// String hides the token.
func (s *StaticToken) String() string { return redactedToken }

// GoString hides the token from %#v.
func (s *StaticToken) GoString() string { return redactedToken }

// Format hides the token from every fmt verb, %x and %q included.
func (s *StaticToken) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedToken)) }

// LogValue hides the token from log/slog.
func (s *StaticToken) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalJSON hides the token from encoding/json.
func (s *StaticToken) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
