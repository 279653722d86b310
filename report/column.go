package report

import (
	"encoding/json"
	"fmt"
)

// jsonColumn is one column of the identity data, held as the JSON text of
// its array rather than as Go values: at a million rows, a []any of
// strings costs an interface and a boxed string header per row besides the
// string, and keeps each finding's strings alive until the report is
// written. The text is what json.Marshal writes for the same values.
type jsonColumn struct {
	text []byte // the elements, comma-separated, without the brackets
}

// add appends one element: a string, an int, or a []any of them.
func (c *jsonColumn) add(v any) {
	if len(c.text) > 0 { // no element encodes to nothing
		c.text = append(c.text, ',')
	}
	switch v := v.(type) {
	case int:
		c.text = fmt.Appendf(c.text, "%d", v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			// Rows hold only strings, ints and lists of them.
			panic(fmt.Sprintf("report: encode a table value: %v", err))
		}
		c.text = append(c.text, b...)
	}
}

// MarshalJSON writes the column as a JSON array.
func (c jsonColumn) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, len(c.text)+2)
	out = append(out, '[')
	out = append(out, c.text...)
	return append(out, ']'), nil
}
