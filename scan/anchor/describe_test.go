package anchor

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/describe")

func TestDescribe(t *testing.T) {
	g1 := mustGUID(t, "3ab39606-c642-489b-84b6-58c038d3ef39")
	swapped1 := mustGUID(t, "0696b33a-42c6-9b48-84b6-58c038d3ef39")
	palindromic := mustGUID(t, "1a2b2b1a-3c3c-4d4d-8000-0000000000aa")
	for _, tt := range []struct {
		name        string
		in          string
		wantGUIDs   []GUID
		wantFormats [][]Format
		wantTrimmed bool
		wantNote    string
	}{
		{name: "immutable-id", in: "BpazOkLGm0iEtljAONPvOQ==",
			wantGUIDs:   []GUID{g1, swapped1},
			wantFormats: [][]Format{{FormatImmutableID}, {FormatBase64BigEndian}}},
		{name: "url-safe", in: "MsNKjF-XF0ete7pKTpaP_w",
			wantGUIDs:   []GUID{mustGUID(t, "8c4ac332-975f-4717-ad7b-ba4a4e968fff"), mustGUID(t, "32c34a8c-5f97-1747-ad7b-ba4a4e968fff")},
			wantFormats: [][]Format{{FormatImmutableIDURLSafe}, {FormatBase64BigEndianURLSafe}}},
		{name: "guid-braced-padded-with-spaces", in: "  {3AB39606-C642-489B-84B6-58C038D3EF39} ",
			wantGUIDs: []GUID{g1}, wantFormats: [][]Format{{FormatGUIDBraced}}, wantTrimmed: true},
		{name: "hex-le", in: "0696b33a42c69b4884b658c038d3ef39",
			wantGUIDs:   []GUID{g1, swapped1},
			wantFormats: [][]Format{{FormatHexLE}, {FormatHexBE}}},
		{name: "palindromic", in: palindromic.ImmutableID(),
			wantGUIDs:   []GUID{palindromic},
			wantFormats: [][]Format{{FormatImmutableID, FormatBase64BigEndian}}},
		{name: "okta-user-id", in: "00u1a2b3c4d5e6f7g8h9", wantNote: "looks like an Okta user id"},
		{name: "okta-app-user-id", in: "0ua1a2b3c4d5e6f7g8h9", wantNote: "looks like an Okta O365 app user id"},
		{name: "upn", in: "ada@example.com", wantNote: "not a GUID in any known encoding"},
		{name: "empty", in: "", wantNote: "empty value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Describe(tt.in)
			var gotGUIDs []GUID
			var gotFormats [][]Format
			for _, c := range d.Candidates {
				gotGUIDs = append(gotGUIDs, c.GUID)
				gotFormats = append(gotFormats, c.InputFormats)
				assertFormsReadBack(t, c)
			}
			if diff := cmp.Diff(tt.wantGUIDs, gotGUIDs); diff != "" {
				t.Errorf("candidate GUIDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFormats, gotFormats); diff != "" {
				t.Errorf("input formats (-want +got):\n%s", diff)
			}
			if d.Trimmed != tt.wantTrimmed {
				t.Errorf("Trimmed = %v, want %v", d.Trimmed, tt.wantTrimmed)
			}
			if !strings.Contains(d.Note, tt.wantNote) || (tt.wantNote == "") != (d.Note == "") {
				t.Errorf("Note = %q, want it to contain %q", d.Note, tt.wantNote)
			}
			checkGolden(t, filepath.Join("testdata", "describe", tt.name+".golden"), d.String())
		})
	}
}

// assertFormsReadBack checks that every form printed for a candidate really stands for it, so the
// convert command never prints a value that would not match.
func assertFormsReadBack(t *testing.T, c Candidate) {
	t.Helper()
	seen := map[Format]bool{}
	for _, form := range c.Forms {
		seen[form.Format] = true
		if _, ok := SameGUID(form.Value, c.GUID.String()); !ok {
			t.Errorf("form %s = %q does not read back as %s", form.Format, form.Value, c.GUID)
		}
	}
	for _, f := range []Format{FormatImmutableID, FormatGUID, FormatGUIDBraced, FormatBase64BigEndian, FormatHexLE, FormatHexBE, FormatImmutableIDUnpadded, FormatBase64ASCIIGUID} {
		if !seen[f] {
			t.Errorf("forms of %s lack %s", c.GUID, f)
		}
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	err := Describe("BpazOkLGm0iEtljAONPvOQ==").WriteText(failingWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteText error = %v, want the writer's error wrapped", err)
	}
}
