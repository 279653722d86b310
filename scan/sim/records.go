package sim

import (
	"fmt"
	"strings"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

// Records converts the tenant into the records the collectors would store
// from the simulated servers, without running them: for tests and
// benchmarks of what comes after a scan. Mapping ids are made up.
func (t *Tenant) Records() (classify.Input, error) {
	in := classify.Input{
		OktaOrgURL: t.Okta.Org,
		EntraOrg:   record.EntraOrg{TenantID: t.Entra.TenantID, InitialDomain: t.Entra.InitialDomain},
	}
	for _, u := range t.Okta.Users {
		in.OktaUsers = append(in.OktaUsers, record.OktaUser{ID: u.ID, Status: u.Status, Login: u.Login,
			Email: u.Email, FirstName: u.FirstName, LastName: u.LastName})
	}
	for _, a := range t.Okta.Apps {
		app := record.OktaApp{ID: a.ID, Name: a.Name, Label: a.Label, DeactivateUsers: a.DeactivateUsers}
		if m := a.ImmutableIDMapping; m != nil {
			app.MappingID = "prm-" + a.ID
			app.ImmutableIDExpression, app.ImmutableIDPushStatus = m.Expression, m.PushStatus
		}
		in.OktaApps = append(in.OktaApps, app)
	}
	for _, au := range t.Okta.AppUsers {
		in.OktaAppUsers = append(in.OktaAppUsers, record.OktaAppUser{AppID: au.AppID, UserID: au.UserID,
			ExternalID: deref(au.ExternalID), UserName: au.UserName, Status: au.Status,
			ImmutableID: deref(au.Profile.ImmutableID), Licenses: au.Profile.Licenses, Roles: au.Profile.Roles})
	}
	for _, d := range t.Entra.Domains {
		in.EntraDomains = append(in.EntraDomains, record.EntraDomain{ID: d.ID, AuthenticationType: d.AuthenticationType,
			IsVerified: d.IsVerified, IsInitial: d.IsInitial, IssuerURI: d.IssuerURI})
	}
	for _, u := range t.Entra.Users {
		in.EntraUsers = append(in.EntraUsers, record.EntraUser{ID: u.ID, UserPrincipalName: u.UserPrincipalName,
			DisplayName: u.DisplayName, Mail: u.Mail, AccountEnabled: u.AccountEnabled, UserType: u.UserType,
			ImmutableID: deref(u.OnPremisesImmutableID), SyncEnabled: deref(u.OnPremisesSyncEnabled),
			SecurityID: deref(u.OnPremisesSecurityIdentifier)})
	}
	for _, d := range t.AD.Domains {
		in.ADDomains = append(in.ADDomains, record.ADDomain{Name: d.Name, BaseDN: d.BaseDN})
	}
	for _, u := range t.AD.Users {
		g, err := anchor.ParseGUID(u.ObjectGUID)
		if err != nil {
			return in, fmt.Errorf("AD user %s: objectGUID: %w", u.DistinguishedName, err)
		}
		rec := record.ADUser{DistinguishedName: u.DistinguishedName, ObjectGUID: g.Raw(), ObjectSID: u.ObjectSID,
			UserPrincipalName: u.UserPrincipalName, SAMAccountName: u.SAMAccountName, Mail: u.Mail,
			UserAccountControl: u.UserAccountControl}
		if u.MSDSConsistencyGUID != nil {
			cg, err := anchor.ParseGUID(*u.MSDSConsistencyGUID)
			if err != nil {
				return in, fmt.Errorf("AD user %s: msDSConsistencyGuid: %w", u.DistinguishedName, err)
			}
			raw := cg.Raw()
			rec.ConsistencyGUID = raw[:]
		}
		for _, d := range t.AD.Domains {
			if strings.HasSuffix(strings.ToLower(u.DistinguishedName), strings.ToLower(d.BaseDN)) {
				rec.Domain = d.Name
			}
		}
		in.ADUsers = append(in.ADUsers, rec)
	}
	return in, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
