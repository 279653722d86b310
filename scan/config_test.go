package scan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// writeFile writes content with mode perm into dir.
func writeFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func flagsOf(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddConfigFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

const oktaFile = `okta:
  orgUrl: https://file.okta.example
  token: file-token
`

// Each setting resolves flag > ANCHORSCAN_ variable > file > ecosystem
// variable > default, and a secret's file or variable reference counts as
// the file layer.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", "flag-file-token\n", 0o600)
	envTokenFile := writeFile(t, dir, "envtoken", "env-file-token", 0o600)
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		flags   []string
		get     func(*Config) any
		want    any
		wantErr string
	}{
		{name: "file only", file: oktaFile, get: func(c *Config) any { return c.Okta.OrgURL }, want: "https://file.okta.example"},
		{name: "env over file", file: oktaFile, env: map[string]string{"ANCHORSCAN_OKTA_ORG_URL": "https://env.okta.example"},
			get: func(c *Config) any { return c.Okta.OrgURL }, want: "https://env.okta.example"},
		{name: "flag over env", file: oktaFile, env: map[string]string{"ANCHORSCAN_OKTA_ORG_URL": "https://env.okta.example"},
			flags: []string{"--okta-org-url", "https://flag.okta.example"}, get: func(c *Config) any { return c.Okta.OrgURL }, want: "https://flag.okta.example"},
		{name: "file over ecosystem variable", file: oktaFile, env: map[string]string{"OKTA_CLIENT_ORGURL": "https://eco.okta.example", "OKTA_CLIENT_TOKEN": "eco-token"},
			get: func(c *Config) any { return c.Okta.Token }, want: "file-token"},
		{name: "ecosystem variables alone", env: map[string]string{"OKTA_CLIENT_ORGURL": "https://eco.okta.example", "OKTA_CLIENT_TOKEN": "eco-token"},
			get: func(c *Config) any { return c.Okta.OrgURL + " " + c.Okta.Token }, want: "https://eco.okta.example eco-token"},
		{name: "ANCHORSCAN_ over ecosystem", env: map[string]string{"OKTA_CLIENT_ORGURL": "https://eco.okta.example", "OKTA_CLIENT_TOKEN": "eco-token", "ANCHORSCAN_OKTA_TOKEN": "as-token"},
			get: func(c *Config) any { return c.Okta.Token }, want: "as-token"},
		{name: "secret flag names a file", file: oktaFile, env: map[string]string{"ANCHORSCAN_OKTA_TOKEN": "env-token"}, flags: []string{"--okta-token-file", tokenFile},
			get: func(c *Config) any { return c.Okta.Token }, want: "flag-file-token"},
		{name: "secret _FILE variable", file: oktaFile, env: map[string]string{"ANCHORSCAN_OKTA_TOKEN_FILE": envTokenFile},
			get: func(c *Config) any { return c.Okta.Token }, want: "env-file-token"},
		{name: "tokenEnv in the file", file: "okta:\n  orgUrl: https://o.example\n  tokenEnv: MY_OKTA_TOKEN\n", env: map[string]string{"MY_OKTA_TOKEN": "named-var-token"},
			get: func(c *Config) any { return c.Okta.Token }, want: "named-var-token"},
		{name: "tokenFile in the file", file: "okta:\n  orgUrl: https://o.example\n  tokenFile: " + tokenFile + "\n",
			get: func(c *Config) any { return c.Okta.Token }, want: "flag-file-token"},
		{name: "default", file: oktaFile, get: func(c *Config) any { return c.Okta.Scopes }, want: strings.Split(DefaultOktaScopes, ",")},
		{name: "list from file", file: "ad:\n  url: ldaps://dc\n  bindDN: CN=r\n  password: p\n  baseDNs: [\"DC=a\", \"DC=b\"]\n",
			get: func(c *Config) any { return c.AD.BaseDNs }, want: []string{"DC=a", "DC=b"}},
		{name: "list from env over file", file: "ad:\n  url: ldaps://dc\n  bindDN: CN=r\n  password: p\n  baseDNs: [\"DC=a\"]\n", env: map[string]string{"ANCHORSCAN_LDAP_BASE_DNS": "DC=c, DC=d"},
			get: func(c *Config) any { return c.AD.BaseDNs }, want: []string{"DC=c", "DC=d"}},
		{name: "bool flag over file", file: "ad:\n  url: ldap://dc\n  bindDN: CN=r\n  password: p\n  startTLS: false\n  allowPlainLDAP: true\n", flags: []string{"--ldap-starttls"},
			get: func(c *Config) any { return c.AD.StartTLS }, want: true},
		{name: "azure variables", env: map[string]string{"AZURE_TENANT_ID": "t1", "AZURE_CLIENT_ID": "c1", "AZURE_CLIENT_SECRET": "s1"},
			get: func(c *Config) any { return c.Entra.TenantID + " " + c.Entra.ClientID + " " + c.Entra.Auth }, want: "t1 c1 " + EntraAuthSecret},
		{name: "ambient AZURE_CLIENT_ID alone configures nothing", file: oktaFile, env: map[string]string{"AZURE_CLIENT_ID": "c1", "KRB5CCNAME": "/nonexistent/ccache"},
			get: func(c *Config) any { return c.Entra == nil && c.AD == nil }, want: true},
		{name: "okta auth auto picks privateKey", env: map[string]string{"OKTA_CLIENT_ORGURL": "https://o.example", "OKTA_CLIENT_CLIENTID": "0oa1", "OKTA_CLIENT_PRIVATEKEY": testRSAKey(t)},
			get: func(c *Config) any { return c.Okta.Auth }, want: OktaAuthPrivateKey},
		{name: "entra static token", file: "entra:\n  tenantId: t\n  token: sim\n", get: func(c *Config) any { return c.Entra.Auth }, want: EntraAuthStatic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{LookupEnv: envOf(tt.env), Flags: flagsOf(t, tt.flags...)}
			if tt.file != "" {
				opts.Path = writeFile(t, t.TempDir(), "c.yaml", tt.file, 0o600)
			}
			cfg, err := Load(opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.get(cfg)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func testRSAKey(t *testing.T) string {
	t.Helper()
	return rsaPEM
}

// Every refusal names what was wrong, and never a secret's value.
func TestConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	worldToken := writeFile(t, dir, "world-token", "s3cr3t-world", 0o644)
	emptyToken := writeFile(t, dir, "empty-token", "\n", 0o600)
	tests := []struct {
		name     string
		file     string
		perm     os.FileMode
		env      map[string]string
		flags    []string
		allow    bool
		wantErr  []string
		wantWarn string
	}{
		{name: "world-readable config", file: oktaFile, perm: 0o644, wantErr: []string{"c.yaml", "0644", "chmod 600", "--allow-insecure-config"}},
		{name: "group-readable config", file: oktaFile, perm: 0o640, wantErr: []string{"0640", "chmod 600"}},
		{name: "unknown key", file: "okta:\n  orgUrl: https://o\n  tokn: x\n", wantErr: []string{"unknown key okta.tokn"}},
		{name: "unknown section", file: "oktaa:\n  orgUrl: https://o\n", wantErr: []string{`unknown section "oktaa"`}},
		{name: "not YAML", file: "okta: [\n", wantErr: []string{"is not YAML"}},
		{name: "no directory", file: "okta: {}\n", wantErr: []string{"no directory configured"}},
		{name: "section without its anchor", file: "okta:\n  token: x\nad:\n  url: ldaps://dc\n  bindDN: CN=r\n  password: p\n", wantErr: []string{"okta settings are given but okta.orgUrl is not"}},
		{name: "secret given twice", file: "okta:\n  orgUrl: https://o\n  token: a\n  tokenEnv: B\n", env: map[string]string{"B": "b"}, wantErr: []string{"more than once", "okta.tokenEnv"}},
		{name: "tokenEnv names an unset variable", file: "okta:\n  orgUrl: https://o\n  tokenEnv: NOT_SET_ANYWHERE\n", wantErr: []string{"NOT_SET_ANYWHERE", "not set or empty"}},
		{name: "world-readable secret file", file: "okta:\n  orgUrl: https://o\n  tokenFile: " + worldToken + "\n", wantErr: []string{"world-token", "0644", "chmod 600"}},
		{name: "empty secret file", flags: []string{"--okta-token-file", emptyToken}, env: map[string]string{"ANCHORSCAN_OKTA_ORG_URL": "https://o"}, wantErr: []string{"empty-token", "is empty"}},
		{name: "missing secret file", file: "okta:\n  orgUrl: https://o\n  tokenFile: /nonexistent/token\n", wantErr: []string{"/nonexistent/token"}},
		{name: "value and _FILE variables both set", env: map[string]string{"ANCHORSCAN_OKTA_ORG_URL": "https://o", "ANCHORSCAN_OKTA_TOKEN": "a", "ANCHORSCAN_OKTA_TOKEN_FILE": emptyToken}, wantErr: []string{"ANCHORSCAN_OKTA_TOKEN_FILE", "keep one"}},
		{name: "okta without token", file: "okta:\n  orgUrl: https://o\n", wantErr: []string{"okta.token is empty", "OKTA_CLIENT_TOKEN"}},
		{name: "okta privateKey without key", file: "okta:\n  orgUrl: https://o\n  auth: privateKey\n  clientId: 0oa\n", wantErr: []string{"okta.privateKey is empty"}},
		{name: "okta private key not PEM", file: "okta:\n  orgUrl: https://o\n  clientId: 0oa\n  privateKey: not-a-key\n", wantErr: []string{"okta.privateKey", "not a PEM block"}},
		{name: "okta bad auth", file: "okta:\n  orgUrl: https://o\n  token: t\n  auth: basic\n", wantErr: []string{`okta.auth "basic"`}},
		{name: "bad bool variable", file: "ad:\n  url: ldaps://dc\n  bindDN: CN=r\n  password: p\n", env: map[string]string{"ANCHORSCAN_LDAP_STARTTLS": "maybe"}, wantErr: []string{"ad.startTLS", "ANCHORSCAN_LDAP_STARTTLS", "true or false"}},
		{name: "bad bool in file", file: "ad:\n  url: ldaps://dc\n  bindDN: CN=r\n  password: p\n  startTLS: sometimes\n", wantErr: []string{"ad.startTLS", "true or false"}},
		{name: "plain LDAP not asked for", file: "ad:\n  url: ldap://dc\n  bindDN: CN=r\n  password: p\n", wantErr: []string{"plain LDAP", "allowPlainLDAP"}},
		{name: "plain LDAP asked for", file: "ad:\n  url: ldap://dc\n  bindDN: CN=r\n  password: p\n  allowPlainLDAP: true\n", wantWarn: "unencrypted"},
		{name: "insecure skip verify warned", file: "ad:\n  url: ldaps://dc\n  bindDN: CN=r\n  password: p\n  ldapInsecureSkipVerify: true\n", wantWarn: "is not verified"},
		{name: "ldaps with startTLS", file: "ad:\n  url: ldaps://dc\n  startTLS: true\n  bindDN: CN=r\n  password: p\n", wantErr: []string{"already ldaps"}},
		{name: "simple bind without password", file: "ad:\n  url: ldaps://dc\n  bindDN: CN=r\n", wantErr: []string{"ad.password is empty"}},
		{name: "gssapi without realm", file: "ad:\n  url: ldaps://dc\n  auth: gssapi\n  ccache: " + emptyToken + "\n", wantErr: []string{"kerberosRealm"}},
		{name: "gssapi without credentials", file: "ad:\n  url: ldaps://dc\n  auth: gssapi\n  kerberosRealm: CORP\n", wantErr: []string{"neither ad.keytab nor ad.ccache"}},
		{name: "gssapi keytab and ccache", file: "ad:\n  url: ldaps://dc\n  auth: gssapi\n  kerberosRealm: CORP\n  keytab: " + emptyToken + "\n  kerberosUser: u\n  ccache: " + emptyToken + "\n", wantErr: []string{"both set"}},
		{name: "gssapi keytab without user", file: "ad:\n  url: ldaps://dc\n  auth: gssapi\n  kerberosRealm: CORP\n  keytab: " + emptyToken + "\n", wantErr: []string{"ad.kerberosUser"}},
		{name: "gssapi missing krb5.conf", file: "ad:\n  url: ldaps://dc\n  auth: gssapi\n  kerberosRealm: CORP\n  ccache: " + emptyToken + "\n  krb5Conf: /nonexistent/krb5.conf\n", wantErr: []string{"ad.krb5Conf", "/nonexistent/krb5.conf"}},
		{name: "gssapi world-readable keytab", file: "ad:\n  url: ldaps://dc\n  auth: gssapi\n  kerberosRealm: CORP\n  kerberosUser: u\n  keytab: " + worldToken + "\n", wantErr: []string{"ad.keytab", "0644", "chmod 600"}},
		{name: "entra secret without client id", file: "entra:\n  tenantId: t\n  auth: secret\n  clientSecret: s\n", wantErr: []string{"entra.clientId is empty"}},
		{name: "entra certificate without file", file: "entra:\n  tenantId: t\n  auth: certificate\n  clientId: c\n", wantErr: []string{"entra.clientCertificate"}},
		{name: "entra bad auth", file: "entra:\n  tenantId: t\n  auth: password\n", wantErr: []string{`entra.auth "password"`, "deviceCode"}},
		{name: "world-readable config allowed when asked", file: oktaFile, perm: 0o644, allow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warn strings.Builder
			opts := LoadOptions{LookupEnv: envOf(tt.env), Flags: flagsOf(t, tt.flags...), AllowInsecureConfig: tt.allow, Warnings: &warn}
			if tt.file != "" {
				perm := tt.perm
				if perm == 0 {
					perm = 0o600
				}
				opts.Path = writeFile(t, t.TempDir(), "c.yaml", tt.file, perm)
			}
			_, err := Load(opts)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("Load succeeded; want an error mentioning %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				for _, secret := range []string{"s3cr3t-world", "file-token"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q reveals a secret", err)
					}
				}
			}
			if !strings.Contains(warn.String(), tt.wantWarn) || (tt.wantWarn == "" && warn.Len() > 0) {
				t.Errorf("warnings %q, want %q", warn.String(), tt.wantWarn)
			}
		})
	}
}

