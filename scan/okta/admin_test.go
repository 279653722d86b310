package okta

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/sim"
)

const (
	adminO365     = "0oarv2cjxy7hgdpplev4"
	adminOKAD     = "00utlmfhatxriapc6uir" // assigned, linked to Entra adminOKADEnt
	adminOKADEnt  = "3cd49c6d-00b7-4439-932a-b4141082be29"
	adminCloud    = "00un2qvsh5pynh4377ty" // cloud-only; its O365 assignment is removed below
	adminLicSKU   = "6fd2c87f-b296-42f0-b197-1e91e994b900"
	recommendExpr = `hasDirectoryUser()?findDirectoryUser().externalId:user.getInternalProperty("id")`
	defaultExpr   = `hasDirectoryUser()?findDirectoryUser().externalId:null`
)

// fakeAdmin serves the example tenant (the cloud user unassigned, the
// ok-ad Entra user licensed) through the fake Okta and returns an Admin on
// the SDK and the shared state to check side effects in.
func fakeAdmin(t testing.TB, edit func(*sim.Tenant), wrap func(http.Handler) http.Handler) (*Admin, *sim.State) {
	t.Helper()
	isolateSDK(t)
	tenant := loadExampleTenant(t)
	tenant.Okta.AppUsers = slices.DeleteFunc(tenant.Okta.AppUsers, func(au sim.OktaAppUser) bool {
		return au.AppID == adminO365 && au.UserID == adminCloud
	})
	for i := range tenant.Entra.Users {
		if tenant.Entra.Users[i].ID == adminOKADEnt {
			tenant.Entra.Users[i].AssignedLicenses = []string{adminLicSKU}
		}
	}
	if edit != nil {
		edit(tenant)
	}
	st := sim.NewState(tenant)
	var h http.Handler = sim.NewOktaHandler(st, sim.OktaOptions{Token: testToken})
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	a, err := NewAdmin(Config{OrgURL: srv.URL, Token: testToken, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return a, st
}

func entraUser(st *sim.State, id string) (u sim.EntraUser) {
	st.Read(func(t *sim.Tenant) {
		for _, x := range t.Entra.Users {
			if x.ID == id {
				u = x
			}
		}
	})
	return u
}

func TestAdminDeactivateUsers(t *testing.T) {
	ctx := context.Background()
	a, st := fakeAdmin(t, nil, nil)
	on, err := a.DeactivateUsers(ctx, adminO365)
	if err != nil || on {
		t.Fatalf("DeactivateUsers = %v, %v; want false (the fixture's DISABLED)", on, err)
	}
	for _, want := range []bool{true, false, true} {
		if err := a.SetDeactivateUsers(ctx, adminO365, want); err != nil {
			t.Fatalf("SetDeactivateUsers(%v): %v", want, err)
		}
		got, err := a.DeactivateUsers(ctx, adminO365)
		if err != nil || got != want {
			t.Errorf("after SetDeactivateUsers(%v): %v, %v", want, got, err)
		}
		var status string
		st.Read(func(t *sim.Tenant) { status = t.Okta.Apps[0].DeactivateUsers })
		if (status == "ENABLED") != want {
			t.Errorf("the org's setting is %s, want enabled=%v", status, want)
		}
	}
	if err := a.SetDeactivateUsers(ctx, "0oanothing", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetDeactivateUsers on an unknown app: %v, want ErrNotFound", err)
	}
	// An app without provisioning deprovisions no one.
	if on, err := a.DeactivateUsers(ctx, "0oa4euiz4othvcei5arg"); err != nil || on {
		t.Errorf("DeactivateUsers on the AD app = %v, %v; want false, nil", on, err)
	}
}

func TestAdminAppUser(t *testing.T) {
	ctx := context.Background()
	a, _ := fakeAdmin(t, nil, nil)
	got, err := a.AppUser(ctx, adminO365, adminOKAD)
	if err != nil {
		t.Fatal(err)
	}
	want := &AppUserState{AppID: adminO365, UserID: adminOKAD, ExternalID: adminOKADEnt, UserName: "ok-ad@contoso.example",
		Status: "PROVISIONED", ImmutableID: "Pqlfffo2uEqbF4UcX9pvFQ==", Licenses: []string{"ENTERPRISEPACK"}, Roles: []string{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppUser (-want +got):\n%s", diff)
	}
	if _, err := a.AppUser(ctx, adminO365, adminCloud); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppUser of an unassigned user: %v, want ErrNotFound", err)
	}
}

func TestAdminAssign(t *testing.T) {
	tests := []struct {
		name       string
		expression string
		req        AssignRequest
		want       AppUserState // ImmutableID "0ua" means the new app user id
	}{
		{name: "recommended mapping: the Okta user id", expression: recommendExpr,
			req:  AssignRequest{UserName: "missing-cloud@contoso.example", Licenses: []string{"ENTERPRISEPACK"}, Roles: []string{"Reports Reader"}},
			want: AppUserState{ImmutableID: adminCloud, Licenses: []string{"ENTERPRISEPACK"}, Roles: []string{"Reports Reader"}}},
		{name: "default mapping yields null: the given value", expression: defaultExpr,
			req:  AssignRequest{UserName: "missing-cloud@contoso.example", ImmutableID: "Y2xvdWQ="},
			want: AppUserState{ImmutableID: "Y2xvdWQ=", Licenses: []string{}, Roles: []string{}}},
		{name: "default mapping yields null: the app user id", expression: defaultExpr,
			req:  AssignRequest{},
			want: AppUserState{ImmutableID: "0ua", Licenses: []string{}, Roles: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, st := fakeAdmin(t, func(tn *sim.Tenant) { tn.Okta.Apps[0].ImmutableIDMapping.Expression = tt.expression }, nil)
			got, err := a.Assign(context.Background(), adminO365, adminCloud, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.AppID, want.UserID, want.UserName, want.Status = adminO365, adminCloud, "missing-cloud@contoso.example", "PROVISIONED"
			want.ExternalID = "3f85ff19-5420-4e8c-8d3d-38c7f3716324"
			if want.ImmutableID == "0ua" {
				st.Read(func(tn *sim.Tenant) {
					for _, au := range tn.Okta.AppUsers {
						if au.AppID == adminO365 && au.UserID == adminCloud {
							want.ImmutableID = au.AppUserID
						}
					}
				})
				if !strings.HasPrefix(want.ImmutableID, "0ua") || len(want.ImmutableID) != 20 {
					t.Fatalf("app user id %q", want.ImmutableID)
				}
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Assign (-want +got):\n%s", diff)
			}
			read, err := a.AppUser(context.Background(), adminO365, adminCloud)
			if err != nil || !cmp.Equal(read, got) {
				t.Errorf("AppUser after Assign = %+v, %v; want %+v", read, err, got)
			}
		})
	}
	t.Run("refused expression surfaces Okta's error", func(t *testing.T) {
		a, _ := fakeAdmin(t, func(tn *sim.Tenant) { tn.Okta.Apps[0].ImmutableIDMapping.Expression = "user.email" }, nil)
		_, err := a.Assign(context.Background(), adminO365, adminCloud, AssignRequest{})
		if err == nil || !strings.Contains(err.Error(), "HTTP 400, E0000001") || !strings.Contains(err.Error(), "user.email") {
			t.Fatalf("error %v, want Okta's E0000001 naming the expression", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		a, _ := fakeAdmin(t, nil, nil)
		if _, err := a.Assign(context.Background(), adminO365, "00unobody", AssignRequest{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("error %v, want ErrNotFound", err)
		}
	})
}

func TestAdminUnassignDeactivateUsersSideEffect(t *testing.T) {
	tests := []struct {
		name         string
		deactivate   bool
		wantEnabled  bool
		wantLicences []string
	}{
		{name: "Deactivate Users on: the harm", deactivate: true, wantEnabled: false},
		{name: "Deactivate Users off: harmless", deactivate: false, wantEnabled: true, wantLicences: []string{adminLicSKU}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a, st := fakeAdmin(t, nil, nil)
			if err := a.SetDeactivateUsers(ctx, adminO365, tt.deactivate); err != nil {
				t.Fatal(err)
			}
			if err := a.Unassign(ctx, adminO365, adminOKAD); err != nil {
				t.Fatal(err)
			}
			if _, err := a.AppUser(ctx, adminO365, adminOKAD); !errors.Is(err, ErrNotFound) {
				t.Errorf("still assigned after Unassign: %v", err)
			}
			u := entraUser(st, adminOKADEnt)
			if u.AccountEnabled != tt.wantEnabled || !slices.Equal(u.AssignedLicenses, tt.wantLicences) {
				t.Errorf("Entra user enabled=%v licences=%v, want %v %v", u.AccountEnabled, u.AssignedLicenses, tt.wantEnabled, tt.wantLicences)
			}
			if err := a.Unassign(ctx, adminO365, adminOKAD); !errors.Is(err, ErrNotFound) {
				t.Errorf("second Unassign: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestAdminSetAppUserImmutableID(t *testing.T) {
	ctx := context.Background()
	a, _ := fakeAdmin(t, nil, nil)
	got, err := a.SetAppUserImmutableID(ctx, adminO365, adminOKAD, "BpazOkLGm0iEtljAONPvOQ==")
	if err != nil {
		t.Fatal(err)
	}
	if got.ImmutableID != "BpazOkLGm0iEtljAONPvOQ==" || !slices.Equal(got.Licenses, []string{"ENTERPRISEPACK"}) {
		t.Errorf("after the update: %+v, want the new anchor and the licences kept", got)
	}
	if _, err := a.SetAppUserImmutableID(ctx, adminO365, adminCloud, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of an unassigned user: %v, want ErrNotFound", err)
	}
	if _, err := a.SetAppUserImmutableID(ctx, adminO365, adminOKAD, ""); err == nil {
		t.Error("an empty anchor was accepted")
	}
}

func TestAdminImmutableIDMapping(t *testing.T) {
	ctx := context.Background()
	a, _ := fakeAdmin(t, nil, nil)
	m, err := a.ImmutableIDMapping(ctx, adminO365)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID == "" || m.Expression != recommendExpr || m.PushStatus != "DONT_PUSH" {
		t.Fatalf("mapping %+v", m)
	}
	got, err := a.SetImmutableIDMapping(ctx, m.ID, defaultExpr, "PUSH")
	if err != nil {
		t.Fatal(err)
	}
	want := &MappingState{ID: m.ID, Expression: defaultExpr, PushStatus: "PUSH"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SetImmutableIDMapping (-want +got):\n%s", diff)
	}
	if reread, err := a.ImmutableIDMapping(ctx, adminO365); err != nil || !cmp.Equal(reread, want) {
		t.Errorf("re-read %+v, %v; want %+v", reread, err, want)
	}
	tests := []struct {
		name, mapping, expression, push, wantErr string
	}{
		{name: "expression Okta refuses", mapping: m.ID, expression: "user.login", push: "PUSH", wantErr: "E0000001"},
		{name: "bad push status", mapping: m.ID, expression: defaultExpr, push: "ALWAYS", wantErr: "neither PUSH nor DONT_PUSH"},
		{name: "empty expression", mapping: m.ID, push: "PUSH", wantErr: "expression is empty"},
		{name: "unknown mapping", mapping: "prmnothing", expression: defaultExpr, push: "PUSH", wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.SetImmutableIDMapping(ctx, tt.mapping, tt.expression, tt.push); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := a.ImmutableIDMapping(ctx, "0oa4euiz4othvcei5arg"); !errors.Is(err, ErrNotFound) {
		t.Errorf("mapping of an app without one: %v, want ErrNotFound", err)
	}
}

// TestAdminHonoursRateLimitReset throttles the first write with Okta's
// headers and checks that the retry waits until X-Rate-Limit-Reset.
func TestAdminHonoursRateLimitReset(t *testing.T) {
	var (
		mu        sync.Mutex
		throttled time.Time
		retriedAt time.Time
		retryHdr  string
		resetWait time.Duration
	)
	throttleFirstWrite := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if r.Method == http.MethodPut {
				if throttled.IsZero() {
					now := time.Now()
					// Reset one second after Date: the SDK waits reset - Date + 1 = 2 s.
					w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
					w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Unix()+1, 10))
					w.Header().Set("X-Okta-Request-Id", "throttled-request")
					w.Header().Set("Content-Type", "application/json")
					resetWait = time.Unix(now.Unix()+2, 0).Sub(now)
					throttled = now
					mu.Unlock()
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"x","errorCauses":[]}`)
					return
				}
				if retriedAt.IsZero() {
					retriedAt = time.Now()
					retryHdr = r.Header.Get("X-Okta-Retry-For")
				}
			}
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	a, st := fakeAdmin(t, nil, throttleFirstWrite)
	if err := a.SetDeactivateUsers(context.Background(), adminO365, true); err != nil {
		t.Fatalf("SetDeactivateUsers after a 429: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if retriedAt.IsZero() {
		t.Fatal("the throttled write was not retried")
	}
	// Date has one-second resolution, so the SDK's wait is between
	// resetWait-1s and resetWait; it must not retry before the reset.
	if waited := retriedAt.Sub(throttled); waited < resetWait-time.Second-50*time.Millisecond || waited < time.Second {
		t.Errorf("retried after %v, before X-Rate-Limit-Reset (%v)", waited, resetWait)
	}
	if retryHdr != "throttled-request" {
		t.Errorf("X-Okta-Retry-For = %q, want the throttled request's id", retryHdr)
	}
	var status string
	st.Read(func(t *sim.Tenant) { status = t.Okta.Apps[0].DeactivateUsers })
	if status != "ENABLED" {
		t.Errorf("setting is %s after the retried write, want ENABLED", status)
	}
}

func TestNewAdminRejectsBadConfig(t *testing.T) {
	isolateSDK(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "http", cfg: Config{OrgURL: "http://contoso.okta.com", Token: "x"}, wantErr: "must use https"},
		{name: "no token", cfg: Config{OrgURL: "https://contoso.okta.com"}, wantErr: "token is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAdmin(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
