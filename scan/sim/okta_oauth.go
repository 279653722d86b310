package sim

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// OktaOAuthClient is a service app registered with the fake org: it signs
// client assertions with the private half of PublicKey and may be granted
// Scopes.
type OktaOAuthClient struct {
	ClientID  string
	KeyID     string // optional; when set, an assertion's kid must match
	PublicKey *rsa.PublicKey
	Scopes    []string
}

// OktaOAuthOptions turn on the fake's token endpoint, /oauth2/v1/token.
type OktaOAuthOptions struct {
	Clients []OktaOAuthClient
	// TokenLifetime of issued access tokens; 0 means an hour, as Okta's.
	TokenLifetime time.Duration
}

// oktaOAuthTokenPath is where Okta's org authorization server issues
// tokens to service apps.
const oktaOAuthTokenPath = "/oauth2/v1/token"

// assertionMaxLife is how far in the future Okta accepts a client
// assertion's exp; clockSkew the leeway on iat and exp.
const (
	assertionMaxLife = time.Hour
	clockSkew        = 2 * time.Minute
)

type oauthGrant struct {
	scopes  []string
	expires time.Time
}

type oauthGrantKey struct{}

// oktaOAuth serves the token endpoint (client credentials grant with a
// private_key_jwt client assertion, RFC 7523) and lets the management API
// accept the "Bearer" tokens it issued, each limited to its scopes.
type oktaOAuth struct {
	next *oktaServer
	opts OktaOAuthOptions

	mu       sync.Mutex
	tokens   map[string]oauthGrant
	seenJTIs map[string]time.Time
}

// withOktaOAuth wraps the fake Okta API with OAuth.
func withOktaOAuth(next *oktaServer, opts OktaOAuthOptions) http.Handler {
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	return &oktaOAuth{next: next, opts: opts, tokens: map[string]oauthGrant{}, seenJTIs: map[string]time.Time{}}
}

