package doctor

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
