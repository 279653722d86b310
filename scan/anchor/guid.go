package anchor

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// GUID holds a GUID's 16 bytes in canonical string order (RFC 4122, "big-endian"): GUID[0] is the
// first two hex digits of the canonical string.
type GUID [16]byte

// rawOrder maps a position in the raw (LDAP/.NET) byte order to the position in canonical order
// holding the same byte. It is its own inverse, so it converts in both directions.
var rawOrder = [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}

// dashOffsets are the positions of '-' in the 36-character canonical form.
var dashOffsets = [4]int{8, 13, 18, 23}

// ParseGUID parses the canonical 8-4-4-4-12 form or the braced {…} form, in any letter case.
func ParseGUID(s string) (GUID, error) {
	if g, ok := parseGUIDText(s); ok {
		return g, nil
	}
	return GUID{}, guidTextError(s)
}

// parseGUIDText is ParseGUID without the error, so that Readings can try it on every value without
// allocating an error for the common miss.
func parseGUIDText[T string | []byte](s T) (GUID, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return GUID{}, false
	}
	for _, d := range dashOffsets {
		if s[d] != '-' {
			return GUID{}, false
		}
	}
	var g GUID
	in := 0
	for i := range g {
		if in == dashOffsets[0] || in == dashOffsets[1] || in == dashOffsets[2] || in == dashOffsets[3] {
			in++
		}
		hi, ok1 := fromHexChar(s[in])
		lo, ok2 := fromHexChar(s[in+1])
		if !ok1 || !ok2 {
			return GUID{}, false
		}
		g[i] = hi<<4 | lo
		in += 2
	}
	return g, true
}

// guidTextError explains why s is not a canonical or braced GUID string.
func guidTextError(s string) error {
	q := quoteShort(s)
	inner := s
	switch {
	case len(s) > 0 && s[0] == '{' && s[len(s)-1] != '}':
		return fmt.Errorf("anchor: GUID %s: opening '{' without closing '}'", q)
	case len(s) > 0 && s[0] != '{' && s[len(s)-1] == '}':
		return fmt.Errorf("anchor: GUID %s: closing '}' without opening '{'", q)
	case len(s) >= 2 && s[0] == '{':
		inner = s[1 : len(s)-1]
	}
	if len(inner) == 38 {
		return fmt.Errorf("anchor: GUID %s: 38 characters, but only a braced {…} GUID may have 38", q)
	}
	if len(inner) != 36 {
		return fmt.Errorf("anchor: GUID %s: %d characters, want 36 (8-4-4-4-12 hex digits with dashes) or 38 with braces", q, len(s))
	}
	offset := len(s) - len(inner)
	if offset > 0 {
		offset = 1
	}
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		isDash := i == dashOffsets[0] || i == dashOffsets[1] || i == dashOffsets[2] || i == dashOffsets[3]
		if isDash && c != '-' {
			return fmt.Errorf("anchor: GUID %s: want '-' at offset %d, found %q", q, offset+i, c)
		}
		if _, ok := fromHexChar(c); !isDash && !ok {
			return fmt.Errorf("anchor: GUID %s: non-hex character %q at offset %d", q, c, offset+i)
		}
	}
	// Unreachable for inputs parseGUIDText rejects, kept so a future change cannot return nil.
	return fmt.Errorf("anchor: GUID %s: not a canonical or braced GUID", q)
}

// FromRaw converts the 16 raw bytes LDAP returns for objectGUID or mS-DS-ConsistencyGuid (.NET
// Guid.ToByteArray order: first three groups byte-reversed) to a GUID.
func FromRaw(b []byte) (GUID, error) {
	if len(b) != 16 {
		return GUID{}, fmt.Errorf("anchor: raw GUID is %d bytes, want 16", len(b))
	}
	return fromRaw16((*[16]byte)(b)), nil
}

func fromRaw16(b *[16]byte) GUID {
	var g GUID
	for i, j := range rawOrder {
		g[j] = b[i]
	}
	return g
}

// Raw returns the bytes in LDAP/.NET order, as AD stores objectGUID and mS-DS-ConsistencyGuid.
func (g GUID) Raw() [16]byte {
	var b [16]byte
	for i, j := range rawOrder {
		b[i] = g[j]
	}
	return b
}

// String returns the canonical lower-case 8-4-4-4-12 form.
func (g GUID) String() string {
	var buf [36]byte
	g.appendCanonical(buf[:0], false)
	return string(buf[:])
}

func (g GUID) appendCanonical(dst []byte, upper bool) []byte {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	for i, b := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, digits[b>>4], digits[b&0x0f])
	}
	return dst
}

// ImmutableID returns base64 (standard alphabet, padded) of Raw(): the anchor Entra expects for an
// AD-sourced user.
func (g GUID) ImmutableID() string {
	raw := g.Raw()
	return base64.StdEncoding.EncodeToString(raw[:])
}

// ImmutableIDFromRaw returns the ImmutableID for raw objectGUID or mS-DS-ConsistencyGuid bytes.
func ImmutableIDFromRaw(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("anchor: raw GUID is %d bytes, want 16", len(b))
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// strictStd rejects base64 whose unused trailing bits are set, so that exactly one string is the
// ImmutableID of a GUID (Entra compares anchors as strings).
var strictStd = base64.StdEncoding.Strict()

// ParseImmutableID parses a correct ImmutableID: padded standard base64 of exactly 16 bytes, taken
// as raw (LDAP order) bytes. It accepts nothing else; Readings is the lenient counterpart.
func ParseImmutableID(s string) (GUID, error) {
	if len(s) != 24 {
		return GUID{}, fmt.Errorf("anchor: ImmutableID %s: %d characters, want 24 (padded base64 of 16 bytes)", quoteShort(s), len(s))
	}
	if i := indexNotIn(s, alphabetStd); i >= 0 {
		return GUID{}, fmt.Errorf("anchor: ImmutableID %s: character %q at offset %d is not standard base64", quoteShort(s), s[i], i)
	}
	var raw [16]byte
	n, err := decode16(strictStd, s, &raw)
	if err != nil {
		return GUID{}, fmt.Errorf("anchor: ImmutableID %s: %w", quoteShort(s), err)
	}
	if n != 16 {
		return GUID{}, fmt.Errorf("anchor: ImmutableID %s: decodes to %d bytes, want 16", quoteShort(s), n)
	}
	return fromRaw16(&raw), nil
}

// decode16 decodes s into dst when it decodes to at most 16 bytes, without heap allocation.
func decode16(enc *base64.Encoding, s string, dst *[16]byte) (int, error) {
	var src [24]byte
	if len(s) > len(src) || enc.DecodedLen(len(s)) > 18 {
		return 0, fmt.Errorf("%d characters are too many for 16 bytes", len(s))
	}
	var buf [18]byte
	n, err := enc.Decode(buf[:], src[:copy(src[:], s)])
	if err != nil {
		return 0, err
	}
	if n > 16 {
		return n, nil
	}
	copy(dst[:], buf[:n])
	return n, nil
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeHex32 decodes 32 hex digits (any case) into 16 bytes.
func decodeHex32(s string) ([16]byte, bool) {
	var b [16]byte
	if len(s) != 32 {
		return b, false
	}
	for i := range b {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[i] = hi<<4 | lo
	}
	return b, true
}

func encodeHex(b [16]byte) string { return hex.EncodeToString(b[:]) }

// quoteShort quotes a value for an error message, cut so that a pasted blob cannot flood a log.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}
