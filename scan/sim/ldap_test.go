package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

const (
	ldapTestBindDN   = "CN=anchorscan-reader,CN=Users,DC=corp,DC=contoso,DC=example"
	ldapTestPassword = "correct horse battery staple"
	ldapTestBase     = "DC=corp,DC=contoso,DC=example"
)

// ldapTestTenant builds n users under OU=Staff of corp.contoso.example with
// distinct GUIDs and SIDs; user i gets a ConsistencyGuid when i is odd, no
// mail when i%5 == 4, and is disabled (UAC 514) when i%3 == 2.
func ldapTestTenant(n int) *Tenant {
	t := &Tenant{Format: FormatV1, AD: AD{Domains: []ADDomain{{Name: "corp.contoso.example", BaseDN: ldapTestBase}}}}
	for i := range n {
		name := fmt.Sprintf("user%05d", i)
		u := ADUser{
			DistinguishedName:  "CN=" + name + ",OU=Staff," + ldapTestBase,
			ObjectGUID:         fmt.Sprintf("%08x-36fa-4ab8-9b17-851c5fda6f15", 0x7d5f0000+i),
			ObjectSID:          fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 2000+i),
			UserPrincipalName:  name + "@contoso.example",
			SAMAccountName:     name,
			Mail:               name + "@contoso.example",
			UserAccountControl: 512,
		}
		if i%2 == 1 {
			cg := fmt.Sprintf("%08x-c642-489b-84b6-58c038d3ef39", 0x3ab30000+i)
			u.MSDSConsistencyGUID = &cg
		}
		if i%5 == 4 {
			u.Mail = ""
		}
		if i%3 == 2 {
			u.UserAccountControl = 514
		}
		t.AD.Users = append(t.AD.Users, u)
	}
	return t
}

