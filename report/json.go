package report

import (
	"encoding/json"
	"io"

	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/store"
)

// FindingsFormatVersion is the version of findings.json. Bump it on any
// change a consumer could notice; adding an optional field is not one.
const FindingsFormatVersion = 1

// FindingsDoc is the public findings.json document.
type FindingsDoc struct {
	FormatVersion int                   `json:"formatVersion"`
	ToolVersion   string                `json:"toolVersion"`
	SnapshotID    int64                 `json:"snapshotId"`
	ContentHash   string                `json:"contentHash"`
	Status        string                `json:"status"`
	Identities    []classify.Finding    `json:"identities"`
	OrgFindings   []classify.OrgFinding `json:"orgFindings"`
}

// WriteFindingsJSON writes findings.json for a snapshot.
func WriteFindingsJSON(w io.Writer, snap *store.Snapshot, res classify.Result) error {
	doc := FindingsDoc{
		FormatVersion: FindingsFormatVersion,
		ToolVersion:   snap.ToolVersion,
		SnapshotID:    int64(snap.ID),
		ContentHash:   snap.ContentHash,
		Status:        snap.Status,
		Identities:    res.Identities,
		OrgFindings:   res.Org,
	}
	if doc.Identities == nil {
		doc.Identities = []classify.Finding{}
	}
	if doc.OrgFindings == nil {
		doc.OrgFindings = []classify.OrgFinding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}