func TestInsecureConfigIsErrInsecureFile(t *testing.T) {
	p := writeFile(t, t.TempDir(), "c.yaml", oktaFile, 0o604)
	_, err := Load(LoadOptions{Path: p, LookupEnv: envOf(nil)})
	if !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("error %v is not ErrInsecureFile", err)
	}
}

// The flags, variables and keys come from one table: every setting has all
// three, and none is declared twice.
func TestSettingsTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings {
		for _, id := range []string{"key " + s.Key, "flag " + s.Flag, "env " + s.Env} {
			if seen[id] {
				t.Errorf("%s declared twice", id)
			}
			seen[id] = true
		}
		if !strings.HasPrefix(s.Env, "ANCHORSCAN_") || s.Flag == "" || s.Help == "" || sectionAnchor[section(s.Key)] == "" {
			t.Errorf("setting %s is incomplete: %+v", s.Key, s)
		}
		if s.Secret && !strings.HasSuffix(s.Flag, "-file") {
			t.Errorf("secret %s has flag --%s; a secret's flag names a file", s.Key, s.Flag)
		}
		var c Config
		c.Okta, c.Entra, c.AD = &OktaConfig{}, &EntraConfig{}, &ADConfig{}
		if s.field(&c) == nil {
			t.Errorf("setting %s has no field", s.Key)
		}
	}
}

