package plan

import (
	"context"

	"github.com/anchorscan/anchorscan/store"
)

// FromStore generates the plan of snapshot id (0: the latest) from what db
// holds: its metadata, records and findings, as Generate reads them.
func FromStore(ctx context.Context, db *store.DB, id store.SnapshotID, opts GenerateOptions) (*Plan, error) {
	if id == 0 {
		latest, err := db.LatestSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		id = latest
	}
	snap, err := db.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	in, err := db.LoadInput(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err := db.Findings(ctx, id)
	if err != nil {
		return nil, err
	}
	return Generate(snap, in, res, opts)
}
