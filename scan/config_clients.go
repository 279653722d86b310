package scan

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
)

// validate checks each configured section and settles its auto choices.
func (c *Config) validate(warnings io.Writer) error {
	if c.Okta != nil {
		if err := c.Okta.validate(); err != nil {
			return err
		}
	}
	if c.Entra != nil {
		if err := c.Entra.validate(); err != nil {
			return err
		}
	}
	if c.AD != nil {
		if err := c.AD.validate(warnings); err != nil {
			return err
		}
	}
	return nil
}

func (o *OktaConfig) validate() error {
	switch o.Auth {
	case "", OktaAuthAuto:
		o.Auth = OktaAuthSSWS
		if o.ClientID != "" || o.PrivateKey != "" {
			o.Auth = OktaAuthPrivateKey
		}
	case OktaAuthSSWS, OktaAuthPrivateKey:
	default:
		return fmt.Errorf("okta.auth %q: want %s, %s or %s", o.Auth, OktaAuthSSWS, OktaAuthPrivateKey, OktaAuthAuto)
	}
	switch o.Auth {
	case OktaAuthSSWS:
		if o.Token == "" {
			return errors.New("okta.token is empty: give it as okta.tokenFile or okta.tokenEnv in the config, --okta-token-file, ANCHORSCAN_OKTA_TOKEN or OKTA_CLIENT_TOKEN")
		}
	case OktaAuthPrivateKey:
		if o.ClientID == "" {
			return errors.New("okta.auth is privateKey but okta.clientId is empty: set the service app's client id")
		}
		if o.PrivateKey == "" {
			return errors.New("okta.auth is privateKey but okta.privateKey is empty: give it as okta.privateKeyFile, --okta-private-key-file, ANCHORSCAN_OKTA_PRIVATE_KEY or OKTA_CLIENT_PRIVATEKEY")
		}
		if len(o.Scopes) == 0 {
			return errors.New("okta.scopes is empty: an OAuth token needs scopes, e.g. " + DefaultOktaScopes)
		}
		if _, err := okta.ParsePrivateKey(o.PrivateKey); err != nil {
			return fmt.Errorf("okta.privateKey: %w", err)
		}
	}
	return nil
}

func (e *EntraConfig) validate() error {
	switch e.Auth {
	case "", EntraAuthAuto:
		switch {
		case e.Token != "":
			e.Auth = EntraAuthStatic
		case e.ClientSecret != "":
			e.Auth = EntraAuthSecret
		case e.ClientCertificate != "":
			e.Auth = EntraAuthCertificate
		default:
			e.Auth = EntraAuthDefault
		}
	}
	need := func(v, key string) error {
		if v == "" {
			return fmt.Errorf("entra.auth is %s but %s is empty", e.Auth, key)
		}
		return nil
	}
	switch e.Auth {
	case EntraAuthStatic:
		return need(e.Token, "entra.token")
	case EntraAuthSecret:
		return errors.Join(need(e.ClientID, "entra.clientId"), need(e.ClientSecret, "entra.clientSecret (or entra.clientSecretFile, AZURE_CLIENT_SECRET)"))
	case EntraAuthCertificate:
		return errors.Join(need(e.ClientID, "entra.clientId"), need(e.ClientCertificate, "entra.clientCertificate (or AZURE_CLIENT_CERTIFICATE_PATH)"))
	case EntraAuthManagedIdentity, EntraAuthAzureCLI, EntraAuthDeviceCode, EntraAuthDefault:
		return nil
	}
	return fmt.Errorf("entra.auth %q: want one of %s", e.Auth, strings.Join([]string{EntraAuthAuto, EntraAuthSecret, EntraAuthCertificate,
		EntraAuthManagedIdentity, EntraAuthAzureCLI, EntraAuthDeviceCode, EntraAuthDefault, EntraAuthStatic}, ", "))
}

