package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// TestDetailLinesBlock checks the detail block put together from separately
// compressed parts: a standard gzip reader, which verifies the CRC and the
// length, must read back the lookup line and then every row.
func TestDetailLinesBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rows := range []int{0, 1, 50, 40_000} {
		t.Run(fmt.Sprint(rows, " rows"), func(t *testing.T) {
			var d detailLines
			var want bytes.Buffer
			lookup := []byte(`{"apps":[["0oa1","Office 365","office365"]],"notes":["<\u2028>"]}`)
			want.Write(lookup)
			for i := range rows {
				// Random digits compress poorly, so the lines outgrow
				// plainLazyLimit when there are many.
				line, _ := json.Marshal([]any{i, fmt.Sprint(rng.Uint64(), rng.Uint64()), "user\n\"é\""})
				want.WriteByte('\n')
				want.Write(line)
				if err := d.add(line); err != nil {
					t.Fatal(err)
				}
			}
			got, compressed, err := d.block(lookup)
			if err != nil {
				t.Fatal(err)
			}
			if wantCompressed := want.Len()-len(lookup) > plainLazyLimit; compressed != wantCompressed {
				t.Fatalf("compressed = %v, want %v for %d bytes of rows", compressed, wantCompressed, want.Len()-len(lookup))
			}
			if got = blockText(t, got, compressed); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("block text differs: %d bytes, want %d", len(got), want.Len())
			}
			// A view may be rendered twice: the second block is the same.
			again, _, err := d.block(lookup)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(blockText(t, again, compressed), want.Bytes()) {
				t.Fatal("the second block differs from the first")
			}
			lines, err := d.lines()
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != rows {
				t.Fatalf("lines() returned %d rows, want %d", len(lines), rows)
			}
		})
	}
}

// blockText is a detail block's text: the block itself, or what a gzip
// reader, which checks the CRC and the length, reads from it.
func blockText(t *testing.T, block []byte, compressed bool) []byte {
	t.Helper()
	if !compressed {
		return block
	}
	zr, err := gzip.NewReader(bytes.NewReader(block))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("the gzip member does not read back: %v", err)
	}
	return text
}
