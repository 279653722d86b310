package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/go-ldap/ldap/v3"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
)

// Options tune a run.
type Options struct {
	// Prompt receives device code sign-in instructions; nil discards.
	Prompt io.Writer
}

// Run checks every configured directory in turn, adding each check to r as
// it is made.
func Run(ctx context.Context, cfg *scan.Config, opts Options, r *Report) {
	if opts.Prompt == nil {
		opts.Prompt = io.Discard
	}
	if cfg.Okta != nil {
		checkOkta(ctx, cfg.Okta, r)
	}
	if cfg.Entra != nil {
		issuer := ""
		if cfg.Okta != nil {
			issuer = cfg.Okta.Issuer
		}
		checkEntra(ctx, cfg.Entra, issuer, opts.Prompt, r)
	}
	if cfg.AD != nil {
		checkAD(ctx, cfg.AD, r)
	}
}

// OktaWriteScopes are the scopes apply needs beyond a scan's.
var OktaWriteScopes = []string{"okta.apps.manage", "okta.profileMappings.manage"}

func checkOkta(ctx context.Context, oc *scan.OktaConfig, r *Report) {
	const src = "okta"
	u, err := url.Parse(oc.OrgURL)
	if err != nil || u.Host == "" {
		r.add(Check{src, "configuration", Fail, fmt.Sprintf("okta.orgUrl %q is not a URL", oc.OrgURL), "set okta.orgUrl to https://<your org>.okta.com"})
		return
	}
	tlsCfg, err := oc.TLSConfig()
	if err != nil {
		r.add(Check{src, "configuration", Fail, err.Error(), "fix okta.caFile"})
		return
	}
	if !reachCheck(ctx, r, src, hostPort(u, "443"), u.Hostname(), tlsCfg, "okta.caFile") {
		return
	}
	cc, err := oc.ClientConfig()
	var c *okta.Collector
	if err == nil {
		c, err = okta.New(cc)
	}
	if err != nil {
		r.add(Check{src, "configuration", Fail, err.Error(), "fix the okta section (see `anchorscan config init`)"})
		return
	}
	var granted []string
	if c.UsesOAuth() {
		info, err := c.RequestToken(ctx)
		if err != nil {
			r.add(Check{src, "authentication", Fail, err.Error(), oauthFix(err, oc.ClientID)})
			return
		}
		granted = info.Scopes
		r.add(Check{src, "authentication", Pass, fmt.Sprintf("OAuth service app %s granted %s", oc.ClientID, strings.Join(info.Scopes, " ")), ""})
	}
	if err := c.ProbeUsers(ctx); err != nil {
		name, fix := "read users", oktaFix(err, "okta.users.read", c.UsesOAuth())
		if errors.Is(err, okta.ErrAuthentication) && !c.UsesOAuth() {
			name = "authentication"
		}
		r.add(Check{src, name, Fail, err.Error(), fix})
		return
	}
	if !c.UsesOAuth() {
		r.add(Check{src, "authentication", Pass, "the org accepted the API token", ""})
	}
	r.add(Check{src, "read users", Pass, "GET /api/v1/users", ""})
	apps, err := c.Office365Apps(ctx)
	if err != nil {
		r.add(Check{src, "read apps", Fail, err.Error(), oktaFix(err, "okta.apps.read", c.UsesOAuth())})
		return
	}
	r.add(Check{src, "read apps", Pass, "GET /api/v1/apps", ""})
	if len(apps) == 0 {
		r.add(Check{src, "office365 app", Fail, "the org has no office365 app instance",
			"federation of Microsoft 365 with Okta goes through the Office 365 app: add it (Applications › Browse App Catalog › Microsoft Office 365), or check the org URL"})
		return
	}
	for i := range apps {
		app := &apps[i]
		r.add(Check{src, "office365 app", Pass, fmt.Sprintf("%s (%s)", app.Label, app.ID), ""})
		if err := c.ProbeAppUsers(ctx, app.ID); err != nil {
			r.add(Check{src, "read app users", Fail, err.Error(), oktaFix(err, "okta.apps.read", c.UsesOAuth())})
		} else {
			r.add(Check{src, "read app users", Pass, "GET /api/v1/apps/" + app.ID + "/users", ""})
		}
		status, err := c.DeactivateUsersStatus(ctx, app.ID)
		switch {
		case err != nil:
			r.add(Check{src, "read features", Fail, err.Error(), oktaFix(err, "okta.apps.read", c.UsesOAuth())})
		case status == "ENABLED":
			r.add(Check{src, "read features", Pass, "GET /api/v1/apps/" + app.ID + "/features/USER_PROVISIONING", ""})
			r.add(Check{src, "deactivate users", Warn, fmt.Sprintf("app %s: Provisioning › To App › Deactivate Users is ENABLED: unassigning a user deprovisions them in Microsoft 365", app.ID),
				"turn it off in the app's Provisioning tab before any manual unassignment; apply turns it off for its own steps and restores it"})
		default:
			r.add(Check{src, "read features", Pass, "GET /api/v1/apps/" + app.ID + "/features/USER_PROVISIONING", ""})
			r.add(Check{src, "deactivate users", Pass, fmt.Sprintf("app %s: Deactivate Users is %s", app.ID, orNone(status)), ""})
		}
		if err := c.ImmutableIDMappingOf(ctx, app); err != nil {
			r.add(Check{src, "read mappings", Fail, err.Error(), oktaFix(err, "okta.profileMappings.read", c.UsesOAuth())})
		} else {
			r.add(Check{src, "read mappings", Pass, fmt.Sprintf("immutableId = %s (%s)", orNone(app.ImmutableIDExpression), orNone(app.ImmutableIDPushStatus)), ""})
		}
	}
	if c.UsesOAuth() {
		var missing []string
		for _, s := range OktaWriteScopes {
			if !slices.Contains(granted, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			r.add(Check{src, "apply permissions", Warn, "the token lacks " + strings.Join(missing, ", ") + ": apply's Okta steps will be refused",
				"grant them to the service app (Okta API Scopes tab) and add them to okta.scopes, before apply"})
		} else {
			r.add(Check{src, "apply permissions", Pass, "the token carries " + strings.Join(OktaWriteScopes, ", "), ""})
		}
	} else {
		r.add(Check{src, "apply permissions", Warn, "an API token acts with its admin's roles, which cannot be read without writing",
			"for apply, create the token as an admin who may manage the Office 365 app and its profile mappings (Super Administrator, or an App Administrator role covering it)"})
	}
}

func oauthFix(err error, clientID string) string {
	var te *okta.TokenError
	if errors.As(err, &te) {
		switch te.Code {
		case "invalid_client":
			return "check okta.clientId (" + clientID + ") and that the public key of okta.privateKey is registered with that service app (General › Public Keys), with okta.privateKeyId as its kid"
		case "invalid_scope":
			return "grant the scopes to the service app (Okta API Scopes tab) or remove them from okta.scopes"
		case "invalid_dpop_proof", "use_dpop_nonce":
			return "the service app requires DPoP: turn off 'Require Demonstrating Proof of Possession' for it"
		}
	}
	return "check okta.orgUrl and the service app's settings"
}

func oktaFix(err error, scope string, oauth bool) string {
	msg := err.Error()
	switch {
	case errors.Is(err, okta.ErrAuthentication) && !oauth:
		return "the API token is wrong, expired or revoked: create one (Security › API › Tokens) and give it as okta.tokenFile, okta.tokenEnv or OKTA_CLIENT_TOKEN"
	case errors.Is(err, okta.ErrAuthentication):
		return "the access token was refused: check the service app is active and its scopes are granted"
	case strings.Contains(msg, "permission denied") && oauth:
		return "grant " + scope + " to the service app (Okta API Scopes tab) and add it to okta.scopes"
	case strings.Contains(msg, "permission denied"):
		return "the token's admin lacks read access: use a Read-only Administrator (or higher) token"
	}
	return "see the error; check okta.orgUrl"
}

func checkEntra(ctx context.Context, ec *scan.EntraConfig, oktaIssuer string, prompt io.Writer, r *Report) {
	const src = "entra"
	base := ec.GraphURL
	if base == "" {
		base = entra.DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		r.add(Check{src, "configuration", Fail, fmt.Sprintf("entra.graphUrl %q is not a URL", base), "remove entra.graphUrl for the global cloud"})
		return
	}
	tlsCfg, err := ec.TLSConfig()
	if err != nil {
		r.add(Check{src, "configuration", Fail, err.Error(), "fix entra.caFile"})
		return
	}
	if !reachCheck(ctx, r, src, hostPort(u, "443"), u.Hostname(), tlsCfg, "entra.caFile") {
		return
	}
	cc, err := ec.ClientConfig(prompt)
	var c *entra.Collector
	if err == nil {
		c, err = entra.New(cc)
	}
	if err != nil {
		r.add(Check{src, "configuration", Fail, err.Error(), "fix the entra section (see `anchorscan config init`)"})
		return
	}
	tok, err := cc.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://" + u.Host + "/.default"}, TenantID: ec.TenantID})
	if err != nil {
		r.add(Check{src, "authentication", Fail, "getting a token (entra.auth " + ec.Auth + "): " + err.Error(), entraAuthFix(ec.Auth)})
		return
	}
	r.add(Check{src, "authentication", Pass, "token issued (entra.auth " + ec.Auth + ")", ""})
	if err := c.ProbeUsers(ctx); err != nil {
		r.add(Check{src, "read users", Fail, err.Error(), graphFix(err, "User.Read.All")})
		return
	}
	r.add(Check{src, "read users", Pass, "GET /users with onPremisesImmutableId selected", ""})
	domains, err := c.Domains(ctx)
	if err != nil {
		r.add(Check{src, "read domains", Fail, err.Error(), graphFix(err, "Domain.Read.All")})
		return
	}
	r.add(Check{src, "read domains", Pass, fmt.Sprintf("%d domains, federation configuration read", len(domains)), ""})
	federated := 0
	for _, d := range domains {
		if !strings.EqualFold(d.AuthenticationType, "Federated") || !d.IsVerified {
			continue
		}
		federated++
		if okIssuer(d.IssuerURI, oktaIssuer) {
			r.add(Check{src, "federation " + d.ID, Pass, "issuer " + d.IssuerURI, ""})
		} else {
			r.add(Check{src, "federation " + d.ID, Fail, fmt.Sprintf("domain %s is federated with issuer %q, which is not Okta", d.ID, d.IssuerURI),
				"federate it with Okta (Okta: Office 365 app › Sign On › WS-Federation, automatic or manual set-up), or set okta.issuer when Okta uses a custom issuer"})
		}
	}
	if federated == 0 {
		r.add(Check{src, "federation", Fail, "no verified domain is Federated: no user signs in through Okta",
			"federate the users' domain with Okta from the Office 365 app's Sign On tab"})
	}
	roles, scopes, ok := claimsOf(tok.Token)
	switch {
	case !ok:
		r.add(Check{src, "apply permissions", Warn, "the token is not a JWT (the simulator's static token): its roles cannot be read",
			"for apply, grant User.ReadWrite.All (application) or sign in with entra.auth deviceCode as an admin consenting to Directory.AccessAsUser.All"})
	case slices.Contains(scopes, "Directory.AccessAsUser.All"):
		r.add(Check{src, "apply permissions", Pass, "delegated Directory.AccessAsUser.All", ""})
	case slices.Contains(roles, "User.ReadWrite.All") || slices.Contains(roles, "Directory.ReadWrite.All"):
		r.add(Check{src, "apply permissions", Warn, "application role " + strings.Join(roles, ", ") + ": writing onPremisesImmutableId may still need delegated Directory.AccessAsUser.All (unconfirmed)",
			"if apply's Graph steps are refused, run apply with entra.auth deviceCode as a Global or Hybrid Identity Administrator"})
	default:
		r.add(Check{src, "apply permissions", Warn, fmt.Sprintf("the token carries neither User.ReadWrite.All nor Directory.AccessAsUser.All (roles %v, scopes %v): apply's Graph steps will be refused", roles, scopes),
			"grant User.ReadWrite.All with admin consent, or use entra.auth deviceCode for apply"})
	}
}

// okIssuer: Okta's default issuer is http://www.okta.com/<app key id>.
func okIssuer(issuer, configured string) bool {
	if configured != "" {
		return issuer == configured
	}
	return strings.HasPrefix(issuer, "http://www.okta.com/") || strings.HasPrefix(issuer, "https://www.okta.com/")
}

func entraAuthFix(auth string) string {
	switch auth {
	case scan.EntraAuthSecret:
		return "check entra.tenantId, entra.clientId and the client secret (expired secrets fail with AADSTS7000222)"
	case scan.EntraAuthCertificate:
		return "check entra.clientId and that the certificate's public key is uploaded to the app registration"
	case scan.EntraAuthManagedIdentity:
		return "run on an Azure resource with a managed identity (set entra.clientId for a user-assigned one)"
	case scan.EntraAuthAzureCLI:
		return "run `az login --tenant <tenant id>` first"
	case scan.EntraAuthStatic:
		return "the static token is for the simulator: check entra.token"
	}
	return "configure entra.auth explicitly (secret, certificate, managedIdentity, azureCLI or deviceCode)"
}

func graphFix(err error, permission string) string {
	var ge *entra.GraphError
	if errors.As(err, &ge) {
		switch ge.Status {
		case 401:
			return "the token was refused: check entra.tenantId and the app registration"
		case 403:
			return "grant the application permission " + permission + " to the app registration and give admin consent"
		}
	}
	return "see the error; check entra.graphUrl"
}

func checkAD(ctx context.Context, ac *scan.ADConfig, r *Report) {
	const src = "ad"
	u, err := url.Parse(ac.URL)
	if err != nil || u.Host == "" {
		r.add(Check{src, "configuration", Fail, fmt.Sprintf("ad.url %q is not a URL", ac.URL), "set ad.url to ldaps://<domain controller>"})
		return
	}
	tlsCfg, err := ac.TLSConfig()
	if err != nil {
		r.add(Check{src, "configuration", Fail, err.Error(), "fix ad.caFile"})
		return
	}
	ldaps := strings.EqualFold(u.Scheme, "ldaps")
	port := "389"
	if ldaps {
		port = "636"
	}
	handshake := tlsCfg
	if !ldaps {
		handshake = nil // StartTLS (or plain) is checked by the bind
	}
	if !reachCheck(ctx, r, src, hostPort(u, port), u.Hostname(), handshake, "ad.caFile") {
		return
	}
	if ac.InsecureSkipVerify {
		r.add(Check{src, "certificate verification", Warn, "ldapInsecureSkipVerify: the domain controller's certificate is not verified",
			"set ad.caFile to the CA that issued it and remove ldapInsecureSkipVerify"})
	}
	if !ldaps && !ac.StartTLS {
		r.add(Check{src, "encryption", Warn, "plain LDAP (allowPlainLDAP): the bind crosses the network in clear", "use ldaps:// or set ad.startTLS"})
	}
	cc, err := ac.ClientConfig()
	var c *ad.Collector
	if err == nil {
		c, err = ad.New(cc)
	}
	if err != nil {
		r.add(Check{src, "configuration", Fail, err.Error(), "fix the ad section (see `anchorscan config init`)"})
		return
	}
	conn, err := c.Bind(ctx)
	if err != nil {
		r.add(Check{src, "bind", Fail, err.Error(), bindFix(err, ac)})
		return
	}
	defer conn.Close()
	who := ac.BindDN
	if ac.Auth == scan.ADAuthGSSAPI {
		who = "Kerberos (" + ac.KerberosRealm + ")"
	}
	r.add(Check{src, "bind", Pass, "bound as " + who, ""})
	bases, err := conn.BaseDNs(ctx)
	if err != nil {
		r.add(Check{src, "read rootDSE", Fail, err.Error(), "set ad.baseDNs to the domain's DN (DC=corp,DC=example,DC=com)"})
		return
	}
	r.add(Check{src, "read rootDSE", Pass, "naming contexts " + strings.Join(bases, "; "), ""})
	for _, base := range bases {
		dn, guid, err := conn.ReadOneUserGUID(ctx, base)
		switch {
		case err != nil:
			r.add(Check{src, "read objectGUID", Fail, err.Error(), "give the account read access to user objects under " + base + " (Domain Users can read them by default)"})
		case len(guid) != 16:
			r.add(Check{src, "read objectGUID", Fail, fmt.Sprintf("%s: objectGUID has %d bytes, want 16", dn, len(guid)), "the directory returned objectGUID as text: check ad.url points at an AD domain controller"})
		default:
			r.add(Check{src, "read objectGUID", Pass, "16 raw bytes read under " + base, ""})
		}
	}
	r.add(Check{src, "apply permissions", Warn, "write access to mS-DS-ConsistencyGuid cannot be checked without writing",
		"for apply steps that set it, delegate 'Write mS-DS-ConsistencyGuid' on the user objects to the account"})
}

func bindFix(err error, ac *scan.ADConfig) string {
	msg := err.Error()
	switch {
	case ldap.IsErrorWithCode(errors.Unwrap(err), ldap.LDAPResultInvalidCredentials) || strings.Contains(msg, "invalid credentials"):
		return "check ad.bindDN (" + ac.BindDN + ") and its password (ad.passwordFile, ad.passwordEnv or ANCHORSCAN_LDAP_PASSWORD); the account may be locked, disabled or expired"
	case strings.Contains(msg, "StartTLS") || strings.Contains(msg, "certificate"):
		return tlsFix(err, "ad.caFile", ac.URL)
	case strings.Contains(msg, "Strong") || strings.Contains(msg, "strong"):
		return "the domain controller requires signing or TLS: use ldaps:// or ad.startTLS"
	case strings.Contains(msg, "Kerberos"):
		return "check ad.krb5Conf, the keytab or ccache (kinit), ad.kerberosRealm and ad.spn"
	}
	return "see the error; check ad.url"
}

// reachCheck adds the reach check and reports whether it passed.
func reachCheck(ctx context.Context, r *Report, src, hostport, serverName string, tlsCfg *tls.Config, caKey string) bool {
	name := "reach and TLS"
	if tlsCfg == nil {
		name = "reach"
	}
	detail, fix, err := reach(ctx, hostport, serverName, tlsCfg, caKey)
	if err != nil {
		r.add(Check{src, name, Fail, err.Error(), fix})
		return false
	}
	r.add(Check{src, name, Pass, detail, ""})
	return true
}

func hostPort(u *url.URL, defaultPort string) string {
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
