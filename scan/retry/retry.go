// Package retry re-issues idempotent directory reads (a page with the same
// cursor) that failed in a way worth another try: a throttled or failed
// server answer, a reset connection, a truncated body, a server that did not
// answer in time. Waits grow exponentially with jitter, honour the wait the
// server asked for, and end with the context. The collectors decide which of
// their errors are transient; this package decides how long to wait and when
// to give up.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy bounds the retries of one request. The zero value means the
// defaults, which suit the SaaS APIs: six attempts over about a quarter of a
// minute of back-off, each attempt given up on after two minutes of silence.
type Policy struct {
	// Attempts is the total number of tries, the first included; 0 means 6.
	Attempts int
	// Base is the first back-off; it doubles per retry up to Max. 0 means
	// 500ms.
	Base time.Duration
	// Max caps one back-off; 0 means 30s.
	Max time.Duration
	// MaxServerWait caps a wait the server asked for (Retry-After,
	// X-Rate-Limit-Reset); 0 means 5 minutes. A server asking for longer is
	// waited on for this long and then tried again.
	MaxServerWait time.Duration
	// AttemptTimeout gives up on one attempt that has not finished, so that a
	// server that accepts a request and never answers costs a retry, not the
	// scan. 0 means 2 minutes.
	AttemptTimeout time.Duration
}

// MaxAttempts is the number of tries the policy allows, defaults applied.
func (p Policy) MaxAttempts() int { return p.withDefaults().Attempts }

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = 6
	}
	if p.Base <= 0 {
		p.Base = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.MaxServerWait <= 0 {
		p.MaxServerWait = 5 * time.Minute
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 2 * time.Minute
	}
	return p
}

// transientError marks an error worth another attempt.
type transientError struct {
	err   error
	after time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Transient marks err as worth another attempt after at least after (the
// wait the server asked for; 0 when it asked for none). Transient(nil, …)
// is nil.
func Transient(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &transientError{err: err, after: after}
}

// IsTransient reports whether err, or an error it wraps, was marked Transient.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// Do calls attempt until it returns nil or an error not marked Transient, or
// the attempts run out, waiting between tries. Each attempt gets a context
// that ends after the policy's AttemptTimeout; an attempt that fails because
// that deadline passed (while ctx is still live) counts as transient. Do
// returns the number of retries it made and the last error, which says how
// many attempts were made when they ran out. It never returns a Transient
// marker: callers see the underlying error.
func Do(ctx context.Context, p Policy, attempt func(ctx context.Context) error) (retries int, err error) {
	p = p.withDefaults()
	for n := 1; ; n++ {
		err = runAttempt(ctx, p.AttemptTimeout, attempt)
		if err == nil {
			return n - 1, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return n - 1, unmark(err)
		}
		var t *transientError
		if !errors.As(err, &t) {
			return n - 1, err
		}
		if n >= p.Attempts {
			return n - 1, fmt.Errorf("gave up after %d attempts: %w", n, unmark(err))
		}
		wait := backoff(p, n)
		if t.after > wait {
			wait = min(t.after, p.MaxServerWait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return n - 1, fmt.Errorf("%w (while waiting to retry: %w)", unmark(err), ctx.Err())
		case <-timer.C:
		}
	}
}

func runAttempt(ctx context.Context, timeout time.Duration, attempt func(ctx context.Context) error) error {
	actx, cancel := context.WithTimeoutCause(ctx, timeout, errAttemptTimeout)
	defer cancel()
	err := attempt(actx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) && !IsTransient(err) {
		return Transient(fmt.Errorf("no answer within %s: %w", timeout, err), 0)
	}
	return err
}

var errAttemptTimeout = errors.New("attempt timed out")

// backoff is the wait before retry n (1-based): Base·2^(n-1) capped at Max,
// with "equal jitter" (half fixed, half random) so that collectors retrying
// together spread out without ever retrying at once.
func backoff(p Policy, n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	half := d / 2
	return half + rand.N(half+1)
}

// unmark strips the Transient marker from the top of err's chain, keeping
// what it wrapped.
func unmark(err error) error {
	var t *transientError
	if errors.As(err, &t) && err == error(t) {
		return t.err
	}
	return err
}
