package anchor

import (
	"fmt"
	"io"
	"strings"
)

// Description is what `anchorscan convert VALUE` reports: how the value was read and, for every GUID
// it can stand for, every form of that GUID.
type Description struct {
	// Input is the value as given.
	Input string
	// Trimmed is true when surrounding whitespace was ignored to read Input.
	Trimmed bool
	// Candidates holds one entry per distinct GUID, in the order of the first reading naming it
	// (so the reading as a correct ImmutableID, when there is one, comes first). Empty when the
	// value is no GUID in any known encoding.
	Candidates []Candidate
	// Note explains a value that is no GUID, e.g. that it looks like an Okta user id. Empty otherwise.
	Note string
}

// Candidate is one GUID an input can stand for.
type Candidate struct {
	GUID GUID
	// InputFormats are the formats under which the input stands for GUID.
	InputFormats []Format
	// Forms is GUID written in every known format, in the order of Formats, except that a URL-safe
	// form identical to the unpadded standard one is left out: it would only repeat it.
	Forms []Form
}

// Form is a GUID written in one format.
type Form struct {
	Format Format
	Value  string
}

// Describe reads v under every known encoding. A value that is no GUID is not an error: anchors of
// cloud-only users are Okta ids, and the Description says so.
func Describe(v string) Description {
	d := Description{Input: v, Trimmed: strings.Trim(v, " \t\r\n") != v}
	for _, r := range Readings(v) {
		i := d.candidateIndex(r.GUID)
		if i < 0 {
			d.Candidates = append(d.Candidates, Candidate{GUID: r.GUID, Forms: allForms(r.GUID)})
			i = len(d.Candidates) - 1
		}
		d.Candidates[i].InputFormats = append(d.Candidates[i].InputFormats, r.Format)
	}
	if len(d.Candidates) == 0 {
		d.Note = notGUIDNote(strings.Trim(v, " \t\r\n"))
	}
	return d
}

func (d *Description) candidateIndex(g GUID) int {
	for i, c := range d.Candidates {
		if c.GUID == g {
			return i
		}
	}
	return -1
}

var urlSafeTwin = map[Format]Format{
	FormatImmutableIDURLSafe:     FormatImmutableIDUnpadded,
	FormatBase64BigEndianURLSafe: FormatBase64BigEndianUnpadded,
}

func allForms(g GUID) []Form {
	forms := make([]Form, 0, len(formats))
	values := make(map[Format]string, len(formats))
	for _, f := range formats {
		v, err := g.Encode(f)
		if err != nil {
			// formats holds only formats Encode knows; a test keeps the two lists in step.
			panic(err)
		}
		values[f] = v
		if twin, ok := urlSafeTwin[f]; ok && values[twin] == v {
			continue
		}
		forms = append(forms, Form{Format: f, Value: v})
	}
	return forms
}

// notGUIDNote names what a non-GUID value probably is, from the prefixes of Okta's 20-character ids.
func notGUIDNote(v string) string {
	const generic = "not a GUID in any known encoding (GUID string, 32-digit hex, base64 of 16 bytes, base64 of a GUID string)"
	if v == "" {
		return "empty value: no anchor"
	}
	if len(v) == 20 && isAlnum(v) {
		switch {
		case strings.HasPrefix(v, "00u"):
			return generic + "; looks like an Okta user id (00u…), the anchor of a cloud-only user: compare it as-is"
		case strings.HasPrefix(v, "0ua"):
			return generic + "; looks like an Okta O365 app user id (0ua…), which Okta sends when the immutableId mapping yields null: compare it as-is"
		}
	}
	return generic
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// WriteText renders d for people. The output depends only on d, so it can be golden-tested.
func (d Description) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "input: %q\n", d.Input)
	if d.Trimmed {
		b.WriteString("note: surrounding whitespace ignored\n")
	}
	switch n := len(d.Candidates); n {
	case 0:
		fmt.Fprintf(&b, "result: %s\n", d.Note)
	case 1:
		b.WriteString("result: stands for 1 GUID\n")
	default:
		fmt.Fprintf(&b, "result: ambiguous, stands for %d GUIDs: the value does not tell its byte order\n", n)
	}
	width := 0
	for _, f := range formats {
		width = max(width, len(f))
	}
	for i, c := range d.Candidates {
		fmt.Fprintf(&b, "\nGUID %d: %s\n", i+1, c.GUID)
		for _, f := range c.InputFormats {
			fmt.Fprintf(&b, "  input read as %s: %s\n", f, f.Label())
		}
		b.WriteString("  forms:\n")
		for _, form := range c.Forms {
			fmt.Fprintf(&b, "    %-*s  %s\n", width, form.Format, form.Value)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("anchor: writing description: %w", err)
	}
	return nil
}

// String is WriteText into a string.
func (d Description) String() string {
	var b strings.Builder
	_ = d.WriteText(&b) // a strings.Builder never fails
	return b.String()
}