// startLDAPTest runs a plain-LDAP server over t and returns it with a bound
// go-ldap client.
func startLDAPTest(t *testing.T, tenant *Tenant, opts LDAPOptions) (*LDAPServer, *ldap.Conn) {
	t.Helper()
	if opts.BindDN == "" {
		opts.BindDN, opts.Password = ldapTestBindDN, ldapTestPassword
	}
	srv, err := NewLDAPServer(NewState(tenant), opts)
	if err != nil {
		t.Fatalf("NewLDAPServer: %v", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	conn := dialLDAPTest(t, srv)
	if err := conn.Bind(ldapTestBindDN, ldapTestPassword); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return srv, conn
}

func dialLDAPTest(t *testing.T, srv *LDAPServer) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL("ldap://" + srv.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func userSearch(base string, scope int, filter string, attrs ...string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

func TestLDAPStartReportsRealAddress(t *testing.T) {
	srv, _ := startLDAPTest(t, ldapTestTenant(1), LDAPOptions{})
	if addr := srv.Addr(); !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("Addr() = %q, want 127.0.0.1 with the port picked", addr)
	}
}

func TestLDAPRootDSE(t *testing.T) {
	tenant := ldapTestTenant(3)
	tenant.AD.Domains = append(tenant.AD.Domains, ADDomain{Name: "emea.contoso.example", BaseDN: "DC=emea,DC=contoso,DC=example"})
	srv, _ := startLDAPTest(t, tenant, LDAPOptions{})
	// Anonymous, as a client reads the rootDSE before binding.
	conn := dialLDAPTest(t, srv)
	res, err := conn.Search(userSearch("", ldap.ScopeBaseObject, "(objectClass=*)"))
	if err != nil {
		t.Fatalf("rootDSE search: %v", err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("rootDSE: %d entries, want 1", len(res.Entries))
	}
	root := res.Entries[0]
	if got := root.GetAttributeValue("defaultNamingContext"); got != ldapTestBase {
		t.Errorf("defaultNamingContext = %q, want %q", got, ldapTestBase)
	}
	for _, want := range []string{ldapTestBase, "DC=emea,DC=contoso,DC=example", "CN=Configuration," + ldapTestBase} {
		if !slices.Contains(root.GetAttributeValues("namingContexts"), want) {
			t.Errorf("namingContexts %q lacks %q", root.GetAttributeValues("namingContexts"), want)
		}
	}
	if !slices.Contains(root.GetAttributeValues("supportedControl"), "1.2.840.113556.1.4.319") {
		t.Errorf("supportedControl %q lacks the paged results control", root.GetAttributeValues("supportedControl"))
	}
	if !slices.Contains(root.GetAttributeValues("supportedLDAPVersion"), "3") {
		t.Errorf("supportedLDAPVersion = %q, want 3 among them", root.GetAttributeValues("supportedLDAPVersion"))
	}
	if got := root.GetAttributeValue("dnsHostName"); got != "dc01.corp.contoso.example" {
		t.Errorf("dnsHostName = %q", got)
	}

	// Only what was asked for.
	res, err = conn.Search(userSearch("", ldap.ScopeBaseObject, "(objectClass=*)", "defaultNamingContext"))
	if err != nil {
		t.Fatalf("rootDSE search with attribute list: %v", err)
	}
	if n := len(res.Entries[0].Attributes); n != 1 {
		t.Errorf("asked for one attribute, got %d", n)
	}
}

func TestLDAPBindAndAccess(t *testing.T) {
	srv, _ := startLDAPTest(t, ldapTestTenant(2), LDAPOptions{})
	tests := []struct {
		name     string
		bind     func(*ldap.Conn) error
		bindCode uint16
		// searchCode is the result of a user search afterwards.
		searchCode uint16
	}{
		{
			name:       "right password",
			bind:       func(c *ldap.Conn) error { return c.Bind(ldapTestBindDN, ldapTestPassword) },
			searchCode: ldap.LDAPResultSuccess,
		},
		{
			name: "bind DN in other case and spacing",
			bind: func(c *ldap.Conn) error {
				return c.Bind("cn=Anchorscan-Reader, cn=users, dc=corp,dc=contoso,dc=example", ldapTestPassword)
			},
			searchCode: ldap.LDAPResultSuccess,
		},
		{
			name:       "wrong password",
			bind:       func(c *ldap.Conn) error { return c.Bind(ldapTestBindDN, "wrong") },
			bindCode:   ldap.LDAPResultInvalidCredentials,
			searchCode: ldap.LDAPResultOperationsError,
		},
		{
			name:       "unknown account",
			bind:       func(c *ldap.Conn) error { return c.Bind("CN=nobody,"+ldapTestBase, ldapTestPassword) },
			bindCode:   ldap.LDAPResultInvalidCredentials,
			searchCode: ldap.LDAPResultOperationsError,
		},
		{
			name:       "anonymous",
			bind:       func(c *ldap.Conn) error { return c.UnauthenticatedBind("") },
			searchCode: ldap.LDAPResultOperationsError,
		},
		{
			name:       "no bind at all",
			bind:       func(*ldap.Conn) error { return nil },
			searchCode: ldap.LDAPResultOperationsError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialLDAPTest(t, srv)
			err := tt.bind(conn)
			if code := resultCode(err); code != tt.bindCode {
				t.Fatalf("bind: result %d (%v), want %d", code, err, tt.bindCode)
			}
			if err != nil && !strings.Contains(err.Error(), "52e") {
				t.Errorf("bind error %q lacks AD's data 52e", err)
			}
			_, err = conn.Search(userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)"))
			if code := resultCode(err); code != tt.searchCode {
				t.Errorf("search: result %d (%v), want %d", code, err, tt.searchCode)
			}
		})
	}
}

func resultCode(err error) uint16 {
	if err == nil {
		return ldap.LDAPResultSuccess
	}
	var lerr *ldap.Error
	if errors.As(err, &lerr) {
		return lerr.ResultCode
	}
	return 0xffff
}

func TestLDAPFilters(t *testing.T) {
	tenant := ldapTestTenant(6)
	_, conn := startLDAPTest(t, tenant, LDAPOptions{})
	user0 := tenant.AD.Users[0]
	guid0 := []byte{0x00, 0x00, 0x5f, 0x7d, 0xfa, 0x36, 0xb8, 0x4a, 0x9b, 0x17, 0x85, 0x1c, 0x5f, 0xda, 0x6f, 0x15}
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
		want   []string // DNs' first RDN values, sorted
	}{
		{"person users", ldapTestBase, ldap.ScopeWholeSubtree, "(&(objectCategory=person)(objectClass=user))",
			[]string{"user00000", "user00001", "user00002", "user00003", "user00004", "user00005"}},
		{"category as DN", ldapTestBase, ldap.ScopeWholeSubtree, "(objectCategory=CN=Person,CN=Schema,CN=Configuration," + ldapTestBase + ")",
			[]string{"user00000", "user00001", "user00002", "user00003", "user00004", "user00005"}},
		{"other category", ldapTestBase, ldap.ScopeWholeSubtree, "(objectCategory=group)", nil},
		{"equality ignores case", ldapTestBase, ldap.ScopeWholeSubtree, "(sAMAccountName=USER00003)", []string{"user00003"}},
		{"or", ldapTestBase, ldap.ScopeWholeSubtree, "(|(sAMAccountName=user00001)(userPrincipalName=user00002@contoso.example))", []string{"user00001", "user00002"}},
		{"not", ldapTestBase, ldap.ScopeWholeSubtree, "(&(objectClass=user)(!(sAMAccountName=user00000)))",
			[]string{"user00001", "user00002", "user00003", "user00004", "user00005"}},
		{"presence", ldapTestBase, ldap.ScopeWholeSubtree, "(&(objectClass=user)(!(mail=*)))", []string{"user00004"}},
		{"presence of a binary attribute", ldapTestBase, ldap.ScopeWholeSubtree, "(mS-DS-ConsistencyGuid=*)", []string{"user00001", "user00003", "user00005"}},
		{"binary equality", ldapTestBase, ldap.ScopeWholeSubtree, "(objectGUID=" + escapeFilterBytes(guid0) + ")", []string{"user00000"}},
		{"canonical-order GUID bytes do not match", ldapTestBase, ldap.ScopeWholeSubtree, "(objectGUID=\\7d\\5f\\00\\00\\36\\fa\\4a\\b8\\9b\\17\\85\\1c\\5f\\da\\6f\\15)", nil},
		{"SID string form", ldapTestBase, ldap.ScopeWholeSubtree, "(objectSid=" + user0.ObjectSID + ")", []string{"user00000"}},
		{"disabled bit", ldapTestBase, ldap.ScopeWholeSubtree, "(userAccountControl:1.2.840.113556.1.4.803:=2)", []string{"user00002", "user00005"}},
		{"integer equality", ldapTestBase, ldap.ScopeWholeSubtree, "(userAccountControl=0512)", []string{"user00000", "user00001", "user00003", "user00004"}},
		{"substring", ldapTestBase, ldap.ScopeWholeSubtree, "(sAMAccountName=user*3)", []string{"user00003"}},
		{"domain object", ldapTestBase, ldap.ScopeWholeSubtree, "(objectCategory=domainDNS)", []string{"corp"}},
		{"base scope on a user", user0.DistinguishedName, ldap.ScopeBaseObject, "(objectClass=*)", []string{"user00000"}},
		{"one level under the OU, all", "OU=Staff," + ldapTestBase, ldap.ScopeSingleLevel, "(objectClass=user)",
			[]string{"user00000", "user00001", "user00002", "user00003", "user00004", "user00005"}},
		{"one level under the domain holds no users", ldapTestBase, ldap.ScopeSingleLevel, "(objectClass=user)", nil},
		{"unknown attribute is undefined, and so is its negation", ldapTestBase, ldap.ScopeWholeSubtree, "(!(employeeID=42))", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := conn.Search(userSearch(tt.base, tt.scope, tt.filter, "cn", "name"))
			if err != nil {
				t.Fatalf("search %s: %v", tt.filter, err)
			}
			var got []string
			for _, e := range res.Entries {
				got = append(got, e.GetAttributeValue("name"))
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filter %s (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func escapeFilterBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "\\%02x", c)
	}
	return sb.String()
}

func TestLDAPNoSuchObject(t *testing.T) {
	_, conn := startLDAPTest(t, ldapTestTenant(2), LDAPOptions{})
	for _, base := range []string{"DC=fabrikam,DC=example", "OU=Nowhere," + ldapTestBase} {
		_, err := conn.Search(userSearch(base, ldap.ScopeWholeSubtree, "(objectClass=user)"))
		if code := resultCode(err); code != ldap.LDAPResultNoSuchObject {
			t.Errorf("search under %s: result %d (%v), want noSuchObject", base, code, err)
		}
	}
}

// TestLDAPBinaryAttributes reads the example fixture's ok-ad user and checks
// the bytes on the wire, not a decoding of them.
func TestLDAPBinaryAttributes(t *testing.T) {
	data, err := os.ReadFile("testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	var tenant Tenant
	if err := json.Unmarshal(data, &tenant); err != nil {
		t.Fatalf("example tenant: %v", err)
	}
	cg := "8c4ac332-975f-4717-ad7b-ba4a4e968fff"
	for i := range tenant.AD.Users {
		if tenant.AD.Users[i].SAMAccountName == "wrong-domain" {
			tenant.AD.Users[i].MSDSConsistencyGUID = &cg
		}
	}
	_, conn := startLDAPTest(t, &tenant, LDAPOptions{})

	tests := []struct {
		name            string
		sam             string
		wantGUID        string // base64 of the raw objectGUID
		wantConsistency string // base64, "" for absent
		wantSID         []byte
	}{
		{
			name:     "ok-ad without ConsistencyGuid",
			sam:      "ok-ad",
			wantGUID: "Pqlfffo2uEqbF4UcX9pvFQ==",
			wantSID: []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0,
				0xdc, 0xf4, 0xdc, 0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x4d, 0x04, 0, 0},
		},
		{
			name:            "wrong-domain with ConsistencyGuid",
			sam:             "wrong-domain",
			wantGUID:        "lP9PmrXP6k+jpYW40FAKtw==",
			wantConsistency: "MsNKjF+XF0ete7pKTpaP/w==",
			wantSID: []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0,
				0xdc, 0xf4, 0xdc, 0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x4e, 0x04, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := conn.Search(userSearch(ldapTestBase, ldap.ScopeWholeSubtree,
				"(sAMAccountName="+tt.sam+")", "objectGUID", "mS-DS-ConsistencyGuid", "objectSid", "whenChanged", "uSNChanged"))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) != 1 {
				t.Fatalf("%d entries, want 1", len(res.Entries))
			}
			e := res.Entries[0]
			if got := base64.StdEncoding.EncodeToString(e.GetRawAttributeValue("objectGUID")); got != tt.wantGUID {
				t.Errorf("base64(objectGUID) = %s, want %s", got, tt.wantGUID)
			}
			raw := e.GetRawAttributeValues("mS-DS-ConsistencyGuid")
			switch {
			case tt.wantConsistency == "" && len(raw) != 0:
				t.Errorf("mS-DS-ConsistencyGuid present (%x), want absent", raw)
			case tt.wantConsistency != "" && (len(raw) != 1 || base64.StdEncoding.EncodeToString(raw[0]) != tt.wantConsistency):
				t.Errorf("mS-DS-ConsistencyGuid = %x, want base64 %s", raw, tt.wantConsistency)
			}
			if got := e.GetRawAttributeValue("objectSid"); !bytes.Equal(got, tt.wantSID) {
				t.Errorf("objectSid = % x, want % x", got, tt.wantSID)
			}
			if got := e.GetAttributeValue("whenChanged"); got != ldapWhenChanged {
				t.Errorf("whenChanged = %q", got)
			}
			if e.GetAttributeValue("uSNChanged") == "" {
				t.Error("uSNChanged missing")
			}
			if len(e.Attributes) != 4+len(raw) {
				t.Errorf("got attributes %v, want only the requested ones", attributeNamesOf(e))
			}
		})
	}
}

func attributeNamesOf(e *ldap.Entry) []string {
	var out []string
	for _, a := range e.Attributes {
		out = append(out, a.Name)
	}
	return out
}

func TestLDAPSizeLimitWithoutPaging(t *testing.T) {
	_, conn := startLDAPTest(t, ldapTestTenant(25), LDAPOptions{MaxPageSize: 10})
	res, err := conn.Search(userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)", "sAMAccountName"))
	if code := resultCode(err); code != ldap.LDAPResultSizeLimitExceeded {
		t.Fatalf("unpaged search of 25 users with MaxPageSize 10: result %d (%v), want sizeLimitExceeded", code, err)
	}
	if res == nil || len(res.Entries) != 10 {
		t.Fatalf("got %d entries before sizeLimitExceeded, want 10", len(res.Entries))
	}

	// Exactly MaxPageSize entries fit without the error.
	_, conn = startLDAPTest(t, ldapTestTenant(10), LDAPOptions{MaxPageSize: 10})
	if _, err := conn.Search(userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)")); err != nil {
		t.Fatalf("unpaged search of exactly MaxPageSize users: %v", err)
	}
}

// pageSizes runs a paged search by hand and returns each page's length.
func pageSizes(t *testing.T, conn *ldap.Conn, req *ldap.SearchRequest, size uint32) ([]int, map[string]int) {
	t.Helper()
	paging := ldap.NewControlPaging(size)
	req.Controls = []ldap.Control{paging}
	var pages []int
	seen := map[string]int{}
	for {
		res, err := conn.Search(req)
		if err != nil {
			t.Fatalf("page %d: %v", len(pages)+1, err)
		}
		pages = append(pages, len(res.Entries))
		for _, e := range res.Entries {
			seen[e.DN]++
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok {
			t.Fatalf("page %d has no paging control", len(pages))
		}
		if len(ctrl.Cookie) == 0 {
			return pages, seen
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

func TestLDAPPaging(t *testing.T) {
	tests := []struct {
		name      string
		users     int
		maxPage   int
		requested uint32
		want      []int
	}{
		{"smaller than MaxPageSize", 25, 10, 7, []int{7, 7, 7, 4}},
		{"capped at MaxPageSize", 25, 10, 5000, []int{10, 10, 5}},
		{"exact multiple ends with an empty cookie", 20, 10, 10, []int{10, 10}},
		{"AD default of 1000", 2100, 0, 5000, []int{1000, 1000, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, conn := startLDAPTest(t, ldapTestTenant(tt.users), LDAPOptions{MaxPageSize: tt.maxPage})
			pages, seen := pageSizes(t, conn, userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(&(objectCategory=person)(objectClass=user))", "sAMAccountName"), tt.requested)
			if diff := cmp.Diff(tt.want, pages); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if len(seen) != tt.users {
				t.Errorf("read %d distinct users, want %d", len(seen), tt.users)
			}
			for dn, n := range seen {
				if n != 1 {
					t.Errorf("%s read %d times", dn, n)
				}
			}
		})
	}
}

func TestLDAPPagingCookies(t *testing.T) {
	srv, conn := startLDAPTest(t, ldapTestTenant(25), LDAPOptions{MaxPageSize: 10})
	req := userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)")
	paging := ldap.NewControlPaging(10)
	req.Controls = []ldap.Control{paging}
	res, err := conn.Search(req)
	if err != nil {
		t.Fatal(err)
	}
	cookie := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie
	if len(cookie) == 0 {
		t.Fatal("first of three pages returned no cookie")
	}

	t.Run("cookie from another connection", func(t *testing.T) {
		other := dialLDAPTest(t, srv)
		if err := other.Bind(ldapTestBindDN, ldapTestPassword); err != nil {
			t.Fatal(err)
		}
		p := ldap.NewControlPaging(10)
		p.SetCookie(cookie)
		r := userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)")
		r.Controls = []ldap.Control{p}
		if _, err := other.Search(r); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
			t.Errorf("foreign cookie: %v, want unwillingToPerform", err)
		}
	})
	t.Run("made-up cookie", func(t *testing.T) {
		p := ldap.NewControlPaging(10)
		p.SetCookie([]byte("not a cookie"))
		r := userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)")
		r.Controls = []ldap.Control{p}
		if _, err := conn.Search(r); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
			t.Errorf("made-up cookie: %v, want unwillingToPerform", err)
		}
	})
	t.Run("abandon with page size 0", func(t *testing.T) {
		paging.SetCookie(cookie)
		paging.PagingSize = 0
		res, err := conn.Search(req)
		if err != nil {
			t.Fatalf("abandon: %v", err)
		}
		if len(res.Entries) != 0 {
			t.Errorf("abandon returned %d entries", len(res.Entries))
		}
		// The abandoned cookie is gone.
		paging.PagingSize = 10
		if _, err := conn.Search(req); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
			t.Errorf("reusing an abandoned cookie: %v, want unwillingToPerform", err)
		}
	})
}

