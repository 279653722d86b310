// Package doctor checks, before a scan or an apply, that each configured
// directory can be reached over verified TLS, accepts the credentials, and
// grants every read the scan needs; it reports the write permissions apply
// needs where they can be seen without writing, and the federation set-up
// (a domain federated with Okta, the Office 365 app, Deactivate Users).
//
// Each check ends PASS, FAIL or WARN. A FAIL carries the fix. WARN does not
// fail the run: it marks a risk (Deactivate Users on) or a permission that
// cannot be verified without writing.
package doctor
