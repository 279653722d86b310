// Package anchor is the ImmutableID (source anchor) codec: it converts between a GUID, the 16 raw
// bytes LDAP returns for objectGUID or mS-DS-ConsistencyGuid, and the base64 ImmutableID that Entra
// stores as onPremisesImmutableId, and it recognises the mis-encodings seen in the wild (DESIGN §1
// and §5 row 13).
//
// Two byte orders matter. A GUID's canonical string (3ab39606-c642-…) spells its bytes in RFC 4122
// ("big-endian") order, which is how GUID holds them. Active Directory and .NET's Guid.ToByteArray
// store the first three groups little-endian, so the raw bytes begin 06 96 b3 3a 42 c6 9b 48. The
// AD-sourced anchor is base64 of the raw bytes; base64 of the canonical-order bytes is a common
// mistake that names a different GUID.
//
// Readings answers "which GUIDs can this value stand for, and under which encoding". A value can be
// ambiguous: every 16-byte base64 value is both a correct ImmutableID of one GUID and the big-endian
// base64 of another, and every 32-character hex string has the same two readings; Readings returns
// both rather than guessing. The package is pure: no I/O, no clock, no global state.
package anchor
