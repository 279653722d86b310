package ad

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// FuzzToUser feeds arbitrary attribute bytes through the entry decoder: it
// must either return an error or a user whose GUID is exactly what AD sent.
func FuzzToUser(f *testing.F) {
	f.Add([]byte{0x3e, 0xa9, 0x5f, 0x7d, 0xfa, 0x36, 0xb8, 0x4a, 0x9b, 0x17, 0x85, 0x1c, 0x5f, 0xda, 0x6f, 0x15}, []byte(nil),
		[]byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 220, 222, 221, 59, 131, 229, 47, 70, 130, 32, 165, 40, 77, 4, 0, 0}, "512", "12001")
	f.Add([]byte{1, 2, 3}, []byte{9}, []byte{1}, "x", "-1")
	f.Add(make([]byte, 16), make([]byte, 16), []byte{1, 0, 0, 0, 0, 0, 0, 0}, "", "")
	f.Fuzz(func(t *testing.T, guid, cg, sid []byte, uac, usn string) {
		e := &ldap.Entry{DN: "CN=x,DC=corp,DC=example", Attributes: []*ldap.EntryAttribute{
			{Name: "objectGUID", ByteValues: [][]byte{guid}, Values: []string{string(guid)}},
			{Name: "objectSid", ByteValues: [][]byte{sid}, Values: []string{string(sid)}},
			{Name: "userAccountControl", ByteValues: [][]byte{[]byte(uac)}, Values: []string{uac}},
			{Name: "uSNChanged", ByteValues: [][]byte{[]byte(usn)}, Values: []string{usn}},
		}}
		if cg != nil {
			e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: "mS-DS-ConsistencyGuid", ByteValues: [][]byte{cg}, Values: []string{string(cg)}})
		}
		u, err := toUser(e, "corp.example")
		if err != nil {
			return
		}
		if string(u.ObjectGUID[:]) != string(guid) {
			t.Fatalf("objectGUID %x decoded as %x", guid, u.ObjectGUID)
		}
		if cg != nil && string(u.ConsistencyGUID) != string(cg) {
			t.Fatalf("mS-DS-ConsistencyGuid %x decoded as %x", cg, u.ConsistencyGUID)
		}
	})
}

// FuzzDecodeSID: every byte string either fails or decodes to an S-1-… string.
func FuzzDecodeSID(f *testing.F) {
	f.Add([]byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 220, 222, 221, 59, 131, 229, 47, 70, 130, 32, 165, 40, 77, 4, 0, 0})
	f.Add([]byte{1, 255})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSID(b)
		if err == nil && (len(s) < 4 || s[:4] != "S-1-") && (len(s) < 2 || s[:2] != "S-") {
			t.Fatalf("decodeSID(%x) = %q", b, s)
		}
	})
}
