// Package ad reads on-premises Active Directory over LDAP v3 with go-ldap:
// the rootDSE, then every user object under the configured naming contexts
// with the paged results control, keeping objectGUID and
// mS-DS-ConsistencyGuid as the raw bytes the ImmutableID is computed from.
// It hands the store one record.Batch per page, so a domain of any size is
// read in bounded memory, and a search cut short reports how far it got.
package ad
