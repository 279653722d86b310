// Package scan runs a scan: it collects every configured source concurrently
// into a new snapshot in the store, records how each source ended, and
// classifies the snapshot. The sources themselves live in scan/okta,
// scan/entra and scan/ad; the decision table in scan/classify.
package scan
