package sim

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jimlambrt/gldap"
)

// Names of the fake servers, as Faults.Server and the --fault flag spell them.
const (
	ServerOkta  = "okta"
	ServerGraph = "graph"
	ServerLDAP  = "ldap"
)

// StopMode is how a server that stopped answering behaves.
type StopMode string

// Stop modes.
const (
	// StopHang accepts each request and never answers it, until the client
	// gives up (closes the connection) or the server is closed.
	StopHang StopMode = "hang"
	// StopRefuse accepts the connection and resets it without an answer.
	StopRefuse StopMode = "refuse"
)

// Faults is one rule of failures a fake server injects into the requests
// whose path starts with Path. Each request draws from the server's own
// seeded random stream, so a run with the same seed and the same order of
// requests fails the same way. When several rules of a server match a
// request, the one with the longest Path applies.
//
// The rates are fractions of the matching requests (0.05 is 5%) and are
// exclusive: one request is throttled, or fails, or is reset, or trickles;
// they must add up to at most 1.
type Faults struct {
	// Server is ServerOkta, ServerGraph or ServerLDAP.
	Server string
	// Path is a URL path prefix ("/api/v1/users", "/v1.0/users"); "" matches
	// every request. LDAP rules take no path: they apply to every search.
	Path string

	// Latency delays every matching answer; Jitter adds a uniformly random
	// extra delay below it.
	Latency, Jitter time.Duration
	// RateLimit answers 429 with the vendor's headers and error body (Okta:
	// X-Rate-Limit-Limit/-Remaining/-Reset and E0000047; Graph: Retry-After
	// and TooManyRequests). LDAP has no 429: it answers busy (51).
	RateLimit float64
	// RetryAfter is the wait a 429 asks for (Okta's reset time is this far
	// ahead, rounded up to a second); 0 asks to retry at once.
	RetryAfter time.Duration
	// ServerError answers 500, 502, 503 or 504 with the vendor's error body.
	// LDAP answers unavailable (52).
	ServerError float64
	// Reset sends the status line, the headers (announcing the whole body's
	// length) and part of the body, then resets the connection. LDAP sends
	// part of the page's entries and drops the connection.
	Reset float64
	// Trickle sends the body in ten pieces spread over TrickleTime (1s when
	// 0): a page that arrives slowly.
	Trickle     float64
	TrickleTime time.Duration
	// StopAfter, when positive, makes the server stop answering the matching
	// requests after that many: each later one hangs or is refused, as Stop
	// says (StopHang when empty). Not available for LDAP.
	StopAfter int
	Stop      StopMode
}

// Validate checks a rule and says what is wrong with it.
func (f Faults) Validate() error {
	where := f.Server
	if f.Path != "" {
		where += f.Path
	}
	switch f.Server {
	case ServerOkta, ServerGraph:
		if f.Path != "" && !strings.HasPrefix(f.Path, "/") {
			return fmt.Errorf("fault rule %s: path %q must start with /", where, f.Path)
		}
	case ServerLDAP:
		if f.Path != "" {
			return fmt.Errorf("fault rule %s: LDAP rules apply to every search and take no path", where)
		}
		if f.Trickle > 0 || f.StopAfter > 0 {
			return fmt.Errorf("fault rule %s: trickle and stop are not available for LDAP", where)
		}
	default:
		return fmt.Errorf("fault rule for server %q: the server must be okta, graph or ldap", f.Server)
	}
	rates := []struct {
		name string
		v    float64
	}{{"429", f.RateLimit}, {"5xx", f.ServerError}, {"reset", f.Reset}, {"trickle", f.Trickle}}
	sum := 0.0
	for _, r := range rates {
		if r.v < 0 || r.v > 1 || r.v != r.v {
			return fmt.Errorf("fault rule %s: rate %s=%v is outside 0..1", where, r.name, r.v)
		}
		sum += r.v
	}
	if sum > 1 {
		return fmt.Errorf("fault rule %s: the rates of 429, 5xx, reset and trickle add up to %.3g, more than 1", where, sum)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", f.Latency}, {"jitter", f.Jitter}, {"retry-after", f.RetryAfter}, {"trickle-time", f.TrickleTime}} {
		if d.v < 0 {
			return fmt.Errorf("fault rule %s: %s %s is negative", where, d.name, d.v)
		}
	}
	if f.StopAfter < 0 {
		return fmt.Errorf("fault rule %s: stop=%d is negative", where, f.StopAfter)
	}
	switch f.Stop {
	case "", StopHang, StopRefuse:
	default:
		return fmt.Errorf("fault rule %s: stop mode %q is not hang or refuse", where, f.Stop)
	}
	return nil
}

