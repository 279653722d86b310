package anchor

import (
	"strings"
	"testing"
)

// FuzzReadings checks the invariants the classifier relies on for any input: no panic; every
// reading's GUID, written in the reading's format, reads back as that GUID in that format (URL-safe
// writing may fall back to the standard alphabet when it holds no '-' or '_'); a correct
// ImmutableID round-trips exactly; and Describe agrees with Readings.
func FuzzReadings(f *testing.F) {
	for _, s := range []string{
		"BpazOkLGm0iEtljAONPvOQ==",
		"MsNKjF+XF0ete7pKTpaP/w",
		"3ab39606-c642-489b-84b6-58c038d3ef39",
		"{8C4AC332-975F-4717-AD7B-BA4A4E968FFF}",
		"0696b33a42c69b4884b658c038d3ef39",
		"ezNBQjM5NjA2LUM2NDItNDg5Qi04NEI2LTU4QzAzOEQzRUYzOX0=",
		"00u1a2b3c4d5e6f7g8h9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		readings := Readings(v)
		for _, r := range readings {
			enc, err := r.GUID.Encode(r.Format)
			if err != nil {
				t.Fatalf("Readings(%q) gave %s, which Encode rejects: %v", v, r.Format, err)
			}
			if !containsGUID(Readings(enc), r.GUID, r.Format) {
				t.Fatalf("Readings(%q) gave {%s %s}; Encode wrote %q, which reads as %v", v, r.Format, r.GUID, enc, Readings(enc))
			}
			if got, err := ParseImmutableID(r.GUID.ImmutableID()); err != nil || got != r.GUID {
				t.Fatalf("ImmutableID of %s does not round-trip: %s, %v", r.GUID, got, err)
			}
			raw := r.GUID.Raw()
			if got, err := FromRaw(raw[:]); err != nil || got != r.GUID {
				t.Fatalf("Raw of %s does not round-trip: %s, %v", r.GUID, got, err)
			}
			if _, ok := SameGUID(v, enc); !ok {
				t.Fatalf("SameGUID(%q, %q) = false, but both read as %s", v, enc, r.GUID)
			}
		}
		if g, err := ParseImmutableID(v); err == nil {
			if g.ImmutableID() != v {
				t.Fatalf("ParseImmutableID(%q) = %s, whose ImmutableID is %q: two strings for one anchor", v, g, g.ImmutableID())
			}
			if len(readings) == 0 || readings[0] != (Reading{FormatImmutableID, g}) {
				t.Fatalf("ParseImmutableID(%q) = %s but Readings = %v", v, g, readings)
			}
		}
		if g, err := ParseGUID(v); err == nil && !containsGUID(readings, g, "") {
			t.Fatalf("ParseGUID(%q) = %s but Readings = %v", v, g, readings)
		}
		d := Describe(v)
		n := 0
		for _, c := range d.Candidates {
			n += len(c.InputFormats)
		}
		if n != len(readings) || (len(readings) == 0) == (d.Note == "") {
			t.Fatalf("Describe(%q) has %d input formats and note %q; Readings has %d", v, n, d.Note, len(readings))
		}
		if !strings.HasPrefix(d.String(), "input: ") {
			t.Fatalf("Describe(%q).String() = %q", v, d.String())
		}
	})
}

// containsGUID reports whether readings hold g in format f; an empty f matches any format, and a
// URL-safe format also matches its standard unpadded twin (Encode cannot force a '-' or '_').
func containsGUID(readings []Reading, g GUID, f Format) bool {
	for _, r := range readings {
		if r.GUID != g {
			continue
		}
		if f == "" || r.Format == f || urlSafeTwin[f] == r.Format {
			return true
		}
	}
	return false
}

// FuzzFromRaw checks that any byte slice either converts and round-trips through every encoding
// of the raw bytes, or is refused with an error naming its length.
func FuzzFromRaw(f *testing.F) {
	f.Add([]byte{0x06, 0x96, 0xb3, 0x3a, 0x42, 0xc6, 0x9b, 0x48, 0x84, 0xb6, 0x58, 0xc0, 0x38, 0xd3, 0xef, 0x39})
	f.Add(make([]byte, 15))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := FromRaw(b)
		id, idErr := ImmutableIDFromRaw(b)
		if len(b) != 16 {
			if err == nil || idErr == nil {
				t.Fatalf("FromRaw(%d bytes) accepted", len(b))
			}
			return
		}
		if err != nil || idErr != nil {
			t.Fatalf("FromRaw(16 bytes) = %v, %v", err, idErr)
		}
		if raw := g.Raw(); string(raw[:]) != string(b) {
			t.Fatalf("Raw() = %x, want %x", raw, b)
		}
		if id != g.ImmutableID() {
			t.Fatalf("ImmutableIDFromRaw = %q, ImmutableID() = %q", id, g.ImmutableID())
		}
		for _, f := range Formats() {
			enc, err := g.Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if !containsGUID(Readings(enc), g, f) {
				t.Fatalf("%s of %s = %q reads as %v", f, g, enc, Readings(enc))
			}
		}
	})
}
