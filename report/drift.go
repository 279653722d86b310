package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// DriftKind says how one identity differs between two snapshots.
type DriftKind string

// The drift kinds. Each identity of either snapshot lands in exactly one.
const (
	// DriftNew: the identity is only in the later snapshot.
	DriftNew DriftKind = "new"
	// DriftResolved: the identity had a problem scenario before (anything but
	// OK and OUT_OF_SCOPE) and is OK after. A problem identity that vanished
	// is not resolved, it is removed: nothing proves it signs in now.
	DriftResolved DriftKind = "resolved"
	// DriftChanged: the scenario or a compared value differs, and the change
	// is not a resolution (a regression from OK is a change too).
	DriftChanged DriftKind = "changed"
	// DriftRemoved: the identity is only in the earlier snapshot (its records
	// were deleted, or merged into another identity; Changes says which).
	DriftRemoved DriftKind = "removed"
	// DriftUnchanged: same scenario and same compared values.
	DriftUnchanged DriftKind = "unchanged"
)

// DriftKinds lists the kinds in the order reports show them.
func DriftKinds() []DriftKind {
	return []DriftKind{DriftNew, DriftResolved, DriftChanged, DriftRemoved, DriftUnchanged}
}

func driftKindRank(k DriftKind) int {
	if i := slices.Index(DriftKinds(), k); i >= 0 {
		return i
	}
	return len(DriftKinds())
}

// DriftEntry is one identity's drift. Before and After point into the results
// given to Drift; Before is nil for new identities, After for removed ones.
type DriftEntry struct {
	Kind DriftKind
	// Key is the identity's FindingKey in the later snapshot (in the earlier
	// one for removed identities).
	Key    string
	UPN    string
	Before *classify.Finding
	After  *classify.Finding
	// Changes lists what differs in words, e.g.
	// "scenario ENTRA_ANCHOR_STALE → OK" or "entraImmutableId X → Y".
	Changes []string
}

// FindingKey names an identity by its strongest record id: the Entra object
// id, else the Okta user id, else the AD objectGUID ("entra:…", "okta:…",
// "ad:…"). Plans and workbooks use it to refer to an identity. An identity
// without any record id (which classification does not produce) falls back
// to its lower-cased UPN.
func FindingKey(f *classify.Finding) string {
	switch {
	case f.EntraUserID != "":
		return "entra:" + f.EntraUserID
	case f.OktaUserID != "":
		return "okta:" + f.OktaUserID
	case f.ADObjectGUID != "":
		return "ad:" + strings.ToLower(f.ADObjectGUID)
	}
	return "upn:" + strings.ToLower(f.UPN)
}

// driftIDs returns the record ids of f by kind, in matching preference order.
// AD GUIDs are canonical strings whose case may differ between writers.
func driftIDs(f *classify.Finding) [4]string {
	var ids [4]string
	ids[0] = f.EntraUserID
	ids[1] = f.OktaUserID
	if f.ADObjectGUID != "" {
		ids[2] = strings.ToLower(f.ADObjectGUID)
	}
	if ids == ([4]string{}) {
		ids[3] = strings.ToLower(f.UPN)
	}
	return ids
}

var driftIDNames = [4]string{"entra", "okta", "ad", "upn"}

// Drift compares two classifications of the same tenant.
//
// Identities are matched by their record ids, not by position or UPN: an
// identity's ids can change between snapshots (an Okta user newly linked to
// its Entra user gains an id), so two identities match when they share any
// record id. Matching runs in passes, Entra object id first, then Okta user
// id, then AD objectGUID, each pass pairing only identities still unmatched,
// so when two earlier identities merged into one the pair sharing the Entra
// id wins and the other is reported as removed (with a note naming where its
// records went).
//
// The result holds one entry per identity of either snapshot, ordered by
// kind (DriftKinds), then UPN (case-insensitive), then key.
func Drift(before, after classify.Result) []DriftEntry {
	nb, na := len(before.Identities), len(after.Identities)
	matchOf := make([]int, nb) // before index → after index, -1 when none
	for i := range matchOf {
		matchOf[i] = -1
	}
	taken := make([]bool, na)

	// afterBy[k] maps an id of kind k to the first after identity holding it.
	var afterBy [4]map[string]int
	for k := range afterBy {
		afterBy[k] = make(map[string]int)
	}
	for j := range after.Identities {
		for k, id := range driftIDs(&after.Identities[j]) {
			if id == "" {
				continue
			}
			if _, dup := afterBy[k][id]; !dup {
				afterBy[k][id] = j
			}
		}
	}
	for k := range afterBy {
		for i := range before.Identities {
			if matchOf[i] >= 0 {
				continue
			}
			id := driftIDs(&before.Identities[i])[k]
			if id == "" {
				continue
			}
			if j, ok := afterBy[k][id]; ok && !taken[j] {
				matchOf[i], taken[j] = j, true
			}
		}
	}

	entries := make([]DriftEntry, 0, max(nb, na))
	for i := range before.Identities {
		b := &before.Identities[i]
		if matchOf[i] < 0 {
			e := DriftEntry{Kind: DriftRemoved, Key: FindingKey(b), UPN: b.UPN, Before: b,
				Changes: []string{"scenario " + string(b.Scenario) + " → (gone)"}}
			if note := driftWhereNow(b, afterBy, after.Identities); note != "" {
				e.Changes = append(e.Changes, note)
			}
			entries = append(entries, e)
			continue
		}
		a := &after.Identities[matchOf[i]]
		e := DriftEntry{Key: FindingKey(a), UPN: a.UPN, Before: b, After: a, Changes: driftChanges(b, a)}
		switch {
		case driftIsProblem(b.Scenario) && a.Scenario == classify.OK:
			e.Kind = DriftResolved
		case len(e.Changes) > 0:
			e.Kind = DriftChanged
		default:
			e.Kind = DriftUnchanged
		}
		entries = append(entries, e)
	}

	var beforeBy [4]map[string]int
	for j := range after.Identities {
		if taken[j] {
			continue
		}
		a := &after.Identities[j]
		e := DriftEntry{Kind: DriftNew, Key: FindingKey(a), UPN: a.UPN, After: a}
		if beforeBy[0] == nil {
			beforeBy = driftIndex(before.Identities)
		}
		if note := driftWhereBefore(a, beforeBy, before.Identities); note != "" {
			e.Changes = append(e.Changes, note)
		}
		entries = append(entries, e)
	}

	slices.SortStableFunc(entries, func(x, y DriftEntry) int {
		return cmp.Or(
			cmp.Compare(driftKindRank(x.Kind), driftKindRank(y.Kind)),
			cmp.Compare(strings.ToLower(x.UPN), strings.ToLower(y.UPN)),
			cmp.Compare(x.Key, y.Key),
		)
	})
	return entries
}