func (o *oktaOAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == oktaOAuthTokenPath {
		o.token(w, r)
		return
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		o.mu.Lock()
		g, known := o.tokens[tok]
		o.mu.Unlock()
		if !known || o.next.now().After(g.expires) {
			o.next.writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return
		}
		need := requiredScope(r.Method, r.URL.Path)
		if need != "" && !hasScope(g.scopes, need) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="http://%s/oauth2/v1/authorize", realm="http://%s", scope="%s", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="%s"`, r.Host, r.Host, need, r.URL.Path))
			o.next.writeError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), oauthGrantKey{}, g))
	}
	o.next.ServeHTTP(w, r)
}

// oauthAuthorized reports whether the token endpoint's wrapper accepted the
// request's bearer token.
func oauthAuthorized(r *http.Request) bool {
	_, ok := r.Context().Value(oauthGrantKey{}).(oauthGrant)
	return ok
}

// requiredScope is the Okta scope a management call needs ("" for none the
// fake knows): okta.<resource>.read for reads, .manage for writes.
func requiredScope(method, path string) string {
	resource := ""
	switch {
	case strings.HasPrefix(path, "/api/v1/users"):
		resource = "okta.users"
	case strings.HasPrefix(path, "/api/v1/apps"), path == SimImportPath:
		resource = "okta.apps"
	case strings.HasPrefix(path, "/api/v1/mappings"):
		resource = "okta.profileMappings"
	case strings.HasPrefix(path, "/api/v1/logs"):
		return "okta.logs.read"
	default:
		return ""
	}
	if method == http.MethodGet || method == http.MethodHead {
		return resource + ".read"
	}
	return resource + ".manage"
}

// hasScope: a .manage scope includes its .read, as in Okta.
func hasScope(granted []string, need string) bool {
	if slices.Contains(granted, need) {
		return true
	}
	base, ok := strings.CutSuffix(need, ".read")
	return ok && slices.Contains(granted, base+".manage")
}

func (o *oktaOAuth) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only.")
		return
	}
	// The SDK sends its parameters in the query string, RFC 6749 clients in
	// the body: r.Form holds both.
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a form.")
		return
	}
	if gt := r.Form.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("The authorization grant type %q is not supported by the authorization server.", gt))
		return
	}
	if r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
		return
	}
	now := o.next.now()
	tokenURL := "https://" + r.Host + oktaOAuthTokenPath
	client, err := o.verifyAssertion(r.Form.Get("client_assertion"), tokenURL, now)
	if err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	requested := strings.Fields(r.Form.Get("scope"))
	if len(requested) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "The authorization server resource does not have any configured default scopes, 'scope' must be provided.")
		return
	}
	var denied []string
	for _, s := range requested {
		if !slices.Contains(client.Scopes, s) {
			denied = append(denied, s)
		}
	}
	if len(denied) > 0 {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed: "+strings.Join(denied, ", "))
		return
	}
	access := randomSecret("okta-oauth")
	o.mu.Lock()
	o.tokens[access] = oauthGrant{scopes: requested, expires: now.Add(o.opts.TokenLifetime)}
	o.mu.Unlock()
	writeJSONBody(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": int(o.opts.TokenLifetime / time.Second),
		"access_token": access, "scope": strings.Join(requested, " "),
	})
}

// verifyAssertion checks an RS256 client assertion: signature against the
// registered key, iss = sub = a registered client id, aud = the token URL,
// exp in the future but within an hour, iat not in the future, and a jti
// not seen before when one is given (Okta's docs make jti optional, and the
// Okta SDK sends none).
func (o *oktaOAuth) verifyAssertion(assertion, tokenURL string, now time.Time) (*OktaOAuthClient, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("The client_assertion is not a signed JWT.")
	}
	var header struct {
		Alg, Kid string
	}
	var claims struct {
		Iss, Sub, Jti string
		Aud           json.RawMessage
		Exp, Iat      *int64
	}
	if err := decodeJWTPart(parts[0], &header); err != nil {
		return nil, fmt.Errorf("The client_assertion header is not base64url JSON.")
	}
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("The client_assertion claims are not base64url JSON.")
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("The client_assertion signature algorithm %q is not supported: use RS256.", header.Alg)
	}
	if claims.Iss == "" || claims.Iss != claims.Sub {
		return nil, fmt.Errorf("The client_assertion's iss and sub must both be the client id.")
	}
	var client *OktaOAuthClient
	for i := range o.opts.Clients {
		if o.opts.Clients[i].ClientID == claims.Iss {
			client = &o.opts.Clients[i]
		}
	}
	if client == nil {
		return nil, fmt.Errorf("The client_assertion names client %q, which is not registered.", claims.Iss)
	}
	if client.KeyID != "" && header.Kid != "" && header.Kid != client.KeyID {
		return nil, fmt.Errorf("The client_assertion's kid %q matches no key of the client.", header.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("The client_assertion signature is not base64url.")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(client.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return nil, fmt.Errorf("The client_assertion signature is invalid.")
	}
	if !audienceIs(claims.Aud, tokenURL) {
		return nil, fmt.Errorf("The audience claim for client_assertion must be the endpoint invoked for the request: %s.", tokenURL)
	}
	if claims.Exp == nil || claims.Iat == nil {
		return nil, fmt.Errorf("The client_assertion must carry exp and iat.")
	}
	exp, iat := time.Unix(*claims.Exp, 0), time.Unix(*claims.Iat, 0)
	switch {
	case !now.Before(exp.Add(clockSkew)):
		return nil, fmt.Errorf("The client_assertion token is expired.")
	case exp.After(now.Add(assertionMaxLife + clockSkew)):
		return nil, fmt.Errorf("The client_assertion token has an expiration too far into the future.")
	case iat.After(now.Add(clockSkew)):
		return nil, fmt.Errorf("The client_assertion token was issued in the future.")
	}
	if claims.Jti != "" {
		o.mu.Lock()
		defer o.mu.Unlock()
		if _, seen := o.seenJTIs[claims.Jti]; seen {
			return nil, fmt.Errorf("The client_assertion token has already been used (jti %q).", claims.Jti)
		}
		o.seenJTIs[claims.Jti] = exp
	}
	return client, nil
}

func decodeJWTPart(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// audienceIs accepts aud as a string or an array holding want.
func audienceIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.Contains(many, want)
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSONBody(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v) // maps of plain values: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
