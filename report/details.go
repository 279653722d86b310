package report

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
)

// gzipLevel is the compression of the data blocks. At 1,000,000 identities
// the best compression (level 9) took 28 s of a 103 s report for a file 2%
// smaller than the default level's, which takes 10 s.
const gzipLevel = flate.DefaultCompression

// detailLines holds every row's detail text, in order, for the detail
// block, which is the lookup tables' line followed by one line per row.
// The lookup tables are complete only after the last row, so the lines
// cannot be written out as they come; held as they are, a million of them
// take a gigabyte. Past plainLazyLimit they are therefore kept compressed
// as raw DEFLATE, and the block's gzip member is put together at the end:
// the lookup line, compressed and flushed to a byte boundary, then the
// rows' stream as it is (a DEFLATE stream may continue at any block
// boundary, and the rows refer back only within themselves).
type detailLines struct {
	size  int64        // bytes of the lines, each with its leading '\n'
	plain bytes.Buffer // the lines while they are small
	z     bytes.Buffer // raw DEFLATE of the lines, once they are not
	zw    *flate.Writer
}

func (d *detailLines) add(line []byte) error {
	d.size += int64(1 + len(line))
	if d.zw == nil {
		d.plain.WriteByte('\n')
		d.plain.Write(line)
		if d.plain.Len() <= plainLazyLimit {
			return nil
		}
		zw, err := flate.NewWriter(&d.z, gzipLevel)
		if err != nil {
			return err
		}
		d.zw = zw
		_, err = d.zw.Write(d.plain.Bytes())
		d.plain = bytes.Buffer{}
		return err
	}
	if _, err := d.zw.Write([]byte{'\n'}); err != nil {
		return err
	}
	_, err := d.zw.Write(line)
	return err
}

// block returns the detail block's content: plain JSON text when the lines
// stayed small, else a gzip member.
func (d *detailLines) block(lookup []byte) (raw []byte, compressed bool, err error) {
	if d.zw == nil {
		return append(lookup, d.plain.Bytes()...), false, nil
	}
	if err := d.flush(); err != nil {
		return nil, false, err
	}
	// The gzip trailer's CRC covers the whole text, the lookup first; the
	// rows' part is read back from their stream for it.
	crc := crc32.NewIEEE()
	crc.Write(lookup)
	n, err := io.Copy(crc, flate.NewReader(d.stream()))
	if err != nil {
		return nil, false, fmt.Errorf("read back the compressed details: %w", err)
	}
	if n != d.size {
		return nil, false, fmt.Errorf("read back %d bytes of compressed details, want %d", n, d.size)
	}

	var out bytes.Buffer
	out.Grow(d.z.Len() + len(lookup)/4 + 64)
	// RFC 1952 header: magic, deflate, no flags, no time, no extra
	// flags (as compress/gzip writes for the default level), unknown OS.
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	lw, err := flate.NewWriter(&out, gzipLevel)
	if err != nil {
		return nil, false, err
	}
	if _, err := lw.Write(lookup); err != nil {
		return nil, false, err
	}
	// Flush ends the lookup's part on a byte boundary without a final
	// block; the rows' stream carries the final one.
	if err := lw.Flush(); err != nil {
		return nil, false, err
	}
	if _, err := io.Copy(&out, d.stream()); err != nil {
		return nil, false, err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc.Sum32())
	binary.LittleEndian.PutUint32(trailer[4:], uint32(int64(len(lookup))+d.size))
	out.Write(trailer[:])
	return out.Bytes(), true, nil
}

// finalEmptyBlock ends a DEFLATE stream after a flush: an empty block
// with fixed codes and the final bit set.
var finalEmptyBlock = []byte{0x03, 0x00}

// flush brings the compressed lines up to date. The writer is flushed
// rather than closed, so a view can be rendered more than once.
func (d *detailLines) flush() error { return d.zw.Flush() }

// stream reads the lines' DEFLATE stream as of the last flush, ended.
func (d *detailLines) stream() io.Reader {
	return io.MultiReader(bytes.NewReader(d.z.Bytes()), bytes.NewReader(finalEmptyBlock))
}

// lines returns each row's detail text; tests read the rows back with it.
func (d *detailLines) lines() ([]json.RawMessage, error) {
	text := d.plain.Bytes()
	if d.zw != nil {
		if err := d.flush(); err != nil {
			return nil, err
		}
		var err error
		if text, err = io.ReadAll(flate.NewReader(d.stream())); err != nil {
			return nil, err
		}
	}
	var out []json.RawMessage
	for _, l := range bytes.Split(text, []byte{'\n'})[1:] {
		out = append(out, json.RawMessage(l))
	}
	return out, nil
}
