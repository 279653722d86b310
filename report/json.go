package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	// A million identities are over a gigabyte of JSON: the list is
	// written one identity at a time into the document's place for it,
	// with the bytes an Encoder writes for the whole document.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	frame := buf.Bytes()
	i := bytes.Index(frame, emptyIdentities)
	if i < 0 {
		return errors.New("findings.json: the identities are not where the format puts them")
	}
	open := i + len(emptyIdentities) - len("],")
	head, tail := frame[:open], frame[open:]
	if _, err := w.Write(head); err != nil {
		return err
	}
	var item bytes.Buffer
	n := 0
	err := each(func(f *classify.Finding) error {
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("findings.json: identity %q: %w", f.UPN, err)
		}
		item.Reset()
		if n > 0 {
			item.WriteByte(',')
		}
		n++
		// An identity sits two levels deep: the document, then its list.
		item.WriteString("\n  ")
		if err := json.Indent(&item, b, "  ", " "); err != nil {
			return err
		}
		_, err = w.Write(item.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	if n > 0 {
		if _, err := io.WriteString(w, "\n "); err != nil {
			return err
		}
	}
	_, err = w.Write(tail)
	return err
}

// emptyIdentities is the empty identity list as the indented document
// holds it. It cannot occur inside a string value, where the newline and
// the quotes would be escaped.
var emptyIdentities = []byte("\n \"identities\": [],")
