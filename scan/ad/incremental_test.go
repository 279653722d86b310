package ad_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/record"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

const (
	incBindDN   = "CN=anchorscan-reader,CN=Users,DC=corp,DC=contoso,DC=example"
	incPassword = "incremental-test-password"
	incBase     = "DC=corp,DC=contoso,DC=example"
)

// changeSink keeps what a collector wrote.
type changeSink struct {
	mu      sync.Mutex
	batches []record.Batch
	onWrite func(n int)
}

func (s *changeSink) Write(_ context.Context, b record.Batch) error {
	s.mu.Lock()
	s.batches = append(s.batches, b)
	n := len(s.batches)
	s.mu.Unlock()
	if s.onWrite != nil {
		s.onWrite(n)
	}
	return nil
}

func (s *changeSink) users() []record.ADUser {
	var out []record.ADUser
	for _, b := range s.batches {
		out = append(out, b.ADUsers...)
	}
	return out
}

func (s *changeSink) removed() [][16]byte {
	var out [][16]byte
	for _, b := range s.batches {
		if b.Removed != nil {
			out = append(out, b.Removed.ADUsers...)
		}
	}
	return out
}

// adTenant has n AD users under OU=Staff of corp.contoso.example.
func adTenant(n int) *sim.Tenant {
	t := &sim.Tenant{Format: sim.FormatV1, AD: sim.AD{Domains: []sim.ADDomain{{Name: "corp.contoso.example", BaseDN: incBase}}}}
	for i := range n {
		name := fmt.Sprintf("user%06d", i)
		t.AD.Users = append(t.AD.Users, sim.ADUser{
			DistinguishedName: "CN=" + name + ",OU=Staff," + incBase,
			// The first group is not palindromic: a byte-order slip shows.
			ObjectGUID:         fmt.Sprintf("%08x-36fa-4ab8-9b17-851c5fda6f15", 0x10000000+i),
			ObjectSID:          fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 5000+i),
			UserPrincipalName:  name + "@contoso.example",
			SAMAccountName:     name,
			UserAccountControl: 512,
		})
	}
	return t
}

// ldapServer serves st as a plain-LDAP domain controller.
func ldapServer(t *testing.T, st *sim.State) ad.Config {
	t.Helper()
	srv, err := sim.NewLDAPServer(st, sim.LDAPOptions{BindDN: incBindDN, Password: incPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop LDAP simulator: %v", err)
		}
	})
	return ad.Config{URL: "ldap://" + srv.Addr(), BindDN: incBindDN, Password: incPassword}
}

func newCollector(t *testing.T, cfg ad.Config) *ad.Collector {
	t.Helper()
	c, err := ad.New(cfg)
	if err != nil {
		t.Fatalf("ad.New: %v", err)
	}
	return c
}

