package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

func testBatches() []record.Batch {
	return []record.Batch{
		{OktaUsers: []record.OktaUser{{ID: "00u1", Status: "ACTIVE", Login: "a@x.example"}, {ID: "00u2", Status: "ACTIVE", Login: "b@x.example"}}},
		{OktaApps: []record.OktaApp{{ID: "0oa1", Name: "office365", DeactivateUsers: "DISABLED", ImmutableIDExpression: "x", ImmutableIDPushStatus: "DONT_PUSH"}}},
		{OktaAppUsers: []record.OktaAppUser{{AppID: "0oa1", UserID: "00u1", ImmutableID: "Pqlfffo2uEqbF4UcX9pvFQ==", Licenses: []string{"E3"}, Roles: []string{}}}},
		{EntraOrgs: []record.EntraOrg{{TenantID: "t1", InitialDomain: "x.onmicrosoft.com"}},
			EntraDomains: []record.EntraDomain{{ID: "x.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exk1"}}},
		{EntraUsers: []record.EntraUser{{ID: "e1", UserPrincipalName: "a@x.example", DisplayName: "<script>alert(1)</script>\x07", ImmutableID: "Pqlfffo2uEqbF4UcX9pvFQ==", AccountEnabled: true}}},
		{ADDomains: []record.ADDomain{{Name: "corp.x.example", BaseDN: "DC=corp,DC=x,DC=example"}},
			ADUsers: []record.ADUser{
				{Domain: "corp.x.example", DistinguishedName: "CN=a,DC=corp,DC=x,DC=example", ObjectGUID: [16]byte{1, 2, 3}, ConsistencyGUID: []byte{9, 9}, UserAccountControl: 512},
				{Domain: "corp.x.example", DistinguishedName: "CN=b,DC=corp,DC=x,DC=example", ObjectGUID: [16]byte{4, 5, 6}},
			}},
	}
}

func writeSnapshot(t *testing.T, db *DB, batches []record.Batch) SnapshotID {
	t.Helper()
	ctx := context.Background()
	id, err := db.BeginSnapshot(ctx, "test", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sink := db.Sink(id)
	for _, b := range batches {
		if err := sink.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	runs := []record.SourceRun{{Source: record.SourceOkta, Status: record.StatusComplete, Requests: 3, Counts: map[string]int{"users": 2}}}
	if err := db.FinishSnapshot(ctx, id, runs, time.Unix(10, 0)); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database mode = %o, want 600", perm)
	}
	id := writeSnapshot(t, db, testBatches())

	in, err := db.LoadInput(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var want classify.Input
	for _, b := range testBatches() {
		want.OktaUsers = append(want.OktaUsers, b.OktaUsers...)
		want.OktaApps = append(want.OktaApps, b.OktaApps...)
		want.OktaAppUsers = append(want.OktaAppUsers, b.OktaAppUsers...)
		want.EntraDomains = append(want.EntraDomains, b.EntraDomains...)
		want.EntraUsers = append(want.EntraUsers, b.EntraUsers...)
		want.ADDomains = append(want.ADDomains, b.ADDomains...)
		want.ADUsers = append(want.ADUsers, b.ADUsers...)
		if len(b.EntraOrgs) > 0 {
			want.EntraOrg = b.EntraOrgs[0]
		}
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("LoadInput mismatch (-want +got):\n%s", diff)
	}

	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status != "complete" || snap.EntraTenant != "t1" || len(snap.ContentHash) != 64 || len(snap.Sources) != 1 {
		t.Errorf("snapshot = %+v", snap)
	}
	if snap.Sources[0].Requests != 3 || snap.Sources[0].Counts["users"] != 2 {
		t.Errorf("source run = %+v", snap.Sources[0])
	}
}

func TestContentHashIgnoresPageOrderButNotContent(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := writeSnapshot(t, db, testBatches())
	reversed := testBatches()
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	b := writeSnapshot(t, db, reversed)
	changed := testBatches()
	changed[4].EntraUsers[0].ImmutableID = "pqlfffo2uEqbF4UcX9pvFQ==" // case matters to Entra
	c := writeSnapshot(t, db, changed)

	ha, _ := db.ContentHash(ctx, a)
	hb, _ := db.ContentHash(ctx, b)
	hc, _ := db.ContentHash(ctx, c)
	if ha != hb {
		t.Errorf("same content in another order hashed differently: %s vs %s", ha, hb)
	}
	if ha == hc {
		t.Errorf("changed content hashed the same")
	}
	ta, _ := db.TableHashes(ctx, a)
	tc, _ := db.TableHashes(ctx, c)
	for table := range ta {
		if (ta[table] != tc[table]) != (table == "entra_users") {
			t.Errorf("table %s: hash differs = %v", table, ta[table] != tc[table])
		}
	}
}

func TestDuplicateRecordFailsFinish(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, _ := db.BeginSnapshot(ctx, "test", time.Now())
	sink := db.Sink(id)
	for _, b := range []record.Batch{
		{OktaUsers: []record.OktaUser{{ID: "00u1"}, {ID: "00u2"}}},
		{OktaUsers: []record.OktaUser{{ID: "00u1"}}}, // a page delivered twice
	} {
		if err := sink.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	err = db.FinishSnapshot(ctx, id, nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "00u1") || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("FinishSnapshot error = %v, want one naming the duplicate 00u1", err)
	}
	if _, err := db.LatestSnapshot(ctx); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("a snapshot with a duplicate record counts as finished: %v", err)
	}
}

func TestFindingsRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := writeSnapshot(t, db, testBatches())
	res := classify.Result{
		Identities: []classify.Finding{
			{Scenario: classify.OK, Severity: classify.Info, UPN: "a@x.example", EntraUserID: "e1", OktaUserID: "00u1",
				DisplayName: "<img src=x onerror=alert(1)>", Evidence: []classify.Link{{From: "okta:00u1", To: "entra:e1", Key: "k", Value: "v"}}},
			{Scenario: classify.OrphanEntra, Severity: classify.High, UPN: "b@x.example"},
		},
		Org: []classify.OrgFinding{{Code: classify.OrgDeactivateEnabled, Severity: classify.Critical, Explanation: "on"}},
	}
	if err := db.SaveFindings(ctx, id, res); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.Findings(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res, got); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if err := ro.SaveFindings(ctx, id, res); err == nil {
		t.Error("a read-only database accepted a write")
	}
	latest, err := ro.LatestSnapshot(ctx)
	if err != nil || latest != id {
		t.Errorf("LatestSnapshot = %d, %v; want %d", latest, err, id)
	}
	holders, err := ro.AnchorHolders(ctx, id, "Pqlfffo2uEqbF4UcX9pvFQ==", [][]byte{append([]byte{1, 2, 3}, make([]byte, 13)...)})
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 3 {
		t.Errorf("AnchorHolders = %+v, want entra, okta and ad holders", holders)
	}
}

func TestOpenRejectsNewerSchemaAndMissingFile(t *testing.T) {
	ctx := context.Background()
	if _, err := OpenReadOnly(ctx, filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("read-only open of a missing file succeeded")
	}
	path := filepath.Join(t.TempDir(), "n.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Error("a database from a newer anchorscan was opened")
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("this is not an SQLite database, just text that is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("Open(junk) error = %v, want one naming the file", err)
	}
}
