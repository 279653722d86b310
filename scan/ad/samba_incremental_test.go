//go:build samba

package ad

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/anchorscan/anchorscan/scan/record"
)

// TestSambaCollectChanges reads changes from a real domain controller: after
// a full read, one user's mS-DS-ConsistencyGuid changes and another user is
// deleted; the change read returns the first with its new value, the second
// as a removal by objectGUID (from its tombstone), and nobody else.
func TestSambaCollectChanges(t *testing.T) {
	dc := loadSambaDC(t)
	ctx := context.Background()
	conn, err := ldap.DialURL(dc.url, ldap.DialWithTLSConfig(dc.config().TLSConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(dc.bindDN, dc.password); err != nil {
		t.Fatal(err)
	}
	// A user of its own to delete, so the seeded users stay for the other tests.
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := fmt.Sprintf("incr%x", suffix)
	doomedDN := "CN=" + name + "," + dc.seedOU
	add := ldap.NewAddRequest(doomedDN, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	add.Attribute("sAMAccountName", []string{name})
	add.Attribute("userAccountControl", []string{"514"})
	if err := conn.Add(add); err != nil {
		t.Fatalf("add %s: %v", doomedDN, err)
	}

	c, err := New(dc.config())
	if err != nil {
		t.Fatal(err)
	}
	full := &memorySink{}
	stats, err := c.Collect(ctx, full)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(stats.Sync) == 0 {
		t.Fatal("a full read of a real DC recorded no change position")
	}
	var doomed record.ADUser
	for _, u := range full.users() {
		if u.SAMAccountName == name {
			doomed = u
		}
	}
	if doomed.DistinguishedName == "" {
		t.Fatalf("the full read did not return the added user %s", doomedDN)
	}

	// Change one user's anchor, delete the other; both raise uSNChanged.
	changed := dc.seeded["seed00003"]
	admin, err := NewAdmin(dc.config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	before, err := admin.ConsistencyGUID(ctx, changed.dn)
	if err != nil {
		t.Fatal(err)
	}
	next := make([]byte, 16)
	rand.Read(next)
	if err := admin.SwapConsistencyGUID(ctx, changed.dn, before, next); err != nil {
		t.Fatal(err)
	}
	defer admin.SwapConsistencyGUID(ctx, changed.dn, next, before)
	if err := conn.Del(ldap.NewDelRequest(doomedDN, nil)); err != nil {
		t.Fatalf("delete %s: %v", doomedDN, err)
	}

	changes := &memorySink{}
	cstats, err := c.CollectChanges(ctx, changes, stats.Sync)
	if err != nil {
		t.Fatalf("CollectChanges: %v", err)
	}
	users := changes.users()
	if len(users) != 1 || users[0].SAMAccountName != "seed00003" || !bytes.Equal(users[0].ConsistencyGUID, next) {
		t.Errorf("changed users %+v, want seed00003 alone with mS-DS-ConsistencyGuid %x", users, next)
	}
	var removed [][16]byte
	for _, b := range changes.batches {
		if b.Removed != nil {
			removed = append(removed, b.Removed.ADUsers...)
		}
	}
	if len(removed) != 1 || removed[0] != doomed.ObjectGUID {
		t.Errorf("removed %x, want the deleted user's objectGUID %x alone", removed, doomed.ObjectGUID)
	}
	t.Logf("full read %d operations, change read %d (sync %v)", stats.Requests, cstats.Requests, stats.Sync)
}
