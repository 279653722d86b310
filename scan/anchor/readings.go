package anchor

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Format names an encoding of a GUID, correct or mistaken. The values are stable: they appear in
// findings, reports and the convert command's output.
type Format string

// The encodings Readings recognises and GUID.Encode produces.
const (
	// FormatImmutableID is base64 (standard, padded) of the raw LDAP-order bytes: the correct anchor.
	FormatImmutableID Format = "immutable-id"
	// FormatImmutableIDUnpadded is FormatImmutableID without its trailing "==".
	FormatImmutableIDUnpadded Format = "immutable-id-unpadded"
	// FormatImmutableIDURLSafe is the raw bytes in the URL-safe alphabet ('-' and '_'), padded or not.
	FormatImmutableIDURLSafe Format = "immutable-id-url-safe"
	// FormatBase64BigEndian is base64 (standard, padded) of the canonical-order bytes.
	FormatBase64BigEndian Format = "base64-big-endian"
	// FormatBase64BigEndianUnpadded is FormatBase64BigEndian without its trailing "==".
	FormatBase64BigEndianUnpadded Format = "base64-big-endian-unpadded"
	// FormatBase64BigEndianURLSafe is the canonical-order bytes in the URL-safe alphabet.
	FormatBase64BigEndianURLSafe Format = "base64-big-endian-url-safe"
	// FormatGUID is the 8-4-4-4-12 string in any letter case.
	FormatGUID Format = "guid"
	// FormatGUIDBraced is the string in braces, in any letter case ({…}, as .NET and the registry print it).
	FormatGUIDBraced Format = "guid-braced"
	// FormatHexLE is 32 hex digits of the raw LDAP-order bytes (as ldapsearch tools dump objectGUID).
	FormatHexLE Format = "hex-le"
	// FormatHexBE is 32 hex digits of the canonical-order bytes (the GUID string without dashes).
	FormatHexBE Format = "hex-be"
	// FormatBase64ASCIIGUID is base64 of the GUID's text (any case, braced or not, padded or not).
	FormatBase64ASCIIGUID Format = "base64-ascii-guid"
)

// formats lists every Format in the order Readings reports them and Describe prints them: the
// correct anchor first, then the mistakes from most to least common.
var formats = []Format{
	FormatImmutableID,
	FormatImmutableIDUnpadded,
	FormatImmutableIDURLSafe,
	FormatBase64BigEndian,
	FormatBase64BigEndianUnpadded,
	FormatBase64BigEndianURLSafe,
	FormatGUID,
	FormatGUIDBraced,
	FormatHexLE,
	FormatHexBE,
	FormatBase64ASCIIGUID,
}

var formatLabels = map[Format]string{
	FormatImmutableID:             "base64 of the raw objectGUID bytes, the correct ImmutableID",
	FormatImmutableIDUnpadded:     "ImmutableID without its == padding",
	FormatImmutableIDURLSafe:      "ImmutableID in the URL-safe base64 alphabet",
	FormatBase64BigEndian:         "base64 of the big-endian (canonical-order) bytes",
	FormatBase64BigEndianUnpadded: "base64 of the big-endian bytes without == padding",
	FormatBase64BigEndianURLSafe:  "base64 of the big-endian bytes in the URL-safe alphabet",
	FormatGUID:                    "GUID string",
	FormatGUIDBraced:              "GUID string in braces",
	FormatHexLE:                   "hex of the raw objectGUID bytes (LDAP order)",
	FormatHexBE:                   "hex of the big-endian bytes (GUID string without dashes)",
	FormatBase64ASCIIGUID:         "base64 of the GUID string's text",
}

// Formats returns every known Format, the correct anchor first.
func Formats() []Format { return append([]Format(nil), formats...) }

// Label describes the format in a few words for people; an unknown format describes itself as such.
func (f Format) Label() string {
	if l, ok := formatLabels[f]; ok {
		return l
	}
	return "unknown format " + string(f)
}

// Encode writes g in format f. For formats that accept several spellings it picks one: GUID strings
// in lower case except FormatGUIDBraced in upper case (as Windows tools print it), URL-safe base64
// unpadded, and FormatBase64ASCIIGUID of the canonical lower-case string.
func (g GUID) Encode(f Format) (string, error) {
	raw := g.Raw()
	switch f {
	case FormatImmutableID:
		return base64.StdEncoding.EncodeToString(raw[:]), nil
	case FormatImmutableIDUnpadded:
		return base64.RawStdEncoding.EncodeToString(raw[:]), nil
	case FormatImmutableIDURLSafe:
		return base64.RawURLEncoding.EncodeToString(raw[:]), nil
	case FormatBase64BigEndian:
		return base64.StdEncoding.EncodeToString(g[:]), nil
	case FormatBase64BigEndianUnpadded:
		return base64.RawStdEncoding.EncodeToString(g[:]), nil
	case FormatBase64BigEndianURLSafe:
		return base64.RawURLEncoding.EncodeToString(g[:]), nil
	case FormatGUID:
		return g.String(), nil
	case FormatGUIDBraced:
		buf := make([]byte, 0, 38)
		buf = append(buf, '{')
		buf = g.appendCanonical(buf, true)
		return string(append(buf, '}')), nil
	case FormatHexLE:
		return encodeHex(raw), nil
	case FormatHexBE:
		return encodeHex(g), nil
	case FormatBase64ASCIIGUID:
		return base64.StdEncoding.EncodeToString([]byte(g.String())), nil
	}
	return "", fmt.Errorf("anchor: unknown format %q", string(f))
}

