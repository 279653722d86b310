package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// graphDeltaRound follows a delta round through the SDK from first (a
// deltaLink, or "" for the initial call with $select) to its deltaLink.
func graphDeltaRound(t testing.TB, client *msgraphsdk.GraphServiceClient, first string, pageSize string) (changed []models.Userable, removed []string, deltaLink string, pages int) {
	t.Helper()
	ctx := context.Background()
	headers := abs.NewRequestHeaders()
	if pageSize != "" {
		headers.Add("Prefer", "odata.maxpagesize="+pageSize)
	}
	cfg := &users.DeltaRequestBuilderGetRequestConfiguration{
		Headers: headers,
		QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{
			Select: []string{"id", "userPrincipalName", "onPremisesImmutableId", "accountEnabled"},
		},
	}
	builder := client.Users().Delta()
	if first != "" {
		builder = builder.WithUrl(first)
		cfg.QueryParameters = nil
	}
	for {
		pages++
		if pages > 1000 {
			t.Fatal("more than 1,000 delta pages")
		}
		resp, err := builder.GetAsDeltaGetResponse(ctx, cfg)
		if err != nil {
			t.Fatalf("users delta page %d: %v", pages, err)
		}
		for _, u := range resp.GetValue() {
			if r, ok := u.GetAdditionalData()["@removed"]; ok && r != nil {
				removed = append(removed, *u.GetId())
				continue
			}
			changed = append(changed, u)
		}
		if next := resp.GetOdataNextLink(); next != nil {
			builder = client.Users().Delta().WithUrl(*next)
			cfg.QueryParameters = nil
			continue
		}
		link := resp.GetOdataDeltaLink()
		if link == nil {
			t.Fatalf("delta page %d has neither @odata.nextLink nor @odata.deltaLink", pages)
		}
		return changed, removed, *link, pages
	}
}

func graphUserIDs(us []models.Userable) []string {
	ids := make([]string, 0, len(us))
	for _, u := range us {
		ids = append(ids, *u.GetId())
	}
	sort.Strings(ids)
	return ids
}

func TestGraphUsersDeltaReturnsExactlyTheChanged(t *testing.T) {
	s := startIncremental(t)
	client := graphSDK(t, s)

	all, removed, deltaLink, pages := graphDeltaRound(t, client, "", "150")
	var want []string
	anchors := map[string]string{}
	s.State.Read(func(tn *Tenant) {
		for _, u := range tn.Entra.Users {
			want = append(want, u.ID)
			if u.OnPremisesImmutableID != nil {
				anchors[u.ID] = *u.OnPremisesImmutableID
			}
		}
	})
	sort.Strings(want)
	if diff := cmp.Diff(want, graphUserIDs(all)); diff != "" || len(removed) != 0 {
		t.Fatalf("initial round (-tenant +delta), %d removed:\n%s", len(removed), diff)
	}
	if wantPages := (len(want) + 149) / 150; pages != wantPages {
		t.Errorf("initial round of %d users in %d pages, want %d at odata.maxpagesize=150", len(want), pages, wantPages)
	}
	for _, u := range all {
		if got := u.GetOnPremisesImmutableId(); anchors[*u.GetId()] != "" && (got == nil || *got != anchors[*u.GetId()]) {
			t.Fatalf("user %s: onPremisesImmutableId %v, want %q ($select names it)", *u.GetId(), got, anchors[*u.GetId()])
		}
	}

	again, removedAgain, sameLink, _ := graphDeltaRound(t, client, deltaLink, "")
	if len(again) != 0 || len(removedAgain) != 0 {
		t.Errorf("nothing changed, yet the delta link returned %d users and %d removals", len(again), len(removedAgain))
	}

	sum, err := s.State.Mutate(7, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	changed, removed, next, _ := graphDeltaRound(t, client, sameLink, "5")
	if diff := cmp.Diff(sum.Changes.EntraUsers, graphUserIDs(changed)); diff != "" {
		t.Errorf("incremental round (-changed by Mutate +returned):\n%s", diff)
	}
	sort.Strings(removed)
	if diff := cmp.Diff(sum.Changes.EntraUsersRemoved, removed); diff != "" || len(removed) == 0 {
		t.Errorf("incremental round removals (-deleted by Mutate +@removed):\n%s", diff)
	}
	var cleared int
	for _, u := range changed {
		if u.GetOnPremisesImmutableId() == nil {
			cleared++
		}
	}
	if cleared < sum.Counts[MutationEntraAnchorCleared] {
		t.Errorf("%d changed users have no anchor, want at least the %d cleared", cleared, sum.Counts[MutationEntraAnchorCleared])
	}

	// A write through Graph shows in the next round, and only it.
	var target string
	s.State.Read(func(tn *Tenant) {
		for _, u := range tn.Entra.Users {
			if (u.OnPremisesSyncEnabled == nil || !*u.OnPremisesSyncEnabled) && u.UserType == "Member" {
				target = u.ID
				break
			}
		}
	})
	patch := models.NewUser()
	name := "Renamed by the delta test"
	patch.SetDisplayName(&name)
	if _, err := client.Users().ByUserId(target).Patch(context.Background(), patch, nil); err != nil {
		t.Fatalf("PATCH %s: %v", target, err)
	}
	changed, removed, _, _ = graphDeltaRound(t, client, next, "")
	if got := graphUserIDs(changed); !slices.Equal(got, []string{target}) || len(removed) != 0 {
		t.Errorf("after one PATCH the delta round returned %v and removals %v, want just %s", got, removed, target)
	}
}

// graphGet fetches a path or absolute URL of the fake with its token.
func graphGet(t testing.TB, s *Servers, target string, header http.Header) (int, map[string]any) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = strings.TrimSuffix(s.GraphURL, "/v1.0") + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+s.GraphToken)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("GET %s: body is not JSON: %s", target, raw)
	}
	return resp.StatusCode, body
}