func TestLDAPDropAfterEntries(t *testing.T) {
	_, conn := startLDAPTest(t, ldapTestTenant(30), LDAPOptions{MaxPageSize: 10, DropAfterEntries: 15})
	req := userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)")
	paging := ldap.NewControlPaging(10)
	req.Controls = []ldap.Control{paging}
	res, err := conn.Search(req)
	if err != nil || len(res.Entries) != 10 {
		t.Fatalf("first page: %d entries, %v; want 10 and no error", len(res.Entries), err)
	}
	paging.SetCookie(ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie)
	res, err = conn.Search(req)
	if err == nil {
		t.Fatalf("second page completed with %d entries; want the connection dropped after 5", len(res.Entries))
	}
	// go-ldap reports the closed socket as a network error or, when the
	// reader notices first, as an unwrapped EOF.
	if !strings.Contains(err.Error(), "EOF") && resultCode(err) != ldap.ErrorNetwork {
		t.Errorf("second page error %v (code %d), want the connection closed", err, resultCode(err))
	}
	if res != nil && len(res.Entries) > 5 {
		t.Errorf("second page delivered %d entries, want at most 5 before the drop", len(res.Entries))
	}
}

func TestLDAPRewriteAttribute(t *testing.T) {
	tenant := ldapTestTenant(2)
	victim := tenant.AD.Users[1].DistinguishedName
	_, conn := startLDAPTest(t, tenant, LDAPOptions{RewriteAttribute: func(dn, attr string, vals [][]byte) [][]byte {
		if dn == victim && attr == "objectGUID" {
			return [][]byte{vals[0][:15]}
		}
		return vals
	}})
	res, err := conn.Search(userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)", "objectGUID"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Entries {
		want := 16
		if e.DN == victim {
			want = 15
		}
		if got := len(e.GetRawAttributeValue("objectGUID")); got != want {
			t.Errorf("%s: objectGUID of %d bytes, want %d", e.DN, got, want)
		}
	}
}