// WriteConfig's output is read back to the same configuration.
func TestWriteConfigRoundTrip(t *testing.T) {
	want := &Config{
		Okta:  &OktaConfig{OrgURL: "https://o.example", Auth: OktaAuthSSWS, Token: "t", Scopes: strings.Split(DefaultOktaScopes, ","), UserPartitions: "4"},
		Entra: &EntraConfig{TenantID: "tid", GraphURL: "https://graph.example/v1.0", Auth: EntraAuthStatic, Token: "g"},
		AD:    &ADConfig{URL: "ldaps://dc:636", Auth: ADAuthSimple, BindDN: "CN=r", Password: "p", BaseDNs: []string{"DC=a"}, Krb5Conf: "/etc/krb5.conf"},
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := WriteConfig(p, want); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("written file mode %v, %v; want 0600", info.Mode(), err)
	}
	got, err := Load(LoadOptions{Path: p, LookupEnv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-wrote +read):\n%s", diff)
	}
}

// rsaPEM is a throw-away 1024-bit test key.
const rsaPEM = `-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDJ9l9sJatFox6GaZs9gdKmcuU9tECn1IkLHTcG+XHOvX4nej0U
hDh0t2GkpXMLEwXzfm3l/Qx54og6Ax6K4M84yoegcZs7JyTNeA9LcykTcfeEwwZa
gb+yv+7t932jGdf2x07quqpxJv4M3i0mmwu0fs4U81q6RWD5LWPCUsXpHwIDAQAB
AoGBALMB1IIewTfv5NZuNFLIBtXRcK7IXaZkEzPuqR9daSo9etuy1QCiUQfiooE0
xEtEiTnRDceUCsLdrrD8os2lhQTVqR4LyF2LqrNlMoWzZM7Z4hNcZVPw3OP1Vr8F
3jUNZyfW/T9vKJQ22aWMRiunC87eVRAG+tzoI6LCaxOUWO2BAkEA7wbOcqksYlcZ
IeJvIF9MuRwJyYd8sex5t7qQ7vzZ6UTL4fZC4XYZB7iKsWxCZNb7va5MI5HQQo5J
UC8msdGZxwJBANhNyYxDEnP1X145FP2GrC3w9sSke+lY7kcXQd13dxiL4azyvCwX
4IiO0sf5F1iwhIeRUZcmStkuqMk5cmp/dekCQQC1sU3S+OfFJQH0sOPaDrcKatbB
u1y8/s2TLJ0pHUkjuWjlrcUvDw99v/ilX26kqoqXp9s2motdXD08V2spdfNXAkBR
sLcQqPgcISxeWnKJ+UWnqByaUYCWtUZwROFUMd0hwRp/BcF5aZ8cE8yZR4LAtRGo
XYKR8h1MfqmyLWb/v5mZAkEA2f/X8RpowQphUXGDTLzw/okMNdtFzavTN/N4eK1g
oIR69E9kqTzgxyx5ESlJDKDT3pm3OwdRyrPCpEjQa+FGOA==
-----END RSA PRIVATE KEY-----`

