// Package jsonlist writes a JSON document whose one long list is encoded an
// element at a time, with the bytes encoding/json writes for the whole
// document: findings.json and the plan file hold a million identities, and
// the plan's seal hashes the same bytes it always did.
package jsonlist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Write writes frame to w with the elements each yields in the top-level
// list named key. frame is the document as encoding/json writes it with
// that list empty: compact (json.Marshal), or when indent is set indented
// by one space (json.Encoder.SetIndent("", " ") or json.Indent).
func Write(w io.Writer, frame []byte, key string, indent bool, each func(yield func(v any) error) error) error {
	// An empty list at the top level. It cannot occur inside a string
	// value, where the quotes (and the indented form's newline) are escaped.
	empty := `"` + key + `":[]`
	if indent {
		empty = "\n \"" + key + `": []`
	}
	i := bytes.Index(frame, []byte(empty))
	if i < 0 {
		return fmt.Errorf("json document: no empty top-level list %q to fill", key)
	}
	open := i + len(empty) - 1
	if _, err := w.Write(frame[:open]); err != nil {
		return err
	}
	var buf bytes.Buffer
	n := 0
	err := each(func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s element %d: %w", key, n, err)
		}
		buf.Reset()
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		if indent {
			// An element sits two levels deep: the document, then the list.
			buf.WriteString("\n  ")
			if err := json.Indent(&buf, b, "  ", " "); err != nil {
				return err
			}
		} else {
			buf.Write(b)
		}
		_, err = w.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	if indent && n > 0 {
		if _, err := io.WriteString(w, "\n "); err != nil {
			return err
		}
	}
	_, err = w.Write(frame[open:])
	return err
}