// Reading is one interpretation of a value: under Format, it stands for GUID.
type Reading struct {
	Format Format
	GUID   GUID
}

const (
	alphabetStd = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
	alphabetURL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
)

var (
	strictRawStd = base64.RawStdEncoding.Strict()
	strictURL    = base64.URLEncoding.Strict()
	strictRawURL = base64.RawURLEncoding.Strict()
)

// Readings returns every GUID v can stand for under every known encoding, correct or mistaken, in
// the order of Formats. It returns nil for a value that is no GUID at all, such as an Okta user id
// (00u…) used as a cloud-only anchor.
//
// Surrounding ASCII whitespace is ignored: a pasted anchor with a trailing space is the same
// mistake class as a missing padding, and equating it lets the classifier propose the fix instead
// of a manual review. Inner whitespace is never accepted.
//
// A 16-byte base64 value and a 32-digit hex value are ambiguous by nature and yield two readings
// with different GUIDs (raw order and canonical order). When a GUID's first three groups are
// palindromic both readings name the same GUID; they are still both returned, one per format.
func Readings(v string) []Reading {
	v = strings.Trim(v, " \t\r\n")
	switch len(v) {
	case 22, 24:
		return readBase64Bytes(v)
	case 32:
		b, ok := decodeHex32(v)
		if !ok {
			return nil
		}
		return []Reading{{FormatHexLE, fromRaw16(&b)}, {FormatHexBE, GUID(b)}}
	case 36:
		if g, ok := parseGUIDText(v); ok {
			return []Reading{{FormatGUID, g}}
		}
	case 38:
		if g, ok := parseGUIDText(v); ok && v[0] == '{' {
			return []Reading{{FormatGUIDBraced, g}}
		}
	case 48, 51, 52:
		return readBase64Text(v)
	}
	return nil
}

// readBase64Bytes reads a 22- or 24-character value as base64 of 16 bytes, in both byte orders.
func readBase64Bytes(v string) []Reading {
	var enc *base64.Encoding
	var rawFormat, bigEndianFormat Format
	switch {
	case indexNotIn(v, alphabetStd) < 0:
		enc, rawFormat, bigEndianFormat = strictStd, FormatImmutableID, FormatBase64BigEndian
		if len(v) == 22 {
			enc, rawFormat, bigEndianFormat = strictRawStd, FormatImmutableIDUnpadded, FormatBase64BigEndianUnpadded
		}
	case indexNotIn(v, alphabetURL) < 0:
		// Only reached when v holds '-' or '_': a value in the common subset of both alphabets is
		// read as standard base64 above, so no value gets two readings of the same bytes.
		enc, rawFormat, bigEndianFormat = strictURL, FormatImmutableIDURLSafe, FormatBase64BigEndianURLSafe
		if len(v) == 22 {
			enc = strictRawURL
		}
	default:
		return nil
	}
	var b [16]byte
	if n, err := decode16(enc, v, &b); err != nil || n != 16 {
		return nil
	}
	return []Reading{{rawFormat, fromRaw16(&b)}, {bigEndianFormat, GUID(b)}}
}

// readBase64Text reads a value as base64 of a GUID's text: 36 bytes (48 characters) or a braced
// 38 bytes (51 unpadded, 52 padded).
func readBase64Text(v string) []Reading {
	if indexNotIn(v, alphabetStd) >= 0 {
		return nil
	}
	enc := strictStd
	if len(v) == 51 {
		enc = strictRawStd
	}
	var src [52]byte
	var text [39]byte
	n, err := enc.Decode(text[:], src[:copy(src[:], v)])
	if err != nil {
		return nil
	}
	g, ok := parseGUIDText(text[:n])
	if !ok {
		return nil
	}
	return []Reading{{FormatBase64ASCIIGUID, g}}
}

// SameGUID reports whether some reading of a and some reading of b stand for the same GUID, and
// which. When several GUIDs qualify it returns the first in the order of a's readings, so the
// answer is deterministic.
func SameGUID(a, b string) (GUID, bool) {
	ra, rb := Readings(a), Readings(b)
	for _, x := range ra {
		for _, y := range rb {
			if x.GUID == y.GUID {
				return x.GUID, true
			}
		}
	}
	return GUID{}, false
}

// indexNotIn returns the offset of the first byte of s that is not in alphabet, or -1.
func indexNotIn(s, alphabet string) int {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return i
		}
	}
	return -1
}
