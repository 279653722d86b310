package scan

// kind is how a setting's text is read.
type kind int

const (
	kindString kind = iota
	kindBool
	kindList // comma-separated in flags and variables, a YAML list in the file
)

// Setting declares one configuration value once: its key in the YAML file,
// its flag, its ANCHORSCAN_ variable, the ecosystem's own variables, its
// default and whether it is a secret. Flags, the environment, the file and
// `config init` are all derived from this table, so they cannot disagree.
//
// A secret has no value flag (a command line is visible to every local user
// in ps): its flag takes a file path instead, and in the YAML file it may be
// given inline (key), as a file path (keyFile) or as the name of a variable
// holding it (keyEnv).
type Setting struct {
	Key       string   // YAML key, "section.name"
	Flag      string   // without dashes; for a secret, the flag naming a file that holds it
	Env       string   // ANCHORSCAN_… variable; for a secret also Env+"_FILE"
	Ecosystem []string // the ecosystem's own variables, first set wins
	Default   string
	Secret    bool
	// Path marks a file path whose file may hold key material: it is refused
	// when readable by others, like the config file.
	Path    bool
	Help    string
	Example string // the value `config init` shows, commented out
	kind    kind
	field   func(*Config) any // *string, *bool or *[]string
}

// Sections of the config file, each one directory.
const (
	SectionOkta  = "okta"
	SectionEntra = "entra"
	SectionAD    = "ad"
)

// sectionAnchor is the setting whose presence configures a section.
var sectionAnchor = map[string]string{
	SectionOkta:  "okta.orgUrl",
	SectionEntra: "entra.tenantId",
	SectionAD:    "ad.url",
}

// Entra authentication methods (entra.auth).
const (
	EntraAuthAuto            = "auto"
	EntraAuthSecret          = "secret"
	EntraAuthCertificate     = "certificate"
	EntraAuthManagedIdentity = "managedIdentity"
	EntraAuthAzureCLI        = "azureCLI"
	EntraAuthDeviceCode      = "deviceCode"
	EntraAuthDefault         = "default"
	EntraAuthStatic          = "static"
)

// Okta authentication methods (okta.auth).
const (
	OktaAuthAuto       = "auto"
	OktaAuthSSWS       = "ssws"
	OktaAuthPrivateKey = "privateKey"
)

// AD bind methods (ad.auth).
const (
	ADAuthSimple = "simple"
	ADAuthGSSAPI = "gssapi"
)

// DefaultOktaScopes are what a scan reads with OAuth; apply also needs
// okta.apps.manage and okta.profileMappings.manage.
const DefaultOktaScopes = "okta.users.read,okta.apps.read,okta.profileMappings.read,okta.logs.read"

