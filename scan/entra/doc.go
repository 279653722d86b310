// Package entra reads Microsoft Entra ID through Microsoft Graph v1.0 with the
// official SDK (msgraph-sdk-go on kiota, credentials from azidentity): the
// tenant (/organization), its domains and the federation settings of the
// federated ones, and every user with the on-premises attributes that decide
// federated sign-in (onPremisesImmutableId above all). Users are handed to a
// record.Sink one page at a time, so a 100,000-user tenant is never held in
// memory at once.
//
// An incremental scan (CollectChanges) follows the users delta link the last
// read recorded in its Stats.Sync and writes only the users changed or
// removed since; the organization and domains, a few requests, are read
// whole each time.
//
// The SDK has traps this package steps around on purpose: its Azure token
// provider silently sends no Authorization header to a host outside its
// allow-list (the configured BaseURL's host is added to it), it refuses
// plain-http URLs, and ODataError.Error panics when the error body has no
// message (errors are described without calling it).
package entra
