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

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/templates"
)

// Each data block is embedded as readable JSON up to a size, and
// gzip-compressed (and base64-encoded) above it: plain JSON keeps a small
// report greppable and is the fastest to read, compression keeps 100,000
// identities within a file people can mail. The table block may stay plain
// the longest because the first rows wait for it; the search and detail
// blocks are read after the first rows are drawn, so their size matters
// more than their speed.
const (
	plainTableLimit = 16 << 20
	plainLazyLimit  = 1 << 20
)

// Data encodings, as a data block's data-encoding attribute names them.
const (
	dataJSON       = "json"
	dataGzipBase64 = "gzip-base64"
)

// dataBlock is the content of one data script element.
type dataBlock struct {
	Text     template.JS
	Encoding string
}

// page is what the template renders: the view plus the report's own assets.
type page struct {
	*View
	CSP    string
	CSS    template.CSS
	Script template.JS
	// The identity data, in the order the page reads it.
	TableData, SearchData, DetailData dataBlock
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
	d := v.Data
	if d == nil {
		d = newDataTables(indexRecords(classify.Input{})).d
	}
	p := page{View: v, CSP: a.csp, CSS: a.css, Script: a.script}
	if p.TableData, err = encodeDataBlock("table", plainTableLimit, d.Table); err != nil {
		return err
	}
	if p.SearchData, err = encodeDataBlock("search", plainLazyLimit, d.Search); err != nil {
		return err
	}
	if p.DetailData, err = encodeDetailBlock(d); err != nil {
		return err
	}
	if err := a.tmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	return nil
}

// encodeDataBlock writes v as one JSON document.
func encodeDataBlock(name string, limit int, v any) (dataBlock, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return dataBlock{}, fmt.Errorf("encode the %s data of the HTML report: %w", name, err)
	}
	return packDataBlock(name, limit, raw)
}

// encodeDetailBlock writes the detail lookup tables and then each row's
// detail, one JSON text a line: the script finds row i's line without
// parsing the others. json.Marshal escapes every newline inside a string,
// so a line ends only where a row does.
func encodeDetailBlock(d *IdentityData) (dataBlock, error) {
	lookup, err := json.Marshal(d.Lookup)
	if err != nil {
		return dataBlock{}, fmt.Errorf("encode the detail data of the HTML report: %w", err)
	}
	raw, compressed, err := d.details.block(lookup)
	if err != nil {
		return dataBlock{}, fmt.Errorf("encode the detail data of the HTML report: %w", err)
	}
	if compressed {
		return dataBlock{Text: template.JS(base64.StdEncoding.EncodeToString(raw)), Encoding: dataGzipBase64}, nil
	}
	return packDataBlock("detail", plainLazyLimit, raw)
}

// packDataBlock makes raw safe inside a script element, compressing it
// when it is larger than limit.
func packDataBlock(name string, limit int, raw []byte) (dataBlock, error) {
	if len(raw) <= limit {
		return dataBlock{Text: template.JS(scriptSafeJSON(raw)), Encoding: dataJSON}, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzipLevel)
	if err != nil {
		return dataBlock{}, fmt.Errorf("compress the %s data of the HTML report: %w", name, err)
	}
	if _, err := zw.Write(raw); err != nil {
		return dataBlock{}, fmt.Errorf("compress the %s data of the HTML report: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return dataBlock{}, fmt.Errorf("compress the %s data of the HTML report: %w", name, err)
	}
	return dataBlock{Text: template.JS(base64.StdEncoding.EncodeToString(buf.Bytes())), Encoding: dataGzipBase64}, nil
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