func TestLDAPSeesStateUpdates(t *testing.T) {
	tenant := ldapTestTenant(3)
	st := NewState(tenant)
	srv, err := NewLDAPServer(st, LDAPOptions{BindDN: ldapTestBindDN, Password: ldapTestPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn := dialLDAPTest(t, srv)
	if err := conn.Bind(ldapTestBindDN, ldapTestPassword); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		res, err := conn.Search(userSearch(ldapTestBase, ldap.ScopeWholeSubtree, "(objectClass=user)", "1.1"))
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Entries)
	}
	if n := count(); n != 3 {
		t.Fatalf("before update: %d users, want 3", n)
	}
	if err := st.Update(func(t *Tenant) error {
		t.AD.Users = t.AD.Users[:1]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after update: %d users, want 1", n)
	}
}

func TestLDAPRefusesWrites(t *testing.T) {
	tenant := ldapTestTenant(1)
	_, conn := startLDAPTest(t, tenant, LDAPOptions{})
	dn := tenant.AD.Users[0].DistinguishedName
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("mail", []string{"x@contoso.example"})
	add := ldap.NewAddRequest("CN=new,OU=Staff,"+ldapTestBase, nil)
	add.Attribute("objectClass", []string{"user"})
	tests := []struct {
		name string
		do   func() error
	}{
		{"modify of another attribute than mS-DS-ConsistencyGuid", func() error { return conn.Modify(mod) }},
		{"add", func() error { return conn.Add(add) }},
		{"delete", func() error { return conn.Del(ldap.NewDelRequest(dn, nil)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
				t.Errorf("%s: %v, want unwillingToPerform", tt.name, err)
			}
		})
	}
	// The connection is still usable afterwards.
	if _, err := conn.Search(userSearch(dn, ldap.ScopeBaseObject, "(objectClass=*)")); err != nil {
		t.Errorf("search after refused writes: %v", err)
	}
}

func TestNewLDAPServerRejectsBadOptions(t *testing.T) {
	st := NewState(ldapTestTenant(1))
	tests := []struct {
		name string
		opts LDAPOptions
		want string
	}{
		{"no credentials", LDAPOptions{}, "BindDN and Password"},
		{"negative page size", LDAPOptions{BindDN: "x", Password: "y", MaxPageSize: -1}, "MaxPageSize"},
		{"StartTLS without certificate", LDAPOptions{BindDN: "x", Password: "y", StartTLS: true}, "TLSConfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLDAPServer(st, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewLDAPServer: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestEncodeSID(t *testing.T) {
	tests := []struct {
		name    string
		sid     string
		want    []byte
		wantErr string
	}{
		{"well-known", "S-1-5-32-544", []byte{1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0}, ""},
		{"no sub-authority", "S-1-0", []byte{1, 0, 0, 0, 0, 0, 0, 0}, ""},
		{"not a SID", "X-1-5", nil, "want S-"},
		{"bad sub-authority", "S-1-5-21-x", nil, "sub-authority 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeSID(tt.sid)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encodeSID(%q) error %v, want %q", tt.sid, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("encodeSID(%q) = % x, %v; want % x", tt.sid, got, err, tt.want)
			}
		})
	}
}

// rawGUID is the raw (LDAP) form of a canonical GUID string.
func rawGUID(t *testing.T, s string) []byte {
	t.Helper()
	g, err := anchor.ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	raw := g.Raw()
	return raw[:]
}

// ldapChangeSpec is one change of a modify request in a test table.
type ldapChangeSpec struct {
	op     string // add, delete, replace
	values [][]byte
}

func modifyRequest(dn string, changes []ldapChangeSpec) *ldap.ModifyRequest {
	req := ldap.NewModifyRequest(dn, nil)
	for _, c := range changes {
		vals := make([]string, len(c.values))
		for i, v := range c.values {
			vals[i] = string(v)
		}
		switch c.op {
		case "add":
			req.Add("mS-DS-ConsistencyGuid", vals)
		case "delete":
			req.Delete("mS-DS-ConsistencyGuid", vals)
		case "replace":
			req.Replace("mS-DS-ConsistencyGuid", vals)
		}
	}
	return req
}

// consistencyOf reads the user's mS-DS-ConsistencyGuid through LDAP and
// through the state, failing when the two disagree.
func consistencyOf(t *testing.T, st *State, conn *ldap.Conn, dn string) []byte {
	t.Helper()
	res, err := conn.Search(userSearch(dn, ldap.ScopeBaseObject, "(objectClass=*)", "mS-DS-ConsistencyGuid"))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read back %s: %v", dn, err)
	}
	overLDAP := res.Entries[0].GetRawAttributeValue("mS-DS-ConsistencyGuid")
	var inState []byte
	st.Read(func(tn *Tenant) {
		for _, u := range tn.AD.Users {
			if strings.EqualFold(u.DistinguishedName, dn) && u.MSDSConsistencyGUID != nil {
				inState = rawGUID(t, *u.MSDSConsistencyGUID)
			}
		}
	})
	if !bytes.Equal(overLDAP, inState) {
		t.Fatalf("LDAP serves %x but the state holds %x", overLDAP, inState)
	}
	if len(overLDAP) == 0 {
		return nil
	}
	return overLDAP
}

