package scan

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
)

// Config says which directories to scan and how to reach them. It is read
// from a YAML file; secrets may be given inline (files are then refused when
// readable by others) or, better, taken from the ecosystems' own variables.
type Config struct {
	Okta  *OktaConfig  `yaml:"okta,omitempty"`
	Entra *EntraConfig `yaml:"entra,omitempty"`
	AD    *ADConfig    `yaml:"ad,omitempty"`
}

// OktaConfig reaches an Okta org with an SSWS API token.
type OktaConfig struct {
	OrgURL string `yaml:"orgUrl"`
	Token  string `yaml:"token,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string `yaml:"caFile,omitempty"`
}

// EntraConfig reaches Microsoft Graph for one tenant.
type EntraConfig struct {
	TenantID string `yaml:"tenantId"`
	// GraphURL defaults to https://graph.microsoft.com/v1.0.
	GraphURL     string `yaml:"graphUrl,omitempty"`
	ClientID     string `yaml:"clientId,omitempty"`
	ClientSecret string `yaml:"clientSecret,omitempty"`
	// Token is a fixed bearer token: only the simulator issues such tokens.
	Token  string `yaml:"token,omitempty"`
	CAFile string `yaml:"caFile,omitempty"`
}

// ADConfig reaches one AD domain controller over LDAPS or StartTLS.
type ADConfig struct {
	URL      string   `yaml:"url"`
	StartTLS bool     `yaml:"startTLS,omitempty"`
	BindDN   string   `yaml:"bindDN"`
	Password string   `yaml:"password,omitempty"`
	BaseDNs  []string `yaml:"baseDNs,omitempty"`
	CAFile   string   `yaml:"caFile,omitempty"`
}

// LoadConfig reads a YAML config file, rejecting unknown keys.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if cfg.Okta == nil && cfg.Entra == nil && cfg.AD == nil {
		return nil, fmt.Errorf("config %s names no source: add an okta, entra or ad section", path)
	}
	return &cfg, nil
}

// WriteConfig writes cfg as YAML, readable by its owner only.
func WriteConfig(path string, cfg *Config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Sources builds the configured sources, restricted to names when non-empty.
func (c *Config) Sources(names []string) ([]Source, error) {
	want := func(n string) bool {
		if len(names) == 0 {
			return true
		}
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
	var out []Source
	if c.Okta != nil && want("okta") {
		hc, err := httpClient(c.Okta.CAFile)
		if err != nil {
			return nil, fmt.Errorf("okta: %w", err)
		}
		src, err := okta.New(okta.Config{OrgURL: c.Okta.OrgURL, Token: c.Okta.APIToken(), HTTPClient: hc})
		if err != nil {
			return nil, fmt.Errorf("okta: %w", err)
		}
		out = append(out, src)
	}
	if c.Entra != nil && want("entra") {
		hc, err := httpClient(c.Entra.CAFile)
		if err != nil {
			return nil, fmt.Errorf("entra: %w", err)
		}
		cred, err := c.Entra.credential()
		if err != nil {
			return nil, fmt.Errorf("entra: %w", err)
		}
		src, err := entra.New(entra.Config{TenantID: c.Entra.TenantID, BaseURL: c.Entra.GraphURL, Credential: cred, HTTPClient: hc})
		if err != nil {
			return nil, fmt.Errorf("entra: %w", err)
		}
		out = append(out, src)
	}
	if c.AD != nil && want("ad") {
		tlsCfg, err := tlsConfig(c.AD.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ad: %w", err)
		}
		src, err := ad.New(ad.Config{URL: c.AD.URL, StartTLS: c.AD.StartTLS, TLSConfig: tlsCfg,
			BindDN: c.AD.BindDN, Password: c.AD.Password, BaseDNs: c.AD.BaseDNs})
		if err != nil {
			return nil, fmt.Errorf("ad: %w", err)
		}
		out = append(out, src)
	}
	if len(out) == 0 {
		return nil, errors.New("no source selected: check --sources against the config")
	}
	return out, nil
}

func (e *EntraConfig) credential() (azcore.TokenCredential, error) {
	switch {
	case e.Token != "":
		return entra.NewStaticToken(e.Token), nil
	case e.ClientSecret != "":
		return azidentity.NewClientSecretCredential(e.TenantID, e.ClientID, e.ClientSecret, nil)
	default:
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: e.TenantID})
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

// APIToken is the configured token, or OKTA_CLIENT_TOKEN when none is.
func (o *OktaConfig) APIToken() string {
	if o.Token != "" {
		return o.Token
	}
	return os.Getenv("OKTA_CLIENT_TOKEN")
}
