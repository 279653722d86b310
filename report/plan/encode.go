package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"

	"github.com/anchorscan/anchorscan/report/jsonlist"
)

// A plan of a million identities is over a gigabyte of JSON. Its seal and
// its file are therefore encoded one identity at a time, never as one
// document: the bytes are exactly those encoding/json writes for the whole
// plan (json.Marshal for the seal, an Encoder indenting by one space for
// the file), which the tests check, so plans written before stay valid.

// encode writes p's JSON to w identity by identity: compact with the seal
// empty (the canonical form the seal hashes), or indented with p's seal
// (the file).
func (p *Plan) encode(w io.Writer, indent bool) error {
	seal := ""
	if indent {
		seal = p.Seal
	}
	if p.Identities == nil {
		// No list to stream: a nil list is written as null, as a whole
		// document would have it.
		return p.encodeWhole(w, seal, indent)
	}
	c := *p
	c.Identities = []Identity{}
	c.Seal = seal
	frame, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	if indent {
		var buf bytes.Buffer
		if err := json.Indent(&buf, frame, "", " "); err != nil {
			return err
		}
		frame = append(buf.Bytes(), '\n')
	}
	return jsonlist.Write(w, frame, "identities", indent, func(yield func(any) error) error {
		for i := range p.Identities {
			if err := yield(&p.Identities[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *Plan) encodeWhole(w io.Writer, seal string, indent bool) error {
	c := *p
	c.Seal = seal
	if !indent {
		b, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(&c)
}

// ComputeSeal returns the seal of p's content: the sha256 of its compact
// JSON with the seal empty.
func (p *Plan) ComputeSeal() (string, error) {
	h := sha256.New()
	if err := p.encode(h, false); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SealPlan sets p.Seal.
func (p *Plan) SealPlan() error {
	s, err := p.ComputeSeal()
	if err != nil {
		return err
	}
	p.Seal = s
	return nil
}

// Write writes the sealed plan as indented JSON.
func (p *Plan) Write(w io.Writer) error {
	if p.Seal == "" {
		return errors.New("plan is not sealed")
	}
	return p.encode(w, true)
}

// matchWriter compares what is written to it with want, in order, without
// keeping a copy: Read checks a file against its re-encoding this way.
type matchWriter struct {
	want []byte
	off  int
	diff bool
}

func (m *matchWriter) Write(b []byte) (int, error) {
	if !m.diff {
		if m.off+len(b) > len(m.want) || !bytes.Equal(b, m.want[m.off:m.off+len(b)]) {
			m.diff = true
		}
		m.off += len(b)
	}
	return len(b), nil
}

// matches reports whether everything written equals all of want.
func (m *matchWriter) matches() bool { return !m.diff && m.off == len(m.want) }
