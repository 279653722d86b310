package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A plan of a million identities is over a gigabyte of JSON. Its seal and
// its file are therefore encoded one identity at a time, never as one
// document: the bytes are exactly those encoding/json writes for the whole
// plan (json.Marshal for the seal, an Encoder indenting by one space for
// the file), which the tests check, so plans written before stay valid.

// The identity list is the last field before the seal, and the seal is the
// last field of all: the plan without its identities ends with these.
var (
	compactTail  = []byte(`"identities":[],"seal":`)
	indentedTail = []byte(`"identities": [],` + "\n" + ` "seal": `)
)

// splitAtIdentities encodes p without its identities and cuts the result
// where the identities go: head ends with the list's '[', tail begins with
// the ']' that closes it.
func (p *Plan) splitAtIdentities(seal string, indent bool) (head, tail []byte, err error) {
	c := *p
	c.Identities = []Identity{}
	c.Seal = seal
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, nil, err
	}
	cut := compactTail
	if indent {
		var buf bytes.Buffer
		if err := json.Indent(&buf, b, "", " "); err != nil {
			return nil, nil, err
		}
		b, cut = append(buf.Bytes(), '\n'), indentedTail
	}
	i := bytes.LastIndex(b, cut)
	if i < 0 {
		return nil, nil, errors.New("plan encoding: the identities are not where the format puts them")
	}
	open := i + bytes.IndexByte(cut, '[') + 1
	return b[:open], b[open:], nil
}

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
	head, tail, err := p.splitAtIdentities(seal, indent)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	var buf bytes.Buffer
	for i := range p.Identities {
		b, err := json.Marshal(&p.Identities[i])
		if err != nil {
			return fmt.Errorf("plan identity %q: %w", p.Identities[i].UPN, err)
		}
		buf.Reset()
		if i > 0 {
			buf.WriteByte(',')
		}
		if indent {
			// An identity sits two levels deep: the plan object, then
			// its list.
			buf.WriteString("\n  ")
			if err := json.Indent(&buf, b, "  ", " "); err != nil {
				return err
			}
		} else {
			buf.Write(b)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if indent && len(p.Identities) > 0 {
		if _, err := io.WriteString(w, "\n "); err != nil {
			return err
		}
	}
	_, err = w.Write(tail)
	return err
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
