package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var errBoom = errors.New("boom")

func TestDo(t *testing.T) {
	fast := Policy{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Millisecond, AttemptTimeout: time.Second}
	tests := []struct {
		name        string
		policy      Policy
		results     []error // what each attempt returns; the last repeats
		wantRetries int
		wantErr     string
	}{
		{name: "first try", policy: fast, results: []error{nil}},
		{name: "transient then success", policy: fast, results: []error{Transient(errBoom, 0), Transient(errBoom, 0), nil}, wantRetries: 2},
		{name: "permanent", policy: fast, results: []error{errBoom}, wantErr: "boom"},
		{name: "attempts run out", policy: fast, results: []error{Transient(errBoom, 0)}, wantRetries: 3, wantErr: "gave up after 4 attempts: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			retries, err := Do(context.Background(), tt.policy, func(context.Context) error {
				r := tt.results[min(calls, len(tt.results)-1)]
				calls++
				return r
			})
			if retries != tt.wantRetries {
				t.Errorf("retries = %d, want %d", retries, tt.wantRetries)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if IsTransient(err) {
				t.Errorf("Do returned a Transient marker: %v", err)
			}
		})
	}
}

func TestDoHonoursServerWait(t *testing.T) {
	p := Policy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}
	start := time.Now()
	calls := 0
	_, err := Do(context.Background(), p, func(context.Context) error {
		calls++
		if calls == 1 {
			return Transient(errBoom, 150*time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("retried after %v, before the 150ms the server asked for", d)
	}
}

func TestDoGivesUpOnSilentAttempt(t *testing.T) {
	p := Policy{Attempts: 2, Base: time.Millisecond, AttemptTimeout: 50 * time.Millisecond}
	calls := 0
	retries, err := Do(context.Background(), p, func(ctx context.Context) error {
		calls++
		<-ctx.Done() // a server that never answers
		return ctx.Err()
	})
	if calls != 2 || retries != 1 {
		t.Errorf("calls %d retries %d, want 2 and 1", calls, retries)
	}
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want no answer within 50ms wrapping the deadline", err)
	}
}

func TestDoStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := Policy{Attempts: 10, Base: time.Hour}
	start := time.Now()
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := Do(ctx, p, func(context.Context) error { return Transient(errBoom, 0) })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) {
		t.Errorf("err = %v, want the attempt's error and context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Do waited %v after cancel", d)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 50 {
			if d := backoff(p, n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
