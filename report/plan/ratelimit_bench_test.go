package plan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan/ad"
	"github.com/anchorscan/anchorscan/scan/entra"
	"github.com/anchorscan/anchorscan/scan/okta"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// limiterBurst is how many writes the limiter lets through back to back.
// A whole second's worth would hide a pacer that runs a little fast; a
// single token would punish the jitter of a few milliseconds between the
// pacer's release and the request's arrival that no vendor punishes. Five
// tokens absorb 200 ms of jitter and still catch a pacer 5% too fast
// within seconds.
const limiterBurst = 5

// writeLimiter is a vendor's write limit in front of the fake Okta and Graph
// servers: one token bucket, shared by both, admits rate mutating requests
// (POST, PUT, PATCH, DELETE) per second with a burst of burst, and the
// others are answered 429 as each vendor answers them. Reads pass.
type writeLimiter struct {
	rate, burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time

	requests, writes, throttled atomic.Int64
}

func newWriteLimiter(rate, burst float64) *writeLimiter {
	return &writeLimiter{rate: rate, burst: burst, tokens: burst}
}

// take spends a token, or says how long until there is one.
func (l *writeLimiter) take(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
}

func mutatingMethod(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// wrap puts the limiter in front of next; refuse writes the vendor's 429.
func (l *writeLimiter) wrap(next http.Handler, refuse func(w http.ResponseWriter, now time.Time, wait time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.requests.Add(1)
		if mutatingMethod(r.Method) {
			now := time.Now()
			if ok, wait := l.take(now); !ok {
				l.throttled.Add(1)
				refuse(w, now, wait)
				return
			}
			l.writes.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

func requestID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// oktaTooMany is Okta's 429: the limit, nothing remaining, the epoch second
// at which the budget is back, the server's Date to measure it against,
// and error E0000047.
func (l *writeLimiter) oktaTooMany(w http.ResponseWriter, now time.Time, wait time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(int(l.rate)))
	h.Set("X-Rate-Limit-Remaining", "0")
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(int64(math.Ceil(float64(now.Add(wait).UnixNano())/1e9)), 10))
	h.Set("X-Okta-Request-Id", requestID())
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{
		"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.",
		"errorLink": "E0000047", "errorId": "oae" + requestID(), "errorCauses": []any{},
	})
}

// graphTooMany is Microsoft Graph's 429: Retry-After in whole seconds and an
// OData error TooManyRequests.
func (l *writeLimiter) graphTooMany(w http.ResponseWriter, now time.Time, wait time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": "TooManyRequests", "message": "Too many requests: the application is being throttled.",
		"innerError": map[string]any{"date": now.UTC().Format(time.RFC3339), "request-id": requestID()},
	}})
}

// limitedTargets serves the simulator's Okta behind oktaLimit and its Graph
// behind graphLimit (one limiter for both makes one shared limit) on fresh
// TLS servers, and builds apply's targets on the write adapters against
// them; AD is the simulator's LDAP server, which no limit covers.
func limitedTargets(tb testing.TB, s *sim.Servers, oktaLimit, graphLimit *writeLimiter) Targets {
	tb.Helper()
	var tenants Tenants
	s.State.Read(func(t *sim.Tenant) { tenants = Tenants{OktaOrg: t.Okta.Org, EntraTenantID: t.Entra.TenantID} })
	oktaHandler := sim.NewOktaHandler(s.State, sim.OktaOptions{Token: s.OktaToken, RateLimit: int(oktaLimit.rate) * 60})
	oktaSrv := httptest.NewTLSServer(oktaLimit.wrap(oktaHandler, oktaLimit.oktaTooMany))
	tb.Cleanup(oktaSrv.Close)
	graphSrv := httptest.NewTLSServer(graphLimit.wrap(sim.NewGraphHandler(s.State, sim.GraphOptions{Token: s.GraphToken}), graphLimit.graphTooMany))
	tb.Cleanup(graphSrv.Close)
	oktaAdmin, err := okta.NewAdmin(okta.Config{OrgURL: oktaSrv.URL, Token: s.OktaToken, HTTPClient: oktaSrv.Client()})
	if err != nil {
		tb.Fatal(err)
	}
	graphAdmin, err := entra.NewAdmin(entra.Config{TenantID: tenants.EntraTenantID, BaseURL: graphSrv.URL + "/v1.0",
		Credential: entra.NewStaticToken(s.GraphToken), HTTPClient: graphSrv.Client()})
	if err != nil {
		tb.Fatal(err)
	}
	adAdmin, err := ad.NewAdmin(ad.Config{URL: s.LDAPURL, TLSConfig: s.ClientTLS(), BindDN: s.LDAPBindDN, Password: s.LDAPPassword})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { adAdmin.Close() })
	return Targets{Okta: oktaAdmin, Graph: graphAdmin, AD: adAdmin, Tenants: tenants}
}

