package ad

import (
	"errors"
	"fmt"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
)

// Kerberos is a GSSAPI (Kerberos) bind instead of a simple bind: the
// domain controller never sees a password, and AD accepts it over plain
// LDAP with signing as well as over TLS.
type Kerberos struct {
	Realm string
	// User and Keytab: the principal and its keytab. Or CCache: a
	// credential cache as kinit leaves it.
	User, Keytab, CCache string
	// Krb5Conf names the realm's KDCs.
	Krb5Conf string
	// SPN is the domain controller's service principal; "" means
	// ldap/<host of the URL>.
	SPN string
}

// client builds the gokrb5-based GSSAPI client go-ldap binds with. It reads
// the keytab or cache and krb5.conf; it talks to the KDC only during the bind.
func (k *Kerberos) client() (*gssapi.Client, error) {
	switch {
	case k.Keytab != "" && k.CCache != "":
		return nil, errors.New("ad: Kerberos: give a keytab or a credential cache, not both")
	case k.Keytab != "":
		c, err := gssapi.NewClientWithKeytab(k.User, k.Realm, k.Keytab, k.Krb5Conf)
		if err != nil {
			return nil, fmt.Errorf("ad: Kerberos keytab %s for %s@%s (krb5.conf %s): %w", k.Keytab, k.User, k.Realm, k.Krb5Conf, err)
		}
		return c, nil
	case k.CCache != "":
		c, err := gssapi.NewClientFromCCache(k.CCache, k.Krb5Conf)
		if err != nil {
			return nil, fmt.Errorf("ad: Kerberos credential cache %s (krb5.conf %s): %w", k.CCache, k.Krb5Conf, err)
		}
		return c, nil
	}
	return nil, errors.New("ad: Kerberos needs a keytab or a credential cache")
}

// gssapiBind binds conn with Kerberos as the service principal of host.
func (k *Kerberos) gssapiBind(conn *ldap.Conn, host string) error {
	c, err := k.client()
	if err != nil {
		return err
	}
	defer c.Close()
	spn := k.SPN
	if spn == "" {
		spn = "ldap/" + host
	}
	if err := conn.GSSAPIBind(c, spn, ""); err != nil {
		return fmt.Errorf("ad: Kerberos bind to %s: %w", spn, err)
	}
	return nil
}