func (a *ADConfig) validate(warnings io.Writer) error {
	u, err := url.Parse(a.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("ad.url %q is not a URL like ldaps://dc01.corp.example.com", a.URL)
	}
	switch strings.ToLower(u.Scheme) {
	case "ldaps":
		if a.StartTLS {
			return fmt.Errorf("ad.url %q is already ldaps: ad.startTLS applies to ldap:// only", a.URL)
		}
	case "ldap":
		if !a.StartTLS && !a.AllowPlainLDAP {
			return fmt.Errorf("ad.url %q is plain LDAP: use ldaps://, or set ad.startTLS; ad.allowPlainLDAP (--allow-plain-ldap) sends the bind in clear", a.URL)
		}
		if !a.StartTLS {
			fmt.Fprintf(warnings, "WARNING: ad.allowPlainLDAP: the bind to %s crosses the network unencrypted\n", u.Host)
		}
	default:
		return fmt.Errorf("ad.url %q: scheme must be ldaps or ldap", a.URL)
	}
	if a.InsecureSkipVerify {
		if a.CAFile != "" {
			return errors.New("ad.ldapInsecureSkipVerify and ad.caFile are both set: with a CA file, verification works; drop ldapInsecureSkipVerify")
		}
		fmt.Fprintf(warnings, "WARNING: ad.ldapInsecureSkipVerify: the certificate of %s is not verified; anyone on the path can read the bind credentials\n", u.Host)
	}
	switch a.Auth {
	case "", ADAuthSimple:
		a.Auth = ADAuthSimple
		if a.BindDN == "" || a.Password == "" {
			return errors.New("ad.auth is simple but ad.bindDN or ad.password is empty (give the password as ad.passwordFile, ad.passwordEnv, --ldap-password-file or ANCHORSCAN_LDAP_PASSWORD)")
		}
	case ADAuthGSSAPI:
		a.CCache = strings.TrimPrefix(a.CCache, "FILE:")
		if a.KerberosRealm == "" {
			return errors.New("ad.auth is gssapi but ad.kerberosRealm is empty")
		}
		switch {
		case a.Keytab != "" && a.CCache != "":
			return errors.New("ad.keytab and ad.ccache are both set: give one")
		case a.Keytab != "":
			if a.KerberosUser == "" {
				return errors.New("ad.keytab is set but ad.kerberosUser (the principal in it) is empty")
			}
		case a.CCache == "":
			return errors.New("ad.auth is gssapi but neither ad.keytab nor ad.ccache is set")
		}
		if _, err := os.Stat(a.Krb5Conf); err != nil {
			return fmt.Errorf("ad.krb5Conf: %w", err)
		}
		if a.Password != "" {
			return errors.New("ad.auth is gssapi but ad.password is set: a Kerberos bind uses the keytab or ccache; remove the password")
		}
	default:
		return fmt.Errorf("ad.auth %q: want %s or %s", a.Auth, ADAuthSimple, ADAuthGSSAPI)
	}
	return nil
}

// Names returns the configured sections, in scan order.
func (c *Config) Names() []string {
	var out []string
	if c.Okta != nil {
		out = append(out, SectionOkta)
	}
	if c.Entra != nil {
		out = append(out, SectionEntra)
	}
	if c.AD != nil {
		out = append(out, SectionAD)
	}
	return out
}

// Sources builds the configured sources, restricted to names when non-empty.
func (c *Config) Sources(names []string) ([]Source, error) {
	for _, n := range names {
		if n != SectionOkta && n != SectionEntra && n != SectionAD {
			return nil, fmt.Errorf("unknown source %q: the sources are okta, entra and ad", n)
		}
	}
	want := func(n string) bool { return len(names) == 0 || slices.Contains(names, n) }
	var out []Source
	if c.Okta != nil && want(SectionOkta) {
		cc, err := c.Okta.ClientConfig()
		if err != nil {
			return nil, err
		}
		src, err := okta.New(cc)
		if err != nil {
			return nil, fmt.Errorf("okta: %w", err)
		}
		out = append(out, src)
	}
	if c.Entra != nil && want(SectionEntra) {
		cc, err := c.Entra.ClientConfig(os.Stderr)
		if err != nil {
			return nil, err
		}
		src, err := entra.New(cc)
		if err != nil {
			return nil, fmt.Errorf("entra: %w", err)
		}
		out = append(out, src)
	}
	if c.AD != nil && want(SectionAD) {
		cc, err := c.AD.ClientConfig()
		if err != nil {
			return nil, err
		}
		src, err := ad.New(cc)
		if err != nil {
			return nil, fmt.Errorf("ad: %w", err)
		}
		out = append(out, src)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no source selected: --sources %s names none of the configured %s", strings.Join(names, ","), strings.Join(c.Names(), ","))
	}
	return out, nil
}

// ClientConfig is the scan/okta configuration: the collector, the admin and
// doctor build their clients from it.
func (o *OktaConfig) ClientConfig() (okta.Config, error) {
	if err := o.validate(); err != nil { // settles auth for a Config built in code
		return okta.Config{}, err
	}
	hc, err := httpClient(o.CAFile)
	if err != nil {
		return okta.Config{}, fmt.Errorf("okta: %w", err)
	}
	cc := okta.Config{OrgURL: o.OrgURL, HTTPClient: hc}
	if o.UserPartitions != "" {
		n, err := strconv.Atoi(o.UserPartitions)
		if err != nil || n < 1 || n > 16 {
			return okta.Config{}, fmt.Errorf("okta.userPartitions %q: want a whole number from 1 to 16", o.UserPartitions)
		}
		cc.UserPartitions = n
	}
	if o.Auth == OktaAuthPrivateKey {
		cc.OAuth = &okta.OAuthConfig{ClientID: o.ClientID, PrivateKey: o.PrivateKey, PrivateKeyID: o.PrivateKeyID, Scopes: o.Scopes}
	} else {
		cc.Token = o.APIToken()
	}
	return cc, nil
}

