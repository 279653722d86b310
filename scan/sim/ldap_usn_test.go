package sim

import (
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

// rootDSEValue reads one attribute of the rootDSE.
func rootDSEValue(t testing.TB, conn *ldap.Conn, attr string) string {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("rootDSE %s: %v (%d entries)", attr, err, len(res.Entries))
	}
	return res.Entries[0].GetAttributeValue(attr)
}

func highestUSN(t testing.TB, conn *ldap.Conn) int64 {
	t.Helper()
	v := rootDSEValue(t, conn, "highestCommittedUSN")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("highestCommittedUSN %q: %v", v, err)
	}
	return n
}

// usnSearch pages a subtree search of the first domain, with Show Deleted
// when asked, as an incremental reader does.
func usnSearch(t testing.TB, conn *ldap.Conn, s *Servers, filter string, showDeleted bool) []*ldap.Entry {
	t.Helper()
	var base string
	s.State.Read(func(tn *Tenant) { base = tn.AD.Domains[0].BaseDN })
	var controls []ldap.Control
	if showDeleted {
		controls = append(controls, ldap.NewControlMicrosoftShowDeleted())
	}
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter,
		[]string{"distinguishedName", "objectGUID", "isDeleted", "uSNChanged", "lastKnownParent", "objectCategory"}, controls)
	res, err := conn.SearchWithPaging(req, 100)
	if err != nil {
		t.Fatalf("search %s: %v", filter, err)
	}
	return res.Entries
}

func TestLDAPUSNChangedFindsExactlyTheChanged(t *testing.T) {
	s := startIncremental(t)
	conn := ldapSDK(t, s)
	dsService := rootDSEValue(t, conn, "dsServiceName")
	before := highestUSN(t, conn)
	changedFilter := func(from int64) string { return fmt.Sprintf("(&(objectClass=user)(uSNChanged>=%d))", from) }
	if got := usnSearch(t, conn, s, changedFilter(before+1), true); len(got) != 0 {
		t.Fatalf("nothing changed, yet %d users have uSNChanged above highestCommittedUSN %d", len(got), before)
	}

	sum, err := s.State.Mutate(7, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	after := highestUSN(t, conn)
	wantWrites := int64(len(sum.Changes.ADUsers) + len(sum.Changes.ADUsersDeleted))
	if after != before+wantWrites {
		t.Errorf("highestCommittedUSN %d → %d, want +%d (one per object written)", before, after, wantWrites)
	}

	var live []string
	var deleted []string
	for _, e := range usnSearch(t, conn, s, changedFilter(before+1), true) {
		usn, err := strconv.ParseInt(e.GetAttributeValue("uSNChanged"), 10, 64)
		if err != nil || usn <= before || usn > after {
			t.Errorf("%s: uSNChanged %q outside (%d, %d]", e.DN, e.GetAttributeValue("uSNChanged"), before, after)
		}
		g, err := anchor.FromRaw(e.GetRawAttributeValue("objectGUID"))
		if err != nil {
			t.Fatalf("%s: objectGUID: %v", e.DN, err)
		}
		if e.GetAttributeValue("isDeleted") == "TRUE" {
			if e.GetAttributeValue("lastKnownParent") == "" || e.GetAttributeValue("objectCategory") != "" {
				t.Errorf("tombstone %s: lastKnownParent %q, objectCategory %q: not AD's tombstone shape", e.DN,
					e.GetAttributeValue("lastKnownParent"), e.GetAttributeValue("objectCategory"))
			}
			deleted = append(deleted, g.String())
			continue
		}
		live = append(live, e.DN)
	}
	sort.Strings(live)
	sort.Strings(deleted)
	var wantDeleted []string
	for _, d := range sum.Changes.ADUsersDeleted {
		wantDeleted = append(wantDeleted, d.ObjectGUID)
	}
	sort.Strings(wantDeleted)
	if diff := cmp.Diff(sum.Changes.ADUsers, live); diff != "" || len(live) == 0 {
		t.Errorf("uSNChanged>=%d live users (-changed by Mutate +found):\n%s", before+1, diff)
	}
	if diff := cmp.Diff(wantDeleted, deleted); diff != "" || len(deleted) == 0 {
		t.Errorf("uSNChanged>=%d tombstones (-deleted by Mutate +found):\n%s", before+1, diff)
	}

	if got := usnSearch(t, conn, s, changedFilter(before+1), false); len(got) != len(live) {
		t.Errorf("without Show Deleted: %d entries, want the %d live ones only", len(got), len(live))
	}
	if got := usnSearch(t, conn, s, "(&(objectCategory=person)(objectClass=user)(isDeleted=TRUE))", true); len(got) != 0 {
		t.Errorf("the collector's objectCategory filter matched %d tombstones; AD strips objectCategory from them", len(got))
	}

	// A modify through LDAP gets the next USN.
	target := sum.Changes.ADUsers[0]
	guid := anchor.GUID{}
	s.State.Read(func(tn *Tenant) {
		for _, u := range tn.AD.Users {
			if u.DistinguishedName == target {
				guid, _ = anchor.ParseGUID(u.ObjectGUID)
			}
		}
	})
	raw := guid.Raw()
	mod := ldap.NewModifyRequest(target, nil)
	mod.Replace("mS-DS-ConsistencyGuid", []string{string(raw[:])})
	if err := conn.Modify(mod); err != nil {
		t.Fatalf("modify %s: %v", target, err)
	}
	if got := highestUSN(t, conn); got != after+1 {
		t.Errorf("after one modify highestCommittedUSN %d, want %d", got, after+1)
	}
	got := usnSearch(t, conn, s, changedFilter(after+1), true)
	if len(got) != 1 || got[0].DN != target || got[0].GetAttributeValue("uSNChanged") != strconv.FormatInt(after+1, 10) {
		t.Errorf("uSNChanged>=%d after modifying %s: %d entries %v", after+1, target, len(got), got)
	}
	if v := rootDSEValue(t, conn, "dsServiceName"); v != dsService || v == "" {
		t.Errorf("dsServiceName %q changed to %q: a reader keys its high-water mark by it", dsService, v)
	}
}
