package anchor

import (
	"encoding/hex"
	"strings"
	"testing"
)

// vectors are DESIGN §1's test vectors with their raw LDAP bytes worked out by hand. Neither has
// palindromic first groups, so a missing or doubled byte swap fails them (TestVectorsCatchByteOrder).
var vectors = []struct {
	name        string
	guid        string
	rawHex      string
	immutableID string
}{
	{name: "3ab39606", guid: "3ab39606-c642-489b-84b6-58c038d3ef39", rawHex: "0696b33a42c69b4884b658c038d3ef39", immutableID: "BpazOkLGm0iEtljAONPvOQ=="},
	{name: "8c4ac332", guid: "8c4ac332-975f-4717-ad7b-ba4a4e968fff", rawHex: "32c34a8c5f971747ad7bba4a4e968fff", immutableID: "MsNKjF+XF0ete7pKTpaP/w=="},
}

func mustGUID(t testing.TB, s string) GUID {
	t.Helper()
	g, err := ParseGUID(s)
	if err != nil {
		t.Fatalf("ParseGUID(%q): %v", s, err)
	}
	return g
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func TestVectors(t *testing.T) {
	for _, tt := range vectors {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGUID(t, tt.guid)
			if got := g.String(); got != tt.guid {
				t.Errorf("String() = %q, want %q", got, tt.guid)
			}
			raw := g.Raw()
			if got := hex.EncodeToString(raw[:]); got != tt.rawHex {
				t.Errorf("Raw() = %s, want %s", got, tt.rawHex)
			}
			if got := g.ImmutableID(); got != tt.immutableID {
				t.Errorf("ImmutableID() = %q, want %q", got, tt.immutableID)
			}
			fromRaw, err := FromRaw(mustHex(t, tt.rawHex))
			if err != nil {
				t.Fatalf("FromRaw: %v", err)
			}
			if fromRaw != g {
				t.Errorf("FromRaw(%s) = %s, want %s", tt.rawHex, fromRaw, g)
			}
			id, err := ImmutableIDFromRaw(mustHex(t, tt.rawHex))
			if err != nil || id != tt.immutableID {
				t.Errorf("ImmutableIDFromRaw = %q, %v; want %q", id, err, tt.immutableID)
			}
			parsed, err := ParseImmutableID(tt.immutableID)
			if err != nil || parsed != g {
				t.Errorf("ParseImmutableID(%q) = %s, %v; want %s", tt.immutableID, parsed, err, g)
			}
		})
	}
}

// TestVectorsCatchByteOrder guards DESIGN §1's rule: a vector whose first three groups are
// palindromic has the same raw and canonical bytes and cannot catch a byte-order bug.
func TestVectorsCatchByteOrder(t *testing.T) {
	for _, tt := range vectors {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGUID(t, tt.guid)
			raw := g.Raw()
			for _, group := range [][2]int{{0, 4}, {4, 6}, {6, 8}} {
				if string(raw[group[0]:group[1]]) == string(g[group[0]:group[1]]) {
					t.Errorf("bytes %d..%d of %s read the same in both orders: pick another vector", group[0], group[1]-1, tt.guid)
				}
			}
		})
	}
}

func TestParseGUID(t *testing.T) {
	want := mustGUID(t, "3ab39606-c642-489b-84b6-58c038d3ef39")
	for _, tt := range []struct {
		name string
		in   string
	}{
		{name: "lower", in: "3ab39606-c642-489b-84b6-58c038d3ef39"},
		{name: "upper", in: "3AB39606-C642-489B-84B6-58C038D3EF39"},
		{name: "mixed case", in: "3Ab39606-C642-489b-84B6-58c038D3ef39"},
		{name: "braced lower", in: "{3ab39606-c642-489b-84b6-58c038d3ef39}"},
		{name: "braced upper", in: "{3AB39606-C642-489B-84B6-58C038D3EF39}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGUID(tt.in)
			if err != nil {
				t.Fatalf("ParseGUID(%q): %v", tt.in, err)
			}
			if got != want {
				t.Errorf("ParseGUID(%q) = %s, want %s", tt.in, got, want)
			}
		})
	}
}

func TestParseGUIDErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "empty", in: "", wantErr: "0 characters, want 36"},
		{name: "no dashes", in: "3ab39606c642489b84b658c038d3ef39", wantErr: "32 characters, want 36"},
		{name: "too long", in: "3ab39606-c642-489b-84b6-58c038d3ef390", wantErr: "37 characters"},
		{name: "non-hex", in: "3ab39606-c642-489b-84b6-58c038d3ef3g", wantErr: `non-hex character 'g' at offset 35`},
		{name: "dash moved reports the first bad offset", in: "3ab3960-6c642-489b-84b6-58c038d3ef39", wantErr: `non-hex character '-' at offset 7`},
		{name: "dash replaced", in: "3ab39606_c642-489b-84b6-58c038d3ef39", wantErr: `want '-' at offset 8, found '_'`},
		{name: "braced non-hex", in: "{3ab39606-c642-489b-84b6-58c038d3ef3z}", wantErr: `non-hex character 'z' at offset 36`},
		{name: "opening brace only", in: "{3ab39606-c642-489b-84b6-58c038d3ef39", wantErr: "opening '{' without closing '}'"},
		{name: "closing brace only", in: "3ab39606-c642-489b-84b6-58c038d3ef39}", wantErr: "closing '}' without opening '{'"},
		{name: "ImmutableID is not a GUID string", in: "BpazOkLGm0iEtljAONPvOQ==", wantErr: "24 characters"},
		{name: "parentheses", in: "(3ab39606-c642-489b-84b6-58c038d3ef39)", wantErr: "only a braced {…} GUID may have 38"},
		{name: "surrounding space", in: " 3ab39606-c642-489b-84b6-58c038d3ef39", wantErr: "37 characters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGUID(tt.in)
			if err == nil {
				t.Fatalf("ParseGUID(%q) succeeded, want error containing %q", tt.in, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseGUID(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestRawWrongLength(t *testing.T) {
	for _, tt := range []struct {
		name    string
		n       int
		wantErr string
	}{
		{name: "empty", n: 0, wantErr: "raw GUID is 0 bytes, want 16"},
		{name: "15 bytes", n: 15, wantErr: "raw GUID is 15 bytes, want 16"},
		{name: "17 bytes", n: 17, wantErr: "raw GUID is 17 bytes, want 16"},
		{name: "SID-sized", n: 28, wantErr: "raw GUID is 28 bytes, want 16"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, tt.n)
			if _, err := FromRaw(b); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FromRaw(%d bytes) error = %v, want it to contain %q", tt.n, err, tt.wantErr)
			}
			if _, err := ImmutableIDFromRaw(b); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ImmutableIDFromRaw(%d bytes) error = %v, want it to contain %q", tt.n, err, tt.wantErr)
			}
		})
	}
}

func TestParseImmutableIDErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "unpadded", in: "BpazOkLGm0iEtljAONPvOQ", wantErr: "22 characters, want 24"},
		{name: "url-safe", in: "MsNKjF-XF0ete7pKTpaP_w==", wantErr: "character '-' at offset 6 is not standard base64"},
		{name: "GUID string", in: "3ab39606-c642-489b-84b6-58c038d3ef39", wantErr: "36 characters, want 24"},
		{name: "18 bytes", in: "BpazOkLGm0iEtljAONPvOQAA", wantErr: "decodes to 18 bytes, want 16"},
		// Non-zero unused bits would make two strings name one anchor; Entra compares strings.
		{name: "trailing bits set", in: "BpazOkLGm0iEtljAONPvOR==", wantErr: "illegal base64 data"},
		{name: "padding in the middle", in: "Bpaz=kLGm0iEtljAONPvOQ==", wantErr: "illegal base64 data"},
		{name: "embedded newline", in: "BpazOkLGm0iEtljAONPv\nQ==", wantErr: `character '\n' at offset 20`},
		{name: "long input is cut in the message", in: strings.Repeat("A", 100), wantErr: "… (100 bytes)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseImmutableID(tt.in)
			if err == nil {
				t.Fatalf("ParseImmutableID(%q) succeeded, want error containing %q", tt.in, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseImmutableID(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}
