package okta

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// OAuthConfig signs in as an Okta OAuth 2.0 service app with a private-key
// JWT (client credentials grant), instead of an SSWS token.
type OAuthConfig struct {
	ClientID string
	// PrivateKey is a PEM RSA key, PKCS#1 or PKCS#8, whose public key the
	// service app holds.
	PrivateKey string
	// PrivateKeyID is the key's kid in the service app; optional.
	PrivateKeyID string
	// Scopes to request, e.g. okta.users.read; the app must be granted them.
	Scopes []string
}

// TokenPath is where an Okta org issues access tokens to service apps.
const TokenPath = "/oauth2/v1/token"

// authSetters picks SSWS or private-key JWT for the SDK.
func authSetters(cfg Config) (okta.ConfigSetter, error) {
	switch {
	case cfg.OAuth != nil && cfg.Token != "":
		return nil, errors.New("okta: both an API token and an OAuth service app are configured: choose one")
	case cfg.OAuth != nil:
		o := cfg.OAuth
		if o.ClientID == "" || len(o.Scopes) == 0 {
			return nil, errors.New("okta: OAuth needs a client id and at least one scope")
		}
		if _, err := ParsePrivateKey(o.PrivateKey); err != nil {
			return nil, fmt.Errorf("okta: OAuth private key: %w", err)
		}
		return func(c *okta.Configuration) {
			c.Okta.Client.AuthorizationMode = "PrivateKey"
			c.Okta.Client.ClientId = o.ClientID
			c.Okta.Client.Scopes = o.Scopes
			// Set directly: WithPrivateKey would take a string that happens
			// to name an existing file as a path and read that file.
			c.Okta.Client.PrivateKey = o.PrivateKey
			c.Okta.Client.PrivateKeyId = o.PrivateKeyID
		}, nil
	case cfg.Token == "":
		return nil, errors.New("okta: the API token is empty")
	default:
		return okta.WithToken(cfg.Token), nil
	}
}

// ParsePrivateKey reads the RSA private key of an OAuth service app. The
// error never quotes the key.
func ParsePrivateKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.ReplaceAll(pemText, `\n`, "\n")))
	if block == nil {
		return nil, errors.New("not a PEM block (want -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#1 RSA key does not parse: %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#8 key does not parse: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T: anchorscan signs its client assertion with RS256 and needs an RSA key", k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
}

// TokenInfo is what the org granted a service app.
type TokenInfo struct {
	TokenType string
	Scopes    []string
	ExpiresIn time.Duration
}

// TokenError is the org's refusal of a token request, as OAuth words it.
type TokenError struct {
	Status      int
	Code        string // invalid_client, invalid_scope, …
	Description string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("okta: token request refused (HTTP %d %s: %s)", e.Status, e.Code, e.Description)
}

// RequestToken asks the org for an access token the way the SDK does (a
// signed client assertion, client credentials grant) and reports what was
// granted, without keeping the token. The SDK discards the reason when the
// org refuses; doctor calls this to say why.
func (c *Collector) RequestToken(ctx context.Context) (*TokenInfo, error) {
	if c.oauth == nil {
		return nil, errors.New("okta: not configured for OAuth")
	}
	key, err := ParsePrivateKey(c.oauth.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("okta: OAuth private key: %w", err)
	}
	tokenURL := c.orgURL + TokenPath
	assertion, err := SignClientAssertion(key, c.oauth.PrivateKeyID, c.oauth.ClientID, tokenURL, time.Now())
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {strings.Join(c.oauth.Scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("okta: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("okta: POST %s: %w", TokenPath, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("okta: POST %s: reading the body: %w", TokenPath, err)
	}
	var tr struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("okta: POST %s: HTTP %d with a body that is not Okta's token JSON", TokenPath, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return nil, &TokenError{Status: resp.StatusCode, Code: tr.Error, Description: tr.Description}
	}
	return &TokenInfo{TokenType: tr.TokenType, Scopes: strings.Fields(tr.Scope), ExpiresIn: time.Duration(tr.ExpiresIn) * time.Second}, nil
}

// SignClientAssertion makes the RS256 client assertion of RFC 7523: iss and
// sub the client id, aud the token URL, a five-minute life and a random jti.
func SignClientAssertion(key *rsa.PrivateKey, keyID, clientID, tokenURL string, now time.Time) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if keyID != "" {
		header["kid"] = keyID
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss": clientID, "sub": clientID, "aud": tokenURL,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": hex.EncodeToString(jti),
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("okta: signing the client assertion: %w", err)
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}
