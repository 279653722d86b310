package ad

import (
	"strings"
	"testing"
)

func TestDecodeSID(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr string
	}{
		{
			name: "domain user",
			in: []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0,
				0xdc, 0xf4, 0xdc, 0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x4d, 0x04, 0, 0},
			want: "S-1-5-21-1004336348-1177238915-682003330-1101",
		},
		{name: "builtin administrators", in: []byte{1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0}, want: "S-1-5-32-544"},
		{name: "everyone", in: []byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, want: "S-1-1-0"},
		{name: "large authority", in: []byte{1, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06}, want: "S-1-1108152157446"},
		{name: "too short", in: []byte{1, 5, 0}, wantErr: "3 bytes, want at least 8"},
		{name: "count disagrees with length", in: []byte{1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0}, wantErr: "declares 2 sub-authorities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSID(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeSID: %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("decodeSID = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
