// Package sim simulates the directories anchorscan reads: a tenant fixture
// format (anchorscan-tenant/v1), a generator of consistent tenants labelled
// with their expected scenarios, and fake Okta, Microsoft Graph and LDAP
// servers over one shared in-memory tenant, listening on loopback. The fakes
// stand in for the SaaS APIs in tests and in `anchorscan demo`; they page,
// fail and throttle the way the vendors' APIs do.
package sim
