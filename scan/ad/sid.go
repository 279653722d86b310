package ad

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// decodeSID renders AD's binary objectSid in its S-1-… string form: byte 0
// is the revision, byte 1 the number of sub-authorities, bytes 2–7 the
// identifier authority (48-bit big-endian), then one little-endian uint32
// per sub-authority.
func decodeSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("SID of %d bytes, want at least 8", len(b))
	}
	count := int(b[1])
	if want := 8 + 4*count; len(b) != want {
		return "", fmt.Errorf("SID of %d bytes declares %d sub-authorities, which need %d bytes", len(b), count, want)
	}
	var auth [8]byte
	copy(auth[2:], b[2:8])
	var sb strings.Builder
	sb.WriteString("S-")
	sb.WriteString(strconv.Itoa(int(b[0])))
	sb.WriteByte('-')
	sb.WriteString(strconv.FormatUint(binary.BigEndian.Uint64(auth[:]), 10))
	for i := range count {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}
