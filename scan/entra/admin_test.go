package entra

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/anchorscan/anchorscan/scan/sim"
)

const (
	admMissingAD   = "c114eebb-09e3-4942-b26c-3e66de174407" // missing-ad@contoso.example: federated, no anchor
	admWrongDomain = "309adcc2-ad03-4d4e-bb02-ce5d12c782ee" // wrong-domain@cloud.contoso.example: managed, anchored
	admSynced      = "f7b59838-49c0-482e-8bd9-aff74dc0186d"
	admOKAD        = "3cd49c6d-00b7-4439-932a-b4141082be29"
	admOKADAnchor  = "Pqlfffo2uEqbF4UcX9pvFQ=="
	admSKU         = "6fd2c87f-b296-42f0-b197-1e91e994b900"
	admNewAnchor   = "BpazOkLGm0iEtljAONPvOQ=="
)

// patchLog keeps the decoded bodies of the PATCHes the fake received.
type patchLog struct {
	mu       sync.Mutex
	bodies   [][]byte
	encoding []string
}

func (l *patchLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			raw, _ := io.ReadAll(r.Body)
			body := raw
			if r.Header.Get("Content-Encoding") == "gzip" {
				if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
					body, _ = io.ReadAll(zr)
				}
			}
			l.mu.Lock()
			l.bodies = append(l.bodies, body)
			l.encoding = append(l.encoding, r.Header.Get("Content-Encoding"))
			l.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		next.ServeHTTP(w, r)
	})
}

func (l *patchLog) last(t testing.TB) (map[string]json.RawMessage, string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bodies) == 0 {
		t.Fatal("no PATCH was sent")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(l.bodies[len(l.bodies)-1], &m); err != nil {
		t.Fatalf("PATCH body %q is not a JSON object: %v", l.bodies[len(l.bodies)-1], err)
	}
	return m, l.encoding[len(l.encoding)-1]
}

// fakeAdmin serves the example tenant (ok-ad licensed) through the fake
// Graph and returns an Admin on the SDK, the shared state and the PATCH log.
func fakeAdmin(t testing.TB, wrap func(http.Handler) http.Handler) (*Admin, *sim.State, *patchLog) {
	t.Helper()
	tenant := exampleTenant(t)
	for i := range tenant.Entra.Users {
		if tenant.Entra.Users[i].ID == admOKAD {
			tenant.Entra.Users[i].AssignedLicenses = []string{admSKU}
		}
	}
	st := sim.NewState(tenant)
	log := &patchLog{}
	var h http.Handler = sim.NewGraphHandler(st, sim.GraphOptions{Token: testToken})
	h = log.wrap(h)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	a, err := NewAdmin(Config{BaseURL: srv.URL + "/v1.0", Credential: NewStaticToken(testToken), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return a, st, log
}

func stateUser(st *sim.State, id string) (u sim.EntraUser) {
	st.Read(func(t *sim.Tenant) {
		for _, x := range t.Entra.Users {
			if x.ID == id {
				u = x
			}
		}
	})
	return u
}

func ptr(s string) *string { return &s }

func TestAdminUser(t *testing.T) {
	a, _, _ := fakeAdmin(t, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		id   string
		want *UserState
	}{
		{name: "licensed federated user", id: admOKAD, want: &UserState{ID: admOKAD, UserPrincipalName: "ok-ad@contoso.example",
			ImmutableID: admOKADAnchor, AccountEnabled: true, Licenses: []string{admSKU}}},
		{name: "by UPN", id: "ok-ad@contoso.example", want: &UserState{ID: admOKAD, UserPrincipalName: "ok-ad@contoso.example",
			ImmutableID: admOKADAnchor, AccountEnabled: true, Licenses: []string{admSKU}}},
		{name: "synced, no anchor read as empty", id: admMissingAD, want: &UserState{ID: admMissingAD, UserPrincipalName: "missing-ad@contoso.example",
			AccountEnabled: true, Licenses: []string{}}},
		{name: "synced user", id: admSynced, want: &UserState{ID: admSynced, UserPrincipalName: "synced@contoso.example",
			ImmutableID: "RHt7qWMRnk6G5nVgM/uWjQ==", SyncEnabled: true, AccountEnabled: true, Licenses: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.User(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("User (-want +got):\n%s", diff)
			}
		})
	}
	_, err := a.User(ctx, "00000000-0000-0000-0000-000000000000")
	var ge *GraphError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ge) || ge.Code != "Request_ResourceNotFound" {
		t.Errorf("unknown user: %v, want ErrNotFound wrapping Graph's Request_ResourceNotFound", err)
	}
}

func TestAdminParkSetRestore(t *testing.T) {
	a, st, log := fakeAdmin(t, nil)
	ctx := context.Background()
	// Setting the anchor while the UPN is federated is refused…
	err := a.UpdateUser(ctx, admMissingAD, UserPatch{ImmutableID: ptr(admNewAnchor)})
	var ge *GraphError
	if !errors.As(err, &ge) || ge.Status != 400 || ge.Code != "Request_BadRequest" || !strings.Contains(ge.Message, "federated") {
		t.Fatalf("anchor on a federated UPN: %v, want Graph's 400 refusal", err)
	}
	// …so the UPN is parked first, then anchor and UPN go in one PATCH.
	if err := a.UpdateUser(ctx, admMissingAD, UserPatch{UserPrincipalName: "missing-ad@contoso.onmicrosoft.com"}); err != nil {
		t.Fatalf("park: %v", err)
	}
	if err := a.UpdateUser(ctx, admMissingAD, UserPatch{ImmutableID: ptr(admNewAnchor), UserPrincipalName: "missing-ad@contoso.example"}); err != nil {
		t.Fatalf("set and restore: %v", err)
	}
	body, encoding := log.last(t)
	if string(body["onPremisesImmutableId"]) != `"`+admNewAnchor+`"` || string(body["userPrincipalName"]) != `"missing-ad@contoso.example"` {
		t.Errorf("PATCH body %v", body)
	}
	if encoding != "" {
		t.Errorf("PATCH Content-Encoding %q: admin PATCHes go uncompressed (see UpdateUser)", encoding)
	}
	got, err := a.User(ctx, admMissingAD)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserPrincipalName != "missing-ad@contoso.example" || got.ImmutableID != admNewAnchor {
		t.Errorf("after the fix: %+v", got)
	}
	if u := stateUser(st, admMissingAD); u.OnPremisesImmutableID == nil || *u.OnPremisesImmutableID != admNewAnchor {
		t.Errorf("the shared state does not hold the anchor: %+v", u)
	}
}

func TestAdminClearImmutableIDSendsNull(t *testing.T) {
	a, st, log := fakeAdmin(t, nil)
	if err := a.UpdateUser(context.Background(), admWrongDomain, UserPatch{ClearImmutableID: true}); err != nil {
		t.Fatal(err)
	}
	body, _ := log.last(t)
	raw, present := body["onPremisesImmutableId"]
	if !present || string(raw) != "null" {
		t.Errorf("PATCH body %v: want onPremisesImmutableId: null", body)
	}
	if u := stateUser(st, admWrongDomain); u.OnPremisesImmutableID != nil {
		t.Errorf("anchor still %q after the clear", *u.OnPremisesImmutableID)
	}
}

func TestAdminUpdateUserRefusals(t *testing.T) {
	tests := []struct {
		name        string
		id          string
		patch       UserPatch
		wantStatus  int
		wantCode    string
		wantMessage string
		notFound    bool
	}{
		{name: "synced user", id: admSynced, patch: UserPatch{ImmutableID: ptr(admNewAnchor)},
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "on-premises mastered Directory Sync objects"},
		{name: "anchor held by another user", id: admWrongDomain, patch: UserPatch{ImmutableID: ptr(admOKADAnchor)},
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "onPremisesImmutableId already exists"},
		{name: "UPN held by another user", id: admWrongDomain, patch: UserPatch{UserPrincipalName: "ok-ad@contoso.example"},
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "userPrincipalName already exists"},
		{name: "UPN in an unverified domain", id: admWrongDomain, patch: UserPatch{UserPrincipalName: "x@elsewhere.example"},
			wantStatus: 400, wantCode: "Request_BadRequest", wantMessage: "verified domain"},
		{name: "unknown user", id: "00000000-0000-0000-0000-000000000000", patch: UserPatch{UserPrincipalName: "x@contoso.example"},
			wantStatus: 404, wantCode: "Request_ResourceNotFound", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := fakeAdmin(t, nil)
			err := a.UpdateUser(context.Background(), tt.id, tt.patch)
			var ge *GraphError
			if !errors.As(err, &ge) {
				t.Fatalf("error %v is not a *GraphError", err)
			}
			if ge.Status != tt.wantStatus || ge.Code != tt.wantCode || !strings.Contains(ge.Message, tt.wantMessage) || ge.Endpoint != "PATCH /users/"+tt.id {
				t.Errorf("GraphError %+v, want %d %s containing %q", ge, tt.wantStatus, tt.wantCode, tt.wantMessage)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
			}
		})
	}
}

