package scan

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

// inputTee passes batches on to the store and keeps what was stored, so that
// a fresh scan classifies the records it already holds instead of reading
// them all back from the database. Only batches the store accepted are kept:
// the kept input is exactly the stored snapshot.
type inputTee struct {
	mu sync.Mutex
	in classify.Input
}

func (t *inputTee) sink(next record.Sink) record.Sink {
	return sinkFunc(func(ctx context.Context, b record.Batch) error {
		if err := next.Write(ctx, b); err != nil {
			return err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		in := &t.in
		in.OktaUsers = append(in.OktaUsers, b.OktaUsers...)
		in.OktaApps = append(in.OktaApps, b.OktaApps...)
		for _, u := range b.OktaAppUsers {
			// The store keeps lists as JSON arrays and gives back empty,
			// not nil, slices; the kept copy must read the same.
			if u.Licenses == nil {
				u.Licenses = []string{}
			}
			if u.Roles == nil {
				u.Roles = []string{}
			}
			in.OktaAppUsers = append(in.OktaAppUsers, u)
		}
		if n := len(b.EntraOrgs); n > 0 {
			in.EntraOrg = b.EntraOrgs[n-1]
		}
		in.EntraDomains = append(in.EntraDomains, b.EntraDomains...)
		in.EntraUsers = append(in.EntraUsers, b.EntraUsers...)
		in.ADDomains = append(in.ADDomains, b.ADDomains...)
		for _, u := range b.ADUsers {
			if len(u.ConsistencyGUID) == 0 {
				u.ConsistencyGUID = nil // an empty value reads back as none
			}
			in.ADUsers = append(in.ADUsers, u)
		}
		return nil
	})
}

// input returns the kept records in the order store.LoadInput gives them
// (each table's key order), since pages from concurrent lists arrive
// interleaved and classification must not depend on arrival order.
func (t *inputTee) input(orgURL string) classify.Input {
	t.mu.Lock()
	defer t.mu.Unlock()
	in := t.in
	in.OktaOrgURL = orgURL
	slices.SortFunc(in.OktaUsers, func(a, b record.OktaUser) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(in.OktaApps, func(a, b record.OktaApp) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(in.OktaAppUsers, func(a, b record.OktaAppUser) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.UserID, b.UserID))
	})
	slices.SortFunc(in.EntraDomains, func(a, b record.EntraDomain) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(in.EntraUsers, func(a, b record.EntraUser) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(in.ADDomains, func(a, b record.ADDomain) int { return cmp.Compare(a.BaseDN, b.BaseDN) })
	slices.SortFunc(in.ADUsers, func(a, b record.ADUser) int { return cmp.Compare(a.DistinguishedName, b.DistinguishedName) })
	return in
}

type sinkFunc func(ctx context.Context, b record.Batch) error

func (f sinkFunc) Write(ctx context.Context, b record.Batch) error { return f(ctx, b) }
