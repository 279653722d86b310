// Package classify joins the Okta, Entra and Active Directory records of a
// snapshot into identities (one person across the sources) and puts each
// identity into exactly one scenario of the decision table in DESIGN §5, plus
// the tenant-wide org findings. It is pure: it reads records and returns
// findings, with no I/O, so the same snapshot always classifies the same way.
//
// The decision table and the org checks are data (rules.go, org.go): every
// rule carries its condition, severity, explanation template, fix summary and
// matching and non-matching examples that the tests run through the table.
//
// Severities, one per rule (the table says which):
//   - critical: federated sign-in of the person fails today because of the
//     anchor (MULTIPLE_AD_SOURCES, MISSING_ANCHOR_AD, MISSING_ANCHOR_CLOUD,
//     OKTA_ANCHOR_EMPTY, SYNC_MANAGED_MISMATCH, ENCODING_MISMATCH,
//     OKTA_ASSIGNMENT_STALE, ENTRA_ANCHOR_STALE, UNKNOWN_MISMATCH);
//   - high: one anchor held by two people, where someone may sign in as
//     someone else (ANCHOR_CONFLICT); a federated Entra user whose Okta user
//     is not assigned (NOT_ASSIGNED); tenant settings that make fixes harmful
//     or send sign-in elsewhere (ORG_DEACTIVATE_ENABLED,
//     ORG_MULTIPLE_AD_DEFAULT_EXPRESSION, ORG_FEDERATION_ISSUER_NOT_OKTA);
//   - medium: states that need a decision but break no working federated
//     sign-in (NOT_IN_ENTRA, UNFEDERATED_UPN, ORPHAN_ENTRA,
//     ORG_MAPPING_DEFAULT_NULL, ORG_MAPPING_PUSHES, ORG_NO_FEDERATED_DOMAIN);
//   - info: OK and OUT_OF_SCOPE. Low is not used by any rule today.
package classify
