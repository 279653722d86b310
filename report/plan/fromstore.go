package plan

import (
	"context"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/store"
)

// FromStore generates the plan of snapshot id (0: the latest) from what db
// holds: its metadata, its records, and its findings one at a time.
func FromStore(ctx context.Context, db *store.DB, id store.SnapshotID, opts GenerateOptions) (*Plan, error) {
	snap, err := db.SnapshotOrLatest(ctx, id)
	if err != nil {
		return nil, err
	}
	id = snap.ID
	in, err := db.LoadInput(ctx, id)
	if err != nil {
		return nil, err
	}
	org, err := db.OrgFindings(ctx, id)
	if err != nil {
		return nil, err
	}
	each := func(fn func(*classify.Finding) error) error { return db.EachFinding(ctx, id, fn) }
	return GenerateEach(snap, in, org, each, opts)
}
