package okta

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anchorscan/anchorscan/scan/record"
)

// A change read that cannot rest on the last scan says so before it stores
// anything, so that the runner reads the org whole instead.
func TestCollectChangesResync(t *testing.T) {
	tenant := loadExampleTenant(t)
	c, _ := fakeOrg(t, tenant, Config{}, nil)
	full := &memorySink{}
	stats, err := c.Collect(context.Background(), full)
	if err != nil {
		t.Fatal(err)
	}
	since := stats.Sync
	if since[syncSince] == "" || since[syncApps] == "" {
		t.Fatalf("full read's Sync %v lacks the time or the app instances", since)
	}
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name  string
		since map[string]string
		want  string
	}{
		{"no position", map[string]string{}, "no usable change position"},
		{"not a time", map[string]string{syncSince: "yesterday", syncApps: since[syncApps]}, "no usable change position"},
		{"beyond the System Log", map[string]string{syncSince: time.Now().Add(-100 * 24 * time.Hour).UTC().Format(time.RFC3339), syncApps: since[syncApps]}, "beyond the System Log"},
		{"another app instance", map[string]string{syncSince: recent, syncApps: since[syncApps] + ",0oanew"}, "app instances changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			_, err := c.CollectChanges(context.Background(), sink, tt.since)
			if !errors.Is(err, record.ErrResync) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CollectChanges: %v, want ErrResync saying %q", err, tt.want)
			}
			if len(sink.batches) != 0 {
				t.Errorf("%d batches stored before the resync", len(sink.batches))
			}
		})
	}
	// The position a full read gave works, and with nothing changed reads
	// no user and no assignment.
	sink := &memorySink{}
	got, err := c.CollectChanges(context.Background(), sink, since)
	if err != nil {
		t.Fatalf("CollectChanges from the full read's position: %v", err)
	}
	if got.Counts[CountUsers] != 0 || got.Counts[CountAppUsers] != 0 {
		t.Errorf("nothing changed, yet %d users and %d app users were read", got.Counts[CountUsers], got.Counts[CountAppUsers])
	}
	if got.Sync[syncApps] != since[syncApps] {
		t.Errorf("apps in the new position %q, want %q", got.Sync[syncApps], since[syncApps])
	}
}
