package sim

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/okta/okta-sdk-golang/v5/okta"
)

// The incremental-read tests run the three fakes over one generated tenant
// of this many identities and mutate 1% of it.
const incrementalTestUsers = 2000

var (
	incrementalTenantOnce sync.Once
	incrementalTenantData []byte
	incrementalTenantErr  error
)

// incrementalTenant is a fresh copy of the generated 2,000-identity tenant
// (generated once per test binary, copied through the fixture format).
func incrementalTenant(t testing.TB) *Tenant {
	t.Helper()
	incrementalTenantOnce.Do(func() {
		tn, err := Generate(GenerateOptions{Users: incrementalTestUsers, Seed: 2026})
		if err != nil {
			incrementalTenantErr = err
			return
		}
		var b strings.Builder
		if err := WriteFixture(&b, tn); err != nil {
			incrementalTenantErr = err
			return
		}
		incrementalTenantData = []byte(b.String())
	})
	if incrementalTenantErr != nil {
		t.Fatal(incrementalTenantErr)
	}
	tn, err := LoadFixture(strings.NewReader(string(incrementalTenantData)))
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// startIncremental runs the fakes over a fresh copy of the tenant.
func startIncremental(t testing.TB) *Servers {
	t.Helper()
	s, err := Start(context.Background(), NewState(incrementalTenant(t)), ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the simulator: %v", err)
		}
	})
	return s
}

// oktaSDK is the official Okta client against the fake, configured as the
// collector configures it (DESIGN §4 pitfalls): host:port set after
// NewConfiguration, no cache, nothing read from ~/.okta or OKTA_*.
func oktaSDK(t testing.TB, s *Servers) *okta.APIClient {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	u, err := url.Parse(s.OktaURL)
	if err != nil {
		t.Fatal(err)
	}
	isolate := func(c *okta.Configuration) {
		var fresh okta.Configuration
		c.Okta = fresh.Okta
		c.Okta.Client.AuthorizationMode = "SSWS"
		c.DefaultHeader = map[string]string{}
		c.Host, c.Scheme = "", ""
	}
	conf, err := okta.NewConfiguration(isolate, okta.WithOrgUrl(s.OktaURL), okta.WithToken(s.OktaToken),
		okta.WithCache(false), okta.WithHttpClientPtr(s.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	conf.Host = u.Host
	return okta.NewAPIClient(conf)
}

// oktaNextAfter is the after cursor of resp's rel="next" Link, or "".
func oktaNextAfter(t testing.TB, h http.Header) string {
	t.Helper()
	for _, v := range h.Values("Link") {
		target, rel, ok := strings.Cut(v, "; rel=")
		if !ok || strings.Trim(rel, `"`) != "next" {
			continue
		}
		u, err := url.Parse(strings.Trim(target, "<>"))
		if err != nil {
			t.Fatalf("Link %q: %v", v, err)
		}
		after := u.Query().Get("after")
		if after == "" {
			t.Fatalf("next Link %q has no after cursor", v)
		}
		return after
	}
	return ""
}

// staticGraphToken authenticates every Graph SDK request with the fake's
// token; azidentity is not needed to talk to loopback.
type staticGraphToken string

func (tok staticGraphToken) AuthenticateRequest(_ context.Context, req *abs.RequestInformation, _ map[string]interface{}) error {
	req.Headers.Add("Authorization", "Bearer "+string(tok))
	return nil
}

// graphSDK is msgraph-sdk-go with its default middleware against the fake.
func graphSDK(t testing.TB, s *Servers) *msgraphsdk.GraphServiceClient {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.ClientTLS()
	options := msgraphsdk.GetDefaultClientOptions()
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(tr, msgraphcore.GetDefaultMiddlewaresWithOptions(&options)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		staticGraphToken(s.GraphToken), nil, nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(s.GraphURL)
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// ldapSDK is a bound go-ldap connection over LDAPS.
func ldapSDK(t testing.TB, s *Servers) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.LDAPURL, ldap.DialWithTLSConfig(s.ClientTLS().Clone()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(s.LDAPBindDN, s.LDAPPassword); err != nil {
		t.Fatal(err)
	}
	return conn
}
