package sim

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMutateRejectsBadFraction(t *testing.T) {
	tests := []struct {
		name     string
		fraction float64
	}{
		{name: "zero", fraction: 0},
		{name: "negative", fraction: -0.01},
		{name: "above one", fraction: 1.5},
		{name: "percent instead of fraction", fraction: 5},
		{name: "NaN", fraction: math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewState(incrementalTenant(t))
			_, err := st.Mutate(1, tt.fraction)
			if err == nil || !strings.Contains(err.Error(), "fraction") {
				t.Fatalf("Mutate(1, %v) = %v, want an error naming the fraction", tt.fraction, err)
			}
			if st.Clock() != 0 || st.Version() != 0 {
				t.Errorf("a refused mutation moved the clock to %d, version %d", st.Clock(), st.Version())
			}
		})
	}
	if _, err := NewState(&Tenant{Format: FormatV1}).Mutate(1, 0.5); err == nil {
		t.Error("Mutate of an empty tenant succeeded, want an error")
	}
}

// ignoreTimes drops what differs between two runs of the same mutation:
// wall-clock times.
var ignoreTimes = cmpopts.IgnoreFields(DeletedADUser{}, "At")

func TestMutateIsDeterministicAndSpread(t *testing.T) {
	a, err := NewState(incrementalTenant(t)).Mutate(42, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewState(incrementalTenant(t)).Mutate(42, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b, ignoreTimes); diff != "" {
		t.Errorf("the same seed changed different things (-first +second):\n%s", diff)
	}
	c, err := NewState(incrementalTenant(t)).Mutate(43, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(a.Changes, c.Changes, ignoreTimes) {
		t.Error("seeds 42 and 43 changed exactly the same objects")
	}

	if a.Identities != incrementalTestUsers/100 {
		t.Errorf("1%% of %d identities: changed %d", incrementalTestUsers, a.Identities)
	}
	for _, k := range mutationMix {
		if a.Counts[k.kind] == 0 {
			t.Errorf("kind %s was not applied at 1%% of %d identities: %v", k.kind, incrementalTestUsers, a.Counts)
		}
	}
	// Each app-user change costs the incremental reader a GET: keep the
	// identities with one near a tenth.
	users := map[string]bool{}
	for _, k := range a.Changes.OktaAppUsers {
		users[k.UserID] = true
	}
	if n := len(users); n == 0 || n > a.Identities/5 {
		t.Errorf("%d of %d changed identities have app-user changes, want between 1 and a fifth", n, a.Identities)
	}
	sources := map[string]int{
		"okta users": len(a.Changes.OktaUsers) + len(a.Changes.OktaUsersRemoved), "okta app users": len(a.Changes.OktaAppUsers),
		"entra": len(a.Changes.EntraUsers) + len(a.Changes.EntraUsersRemoved), "ad": len(a.Changes.ADUsers) + len(a.Changes.ADUsersDeleted),
	}
	for src, n := range sources {
		if n == 0 {
			t.Errorf("no change in %s", src)
		}
	}
}

// TestMutateStampsLikeAPIWrites checks that Mutate's summary is what the
// change log holds, that only changed objects got new stamps, and that the
// stamps are ordered.
func TestMutateStampsLikeAPIWrites(t *testing.T) {
	st := NewState(incrementalTenant(t))
	start := time.Now().UTC().Truncate(time.Millisecond)
	sum, err := st.Mutate(9, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Clock != 1 || st.Clock() != 1 {
		t.Errorf("one mutation moved the clock to %d (summary %d), want 1", st.Clock(), sum.Clock)
	}
	if diff := cmp.Diff(st.ChangesSince(0), sum.Changes); diff != "" {
		t.Errorf("summary differs from the change log (-log +summary):\n%s", diff)
	}
	if cs := st.ChangesSince(1); !cmp.Equal(cs, ChangeSet{}, cmpopts.EquateEmpty()) {
		t.Errorf("changes after the mutation's own time: %+v", cs)
	}
	st.readChanges(func(tn *Tenant, c *changeLog) {
		if len(c.okta) != len(sum.Changes.OktaUsers)+len(sum.Changes.OktaUsersRemoved) {
			t.Errorf("%d Okta users stamped, %d changed", len(c.okta), len(sum.Changes.OktaUsers)+len(sum.Changes.OktaUsersRemoved))
		}
		for id, s := range c.okta {
			if s.At.Before(start) {
				t.Errorf("Okta user %s stamped at %v, before the mutation began (%v)", id, s.At, start)
			}
		}
		untouched := 0
		for _, u := range tn.Okta.Users {
			if _, ok := c.okta[u.ID]; !ok {
				untouched++
				if lu := oktaTimesOf(c, u.ID).lastUpdated; lu.After(oktaCreatedTo) {
					t.Fatalf("unchanged user %s reports lastUpdated %v", u.ID, lu)
				}
			}
		}
		if untouched == 0 {
			t.Error("every Okta user was stamped")
		}
	})
}