func TestAdminUpdateUserRejectsBadPatches(t *testing.T) {
	a, _, log := fakeAdmin(t, nil)
	tests := []struct {
		name    string
		patch   UserPatch
		wantErr string
	}{
		{name: "nothing to change", patch: UserPatch{}, wantErr: "changes nothing"},
		{name: "set and clear", patch: UserPatch{ImmutableID: ptr("x"), ClearImmutableID: true}, wantErr: "both set"},
		{name: "empty anchor", patch: UserPatch{ImmutableID: ptr("")}, wantErr: "use ClearImmutableID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.UpdateUser(context.Background(), admWrongDomain, tt.patch); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if len(log.bodies) != 0 {
		t.Errorf("%d PATCHes were sent for bad patches", len(log.bodies))
	}
}

func TestAdminUpdateUserRetriesThrottledPatch(t *testing.T) {
	var (
		mu        sync.Mutex
		throttled time.Time
		retried   time.Time
	)
	throttleFirstPatch := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				mu.Lock()
				if throttled.IsZero() {
					throttled = time.Now()
					mu.Unlock()
					w.Header().Set("Retry-After", "1")
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, `{"error":{"code":"TooManyRequests","message":"Too many requests are being made. Please retry later."}}`)
					return
				}
				if retried.IsZero() {
					retried = time.Now()
				}
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	a, st, _ := fakeAdmin(t, throttleFirstPatch)
	if err := a.UpdateUser(context.Background(), admWrongDomain, UserPatch{UserPrincipalName: "wrong-domain@contoso.example"}); err != nil {
		t.Fatalf("UpdateUser after a 429: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if retried.IsZero() || retried.Sub(throttled) < 900*time.Millisecond {
		t.Errorf("retry at %v after the 429, want at least Retry-After (1 s)", retried.Sub(throttled))
	}
	if u := stateUser(st, admWrongDomain); u.UserPrincipalName != "wrong-domain@contoso.example" {
		t.Errorf("UPN %s after the retried PATCH", u.UserPrincipalName)
	}
}