func TestGraphUsersDeltaSelectAndErrors(t *testing.T) {
	s := startIncremental(t)
	status, body := graphGet(t, s, "/v1.0/users/delta", http.Header{"Prefer": {"odata.maxpagesize=3"}})
	if status != http.StatusOK {
		t.Fatalf("GET users/delta: %d %v", status, body)
	}
	for _, u := range graphValue(t, body) {
		if _, ok := u["onPremisesImmutableId"]; ok {
			t.Errorf("onPremisesImmutableId served without $select: %v", u)
		}
	}
	if n := len(graphValue(t, body)); n != 3 {
		t.Errorf("odata.maxpagesize=3 served %d users", n)
	}
	next, _ := body["@odata.nextLink"].(string)
	if !strings.Contains(next, "$skiptoken=") {
		t.Fatalf("first page nextLink %q has no $skiptoken", next)
	}
	status, body = graphGet(t, s, "/v1.0/users/delta()?$select=id,onPremisesImmutableId", http.Header{"Prefer": {"odata.maxpagesize=3"}})
	if status != http.StatusOK {
		t.Fatalf("GET users/delta(): %d %v", status, body)
	}
	for _, u := range graphValue(t, body) {
		if keys := graphKeys(u); !slices.Equal(keys, []string{"id", "onPremisesImmutableId"}) {
			t.Errorf("$select=id,onPremisesImmutableId served %v", keys)
		}
	}
	// Run one full round to hold a delta link, then expire the history.
	_, _, deltaLink, _ := graphDeltaRound(t, graphSDK(t, s), "", "")

	forged := url.QueryEscape("not-a-token")
	tests := []struct {
		name     string
		path     string
		header   http.Header
		wantCode string
	}{
		{name: "forged delta token", path: "/v1.0/users/delta()?$deltatoken=" + forged, wantCode: graphCodeSyncStateNotFound},
		{name: "forged skip token", path: "/v1.0/users/delta()?$skiptoken=" + forged, wantCode: graphCodeSyncStateNotFound},
		{name: "$top is not supported", path: "/v1.0/users/delta?$top=5", wantCode: "Request_UnsupportedQuery"},
		{name: "$filter is not supported", path: "/v1.0/users/delta?$filter=" + url.QueryEscape("id eq 'x'"), wantCode: "Request_UnsupportedQuery"},
		{name: "unknown property", path: "/v1.0/users/delta?$select=nope", wantCode: "Request_BadRequest"},
		{name: "page size zero", path: "/v1.0/users/delta", header: http.Header{"Prefer": {"odata.maxpagesize=0"}}, wantCode: "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := graphGet(t, s, tt.path, tt.header)
			if status != http.StatusBadRequest || graphErrorCode(body) != tt.wantCode {
				t.Errorf("GET %s: %d %s, want 400 %s: %v", tt.path, status, graphErrorCode(body), tt.wantCode, body)
			}
		})
	}

	s.State.ExpireDeltaTokens()
	status, body = graphGet(t, s, deltaLink, nil)
	if status != http.StatusBadRequest || graphErrorCode(body) != graphCodeSyncStateNotFound {
		t.Fatalf("expired delta link: %d %v, want 400 %s", status, body, graphCodeSyncStateNotFound)
	}
	_, err := graphSDK(t, s).Users().Delta().WithUrl(deltaLink).GetAsDeltaGetResponse(context.Background(), nil)
	var odataErr *odataerrors.ODataError
	if !errors.As(err, &odataErr) || odataErr.GetErrorEscaped() == nil || *odataErr.GetErrorEscaped().GetCode() != graphCodeSyncStateNotFound {
		t.Errorf("the SDK sees %v, want an ODataError with code %s", err, graphCodeSyncStateNotFound)
	}
}