// ClientConfig is the scan/entra configuration. Device code sign-in prints
// its instructions to prompt.
func (e *EntraConfig) ClientConfig(prompt io.Writer) (entra.Config, error) {
	if err := e.validate(); err != nil {
		return entra.Config{}, err
	}
	hc, err := httpClient(e.CAFile)
	if err != nil {
		return entra.Config{}, fmt.Errorf("entra: %w", err)
	}
	cred, err := e.credentialFor(hc, prompt)
	if err != nil {
		return entra.Config{}, fmt.Errorf("entra: %w", err)
	}
	return entra.Config{TenantID: e.TenantID, BaseURL: e.GraphURL, Credential: cred, HTTPClient: hc}, nil
}

// ClientConfig is the scan/ad configuration.
func (a *ADConfig) ClientConfig() (ad.Config, error) {
	if err := a.validate(io.Discard); err != nil { // Load has warned already
		return ad.Config{}, err
	}
	tlsCfg, err := a.TLSConfig()
	if err != nil {
		return ad.Config{}, fmt.Errorf("ad: %w", err)
	}
	cc := ad.Config{URL: a.URL, StartTLS: a.StartTLS, TLSConfig: tlsCfg, BindDN: a.BindDN, Password: a.Password, BaseDNs: a.BaseDNs}
	if a.Auth == ADAuthGSSAPI {
		cc.Kerberos = &ad.Kerberos{Realm: a.KerberosRealm, User: a.KerberosUser, Keytab: a.Keytab, CCache: a.CCache, Krb5Conf: a.Krb5Conf, SPN: a.SPN}
	}
	return cc, nil
}

// TLSConfig verifies the domain controller with CAFile, or the system roots;
// not at all only when InsecureSkipVerify says so.
func (a *ADConfig) TLSConfig() (*tls.Config, error) {
	cfg, err := tlsConfig(a.CAFile)
	if err != nil {
		return nil, err
	}
	cfg.InsecureSkipVerify = a.InsecureSkipVerify
	return cfg, nil
}

func (e *EntraConfig) credential() (azcore.TokenCredential, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	hc, err := httpClient(e.CAFile)
	if err != nil {
		return nil, err
	}
	return e.credentialFor(hc, os.Stderr)
}

// credentialFor builds the azidentity credential entra.auth names. Token
// requests go through hc, so a TLS-inspecting proxy's CA applies to them too.
func (e *EntraConfig) credentialFor(hc *http.Client, prompt io.Writer) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{Transport: hc}
	switch e.Auth {
	case EntraAuthStatic:
		return entra.NewStaticToken(e.Token), nil
	case EntraAuthSecret:
		return azidentity.NewClientSecretCredential(e.TenantID, e.ClientID, e.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
	case EntraAuthCertificate:
		data, err := os.ReadFile(e.ClientCertificate)
		if err != nil {
			return nil, fmt.Errorf("entra.clientCertificate: %w", err)
		}
		var password []byte
		if e.ClientCertificatePassword != "" {
			password = []byte(e.ClientCertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(data, password)
		if err != nil {
			return nil, fmt.Errorf("entra.clientCertificate %s: not a PEM or PFX certificate with its private key (or a wrong password): %w", e.ClientCertificate, err)
		}
		return azidentity.NewClientCertificateCredential(e.TenantID, e.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: opts})
	case EntraAuthManagedIdentity:
		mi := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if e.ClientID != "" {
			mi.ID = azidentity.ClientID(e.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(mi)
	case EntraAuthAzureCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: e.TenantID})
	case EntraAuthDeviceCode:
		return azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions: opts, TenantID: e.TenantID, ClientID: e.ClientID,
			UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
				_, err := fmt.Fprintln(prompt, m.Message)
				return err
			},
		})
	default:
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts, TenantID: e.TenantID})
	}
}

func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

func httpClient(caFile string) (*http.Client, error) {
	cfg, err := tlsConfig(caFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}, nil
}

// HTTPClient is an HTTP client for the Okta org, trusting CAFile when set.
func (o *OktaConfig) HTTPClient() (*http.Client, error) {
	return httpClient(o.CAFile)
}

// TLSConfig verifies the Okta org with CAFile, or the system roots.
func (o *OktaConfig) TLSConfig() (*tls.Config, error) { return tlsConfig(o.CAFile) }

// TLSConfig verifies Graph with CAFile, or the system roots.
func (e *EntraConfig) TLSConfig() (*tls.Config, error) { return tlsConfig(e.CAFile) }

// APIToken is the SSWS token. Load has already applied OKTA_CLIENT_TOKEN
// when nothing else set one; the fallback here serves configs built in code.
func (o *OktaConfig) APIToken() string {
	if o.Token != "" {
		return o.Token
	}
	return os.Getenv("OKTA_CLIENT_TOKEN")
}
