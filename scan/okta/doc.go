// Package okta reads Okta through the official okta-sdk-golang v5 client:
// every user, the office365 and active_directory app instances, their app
// users, the O365 USER_PROVISIONING feature and the Okta→O365 immutableId
// profile mapping, converted to record types and handed to a record.Sink one
// page at a time.
//
// The SDK is used with its pitfalls worked around: its configuration is
// isolated from ~/.okta/okta.yaml and OKTA_* variables, its response cache is
// off, 429s are retried, the org URL keeps its port, and paging is driven
// here with After(cursor) so that every request carries the caller's context.
// A list's next page is requested as soon as its predecessor's Link header
// arrives, so the SDK's decoding and the sink's commit of one page overlap
// the round trip of the next; pages still reach the sink in order, each with
// the cursor that follows it.
package okta
