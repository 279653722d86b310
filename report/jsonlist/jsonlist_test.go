package jsonlist

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

type doc struct {
	Name  string `json:"name"`
	Items []any  `json:"items"`
	After string `json:"after"`
}

func TestWriteEqualsWholeDocument(t *testing.T) {
	items := []any{"<a>", 1, map[string]any{"items": []any{}, "k": "\n"}, []any{}}
	for _, indent := range []bool{false, true} {
		for _, list := range [][]any{{}, items[:1], items} {
			encode := func(d doc) []byte {
				b, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				if indent {
					var buf bytes.Buffer
					if err := json.Indent(&buf, b, "", " "); err != nil {
						t.Fatal(err)
					}
					b = buf.Bytes()
				}
				return b
			}
			frame := encode(doc{Name: `"items":[]`, Items: []any{}, After: "x"})
			var got bytes.Buffer
			err := Write(&got, frame, "items", indent, func(yield func(any) error) error {
				for _, v := range list {
					if err := yield(v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := encode(doc{Name: `"items":[]`, Items: list, After: "x"}); !bytes.Equal(got.Bytes(), want) {
				t.Errorf("indent %v, %d items:\n got %s\nwant %s", indent, len(list), got.Bytes(), want)
			}
		}
	}
}

func TestWriteNamesAMissingList(t *testing.T) {
	err := Write(&bytes.Buffer{}, []byte(`{"items":null}`), "items", false, func(func(any) error) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `"items"`) {
		t.Errorf("err = %v, want one naming the list", err)
	}
}