func TestLDAPModifyConsistencyGUID(t *testing.T) {
	seed := ldapTestTenant(2)
	absentDN := seed.AD.Users[0].DistinguishedName // user 0 has no ConsistencyGuid
	presentDN := seed.AD.Users[1].DistinguishedName
	current := rawGUID(t, *seed.AD.Users[1].MSDSConsistencyGUID)
	next := rawGUID(t, "8c4ac332-975f-4717-ad7b-ba4a4e968fff")
	other := rawGUID(t, "3ab39606-c642-489b-84b6-58c038d3ef39")
	tests := []struct {
		name    string
		dn      string
		changes []ldapChangeSpec
		code    uint16
		want    []byte // the value afterwards; nil when absent
	}{
		{
			name:    "swap with the right old value",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"delete", [][]byte{current}}, {"add", [][]byte{next}}},
			want:    next,
		},
		{
			name:    "swap with a wrong old value changes nothing",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"delete", [][]byte{other}}, {"add", [][]byte{next}}},
			code:    ldap.LDAPResultNoSuchAttribute,
			want:    current,
		},
		{
			name:    "swap when the attribute is absent",
			dn:      absentDN,
			changes: []ldapChangeSpec{{"delete", [][]byte{other}}, {"add", [][]byte{next}}},
			code:    ldap.LDAPResultNoSuchAttribute,
		},
		{
			name:    "add to an absent attribute",
			dn:      absentDN,
			changes: []ldapChangeSpec{{"add", [][]byte{next}}},
			want:    next,
		},
		{
			name:    "add on top of a value",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"add", [][]byte{next}}},
			code:    ldap.LDAPResultAttributeOrValueExists,
			want:    current,
		},
		{
			name:    "add two values at once",
			dn:      absentDN,
			changes: []ldapChangeSpec{{"add", [][]byte{next, other}}},
			code:    ldap.LDAPResultAttributeOrValueExists,
		},
		{
			name:    "a later change failing undoes the earlier ones",
			dn:      absentDN,
			changes: []ldapChangeSpec{{"add", [][]byte{next}}, {"add", [][]byte{other}}},
			code:    ldap.LDAPResultAttributeOrValueExists,
		},
		{
			name:    "replace",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"replace", [][]byte{next}}},
			want:    next,
		},
		{
			name:    "replace with nothing clears",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"replace", nil}},
		},
		{
			name:    "delete the value",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"delete", [][]byte{current}}},
		},
		{
			name:    "delete the whole attribute",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"delete", nil}},
		},
		{
			name:    "delete an absent attribute",
			dn:      absentDN,
			changes: []ldapChangeSpec{{"delete", nil}},
			code:    ldap.LDAPResultNoSuchAttribute,
		},
		{
			name:    "a value that is not 16 bytes",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"replace", [][]byte{[]byte("short")}}},
			code:    ldap.LDAPResultConstraintViolation,
			want:    current,
		},
		{
			name:    "delete then add in one request, as a swap from a known value",
			dn:      presentDN,
			changes: []ldapChangeSpec{{"delete", nil}, {"add", [][]byte{other}}},
			want:    other,
		},
		{
			name:    "DN spelt in another case",
			dn:      strings.ToUpper(absentDN),
			changes: []ldapChangeSpec{{"add", [][]byte{next}}},
			want:    next,
		},
		{
			name:    "no such object",
			dn:      "CN=nobody,OU=Staff," + ldapTestBase,
			changes: []ldapChangeSpec{{"add", [][]byte{next}}},
			code:    ldap.LDAPResultNoSuchObject,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := ldapTestTenant(2)
			srv, conn := startLDAPTest(t, tenant, LDAPOptions{})
			err := conn.Modify(modifyRequest(tt.dn, tt.changes))
			if code := resultCode(err); code != tt.code {
				t.Fatalf("modify: result %d (%v), want %d", code, err, tt.code)
			}
			if tt.code == ldap.LDAPResultNoSuchObject {
				return
			}
			if got := consistencyOf(t, srv.st, conn, strings.ToLower(tt.dn)); !bytes.Equal(got, tt.want) {
				t.Errorf("afterwards %x, want %x", got, tt.want)
			}
		})
	}
}