// ParseFaults reads one --fault value: a server (okta, graph, ldap, or all
// for the three), an optional path prefix, a colon, and comma-separated
// settings:
//
//	okta:429=0.05,5xx=0.02,reset=0.01,latency=20ms
//	graph/v1.0/users:trickle=0.1,trickle-time=2s
//	okta/api/v1/users:stop=25,stop-mode=refuse
//
// Settings: latency, jitter, retry-after, trickle-time (durations); 429,
// 5xx, reset, trickle (rates 0..1); stop (requests answered before the
// server stops); stop-mode (hang or refuse).
func ParseFaults(spec string) ([]Faults, error) {
	target, settings, ok := strings.Cut(spec, ":")
	if !ok || target == "" {
		return nil, fmt.Errorf("fault %q: want SERVER[/PATH]:SETTING=VALUE,… (e.g. okta:429=0.05,latency=20ms)", spec)
	}
	var f Faults
	server, path, hasPath := strings.Cut(target, "/")
	f.Server = server
	if hasPath {
		f.Path = "/" + path
	}
	for _, kv := range strings.Split(settings, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("fault %q: setting %q is not KEY=VALUE", spec, kv)
		}
		var err error
		switch key {
		case "latency":
			f.Latency, err = time.ParseDuration(val)
		case "jitter":
			f.Jitter, err = time.ParseDuration(val)
		case "retry-after":
			f.RetryAfter, err = time.ParseDuration(val)
		case "trickle-time":
			f.TrickleTime, err = time.ParseDuration(val)
		case "429":
			f.RateLimit, err = strconv.ParseFloat(val, 64)
		case "5xx":
			f.ServerError, err = strconv.ParseFloat(val, 64)
		case "reset":
			f.Reset, err = strconv.ParseFloat(val, 64)
		case "trickle":
			f.Trickle, err = strconv.ParseFloat(val, 64)
		case "stop":
			f.StopAfter, err = strconv.Atoi(val)
		case "stop-mode":
			f.Stop = StopMode(val)
		default:
			return nil, fmt.Errorf("fault %q: unknown setting %q (want latency, jitter, 429, retry-after, 5xx, reset, trickle, trickle-time, stop, stop-mode)", spec, key)
		}
		if err != nil {
			return nil, fmt.Errorf("fault %q: %s=%q: %w", spec, key, val, err)
		}
	}
	servers := []string{server}
	if server == "all" {
		if hasPath {
			return nil, fmt.Errorf("fault %q: all takes no path (the servers' paths differ)", spec)
		}
		servers = []string{ServerOkta, ServerGraph, ServerLDAP}
	}
	out := make([]Faults, 0, len(servers))
	for _, s := range servers {
		g := f
		g.Server = s
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("fault %q: %w", spec, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// FaultCounts is what one server's fault rules did: the requests they saw
// and the faults they injected.
type FaultCounts struct {
	Requests     int // every request the server received, matched or not
	RateLimited  int
	ServerErrors int
	Resets       int
	Trickled     int
	Stopped      int
}

// Injected is the number of requests that failed on purpose (trickled pages
// are slow, not failed, and are not counted).
func (c FaultCounts) Injected() int {
	return c.RateLimited + c.ServerErrors + c.Resets + c.Stopped
}

type faultAction int

const (
	faultNone faultAction = iota
	faultRateLimit
	faultServerError
	faultReset
	faultTrickle
	faultStop
)

// faultDecision is what to do to one request.
type faultDecision struct {
	action faultAction
	delay  time.Duration
	rule   Faults
	status int     // for faultServerError
	cut    float64 // for faultReset: the fraction of the body sent first
}

// faultInjector holds one server's rules and random stream.
type faultInjector struct {
	server string
	mu     sync.Mutex
	rng    *rand.Rand
	rules  []faultRule // longest path first
	counts FaultCounts
}

type faultRule struct {
	Faults
	seen int
}

// newFaultInjector returns the injector of server over the rules naming it,
// or nil when none does. Its stream is seeded from seed and the server's
// name, so each server draws on its own.
func newFaultInjector(server string, seed uint64, faults []Faults) (*faultInjector, error) {
	in := &faultInjector{server: server}
	h := fnv.New64a()
	h.Write([]byte(server))
	in.rng = rand.New(rand.NewPCG(seed, h.Sum64()))
	if err := in.set(faults); err != nil {
		return nil, err
	}
	return in, nil
}

// set replaces the rules naming the injector's server; counts stay.
func (in *faultInjector) set(faults []Faults) error {
	var rules []faultRule
	for _, f := range faults {
		if err := f.Validate(); err != nil {
			return err
		}
		if f.Server == in.server {
			rules = append(rules, faultRule{Faults: f})
		}
	}
	slices.SortStableFunc(rules, func(a, b faultRule) int { return len(b.Path) - len(a.Path) })
	in.mu.Lock()
	in.rules = rules
	in.mu.Unlock()
	return nil
}

func (in *faultInjector) snapshot() FaultCounts {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts
}

// decide draws the fate of one request to path.
func (in *faultInjector) decide(path string) faultDecision {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.counts.Requests++
	var rule *faultRule
	for i := range in.rules {
		if strings.HasPrefix(path, in.rules[i].Path) {
			rule = &in.rules[i]
			break
		}
	}
	if rule == nil {
		return faultDecision{}
	}
	rule.seen++
	d := faultDecision{rule: rule.Faults, delay: rule.Latency}
	if rule.Jitter > 0 {
		d.delay += time.Duration(in.rng.Int64N(int64(rule.Jitter)))
	}
	if rule.StopAfter > 0 && rule.seen > rule.StopAfter {
		d.action = faultStop
		in.counts.Stopped++
		return d
	}
	u := in.rng.Float64()
	switch {
	case u < rule.RateLimit:
		d.action = faultRateLimit
		in.counts.RateLimited++
	case u < rule.RateLimit+rule.ServerError:
		d.action = faultServerError
		d.status = []int{500, 502, 503, 504}[in.rng.IntN(4)]
		in.counts.ServerErrors++
	case u < rule.RateLimit+rule.ServerError+rule.Reset:
		d.action = faultReset
		d.cut = in.rng.Float64()
		in.counts.Resets++
	case u < rule.RateLimit+rule.ServerError+rule.Reset+rule.Trickle:
		d.action = faultTrickle
		in.counts.Trickled++
	}
	return d
}

// vendorErrors writes a vendor's throttling and server error answers.
type vendorErrors interface {
	rateLimited(w http.ResponseWriter, f Faults)
	serverError(w http.ResponseWriter, status int)
}

// wrap puts in's faults in front of h. A nil injector returns h.
func (in *faultInjector) wrap(h http.Handler, vendor vendorErrors) http.Handler {
	if in == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := in.decide(r.URL.Path)
		if d.delay > 0 && !sleepContext(r, d.delay) {
			return
		}
		switch d.action {
		case faultStop:
			if d.rule.Stop == StopRefuse {
				hijackAndReset(w, nil)
				return
			}
			<-r.Context().Done() // until the client gives up or the server closes
		case faultRateLimit:
			vendor.rateLimited(w, d.rule)
		case faultServerError:
			vendor.serverError(w, d.status)
		case faultReset:
			rec := recordAnswer(h, r)
			body := rec.body.Bytes()
			hijackAndReset(w, func(c net.Conn) {
				writeHead(c, rec, len(body))
				_, _ = c.Write(body[:int(d.cut*float64(len(body)))])
			})
		case faultTrickle:
			rec := recordAnswer(h, r)
			trickle(w, r, rec, d.rule.TrickleTime)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// sleepContext waits d unless the request ends first; it reports whether
// the full wait passed.
func sleepContext(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// recorded is a handler's answer held back to be sent badly.
type recorded struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorded) Header() http.Header { return r.header }
func (r *recorded) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorded) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func recordAnswer(h http.Handler, r *http.Request) *recorded {
	rec := &recorded{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

// writeHead writes the status line and headers of rec, announcing n body
// bytes, to a hijacked connection.
func writeHead(c net.Conn, rec *recorded, n int) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
	h := rec.header.Clone()
	h.Del("Transfer-Encoding")
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	_, _ = c.Write(b.Bytes())
}

// hijackAndReset takes the connection over, lets write send what it will,
// and resets the connection (RST, without TLS close_notify), as a crashed
// server or a middlebox would.
func hijackAndReset(w http.ResponseWriter, write func(net.Conn)) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if write != nil {
		write(conn)
		_ = buf.Flush()
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// trickle sends rec in ten pieces spread over total.
func trickle(w http.ResponseWriter, r *http.Request, rec *recorded, total time.Duration) {
	if total <= 0 {
		total = time.Second
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	body := rec.body.Bytes()
	w.Header().Del("Transfer-Encoding")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.status)
	const pieces = 10
	flusher, _ := w.(http.Flusher)
	for i := range pieces {
		start, end := len(body)*i/pieces, len(body)*(i+1)/pieces
		if _, err := w.Write(body[start:end]); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		if i < pieces-1 && !sleepContext(r, total/pieces) {
			return
		}
	}
}

// oktaErrors answers as Okta does.
type oktaErrors struct{}

func (oktaErrors) rateLimited(w http.ResponseWriter, f Faults) {
	now := time.Now()
	reset := now.Add(f.RetryAfter)
	resetSec := reset.Unix()
	if reset.Nanosecond() > 0 && f.RetryAfter > 0 {
		resetSec++
	}
	h := w.Header()
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-Rate-Limit-Limit", "600")
	h.Set("X-Rate-Limit-Remaining", "0")
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(resetSec, 10))
	writeOktaFault(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
}

func (oktaErrors) serverError(w http.ResponseWriter, status int) {
	writeOktaFault(w, status, "E0000009", "Internal Server Error")
}

func writeOktaFault(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errorCode":%q,"errorSummary":%q,"errorLink":%q,"errorId":"oaeSimFault%d","errorCauses":[]}`,
		code, summary, code, time.Now().UnixNano())
}

// graphErrors answers as Microsoft Graph does.
type graphErrors struct{}

func (graphErrors) rateLimited(w http.ResponseWriter, f Faults) {
	secs := int64(f.RetryAfter / time.Second)
	if f.RetryAfter%time.Second != 0 {
		secs++
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeGraphFault(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests: the application is being throttled.")
}

func (graphErrors) serverError(w http.ResponseWriter, status int) {
	code, msg := "generalException", "An unexpected error occurred."
	switch status {
	case http.StatusBadGateway:
		code, msg = "badGateway", "The server received an invalid response from an upstream server."
	case http.StatusServiceUnavailable:
		code, msg = "serviceNotAvailable", "The service is temporarily unavailable."
		w.Header().Set("Retry-After", "1")
	case http.StatusGatewayTimeout:
		code, msg = "gatewayTimeout", "The server did not receive a timely response from an upstream server."
	}
	writeGraphFault(w, status, code, msg)
}

func writeGraphFault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	now := time.Now().UTC().Format("2006-01-02T15:04:05")
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"innerError":{"date":%q,"request-id":"sim-fault-%d","client-request-id":"sim-fault"}}}`,
		code, msg, now, time.Now().UnixNano())
}

// ldapFaultMarker is the DN of a pseudo-entry the LDAP handler sends to ask
// the front end to drop the connection there: gldap gives a handler no way
// to close its connection, and the front end owns the socket.
const ldapFaultMarker = "CN=anchorscan-sim-drop-connection-7f3a91"

// errLDAPFaultDrop is no real error: the front end ends a connection on a
// fault rule's request.
var errLDAPFaultDrop = errors.New("connection dropped by a fault rule")

// SetFaults replaces the fault rules of the running servers (all of them:
// a server whose rules are left out stops injecting faults). Counts are kept.
// Tests use it to heal a server that was told to stop answering.
func (s *Servers) SetFaults(faults []Faults) error {
	for _, f := range faults {
		if err := f.Validate(); err != nil {
			return err
		}
	}
	for _, in := range []*faultInjector{s.oktaFaults, s.graphFaults, s.ldapFaults} {
		if err := in.set(faults); err != nil {
			return err
		}
	}
	return nil
}

// FaultCounts reports, per server name, the requests each server saw and
// the faults it injected.
func (s *Servers) FaultCounts() map[string]FaultCounts {
	return map[string]FaultCounts{
		ServerOkta:  s.oktaFaults.snapshot(),
		ServerGraph: s.graphFaults.snapshot(),
		ServerLDAP:  s.ldapFaults.snapshot(),
	}
}

// startFaults builds the three servers' injectors from opts.
func (s *Servers) startFaults(opts ServeOptions) error {
	var err error
	if s.oktaFaults, err = newFaultInjector(ServerOkta, opts.FaultSeed, opts.Faults); err != nil {
		return err
	}
	if s.graphFaults, err = newFaultInjector(ServerGraph, opts.FaultSeed, opts.Faults); err != nil {
		return err
	}
	s.ldapFaults, err = newFaultInjector(ServerLDAP, opts.FaultSeed, opts.Faults)
	return err
}

// ldapFault applies the ldap rules to one search request: it waits out the
// latency and answers busy (for a 429) or unavailable (for a 5xx), as a
// domain controller under load does. It returns the decision, whose reset
// the search carries out part-way through the page, and false when the
// request has been answered.
func (s *LDAPServer) ldapFault(_ *gldap.Request, done func(code int, diag string, controls ...gldap.Control)) (faultDecision, bool) {
	if s.opts.faults == nil {
		return faultDecision{}, true
	}
	d := s.opts.faults.decide("")
	if d.delay > 0 {
		time.Sleep(d.delay)
	}
	switch d.action {
	case faultRateLimit:
		done(gldap.ResultBusy, "00002024: LdapErr: DSID-0C060810, comment: The server is busy (simulated fault), data 0, v4563")
		return d, false
	case faultServerError:
		done(gldap.ResultUnavailable, "00000034: LdapErr: DSID-0C060810, comment: The server is unavailable (simulated fault), data 0, v4563")
		return d, false
	}
	return d, true
}
