package plan

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/sim"
	"github.com/anchorscan/anchorscan/store"
)

// touched are the objects an apply wrote, as its journal names them.
func touched(t *testing.T, j []store.JournalEntry) (graph, okta, ad map[string]bool) {
	t.Helper()
	graph, okta, ad = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range j {
		if e.Result != store.JournalApplied || e.EndedAt.Equal(e.StartedAt) || strings.HasPrefix(e.IdentityKey, "org") {
			continue
		}
		sys, id, _ := strings.Cut(e.Target, ":")
		switch sys {
		case "graph":
			graph[id] = true
		case "okta":
			okta[id] = true
		case "ad":
			ad[id] = true
		}
	}
	return graph, okta, ad
}

type oktaAnchor struct {
	assigned bool
	anchor   string
	licenses string
}

func oktaAnchors(r *rig) map[string]oktaAnchor {
	m := map[string]oktaAnchor{}
	r.servers.State.Read(func(tn *sim.Tenant) {
		for _, au := range tn.Okta.AppUsers {
			v := oktaAnchor{assigned: true, licenses: strings.Join(au.Profile.Licenses, ",")}
			if au.Profile.ImmutableID != nil {
				v.anchor = *au.Profile.ImmutableID
			}
			m[au.UserID+"@"+au.AppID] = v
		}
	})
	return m
}

// Undo of a completed apply returns every touched object to its before
// values (except where Okta's API cannot: an immutableId that was empty,
// which becomes a manual step).
func TestUndoReturnsTouchedObjectsToBefore(t *testing.T) {
	r := newRig(t, loadExample(t))
	oktaBefore := oktaAnchors(r)
	r.apply(t, ApplyOptions{})
	if _, err := r.servers.State.ImportO365(); err != nil {
		t.Fatal(err)
	}
	r.apply(t, ApplyOptions{})
	ctx := context.Background()
	j, err := r.db.Journal(ctx, r.plan.Seal)
	if err != nil {
		t.Fatal(err)
	}
	undo, err := Undo(r.plan, j, UndoOptions{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// The undo plan is a plan like any other: sealed, readable.
	var buf bytes.Buffer
	if err := undo.Write(&buf); err != nil {
		t.Fatal(err)
	}
	undo, err = Read(&buf)
	if err != nil {
		t.Fatalf("undo plan does not read back: %v", err)
	}
	if len(undo.Identities) == 0 {
		t.Fatal("undo plan is empty")
	}
	out, err := Apply(ctx, undo, r.targets, r.db, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed != 0 || out.Stale != 0 {
		var tbl bytes.Buffer
		out.WriteTable(&tbl)
		t.Fatalf("applying the undo plan: %s\n%s", out.Summary(), tbl.String())
	}
	graphIDs, oktaIDs, _ := touched(t, j)
	if len(graphIDs) == 0 || len(oktaIDs) == 0 {
		t.Fatalf("the apply touched %d Entra users and %d Okta app users", len(graphIDs), len(oktaIDs))
	}
	r.servers.State.Read(func(tn *sim.Tenant) {
		for _, u := range tn.Entra.Users {
			if !graphIDs[u.ID] {
				continue
			}
			was := r.initial[u.ID]
			if !strings.EqualFold(u.UserPrincipalName, was.UserPrincipalName) || deref(u.OnPremisesImmutableID) != deref(was.OnPremisesImmutableID) {
				t.Errorf("Entra user %s: %s %q after undo, was %s %q", u.ID, u.UserPrincipalName, deref(u.OnPremisesImmutableID),
					was.UserPrincipalName, deref(was.OnPremisesImmutableID))
			}
		}
	})
	after := oktaAnchors(r)
	manual := 0
	for id := range oktaIDs {
		was, now := oktaBefore[id], after[id]
		if was.assigned && was.anchor == "" {
			manual++ // Okta cannot clear an immutableId: the undo says so
			continue
		}
		if was != now {
			t.Errorf("Okta app user %s: %+v after undo, was %+v", id, now, was)
		}
	}
	if manual > 0 && out.Waiting == 0 {
		t.Errorf("%d Okta anchors cannot be cleared but no undo step waits for a person", manual)
	}
}

func TestUndoLeavesCompensatedStepsAlone(t *testing.T) {
	r := newRig(t, loadExample(t))
	r.targets.Graph = &failingGraph{GraphTarget: r.targets.Graph}
	r.apply(t, ApplyOptions{})
	j, err := r.db.Journal(context.Background(), r.plan.Seal)
	if err != nil {
		t.Fatal(err)
	}
	undo, err := Undo(r.plan, j, UndoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := identityByScenario(t, r.plan, classify.EntraAnchorStale)
	for _, u := range undo.Identities {
		if u.Key == id.Key {
			t.Errorf("a compensated identity has undo steps: %+v", u.Steps)
		}
	}
}

func TestUndoRefusesOtherPlansJournal(t *testing.T) {
	p := &Plan{FormatVersion: FormatVersion, Seal: "a"}
	_, err := Undo(p, []store.JournalEntry{{ID: 7, PlanSeal: "b", Kind: string(GraphParkUPN), Result: store.JournalApplied}}, UndoOptions{})
	if err == nil || !strings.Contains(err.Error(), "entry 7") {
		t.Errorf("Undo with another plan's journal = %v", err)
	}
}