// Settings is every setting anchorscan reads, in the order `config init`
// writes them.
var Settings = []Setting{
	// Okta
	{Key: "okta.orgUrl", Flag: "okta-org-url", Env: "ANCHORSCAN_OKTA_ORG_URL", Ecosystem: []string{"OKTA_CLIENT_ORGURL"},
		Help: "Okta org URL; setting it scans Okta", Example: "https://contoso.okta.com",
		field: func(c *Config) any { return &c.Okta.OrgURL }},
	{Key: "okta.auth", Flag: "okta-auth", Env: "ANCHORSCAN_OKTA_AUTH", Default: OktaAuthAuto,
		Help:  "ssws (API token), privateKey (OAuth 2.0 service app with private-key JWT), or auto: privateKey when a client id is set, else ssws",
		field: func(c *Config) any { return &c.Okta.Auth }},
	{Key: "okta.token", Flag: "okta-token-file", Env: "ANCHORSCAN_OKTA_TOKEN", Ecosystem: []string{"OKTA_CLIENT_TOKEN"}, Secret: true,
		Help: "SSWS API token of a read-only admin (apply: an admin who may manage apps)", Example: "",
		field: func(c *Config) any { return &c.Okta.Token }},
	{Key: "okta.clientId", Flag: "okta-client-id", Env: "ANCHORSCAN_OKTA_CLIENT_ID", Ecosystem: []string{"OKTA_CLIENT_CLIENTID"},
		Help: "client id of the OAuth 2.0 service app (auth privateKey)", Example: "0oa1example2clientid3",
		field: func(c *Config) any { return &c.Okta.ClientID }},
	{Key: "okta.privateKey", Flag: "okta-private-key-file", Env: "ANCHORSCAN_OKTA_PRIVATE_KEY", Ecosystem: []string{"OKTA_CLIENT_PRIVATEKEY"}, Secret: true,
		Help:  "PEM private key (PKCS#1 or PKCS#8 RSA) whose public key is registered with the service app",
		field: func(c *Config) any { return &c.Okta.PrivateKey }},
	{Key: "okta.privateKeyId", Flag: "okta-private-key-id", Env: "ANCHORSCAN_OKTA_PRIVATE_KEY_ID", Ecosystem: []string{"OKTA_CLIENT_PRIVATEKEYID"},
		Help:  "key id (kid) of that public key in the service app, when it has several",
		field: func(c *Config) any { return &c.Okta.PrivateKeyID }},
	{Key: "okta.scopes", Flag: "okta-scopes", Env: "ANCHORSCAN_OKTA_SCOPES", Ecosystem: []string{"OKTA_CLIENT_SCOPES"}, Default: DefaultOktaScopes, kind: kindList,
		Help:  "OAuth scopes to request (apply also needs okta.apps.manage and okta.profileMappings.manage)",
		field: func(c *Config) any { return &c.Okta.Scopes }},
	{Key: "okta.caFile", Flag: "okta-ca-file", Env: "ANCHORSCAN_OKTA_CA_FILE",
		Help:  "PEM bundle to trust instead of the system roots (a TLS-inspecting proxy, the simulator)",
		field: func(c *Config) any { return &c.Okta.CAFile }},
	{Key: "okta.userPartitions", Flag: "okta-user-partitions", Env: "ANCHORSCAN_OKTA_USER_PARTITIONS", Default: "4",
		Help:  "how many searches over creation-time ranges read the users list in parallel (1..16); 1 reads it as one list, never through the search index",
		field: func(c *Config) any { return &c.Okta.UserPartitions }},
	{Key: "okta.issuer", Flag: "okta-issuer", Env: "ANCHORSCAN_OKTA_ISSUER",
		Help:  "the IdP issuer federated domains must name, when not http://www.okta.com/<id> (doctor)",
		field: func(c *Config) any { return &c.Okta.Issuer }},

	// Entra
	{Key: "entra.tenantId", Flag: "entra-tenant-id", Env: "ANCHORSCAN_ENTRA_TENANT_ID", Ecosystem: []string{"AZURE_TENANT_ID"},
		Help: "Entra tenant id; setting it scans Entra", Example: "00000000-0000-0000-0000-000000000000",
		field: func(c *Config) any { return &c.Entra.TenantID }},
	{Key: "entra.graphUrl", Flag: "entra-graph-url", Env: "ANCHORSCAN_ENTRA_GRAPH_URL", Default: "https://graph.microsoft.com/v1.0",
		Help:  "Microsoft Graph base URL (national clouds, the simulator)",
		field: func(c *Config) any { return &c.Entra.GraphURL }},
	{Key: "entra.auth", Flag: "entra-auth", Env: "ANCHORSCAN_ENTRA_AUTH", Default: EntraAuthAuto,
		Help: "secret, certificate, managedIdentity, azureCLI, deviceCode (delegated, for writes needing Directory.AccessAsUser.All), " +
			"default (azidentity's chain), static (the simulator's token), or auto: static, secret or certificate when given, else default",
		field: func(c *Config) any { return &c.Entra.Auth }},
	{Key: "entra.clientId", Flag: "entra-client-id", Env: "ANCHORSCAN_ENTRA_CLIENT_ID", Ecosystem: []string{"AZURE_CLIENT_ID"},
		Help: "application (client) id; for managedIdentity, a user-assigned identity's client id", Example: "11111111-1111-1111-1111-111111111111",
		field: func(c *Config) any { return &c.Entra.ClientID }},
	{Key: "entra.clientSecret", Flag: "entra-client-secret-file", Env: "ANCHORSCAN_ENTRA_CLIENT_SECRET", Ecosystem: []string{"AZURE_CLIENT_SECRET"}, Secret: true,
		Help:  "client secret of the app registration (auth secret)",
		field: func(c *Config) any { return &c.Entra.ClientSecret }},
	{Key: "entra.clientCertificate", Flag: "entra-client-certificate", Env: "ANCHORSCAN_ENTRA_CLIENT_CERTIFICATE", Ecosystem: []string{"AZURE_CLIENT_CERTIFICATE_PATH"}, Path: true,
		Help:  "PEM or PFX file with the certificate and its private key (auth certificate)",
		field: func(c *Config) any { return &c.Entra.ClientCertificate }},
	{Key: "entra.clientCertificatePassword", Flag: "entra-client-certificate-password-file", Env: "ANCHORSCAN_ENTRA_CLIENT_CERTIFICATE_PASSWORD", Ecosystem: []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD"}, Secret: true,
		Help:  "password of an encrypted PFX",
		field: func(c *Config) any { return &c.Entra.ClientCertificatePassword }},
	{Key: "entra.token", Flag: "entra-token-file", Env: "ANCHORSCAN_ENTRA_TOKEN", Secret: true,
		Help:  "a fixed bearer token (auth static): only the simulator issues these",
		field: func(c *Config) any { return &c.Entra.Token }},
	{Key: "entra.caFile", Flag: "entra-ca-file", Env: "ANCHORSCAN_ENTRA_CA_FILE",
		Help:  "PEM bundle to trust instead of the system roots",
		field: func(c *Config) any { return &c.Entra.CAFile }},

	// AD
	{Key: "ad.url", Flag: "ldap-url", Env: "ANCHORSCAN_LDAP_URL",
		Help: "ldaps://dc:636, or ldap://dc:389 with startTLS; setting it scans AD", Example: "ldaps://dc01.corp.example.com",
		field: func(c *Config) any { return &c.AD.URL }},
	{Key: "ad.startTLS", Flag: "ldap-starttls", Env: "ANCHORSCAN_LDAP_STARTTLS", kind: kindBool,
		Help:  "upgrade an ldap:// connection with StartTLS before binding",
		field: func(c *Config) any { return &c.AD.StartTLS }},
	{Key: "ad.allowPlainLDAP", Flag: "allow-plain-ldap", Env: "ANCHORSCAN_ALLOW_PLAIN_LDAP", kind: kindBool,
		Help:  "allow ldap:// without StartTLS: the bind password crosses the network in clear",
		field: func(c *Config) any { return &c.AD.AllowPlainLDAP }},
	{Key: "ad.caFile", Flag: "ldap-ca-file", Env: "ANCHORSCAN_LDAP_CA_FILE",
		Help:  "PEM bundle of the CA that issued the domain controllers' certificates",
		field: func(c *Config) any { return &c.AD.CAFile }},
	{Key: "ad.ldapInsecureSkipVerify", Flag: "ldap-insecure-skip-verify", Env: "ANCHORSCAN_LDAP_INSECURE_SKIP_VERIFY", kind: kindBool,
		Help:  "do not verify the domain controller's certificate (anyone on the path can read the bind): for a first test only",
		field: func(c *Config) any { return &c.AD.InsecureSkipVerify }},
	{Key: "ad.auth", Flag: "ldap-auth", Env: "ANCHORSCAN_LDAP_AUTH", Default: ADAuthSimple,
		Help:  "simple (bindDN and password) or gssapi (Kerberos, with a keytab or a credential cache)",
		field: func(c *Config) any { return &c.AD.Auth }},
	{Key: "ad.bindDN", Flag: "ldap-bind-dn", Env: "ANCHORSCAN_LDAP_BIND_DN",
		Help: "DN of the reading account (simple bind)", Example: "CN=anchorscan-reader,OU=Service Accounts,DC=corp,DC=example,DC=com",
		field: func(c *Config) any { return &c.AD.BindDN }},
	{Key: "ad.password", Flag: "ldap-password-file", Env: "ANCHORSCAN_LDAP_PASSWORD", Secret: true,
		Help:  "its password (simple bind)",
		field: func(c *Config) any { return &c.AD.Password }},
	{Key: "ad.baseDNs", Flag: "ldap-base-dns", Env: "ANCHORSCAN_LDAP_BASE_DNS", kind: kindList,
		Help:  "naming contexts to read (default: the rootDSE's defaultNamingContext)",
		field: func(c *Config) any { return &c.AD.BaseDNs }},
	{Key: "ad.kerberosRealm", Flag: "kerberos-realm", Env: "ANCHORSCAN_KERBEROS_REALM",
		Help: "Kerberos realm (gssapi)", Example: "CORP.EXAMPLE.COM",
		field: func(c *Config) any { return &c.AD.KerberosRealm }},
	{Key: "ad.kerberosUser", Flag: "kerberos-user", Env: "ANCHORSCAN_KERBEROS_USER",
		Help:  "principal name in the keytab (gssapi with keytab)",
		field: func(c *Config) any { return &c.AD.KerberosUser }},
	{Key: "ad.keytab", Flag: "kerberos-keytab", Env: "ANCHORSCAN_KERBEROS_KEYTAB", Path: true,
		Help:  "keytab file (gssapi)",
		field: func(c *Config) any { return &c.AD.Keytab }},
	{Key: "ad.ccache", Flag: "kerberos-ccache", Env: "ANCHORSCAN_KERBEROS_CCACHE", Ecosystem: []string{"KRB5CCNAME"}, Path: true,
		Help:  "credential cache file, as kinit leaves it (gssapi, instead of a keytab)",
		field: func(c *Config) any { return &c.AD.CCache }},
	{Key: "ad.krb5Conf", Flag: "kerberos-config", Env: "ANCHORSCAN_KERBEROS_CONFIG", Ecosystem: []string{"KRB5_CONFIG"}, Default: "/etc/krb5.conf",
		Help:  "krb5.conf naming the realm's KDCs (gssapi)",
		field: func(c *Config) any { return &c.AD.Krb5Conf }},
	{Key: "ad.spn", Flag: "ldap-spn", Env: "ANCHORSCAN_LDAP_SPN",
		Help:  "service principal of the domain controller (gssapi; default ldap/<host of the URL>)",
		field: func(c *Config) any { return &c.AD.SPN }},
}

// setting returns the declaration of key, or nil.
func setting(key string) *Setting {
	for i := range Settings {
		if Settings[i].Key == key {
			return &Settings[i]
		}
	}
	return nil
}
