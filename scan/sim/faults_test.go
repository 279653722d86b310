package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		want    []Faults
		wantErr string
	}{
		{
			name: "rates and latency",
			spec: "okta:429=0.05,5xx=0.02,reset=0.01,latency=20ms",
			want: []Faults{{Server: ServerOkta, RateLimit: 0.05, ServerError: 0.02, Reset: 0.01, Latency: 20 * time.Millisecond}},
		},
		{
			name: "path and stop",
			spec: "okta/api/v1/users:stop=25,stop-mode=refuse",
			want: []Faults{{Server: ServerOkta, Path: "/api/v1/users", StopAfter: 25, Stop: StopRefuse}},
		},
		{
			name: "trickle",
			spec: "graph/v1.0/users:trickle=0.1,trickle-time=2s,jitter=5ms,retry-after=1s",
			want: []Faults{{Server: ServerGraph, Path: "/v1.0/users", Trickle: 0.1, TrickleTime: 2 * time.Second, Jitter: 5 * time.Millisecond, RetryAfter: time.Second}},
		},
		{
			name: "all servers",
			spec: "all:429=0.05,reset=0.01",
			want: []Faults{
				{Server: ServerOkta, RateLimit: 0.05, Reset: 0.01},
				{Server: ServerGraph, RateLimit: 0.05, Reset: 0.01},
				{Server: ServerLDAP, RateLimit: 0.05, Reset: 0.01},
			},
		},
		{name: "no colon", spec: "okta", wantErr: "want SERVER[/PATH]:SETTING=VALUE"},
		{name: "unknown server", spec: "ldapx:429=0.1", wantErr: `server "ldapx"`},
		{name: "unknown setting", spec: "okta:boom=1", wantErr: `unknown setting "boom"`},
		{name: "bad rate", spec: "okta:429=lots", wantErr: `429="lots"`},
		{name: "rate above one", spec: "graph:5xx=1.5", wantErr: "rate 5xx=1.5 is outside 0..1"},
		{name: "rates add up past one", spec: "graph:5xx=0.6,429=0.6", wantErr: "add up to 1.2"},
		{name: "bad duration", spec: "okta:latency=fast", wantErr: `latency="fast"`},
		{name: "negative latency", spec: "okta:latency=-1s", wantErr: "latency -1s is negative"},
		{name: "bad stop mode", spec: "okta:stop=3,stop-mode=sulk", wantErr: `stop mode "sulk"`},
		{name: "ldap path", spec: "ldap/users:reset=0.1", wantErr: "take no path"},
		{name: "ldap stop", spec: "ldap:stop=3", wantErr: "not available for LDAP"},
		{name: "all with path", spec: "all/x:reset=0.1", wantErr: "all takes no path"},
		{name: "setting without value", spec: "okta:429", wantErr: `setting "429" is not KEY=VALUE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFaults(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFaults(%q) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFaults(%q): %v", tt.spec, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFaults(%q) (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}

// The same seed and the same requests draw the same faults; another seed
// draws others, and the rates come out near what was asked.
func TestFaultInjectorIsSeeded(t *testing.T) {
	rules := []Faults{{Server: ServerOkta, RateLimit: 0.05, ServerError: 0.02, Reset: 0.01}}
	draw := func(seed uint64) []faultAction {
		in, err := newFaultInjector(ServerOkta, seed, rules)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]faultAction, 20000)
		for i := range out {
			out[i] = in.decide("/api/v1/users").action
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !cmp.Equal(a, b) {
		t.Error("two injectors with seed 7 drew different faults")
	}
	if cmp.Equal(a, c) {
		t.Error("seeds 7 and 8 drew the same faults")
	}
	counts := map[faultAction]int{}
	for _, x := range a {
		counts[x]++
	}
	for _, tt := range []struct {
		name   string
		action faultAction
		rate   float64
	}{{"429", faultRateLimit, 0.05}, {"5xx", faultServerError, 0.02}, {"reset", faultReset, 0.01}} {
		got := float64(counts[tt.action]) / float64(len(a))
		if got < tt.rate*0.7 || got > tt.rate*1.3 {
			t.Errorf("%s rate %.4f, want about %.2f", tt.name, got, tt.rate)
		}
	}
}

func TestFaultInjectorLongestPathWins(t *testing.T) {
	in, err := newFaultInjector(ServerOkta, 1, []Faults{
		{Server: ServerOkta, RateLimit: 1},
		{Server: ServerOkta, Path: "/api/v1/users", ServerError: 1},
		{Server: ServerGraph, Reset: 1}, // another server's rule: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := in.decide("/api/v1/users").action; got != faultServerError {
		t.Errorf("/api/v1/users: action %d, want the 5xx of the longer path", got)
	}
	if got := in.decide("/api/v1/apps").action; got != faultRateLimit {
		t.Errorf("/api/v1/apps: action %d, want the 429 of the server-wide rule", got)
	}
}

// startFaulty runs the servers over the example tenant with faults.
func startFaulty(t *testing.T, faults []Faults) *Servers {
	t.Helper()
	tenant, err := LoadFixtureFile("testdata/example-tenant.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), NewState(tenant), ServeOptions{Faults: faults, FaultSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Servers, url, auth string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	hc := s.HTTPClient()
	hc.Timeout = 5 * time.Second
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestFaultAnswers(t *testing.T) {
	s := startFaulty(t, []Faults{
		{Server: ServerOkta, Path: "/api/v1/users", RateLimit: 1, RetryAfter: 3 * time.Second},
		{Server: ServerOkta, Path: "/api/v1/apps", Reset: 1},
		{Server: ServerGraph, Path: "/v1.0/users", RateLimit: 1, RetryAfter: 2 * time.Second},
		{Server: ServerGraph, Path: "/v1.0/domains", ServerError: 1},
		{Server: ServerGraph, Path: "/v1.0/organization", Trickle: 1, TrickleTime: 200 * time.Millisecond},
	})
	okta, graph := "SSWS "+s.OktaToken, "Bearer "+s.GraphToken

	t.Run("okta 429", func(t *testing.T) {
		resp, body, err := get(t, s, s.OktaURL+"/api/v1/users", okta)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", resp.StatusCode)
		}
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
		}
		reset, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
		if err != nil {
			t.Fatalf("X-Rate-Limit-Reset %q: %v", resp.Header.Get("X-Rate-Limit-Reset"), err)
		}
		if wait := reset - date.Unix(); wait < 3 || wait > 4 {
			t.Errorf("reset is %ds after Date, want 3-4", wait)
		}
		if resp.Header.Get("X-Rate-Limit-Remaining") != "0" || resp.Header.Get("X-Rate-Limit-Limit") == "" {
			t.Errorf("rate limit headers %v", resp.Header)
		}
		var e struct{ ErrorCode string }
		if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != "E0000047" {
			t.Errorf("body %s: errorCode %q, %v; want E0000047", body, e.ErrorCode, err)
		}
	})
	t.Run("okta reset mid-body", func(t *testing.T) {
		_, _, err := get(t, s, s.OktaURL+"/api/v1/apps", okta)
		if err == nil {
			t.Fatal("a reset connection read as a whole body")
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") {
			t.Errorf("error %v, want a truncated body or a reset", err)
		}
	})
	t.Run("graph 429", func(t *testing.T) {
		resp, body, err := get(t, s, s.GraphURL+"/users", graph)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
			t.Errorf("status %d, Retry-After %q; want 429 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		var e struct{ Error struct{ Code string } }
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "TooManyRequests" {
			t.Errorf("body %s: code %q, %v; want TooManyRequests", body, e.Error.Code, err)
		}
	})
	t.Run("graph 5xx", func(t *testing.T) {
		resp, body, err := get(t, s, s.GraphURL+"/domains", graph)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		if resp.StatusCode < 500 || json.Unmarshal(body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("status %d body %s, want a 5xx with an OData error", resp.StatusCode, body)
		}
	})
	t.Run("graph trickle", func(t *testing.T) {
		start := time.Now()
		resp, body, err := get(t, s, s.GraphURL+"/organization", graph)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("trickled page took %v, want about 200ms", d)
		}
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("trickled page: status %d, %d bytes", resp.StatusCode, len(body))
		}
	})
	counts := s.FaultCounts()
	if c := counts[ServerOkta]; c.RateLimited != 1 || c.Resets != 1 {
		t.Errorf("okta counts %+v, want one 429 and one reset", c)
	}
	if c := counts[ServerGraph]; c.RateLimited != 1 || c.ServerErrors != 1 || c.Trickled != 1 {
		t.Errorf("graph counts %+v, want one each of 429, 5xx, trickle", c)
	}
}

func TestFaultStop(t *testing.T) {
	for _, mode := range []StopMode{StopHang, StopRefuse} {
		t.Run(string(mode), func(t *testing.T) {
			s := startFaulty(t, []Faults{{Server: ServerOkta, StopAfter: 1, Stop: mode}})
			auth := "SSWS " + s.OktaToken
			if resp, _, err := get(t, s, s.OktaURL+"/api/v1/users", auth); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: %v", err)
			}
			req, _ := http.NewRequest(http.MethodGet, s.OktaURL+"/api/v1/users", nil)
			req.Header.Set("Authorization", auth)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := s.HTTPClient().Do(req.WithContext(ctx))
			if err == nil {
				t.Fatal("a stopped server answered")
			}
			if mode == StopHang && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("hang: %v, want the client's deadline", err)
			}
			// Healing: the server answers again once its rules are replaced.
			if err := s.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			if resp, _, err := get(t, s, s.OktaURL+"/api/v1/users", auth); err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("after SetFaults(nil): %v", err)
			}
		})
	}
}