func TestLDAPModifyNeedsTheBoundAccount(t *testing.T) {
	tenant := ldapTestTenant(2)
	srv, reader := startLDAPTest(t, tenant, LDAPOptions{})
	dn := tenant.AD.Users[1].DistinguishedName
	before := consistencyOf(t, srv.st, reader, dn)
	tests := []struct {
		name string
		bind func(*ldap.Conn) error
	}{
		{"no bind", func(*ldap.Conn) error { return nil }},
		{"anonymous", func(c *ldap.Conn) error { return c.UnauthenticatedBind("") }},
		{"failed bind", func(c *ldap.Conn) error {
			if err := c.Bind(ldapTestBindDN, "wrong"); err == nil {
				return errors.New("wrong password accepted")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialLDAPTest(t, srv)
			if err := tt.bind(conn); err != nil {
				t.Fatal(err)
			}
			err := conn.Modify(modifyRequest(dn, []ldapChangeSpec{{"replace", [][]byte{rawGUID(t, "8c4ac332-975f-4717-ad7b-ba4a4e968fff")}}}))
			if code := resultCode(err); code != ldap.LDAPResultInsufficientAccessRights {
				t.Fatalf("modify: result %d (%v), want insufficientAccessRights", code, err)
			}
			if got := consistencyOf(t, srv.st, reader, dn); !bytes.Equal(got, before) {
				t.Errorf("value changed to %x by a refused modify", got)
			}
		})
	}
}

// TestLDAPModifyCompareAndSwapIsAtomic races writers that all expect the
// same old value: exactly one may win.
func TestLDAPModifyCompareAndSwapIsAtomic(t *testing.T) {
	tenant := ldapTestTenant(2)
	srv, conn := startLDAPTest(t, tenant, LDAPOptions{})
	dn := tenant.AD.Users[1].DistinguishedName
	old := rawGUID(t, *tenant.AD.Users[1].MSDSConsistencyGUID)
	const writers = 8
	results := make(chan error, writers)
	values := make([][]byte, writers)
	for i := range writers {
		values[i] = rawGUID(t, fmt.Sprintf("%08x-975f-4717-ad7b-ba4a4e968fff", 0x8c4a0000+i))
		w := dialLDAPTest(t, srv)
		if err := w.Bind(ldapTestBindDN, ldapTestPassword); err != nil {
			t.Fatal(err)
		}
		go func() {
			results <- w.Modify(modifyRequest(dn, []ldapChangeSpec{{"delete", [][]byte{old}}, {"add", [][]byte{values[i]}}}))
		}()
	}
	won := 0
	for range writers {
		switch err := <-results; resultCode(err) {
		case ldap.LDAPResultSuccess:
			won++
		case ldap.LDAPResultNoSuchAttribute:
		default:
			t.Errorf("writer: %v, want success or noSuchAttribute", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won the swap, want exactly 1", won)
	}
	got := consistencyOf(t, srv.st, conn, dn)
	if !slices.ContainsFunc(values, func(v []byte) bool { return bytes.Equal(v, got) }) {
		t.Errorf("afterwards %x, which no writer wrote", got)
	}
}
