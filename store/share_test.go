package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/anchorscan/anchorscan/scan/record"
)

// TestLoadInputSharesRepeatedValues checks that records holding the same
// status, app id or licence list share one copy of it, and that a shared
// list cannot be written through by appending to one record's copy.
func TestLoadInputSharesRepeatedValues(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "share.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b record.Batch
	b.OktaApps = []record.OktaApp{{ID: "0oa1", Name: "office365"}}
	for i := range 3 {
		b.OktaUsers = append(b.OktaUsers, record.OktaUser{ID: fmt.Sprint("00u", i), Status: "ACTIVE"})
		b.OktaAppUsers = append(b.OktaAppUsers, record.OktaAppUser{AppID: "0oa1", UserID: fmt.Sprint("00u", i),
			Status: "ACTIVE", SyncState: "SYNCHRONIZED", Licenses: []string{"E3", "E5"}, Roles: []string{}})
	}
	id := writeSnapshot(t, db, []record.Batch{b})
	in, err := db.LoadInput(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.OktaAppUsers) != 3 || len(in.OktaUsers) != 3 {
		t.Fatalf("loaded %d app users and %d users, want 3 each", len(in.OktaAppUsers), len(in.OktaUsers))
	}
	a, c := in.OktaAppUsers[0], in.OktaAppUsers[2]
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(a.AppID, c.AppID) || !same(a.SyncState, c.SyncState) || !same(in.OktaUsers[0].Status, in.OktaUsers[2].Status) {
		t.Error("repeated app ids, sync states or statuses are separate copies")
	}
	if &a.Licenses[0] != &c.Licenses[0] {
		t.Error("identical licence lists are separate copies")
	}
	grown := append(a.Licenses, "E1")
	grown[0] = "changed"
	if c.Licenses[0] != "E3" {
		t.Errorf("appending to one record's licences changed another's: %v", c.Licenses)
	}
}
