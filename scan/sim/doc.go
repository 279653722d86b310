// Package sim simulates the directories anchorscan reads: a tenant fixture
// format (anchorscan-tenant/v1), a generator of consistent tenants labelled
// with their expected scenarios, and fake Okta, Microsoft Graph and LDAP
// servers over one shared in-memory tenant, listening on loopback. The fakes
// stand in for the SaaS APIs in tests and in `anchorscan demo`; they page,
// fail and throttle the way the vendors' APIs do.
//
// The shared State also tracks what changed when (changes.go), so that the
// incremental reads work as they do live: Okta's lastUpdated filter, created
// range searches and System Log, Graph's users delta, and AD's uSNChanged
// with tombstones under the Show Deleted control. State.Mutate makes such
// changes to a share of a tenant for tests and benchmarks.
package sim