// The example names every setting, each under its own key, and is written
// 0600 without replacing an existing file.
func TestWriteExample(t *testing.T) {
	p := filepath.Join(t.TempDir(), "example.yaml")
	if err := WriteExampleFile(p, false); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", info.Mode(), err)
	}
	if err := WriteExampleFile(p, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second write: %v; want a refusal naming --force", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") {
			section = strings.TrimSuffix(line, ":")
			continue
		}
		if k, ok := strings.CutPrefix(line, "  #"); ok && !strings.HasPrefix(k, " ") {
			key, _, _ := strings.Cut(k, ":")
			full := section + "." + key
			if !knownFileKey(full) {
				t.Errorf("example names unknown key %s", full)
			}
			if setting(full) == nil {
				full = strings.TrimSuffix(full, "File") // a secret's file form
			}
			named[full] = true
		}
	}
	for _, s := range Settings {
		if !named[s.Key] {
			t.Errorf("example does not show %s", s.Key)
		}
		if !strings.Contains(string(data), s.Env) {
			t.Errorf("example does not name %s", s.Env)
		}
	}
}

// A Kerberos configuration reaches scan/ad as a GSSAPI bind without a
// password. The bind itself needs a KDC and is not exercised here.
func TestGSSAPIConfigReachesTheCollector(t *testing.T) {
	dir := t.TempDir()
	keytab := writeFile(t, dir, "reader.keytab", "not read until the bind", 0o600)
	krb5 := writeFile(t, dir, "krb5.conf", "[libdefaults]\n default_realm = CORP.EXAMPLE.TEST\n", 0o644)
	p := writeFile(t, dir, "c.yaml", "ad:\n  url: ldaps://dc01.corp.example.test\n  auth: gssapi\n  kerberosRealm: CORP.EXAMPLE.TEST\n  kerberosUser: anchorscan\n  keytab: "+keytab+"\n  krb5Conf: "+krb5+"\n", 0o600)
	cfg, err := Load(LoadOptions{Path: p, LookupEnv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cfg.AD.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Kerberos == nil || cc.Kerberos.Keytab != keytab || cc.Kerberos.User != "anchorscan" || cc.Password != "" {
		t.Fatalf("ad config = %+v, kerberos %+v", cc, cc.Kerberos)
	}
	srcs, err := cfg.Sources([]string{"ad"})
	if err != nil || len(srcs) != 1 {
		t.Fatalf("Sources = %v, %v", srcs, err)
	}
}