// TestGraphUsersDeltaMatchesVendorDescriptions validates delta pages, an
// incremental one with removals included, against the OpenAPI subset and
// the CSDL. A removed item is checked for Graph's shape and then without
// its @removed annotation, which neither description models.
func TestGraphUsersDeltaMatchesVendorDescriptions(t *testing.T) {
	spec := loadGraphOpenAPI(t)
	csdl := loadGraphCSDL(t)
	s := startIncremental(t)
	sel := "$select=" + strings.Join(userProperties, ",")
	first := "/v1.0/users/delta()?" + sel
	status, body := graphGet(t, s, first, http.Header{"Prefer": {"odata.maxpagesize=50"}})
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, body)
	}
	pages := []map[string]any{body}
	next, _ := body["@odata.nextLink"].(string)
	_, _, deltaLink, _ := graphDeltaRound(t, graphSDK(t, s), "", "")
	if _, err := s.State.Mutate(5, 0.02); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{next, deltaLink} {
		status, body := graphGet(t, s, link, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %v", link, status, body)
		}
		pages = append(pages, body)
	}
	sawRemoved := false
	for i, page := range pages {
		for _, item := range graphValue(t, page) {
			r, ok := item["@removed"]
			if !ok {
				continue
			}
			sawRemoved = true
			reason, _ := r.(map[string]any)["reason"].(string)
			if reason != "changed" && reason != "deleted" || item["id"] == nil || len(item) != 3 || item["@odata.type"] != "#microsoft.graph.user" {
				t.Errorf("page %d: removed item %v is not {@odata.type, id, @removed{reason}}", i, item)
			}
			delete(item, "@removed")
		}
		raw, err := json.Marshal(page)
		if err != nil {
			t.Fatal(err)
		}
		c := graphSpecCase{path: "/v1.0/users/delta()?" + sel, wantStatus: 200, entity: "user", collection: true}
		got := graphCapture{method: http.MethodGet, path: c.path, status: 200, header: http.Header{"Content-Type": {graphContentType}}, body: raw}
		if covered, _ := spec.validate(got); !covered {
			t.Fatal("the OpenAPI subset does not describe /users/delta()")
		}
		for _, err := range validateGraphResponse(spec, csdl, c, got) {
			t.Errorf("page %d: %v", i, err)
		}
		if i == 0 {
			// The check can fail: a value that is not an array is caught.
			page["value"] = "users"
			bad, _ := json.Marshal(page)
			got.body = bad
			if errs := validateGraphResponse(spec, csdl, c, got); len(errs) == 0 {
				t.Error("a corrupted delta page passed validation")
			}
		}
	}
	if !sawRemoved {
		t.Error("the incremental page carried no removed user: the mutation should have deleted one")
	}
}
