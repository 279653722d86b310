package okta

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/retry"
	"github.com/anchorscan/anchorscan/scan/sim"
)

const testClientID = "0oasimserviceapp"

func rsaKeyPEM(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// oauthOrg serves tenant with a service app holding key's public half and
// granted scopes; it counts token requests and records their paths.
func oauthOrg(t *testing.T, key *rsa.PrivateKey, granted []string, tokenRequests *atomic.Int64) *httptest.Server {
	t.Helper()
	isolateSDK(t)
	h := sim.NewOktaHandler(sim.NewState(loadExampleTenant(t)), sim.OktaOptions{
		Token: testToken,
		OAuth: sim.OktaOAuthOptions{Clients: []sim.OktaOAuthClient{{ClientID: testClientID, PublicKey: &key.PublicKey, Scopes: granted}}},
	})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			tokenRequests.Add(1)
		} else if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("%s %s sent without a Bearer token", r.Method, r.URL.Path)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A scan with private-key JWT reads exactly what a scan with an API token
// reads, and fetches one token for the whole scan: the SDK signs the
// assertion for https://127.0.0.1:port/oauth2/v1/token, port included.
func TestCollectWithPrivateKeyJWT(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	var tokens atomic.Int64
	srv := oauthOrg(t, key, []string{"okta.users.read", "okta.apps.read", "okta.profileMappings.read"}, &tokens)
	c, err := New(Config{OrgURL: srv.URL, HTTPClient: srv.Client(), OAuth: &OAuthConfig{
		ClientID: testClientID, PrivateKey: keyPEM, Scopes: []string{"okta.users.read", "okta.apps.read", "okta.profileMappings.read"}}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memorySink{}
	if _, err := c.Collect(context.Background(), sink); err != nil {
		t.Fatalf("Collect with OAuth: %v", err)
	}
	users, apps, appUsers := sink.all()
	wantUsers, wantApps, wantAppUsers := expectedRecords(loadExampleTenant(t))
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if len(apps) != len(wantApps) || len(appUsers) != len(wantAppUsers) {
		t.Errorf("got %d apps, %d app users; want %d, %d", len(apps), len(appUsers), len(wantApps), len(wantAppUsers))
	}
	if n := tokens.Load(); n < 1 || n > 3 {
		t.Errorf("token requests = %d, want 1 to 3 (the SDK caches the token; lists are read concurrently)", n)
	}
}

func TestPrivateKeyJWTRefused(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	_, otherPEM := rsaKeyPEM(t)
	readAll := []string{"okta.users.read", "okta.apps.read", "okta.profileMappings.read"}
	tests := []struct {
		name     string
		cfg      OAuthConfig
		granted  []string
		wantCode string
		wantDesc string
	}{
		{name: "key not registered", cfg: OAuthConfig{ClientID: testClientID, PrivateKey: otherPEM, Scopes: readAll},
			granted: readAll, wantCode: "invalid_client", wantDesc: "signature is invalid"},
		{name: "unknown client", cfg: OAuthConfig{ClientID: "0oanobody", PrivateKey: keyPEM, Scopes: readAll},
			granted: readAll, wantCode: "invalid_client", wantDesc: "not registered"},
		{name: "scope not granted", cfg: OAuthConfig{ClientID: testClientID, PrivateKey: keyPEM, Scopes: append(readAll, "okta.apps.manage")},
			granted: readAll, wantCode: "invalid_scope", wantDesc: "okta.apps.manage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tokens atomic.Int64
			srv := oauthOrg(t, key, tt.granted, &tokens)
			cfg := tt.cfg
			// One attempt: a refused token is not transient, and the test
			// need not wait for the retry policy to agree.
			c, err := New(Config{OrgURL: srv.URL, HTTPClient: srv.Client(), OAuth: &cfg, Retry: retry.Policy{Attempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.RequestToken(context.Background())
			var te *TokenError
			if !errors.As(err, &te) || te.Code != tt.wantCode || !strings.Contains(te.Description, tt.wantDesc) {
				t.Fatalf("RequestToken error = %v; want %s mentioning %q", err, tt.wantCode, tt.wantDesc)
			}
			if _, err := c.Collect(context.Background(), &memorySink{}); err == nil {
				t.Error("Collect succeeded with a refused token request")
			}
		})
	}
}

// A token granted okta.users.read only cannot list apps: the fake answers
// 403 as Okta does, and the collector says permission denied.
func TestBearerTokenLimitedToItsScopes(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	var tokens atomic.Int64
	srv := oauthOrg(t, key, []string{"okta.users.read"}, &tokens)
	c, err := New(Config{OrgURL: srv.URL, HTTPClient: srv.Client(), OAuth: &OAuthConfig{ClientID: testClientID, PrivateKey: keyPEM, Scopes: []string{"okta.users.read"}}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.RequestToken(context.Background())
	if err != nil || !cmp.Equal(info.Scopes, []string{"okta.users.read"}) || info.ExpiresIn != time.Hour {
		t.Fatalf("RequestToken = %+v, %v", info, err)
	}
	_, err = c.Collect(context.Background(), &memorySink{})
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "/api/v1/apps") {
		t.Errorf("Collect error = %v; want permission denied on /api/v1/apps", err)
	}
}

func TestSignedAssertionReplayRefused(t *testing.T) {
	key, _ := rsaKeyPEM(t)
	var tokens atomic.Int64
	srv := oauthOrg(t, key, []string{"okta.users.read"}, &tokens)
	assertion, err := SignClientAssertion(key, "", testClientID, srv.URL+TokenPath, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	post := func() int {
		body := "grant_type=client_credentials&scope=okta.users.read&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + assertion
		resp, err := srv.Client().Post(srv.URL+TokenPath, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(); got != http.StatusOK {
		t.Fatalf("first use: HTTP %d", got)
	}
	if got := post(); got != http.StatusUnauthorized {
		t.Errorf("replayed jti: HTTP %d, want 401", got)
	}
	// An assertion for another audience (the port dropped) is refused.
	wrongAud, _ := SignClientAssertion(key, "", testClientID, "https://127.0.0.1"+TokenPath, time.Now())
	resp, err := srv.Client().Post(srv.URL+TokenPath+"?grant_type=client_credentials&scope=okta.users.read&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="+wrongAud, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong audience: HTTP %d, want 401", resp.StatusCode)
	}
}