// BenchmarkApply1000RateLimited applies a 1,000-identity plan against the
// simulator limited to 20 writes/s across Okta and Graph (429 beyond), with
// apply pacing at the same 20/s. It reports the wall time, the writes, the
// minimum the limit allows (writes / 20 s), their ratio (target ≤ 1.15) and
// the requests answered 429 (target ≤ 1%), and fails when a target is
// missed.
//
//	go test -run '^$' -bench Apply1000RateLimited -benchtime 1x ./report/plan/
func BenchmarkApply1000RateLimited(b *testing.B) {
	const writesPerSecond = 20
	var wall time.Duration
	var writes, throttled, requests int64
	for range b.N {
		b.StopTimer()
		fx := newThousandPlan(b)
		l := newWriteLimiter(writesPerSecond, limiterBurst)
		targets := limitedTargets(b, fx.servers, l, l)
		db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "apply.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		out, err := Apply(context.Background(), fx.plan, targets, db, ApplyOptions{WritesPerSecond: writesPerSecond, ToolVersion: "bench"})
		elapsed := time.Since(start)
		b.StopTimer()
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
		if n := fx.parked(fx.servers.State); n != 0 {
			b.Errorf("%d users left on the parking domain", n)
		}
		if out.Failed != 0 || out.Stale != 0 || out.Applied < crashPlanIdentities/3 {
			b.Fatalf("rate-limited apply: %s", out.Summary())
		}
		wall += elapsed
		writes += l.writes.Load()
		throttled += l.throttled.Load()
		requests += l.requests.Load()
	}
	n := float64(b.N)
	minimum := float64(writes) / n / writesPerSecond
	ratio := wall.Seconds() / n / minimum
	share := 100 * float64(throttled) / float64(requests)
	writeShare := 100 * float64(throttled) / float64(writes+throttled)
	b.ReportMetric(wall.Seconds()/n, "wall-s")
	b.ReportMetric(float64(writes)/n, "writes")
	b.ReportMetric(minimum, "limit-min-s")
	b.ReportMetric(ratio, "ratio-to-min")
	b.ReportMetric(float64(throttled)/n, "429s")
	b.ReportMetric(float64(requests)/n, "requests")
	b.ReportMetric(share, "429-%-of-requests")
	b.ReportMetric(writeShare, "429-%-of-writes")
	b.ReportMetric(crashPlanIdentities*n/wall.Seconds(), "identities/s")
	if ratio > 1.15 {
		b.Errorf("apply took %.1fs for %d writes, %.2f× the %.1fs the limit allows (target ≤ 1.15×)", wall.Seconds()/n, writes/int64(b.N), ratio, minimum)
	}
	if share > 1 {
		b.Errorf("%d of %d requests (%.2f%%) were answered 429 (target ≤ 1%%)", throttled, requests, share)
	}
}

// The limiter's 429s are ones the SDKs understand: with each vendor's
// budget spent when apply starts, the first writes to both are answered 429,
// and apply still applies every identity, each throttled write retried by
// the SDK after the wait the answer named.
func TestApplyRetriesVendorThrottling(t *testing.T) {
	r := newRig(t, loadExample(t))
	oktaLimit, graphLimit := newWriteLimiter(5, 5), newWriteLimiter(5, 5)
	oktaLimit.tokens, graphLimit.tokens = 0, 0
	targets := limitedTargets(t, r.servers, oktaLimit, graphLimit)
	start := time.Now()
	out, err := Apply(context.Background(), r.plan, targets, r.db, ApplyOptions{Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s in %v: %d writes, %d answered 429 by Okta, %d by Graph", out.Summary(), time.Since(start).Round(time.Millisecond),
		oktaLimit.writes.Load()+graphLimit.writes.Load(), oktaLimit.throttled.Load(), graphLimit.throttled.Load())
	if out.Failed != 0 || out.Stale != 0 || out.Applied == 0 {
		var tbl strings.Builder
		out.WriteTable(&tbl)
		t.Fatalf("throttled apply: %s\n%s", out.Summary(), tbl.String())
	}
	if oktaLimit.throttled.Load() == 0 || graphLimit.throttled.Load() == 0 {
		t.Errorf("429s: Okta %d, Graph %d; the first write to each should have been throttled", oktaLimit.throttled.Load(), graphLimit.throttled.Load())
	}
	checkNobodyHarmed(t, r)
}
