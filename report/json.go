package report

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/anchorscan/anchorscan/report/jsonlist"
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
	return WriteFindingsJSONEach(w, snap, res.Org, res.Each)
}

// WriteFindingsJSONEach writes findings.json from findings read one at a
// time, in order, as store.DB.EachFinding reads them.
func WriteFindingsJSONEach(w io.Writer, snap *store.Snapshot, org []classify.OrgFinding, each func(func(*classify.Finding) error) error) error {
	doc := FindingsDoc{
		FormatVersion: FindingsFormatVersion,
		ToolVersion:   snap.ToolVersion,
		SnapshotID:    int64(snap.ID),
		ContentHash:   snap.ContentHash,
		Status:        snap.Status,
		Identities:    []classify.Finding{},
		OrgFindings:   org,
	}
	if doc.OrgFindings == nil {
		doc.OrgFindings = []classify.OrgFinding{}
	}
	var frame bytes.Buffer
	enc := json.NewEncoder(&frame)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return jsonlist.Write(w, frame.Bytes(), "identities", true, func(yield func(any) error) error {
		return each(func(f *classify.Finding) error { return yield(f) })
	})
}
