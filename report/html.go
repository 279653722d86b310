package report

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sync"

	"github.com/anchorscan/anchorscan/templates"
)

// plainDataLimit is the size above which the identity data is embedded
// gzip-compressed (and base64-encoded) instead of as readable JSON: plain
// JSON keeps a small report greppable, compression keeps 100,000
// identities within a file people can mail.
const plainDataLimit = 12 << 20

// Data encodings, as the data block's data-encoding attribute names them.
const (
	dataJSON       = "json"
	dataGzipBase64 = "gzip-base64"
)

// page is what the template renders: the view plus the report's own assets.
type page struct {
	*View
	CSP          string
	CSS          template.CSS
	Script       template.JS
	Data         template.JS
	DataEncoding string
}

type assets struct {
	tmpl   *template.Template
	css    template.CSS
	script template.JS
	csp    string
}

// loadAssets parses the template and reads the style sheet and script once
// per process; the script's hash goes into the Content-Security-Policy, so
// the browser runs that script and nothing else.
var loadAssets = sync.OnceValues(func() (*assets, error) {
	tmpl, err := template.New("report.html.tmpl").Funcs(template.FuncMap{"num": formatInt}).
		ParseFS(templates.FS, "report.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse report template: %w", err)
	}
	css, err := templates.FS.ReadFile("report.css")
	if err != nil {
		return nil, fmt.Errorf("read report style sheet: %w", err)
	}
	js, err := templates.FS.ReadFile("report.js")
	if err != nil {
		return nil, fmt.Errorf("read report script: %w", err)
	}
	if bytes.Contains(bytes.ToLower(js), []byte("</script")) || bytes.Contains(bytes.ToLower(css), []byte("</style")) {
		return nil, fmt.Errorf("report assets must not close their own element")
	}
	sum := sha256.Sum256(js)
	csp := "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'unsafe-inline'; img-src data:; font-src 'none'; connect-src 'none'; " +
		"base-uri 'none'; form-action 'none'"
	return &assets{tmpl: tmpl, css: template.CSS(css), script: template.JS(js), csp: csp}, nil
})

// WriteHTML renders the self-contained HTML report of v. The same view
// renders the same bytes: nothing here reads a clock or iterates a map.
func WriteHTML(w io.Writer, v *View) error {
	a, err := loadAssets()
	if err != nil {
		return err
	}
	data, encoding, err := encodeIdentityData(v.Data)
	if err != nil {
		return err
	}
	p := page{View: v, CSP: a.csp, CSS: a.css, Script: a.script, Data: template.JS(data), DataEncoding: encoding}
	if err := a.tmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	return nil
}

// encodeIdentityData returns the content of the data script element.
func encodeIdentityData(d *IdentityData) (string, string, error) {
	if d == nil {
		d = &IdentityData{Version: 1}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return "", "", fmt.Errorf("encode identity data: %w", err)
	}
	if len(raw) <= plainDataLimit {
		return string(scriptSafeJSON(raw)), dataJSON, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return "", "", fmt.Errorf("compress identity data: %w", err)
	}
	if _, err := zw.Write(raw); err != nil {
		return "", "", fmt.Errorf("compress identity data: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", "", fmt.Errorf("compress identity data: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), dataGzipBase64, nil
}

// scriptSafeJSON escapes JSON for the inside of a script element. The HTML
// parser ends a script element at the first "</script" whatever the type,
// and html/template inserts a template.JS value as it is, so every '<',
// '>' and '&' becomes a \u escape (JSON.parse reads them back unchanged),
// as do U+2028 and U+2029, which older JavaScript parsers take for line
// ends. encoding/json already escapes all five by default; this makes the
// guarantee independent of how raw was produced.
func scriptSafeJSON(raw []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '<', c == '>', c == '&':
			fmt.Fprintf(&out, `\u%04x`, c)
			i++
		case c == 0xe2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xa8 || raw[i+2] == 0xa9):
			fmt.Fprintf(&out, `\u%04x`, 0x2000|rune(raw[i+2]-0x80))
			i += 3
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.Bytes()
}