// rootDSE reads the DC's identity and USN high-water mark with go-ldap.
func rootDSE(t *testing.T, cfg ad.Config) (service string, usn int64) {
	t.Helper()
	conn, err := ldap.DialURL(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"dsServiceName", "highestCommittedUSN"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("rootDSE: %v", err)
	}
	usn, err = strconv.ParseInt(res.Entries[0].GetAttributeValue("highestCommittedUSN"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return res.Entries[0].GetAttributeValue("dsServiceName"), usn
}

func rawGUID(t *testing.T, canonical string) [16]byte {
	t.Helper()
	g, err := anchor.ParseGUID(canonical)
	if err != nil {
		t.Fatal(err)
	}
	return g.Raw()
}

func sortedGUIDs(gs [][16]byte) [][16]byte {
	out := slices.Clone(gs)
	slices.SortFunc(out, func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// A full read reports the DC and the highestCommittedUSN it read before
// its search, per base DN, at no extra LDAP operation.
func TestCollectReportsSync(t *testing.T) {
	st := sim.NewState(adTenant(2500))
	cfg := ldapServer(t, st)
	service, usn := rootDSE(t, cfg)
	stats, err := newCollector(t, cfg).Collect(context.Background(), &changeSink{})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	want := map[string]string{incBase + ".dc": service, incBase + ".usn": strconv.FormatInt(usn, 10)}
	if diff := cmp.Diff(want, stats.Sync); diff != "" {
		t.Errorf("Sync (-want +got):\n%s", diff)
	}
	if service == "" {
		t.Error("the simulator reports no dsServiceName")
	}
	// bind, rootDSE, three pages: the high-water mark rides on the rootDSE
	// read the collector always made.
	if stats.Requests != 5 {
		t.Errorf("Requests = %d, want 5", stats.Requests)
	}
}

// A change committed while the full read runs, after the page holding its
// user, is read by the next change read: the mark was taken first.
func TestChangeDuringFullReadIsReadNextTime(t *testing.T) {
	st := sim.NewState(adTenant(2500))
	cfg := ldapServer(t, st)
	c := newCollector(t, cfg)
	clock := st.Clock()
	var sum sim.MutationSummary
	var mutateErr error
	full := &changeSink{onWrite: func(n int) {
		if n == 2 { // after the second of three pages
			sum, mutateErr = st.Mutate(3, 0.01)
		}
	}}
	stats, err := c.Collect(context.Background(), full)
	if err != nil || mutateErr != nil {
		t.Fatalf("Collect: %v; Mutate: %v", err, mutateErr)
	}
	if len(sum.Changes.ADUsers) == 0 {
		t.Fatalf("Mutate changed no AD user: %+v", sum.Counts)
	}
	changes := &changeSink{}
	if _, err := c.CollectChanges(context.Background(), changes, stats.Sync); err != nil {
		t.Fatalf("CollectChanges: %v", err)
	}
	var got []string
	for _, u := range changes.users() {
		got = append(got, u.DistinguishedName)
	}
	slices.Sort(got)
	if diff := cmp.Diff(st.ChangesSince(clock).ADUsers, got); diff != "" {
		t.Errorf("changed users read (-want +got):\n%s", diff)
	}
}

// After a 1% change, a change read returns exactly the users changed and
// the objectGUIDs deleted, with the domains whole, in three LDAP operations
// (bind, rootDSE, one page of changes and tombstones), from the domain
// root and from an OU base DN alike: tombstones live under the partition's
// CN=Deleted Objects, outside the OU.
func TestCollectChangesReadsExactlyTheChanges(t *testing.T) {
	tests := []struct {
		name    string
		bases   []string
		domains []record.ADDomain
	}{
		{"defaultNamingContext", nil, []record.ADDomain{{Name: "corp.contoso.example", BaseDN: incBase}}},
		{"OU base DN", []string{"OU=Staff," + incBase}, []record.ADDomain{{Name: "corp.contoso.example", BaseDN: "OU=Staff," + incBase}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := sim.NewState(adTenant(3000))
			cfg := ldapServer(t, st)
			cfg.BaseDNs = tt.bases
			c := newCollector(t, cfg)
			// A change before the full read makes the high-water mark a
			// user's uSNChanged, which the change read must not return.
			if _, err := st.Mutate(10, 0.01); err != nil {
				t.Fatal(err)
			}
			fullStats, err := c.Collect(context.Background(), &changeSink{})
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			sum, err := st.Mutate(11, 0.01)
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Changes.ADUsersDeleted) == 0 || len(sum.Changes.ADUsers) <= len(sum.Changes.ADUsersDeleted) {
				t.Fatalf("Mutate made %d AD changes and %d deletions; the test needs both", len(sum.Changes.ADUsers), len(sum.Changes.ADUsersDeleted))
			}
			sink := &changeSink{}
			stats, err := c.CollectChanges(context.Background(), sink, fullStats.Sync)
			if err != nil {
				t.Fatalf("CollectChanges: %v", err)
			}

			if diff := cmp.Diff(tt.domains, sink.batches[0].ADDomains); diff != "" {
				t.Errorf("first batch's domains (-want +got):\n%s", diff)
			}
			var dns []string
			for _, u := range sink.users() {
				dns = append(dns, u.DistinguishedName)
				if u.Domain != "corp.contoso.example" {
					t.Errorf("%s: domain %q", u.DistinguishedName, u.Domain)
				}
			}
			slices.Sort(dns)
			if diff := cmp.Diff(sum.Changes.ADUsers, dns); diff != "" {
				t.Errorf("changed users (-want +got):\n%s", diff)
			}
			var wantRemoved [][16]byte
			for _, d := range sum.Changes.ADUsersDeleted {
				wantRemoved = append(wantRemoved, rawGUID(t, d.ObjectGUID))
			}
			if diff := cmp.Diff(sortedGUIDs(wantRemoved), sortedGUIDs(sink.removed())); diff != "" {
				t.Errorf("removed objectGUIDs (-want +got):\n%s", diff)
			}
			if stats.Requests != 3 {
				t.Errorf("Requests = %d, want 3 (bind, rootDSE, one page); the full read took %d", stats.Requests, fullStats.Requests)
			}
			_, usn := rootDSE(t, cfg)
			if got := stats.Sync[tt.domains[0].BaseDN+".usn"]; got != strconv.FormatInt(usn, 10) {
				t.Errorf("Sync usn = %s, want the highestCommittedUSN after the change, %d", got, usn)
			}

			// Nothing changed since: no search at all.
			again := &changeSink{}
			stats, err = c.CollectChanges(context.Background(), again, stats.Sync)
			if err != nil {
				t.Fatalf("second CollectChanges: %v", err)
			}
			if len(again.users()) != 0 || len(again.removed()) != 0 || stats.Requests != 2 {
				t.Errorf("unchanged directory: %d users, %d removed in %d operations; want none in 2 (bind, rootDSE)",
					len(again.users()), len(again.removed()), stats.Requests)
			}
		})
	}
}

// A change read that cannot continue from since says record.ErrResync and
// writes nothing.
func TestCollectChangesResync(t *testing.T) {
	st := sim.NewState(adTenant(10))
	cfg := ldapServer(t, st)
	service, usn := rootDSE(t, cfg)
	mark := strconv.FormatInt(usn, 10)
	tests := []struct {
		name  string
		since map[string]string
	}{
		{"no position for the base DN", map[string]string{"DC=other,DC=example.dc": service, "DC=other,DC=example.usn": mark}},
		{"another domain controller", map[string]string{incBase + ".dc": "CN=NTDS Settings,CN=DC02,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration," + incBase, incBase + ".usn": mark}},
		{"USN above the DC's", map[string]string{incBase + ".dc": service, incBase + ".usn": strconv.FormatInt(usn+1, 10)}},
		{"USN not a number", map[string]string{incBase + ".dc": service, incBase + ".usn": "twelve"}},
		{"nil since", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &changeSink{}
			_, err := newCollector(t, cfg).CollectChanges(context.Background(), sink, tt.since)
			if !errors.Is(err, record.ErrResync) {
				t.Fatalf("CollectChanges: %v, want record.ErrResync", err)
			}
			if len(sink.batches) != 0 {
				t.Errorf("%d batches written before ErrResync, want none", len(sink.batches))
			}
		})
	}
}

// otherDC is the AD source whose last scan read another domain controller.
type otherDC struct{ *ad.Collector }

func (o otherDC) CollectChanges(ctx context.Context, sink record.Sink, since map[string]string) (record.Stats, error) {
	moved := map[string]string{}
	for k, v := range since {
		moved[k] = v
		if filepath.Ext(k) == ".dc" {
			moved[k] = "CN=NTDS Settings,CN=DC02,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=elsewhere"
		}
	}
	return o.Collector.CollectChanges(ctx, sink, moved)
}

// The store's view: after State.Mutate(seed, 0.01) on a generated
// 3,000-identity tenant, an incremental scan built on a full one holds
// exactly what a full scan holds, table by table, in 3 LDAP operations
// where the full scan needs 5; a re-created user is there once, with its
// new objectGUID. Against a DC other than the last scan's, the runner reads
// AD whole, to the same content.
func TestIncrementalScanEqualsFullScan(t *testing.T) {
	ctx := context.Background()
	tenant, err := sim.Generate(sim.GenerateOptions{Users: 3000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Start(ctx, sim.NewState(tenant), sim.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "anchorscan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	collector := newCollector(t, ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	run := func(src scan.Source, incremental bool) (store.SnapshotID, record.SourceRun) {
		t.Helper()
		res, err := scan.Run(ctx, db, []scan.Source{src}, scan.Options{ToolVersion: "test", Incremental: incremental})
		if err != nil || !res.Complete() {
			t.Fatalf("scan (incremental %v): %v %+v", incremental, err, res)
		}
		return res.Snapshot, res.Sources[0]
	}
	adTables := func(id store.SnapshotID) map[string]string {
		t.Helper()
		all, err := db.TableHashes(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"ad_users": all["ad_users"], "ad_domains": all["ad_domains"]}
	}

	_, firstRun := run(collector, false)
	if firstRun.Sync == nil {
		t.Fatal("the full scan stored no Sync for AD")
	}
	sum, err := s.State.Mutate(21, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Changes.ADUsersDeleted) == 0 {
		t.Fatalf("Mutate re-created no AD user: %+v", sum.Counts)
	}
	incID, incRun := run(collector, true)
	fullID, fullRun := run(collector, false)
	if !incRun.Incremental {
		t.Error("the incremental scan read AD whole")
	}
	if diff := cmp.Diff(adTables(fullID), adTables(incID)); diff != "" {
		t.Errorf("incremental snapshot differs from a full one (-full +incremental):\n%s", diff)
	}
	if incRun.Requests != 3 || fullRun.Requests != 5 {
		t.Errorf("LDAP operations: incremental %d, full %d; want 3 and 5", incRun.Requests, fullRun.Requests)
	}

	in, err := db.LoadInput(ctx, incID)
	if err != nil {
		t.Fatal(err)
	}
	byGUID := map[[16]byte]int{}
	byDN := map[string][][16]byte{}
	for _, u := range in.ADUsers {
		byGUID[u.ObjectGUID]++
		byDN[u.DistinguishedName] = append(byDN[u.DistinguishedName], u.ObjectGUID)
	}
	for _, d := range sum.Changes.ADUsersDeleted {
		if n := byGUID[rawGUID(t, d.ObjectGUID)]; n != 0 {
			t.Errorf("deleted objectGUID %s still stored %d times", d.ObjectGUID, n)
		}
		dn := d.LastKnownParent
		var live []string
		s.State.Read(func(tn *sim.Tenant) {
			for _, u := range tn.AD.Users {
				if u.SAMAccountName == d.SAMAccountName && u.ObjectGUID != d.ObjectGUID {
					live = append(live, u.DistinguishedName, u.ObjectGUID)
				}
			}
		})
		if len(live) != 2 {
			t.Fatalf("re-created user of %s (%s) not found once in the tenant: %v", d.ObjectGUID, dn, live)
		}
		if got := byDN[live[0]]; len(got) != 1 || got[0] != rawGUID(t, live[1]) {
			t.Errorf("%s stored with objectGUIDs %x, want once with its new one %s", live[0], got, live[1])
		}
	}

	// A DC other than the last scan's: the runner reads AD whole.
	if _, err := s.State.Mutate(22, 0.01); err != nil {
		t.Fatal(err)
	}
	movedID, movedRun := run(otherDC{collector}, true)
	fullID, _ = run(collector, false)
	if movedRun.Incremental {
		t.Error("the scan against another DC was recorded as incremental")
	}
	if movedRun.Requests != 2+5 {
		t.Errorf("LDAP operations %d, want 7 (bind and rootDSE of the refused change read, then a full read)", movedRun.Requests)
	}
	if diff := cmp.Diff(adTables(fullID), adTables(movedID)); diff != "" {
		t.Errorf("whole re-read differs from a full scan (-full +re-read):\n%s", diff)
	}
}
