package anchor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadings(t *testing.T) {
	// g1 and g2 are DESIGN §1's vectors; swapped1 and swapped2 are the GUIDs their raw bytes spell
	// when read in canonical order, i.e. the other reading of an ambiguous value.
	g1 := mustGUID(t, "3ab39606-c642-489b-84b6-58c038d3ef39")
	swapped1 := mustGUID(t, "0696b33a-42c6-9b48-84b6-58c038d3ef39")
	g2 := mustGUID(t, "8c4ac332-975f-4717-ad7b-ba4a4e968fff")
	swapped2 := mustGUID(t, "32c34a8c-5f97-1747-ad7b-ba4a4e968fff")
	// palindromic has first groups whose bytes read the same in both orders: both readings of its
	// ImmutableID name it, and both must still be reported.
	palindromic := mustGUID(t, "1a2b2b1a-3c3c-4d4d-8000-0000000000aa")

	for _, tt := range []struct {
		name string
		in   string
		want []Reading
	}{
		{name: "ImmutableID", in: "BpazOkLGm0iEtljAONPvOQ==",
			want: []Reading{{FormatImmutableID, g1}, {FormatBase64BigEndian, swapped1}}},
		{name: "ImmutableID with + and /", in: "MsNKjF+XF0ete7pKTpaP/w==",
			want: []Reading{{FormatImmutableID, g2}, {FormatBase64BigEndian, swapped2}}},
		{name: "big-endian base64", in: "OrOWBsZCSJuEtljAONPvOQ==",
			want: []Reading{{FormatImmutableID, swapped1}, {FormatBase64BigEndian, g1}}},
		{name: "big-endian base64 with + and /", in: "jErDMpdfRxete7pKTpaP/w==",
			want: []Reading{{FormatImmutableID, swapped2}, {FormatBase64BigEndian, g2}}},
		{name: "ImmutableID unpadded", in: "BpazOkLGm0iEtljAONPvOQ",
			want: []Reading{{FormatImmutableIDUnpadded, g1}, {FormatBase64BigEndianUnpadded, swapped1}}},
		{name: "big-endian unpadded", in: "jErDMpdfRxete7pKTpaP/w",
			want: []Reading{{FormatImmutableIDUnpadded, swapped2}, {FormatBase64BigEndianUnpadded, g2}}},
		{name: "ImmutableID URL-safe padded", in: "MsNKjF-XF0ete7pKTpaP_w==",
			want: []Reading{{FormatImmutableIDURLSafe, g2}, {FormatBase64BigEndianURLSafe, swapped2}}},
		{name: "ImmutableID URL-safe unpadded", in: "MsNKjF-XF0ete7pKTpaP_w",
			want: []Reading{{FormatImmutableIDURLSafe, g2}, {FormatBase64BigEndianURLSafe, swapped2}}},
		{name: "GUID lower", in: "3ab39606-c642-489b-84b6-58c038d3ef39",
			want: []Reading{{FormatGUID, g1}}},
		{name: "GUID upper", in: "8C4AC332-975F-4717-AD7B-BA4A4E968FFF",
			want: []Reading{{FormatGUID, g2}}},
		{name: "GUID braced lower", in: "{3ab39606-c642-489b-84b6-58c038d3ef39}",
			want: []Reading{{FormatGUIDBraced, g1}}},
		{name: "GUID braced upper", in: "{8C4AC332-975F-4717-AD7B-BA4A4E968FFF}",
			want: []Reading{{FormatGUIDBraced, g2}}},
		{name: "hex of raw order", in: "0696b33a42c69b4884b658c038d3ef39",
			want: []Reading{{FormatHexLE, g1}, {FormatHexBE, swapped1}}},
		{name: "hex of canonical order upper", in: "8C4AC332975F4717AD7BBA4A4E968FFF",
			want: []Reading{{FormatHexLE, swapped2}, {FormatHexBE, g2}}},
		{name: "base64 of ASCII GUID lower", in: "M2FiMzk2MDYtYzY0Mi00ODliLTg0YjYtNThjMDM4ZDNlZjM5",
			want: []Reading{{FormatBase64ASCIIGUID, g1}}},
		{name: "base64 of ASCII GUID upper", in: "OEM0QUMzMzItOTc1Ri00NzE3LUFEN0ItQkE0QTRFOTY4RkZG",
			want: []Reading{{FormatBase64ASCIIGUID, g2}}},
		{name: "base64 of ASCII braced GUID padded", in: "ezNBQjM5NjA2LUM2NDItNDg5Qi04NEI2LTU4QzAzOEQzRUYzOX0=",
			want: []Reading{{FormatBase64ASCIIGUID, g1}}},
		{name: "base64 of ASCII braced GUID unpadded", in: "ezhDNEFDMzMyLTk3NUYtNDcxNy1BRDdCLUJBNEE0RTk2OEZGRn0",
			want: []Reading{{FormatBase64ASCIIGUID, g2}}},
		{name: "surrounding whitespace ignored", in: " \tBpazOkLGm0iEtljAONPvOQ==\r\n",
			want: []Reading{{FormatImmutableID, g1}, {FormatBase64BigEndian, swapped1}}},
		{name: "palindromic first groups keep both readings", in: palindromic.ImmutableID(),
			want: []Reading{{FormatImmutableID, palindromic}, {FormatBase64BigEndian, palindromic}}},

		{name: "empty", in: ""},
		{name: "blank", in: "   "},
		{name: "Okta user id", in: "00u1a2b3c4d5e6f7g8h9"},
		{name: "Okta app user id", in: "0ua1a2b3c4d5e6f7g8h9"},
		{name: "Entra UPN", in: "ada@example.com"},
		{name: "base64 of 15 bytes", in: "BpazOkLGm0iEtljAONPv"},
		{name: "base64 of 18 bytes", in: "BpazOkLGm0iEtljAONPvOQAA"},
		{name: "trailing bits set", in: "BpazOkLGm0iEtljAONPvOR=="},
		{name: "inner whitespace", in: "BpazOkLGm0iE ljAONPvOQ=="},
		{name: "inner newline", in: "BpazOkLGm0iEtlj\nONPvOQ=="},
		{name: "both base64 alphabets", in: "MsNKjF-XF0ete7pKTpaP/w=="},
		{name: "padded value with 22 characters", in: "BpazOkLGm0iEtljAONPv=="},
		{name: "hex with a non-hex digit", in: "0696b33a42c69b4884b658c038d3ef3g"},
		{name: "GUID in parentheses", in: "(3ab39606-c642-489b-84b6-58c038d3ef39)"},
		{name: "GUID with mismatched brackets", in: "{3ab39606-c642-489b-84b6-58c038d3ef39]"},
		{name: "GUID with a dash out of place", in: "3ab3960-6c642-489b-84b6-58c038d3ef39"},
		{name: "base64 of ASCII non-GUID text", in: "dGhpcyBpcyBub3QgYSBHVUlEIGF0IGFsbCwgbm90IGF0IGFs"},
		{name: "base64 of ASCII GUID without dashes", in: "M2FiMzk2MDZjNjQyNDg5Yjg0YjY1OGMwMzhkM2VmMzk="},
		{name: "base64 of ASCII GUID with URL alphabet chars", in: "M2FiMzk2MDYtYzY0Mi00ODliLTg0YjYtNThjMDM4ZDNlZj-5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Readings(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Readings(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSameGUID(t *testing.T) {
	g1 := mustGUID(t, "3ab39606-c642-489b-84b6-58c038d3ef39")
	for _, tt := range []struct {
		name     string
		a, b     string
		want     GUID
		wantSame bool
	}{
		{name: "ImmutableID and GUID string", a: "BpazOkLGm0iEtljAONPvOQ==", b: "3AB39606-C642-489B-84B6-58C038D3EF39", want: g1, wantSame: true},
		{name: "ImmutableID and its big-endian mistake", a: "BpazOkLGm0iEtljAONPvOQ==", b: "OrOWBsZCSJuEtljAONPvOQ==", want: g1, wantSame: true},
		{name: "ImmutableID and unpadded", a: "BpazOkLGm0iEtljAONPvOQ==", b: "BpazOkLGm0iEtljAONPvOQ", want: g1, wantSame: true},
		{name: "ImmutableID and base64 of its text", a: "BpazOkLGm0iEtljAONPvOQ==", b: "M2FiMzk2MDYtYzY0Mi00ODliLTg0YjYtNThjMDM4ZDNlZjM5", want: g1, wantSame: true},
		{name: "braced GUID and hex of raw order", a: "{3ab39606-c642-489b-84b6-58c038d3ef39}", b: "0696b33a42c69b4884b658c038d3ef39", want: g1, wantSame: true},
		{name: "two different anchors", a: "BpazOkLGm0iEtljAONPvOQ==", b: "MsNKjF+XF0ete7pKTpaP/w=="},
		{name: "Okta id and ImmutableID", a: "00u1a2b3c4d5e6f7g8h9", b: "BpazOkLGm0iEtljAONPvOQ=="},
		{name: "same Okta id twice is no GUID", a: "00u1a2b3c4d5e6f7g8h9", b: "00u1a2b3c4d5e6f7g8h9"},
		{name: "empty", a: "", b: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, same := SameGUID(tt.a, tt.b)
			if same != tt.wantSame || got != tt.want {
				t.Errorf("SameGUID(%q, %q) = %s, %v; want %s, %v", tt.a, tt.b, got, same, tt.want, tt.wantSame)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	g2 := mustGUID(t, "8c4ac332-975f-4717-ad7b-ba4a4e968fff")
	want := map[Format]string{
		FormatImmutableID:             "MsNKjF+XF0ete7pKTpaP/w==",
		FormatImmutableIDUnpadded:     "MsNKjF+XF0ete7pKTpaP/w",
		FormatImmutableIDURLSafe:      "MsNKjF-XF0ete7pKTpaP_w",
		FormatBase64BigEndian:         "jErDMpdfRxete7pKTpaP/w==",
		FormatBase64BigEndianUnpadded: "jErDMpdfRxete7pKTpaP/w",
		FormatBase64BigEndianURLSafe:  "jErDMpdfRxete7pKTpaP_w",
		FormatGUID:                    "8c4ac332-975f-4717-ad7b-ba4a4e968fff",
		FormatGUIDBraced:              "{8C4AC332-975F-4717-AD7B-BA4A4E968FFF}",
		FormatHexLE:                   "32c34a8c5f971747ad7bba4a4e968fff",
		FormatHexBE:                   "8c4ac332975f4717ad7bba4a4e968fff",
		FormatBase64ASCIIGUID:         "OGM0YWMzMzItOTc1Zi00NzE3LWFkN2ItYmE0YTRlOTY4ZmZm",
	}
	if len(want) != len(Formats()) {
		t.Fatalf("test covers %d formats, Formats() has %d: add the new one here", len(want), len(Formats()))
	}
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			got, err := g2.Encode(f)
			if err != nil {
				t.Fatalf("Encode(%s): %v", f, err)
			}
			if got != want[f] {
				t.Errorf("Encode(%s) = %q, want %q", f, got, want[f])
			}
			if strings.HasPrefix(f.Label(), "unknown") {
				t.Errorf("format %s has no label", f)
			}
			readsBack := false
			for _, r := range Readings(got) {
				readsBack = readsBack || r == Reading{f, g2}
			}
			if !readsBack {
				t.Errorf("Readings(%q) = %v, want it to contain {%s %s}", got, Readings(got), f, g2)
			}
		})
	}
}

func TestEncodeUnknownFormat(t *testing.T) {
	_, err := GUID{}.Encode("base32")
	if err == nil || !strings.Contains(err.Error(), `unknown format "base32"`) {
		t.Errorf(`Encode("base32") error = %v, want one naming the format`, err)
	}
	if got := Format("base32").Label(); got != "unknown format base32" {
		t.Errorf("Label() = %q", got)
	}
}