// DriftSummary counts entries by kind; every kind is present, zero or not.
func DriftSummary(entries []DriftEntry) map[DriftKind]int {
	counts := make(map[DriftKind]int, len(DriftKinds()))
	for _, k := range DriftKinds() {
		counts[k] = 0
	}
	for _, e := range entries {
		counts[e.Kind]++
	}
	return counts
}

// driftIsProblem reports whether an identity in scenario s needs fixing.
func driftIsProblem(s classify.Scenario) bool {
	return s != classify.OK && s != classify.OutOfScope
}

// driftChanges lists the compared values that differ between b and a. The
// explanation, evidence, display name and DN are not compared: the first two
// follow from the compared values, the others do not affect sign-in.
func driftChanges(b, a *classify.Finding) []string {
	var out []string
	add := func(name, before, after string) {
		if before != after {
			out = append(out, fmt.Sprintf("%s %s → %s", name, driftShow(before), driftShow(after)))
		}
	}
	add("scenario", string(b.Scenario), string(a.Scenario))
	add("upn", b.UPN, a.UPN)
	add("entraUserId", b.EntraUserID, a.EntraUserID)
	add("oktaUserId", b.OktaUserID, a.OktaUserID)
	add("adObjectGuid", strings.ToLower(b.ADObjectGUID), strings.ToLower(a.ADObjectGUID))
	add("entraImmutableId", b.EntraAnchor, a.EntraAnchor)
	add("oktaImmutableId", b.OktaAnchor, a.OktaAnchor)
	add("expectedAnchors", strings.Join(b.ExpectedAnchor, ", "), strings.Join(a.ExpectedAnchor, ", "))
	add("adSources", strconv.Itoa(b.ADSources), strconv.Itoa(a.ADSources))
	add("federated", strconv.FormatBool(b.Federated), strconv.FormatBool(a.Federated))
	add("assigned", strconv.FormatBool(b.Assigned), strconv.FormatBool(a.Assigned))
	add("syncEnabled", strconv.FormatBool(b.SyncEnabled), strconv.FormatBool(a.SyncEnabled))
	return out
}

// driftShow makes an empty value visible in a change description.
func driftShow(v string) string {
	if v == "" {
		return "(empty)"
	}
	return v
}

func driftIndex(fs []classify.Finding) [4]map[string]int {
	var by [4]map[string]int
	for k := range by {
		by[k] = make(map[string]int)
	}
	for j := range fs {
		for k, id := range driftIDs(&fs[j]) {
			if _, dup := by[k][id]; id != "" && !dup {
				by[k][id] = j
			}
		}
	}
	return by
}

// driftWhereNow says which later identity holds records of the removed
// identity b, when one does (two identities merged by a new link).
func driftWhereNow(b *classify.Finding, afterBy [4]map[string]int, after []classify.Finding) string {
	for k, id := range driftIDs(b) {
		if j, ok := afterBy[k][id]; id != "" && ok {
			return fmt.Sprintf("its %s record %s is now part of %s", driftIDNames[k], id, FindingKey(&after[j]))
		}
	}
	return ""
}

// driftWhereBefore says which earlier identity held records of the new
// identity a, when one did (an identity split by a broken link).
func driftWhereBefore(a *classify.Finding, beforeBy [4]map[string]int, before []classify.Finding) string {
	for k, id := range driftIDs(a) {
		if j, ok := beforeBy[k][id]; id != "" && ok {
			return fmt.Sprintf("its %s record %s was part of %s", driftIDNames[k], id, FindingKey(&before[j]))
		}
	}
	return ""
}
