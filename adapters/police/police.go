// Package police maps incident notifications from a police force's systems
// to catalogue events.
//
// Enters: JSON (*.json, or --format json), either an array of incidents or a
// single incident object:
//
//	{"incident_id": "WY-2026-000123", "kind": "DOMESTIC ABUSE",
//	 "occurred_at": RFC 3339, "reported_at": RFC 3339, "summary": "…",
//	 "children": [{"uin": "…", "present": true}, …]}
//
// Leaves: one police.incident {kind: domestic_abuse|missing_person|other,
// occurred_at, child_present, summary} per child of an incident, at the
// incident's reported_at. An incident is one record; its Line is its 1-based
// position in the document, and its rejects name it by that and its
// reference ("incident 3 (WY-2026-000207): …"), not by a line. A child
// whose entry is wrong is rejected on its own, after the record of the
// incident's other children; a fault in the incident itself rejects the
// incident. Incidents are decoded one at a time;
// a document that is not JSON stops the reader after the incidents before
// the fault.
//
// Every field, code and reject reason, for the agencies' IT teams:
// docs/formats/police.md.
package police

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// Agency is the chief officer of police for the area. Its zero value reads
// incident categories with the shipped code book, codes/incident-kinds.csv.
type Agency struct {
	// Kinds, if set, replaces the shipped incident kinds code book
	// (ecm-adapter --codes FILE); its codes map to one of Kinds.
	Kinds *adapters.CodeBook
}

// Name is the agency kind of the domain spec.
func (Agency) Name() string { return "police" }

// Open recognises a JSON export by its extension or the bare format name json.
func (a Agency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	if !strings.EqualFold(hint, "json") && !strings.EqualFold(filepath.Ext(hint), ".json") {
		return nil, fmt.Errorf("police: export %q not recognised: want JSON incident notifications (.json)", hint)
	}
	if area == "" {
		return nil, fmt.Errorf("police: no area given")
	}
	kinds := a.Kinds
	if kinds == nil {
		kinds = defaultKinds
	}
	return &reader{in: bufio.NewReader(r), area: area, kinds: kinds}, nil
}

type reader struct {
	in      *bufio.Reader
	dec     *json.Decoder // nil until the document's shape is known
	array   bool          // the document is an array of incidents
	area    string
	kinds   *adapters.CodeBook
	n       int                     // incidents read
	pending []*adapters.RecordError // rejected children of incident n
	err     error                   // the fatal error, once met
}

func (r *reader) Next() (adapters.Record, error) {
	for {
		if len(r.pending) > 0 {
			re := r.pending[0]
			r.pending = r.pending[1:]
			return adapters.Record{}, re
		}
		if r.err != nil {
			return adapters.Record{}, r.err
		}
		raw, err := r.nextIncident()
		if err == io.EOF {
			return adapters.Record{}, io.EOF
		}
		if err != nil {
			r.err = fmt.Errorf("reading police export after incident %d: %w", r.n, err)
			return adapters.Record{}, r.err
		}
		r.n++
		rec, rejects, err := mapIncident(raw, r.n, r.area, r.kinds)
		if err != nil {
			return adapters.Record{}, err
		}
		r.pending = rejects
		if len(rec.Events) > 0 { // else every child was rejected: only rejects
			return rec, nil
		}
	}
}

// nextIncident returns the next incident's JSON, undecoded so that a wrong
// field rejects one incident and only a syntax error stops the export.
func (r *reader) nextIncident() (json.RawMessage, error) {
	if r.dec == nil {
		first, err := r.firstByte()
		if err != nil {
			return nil, err
		}
		if first != '[' && first != '{' {
			return nil, fmt.Errorf("the export is neither a JSON array of incidents nor one incident object")
		}
		r.dec, r.array = json.NewDecoder(r.in), first == '['
		if r.array {
			if _, err := r.dec.Token(); err != nil {
				return nil, err
			}
		}
	} else if !r.array {
		return nil, r.end() // the one object has been read
	}
	if r.array && !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // the closing ]
			return nil, err
		}
		return nil, r.end()
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return raw, nil
}

// end checks that nothing but white space follows the document.
func (r *reader) end() error {
	if _, err := r.dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more JSON after the end of the incidents")
		}
		return err
	}
	return io.EOF
}

// firstByte skips a byte-order mark and white space and peeks at the first
// byte of the document.
func (r *reader) firstByte() (byte, error) {
	if bom, _ := r.in.Peek(3); bytes.Equal(bom, []byte("\uFEFF")) {
		r.in.Discard(3)
	}
	for {
		b, err := r.in.ReadByte()
		if err == io.EOF {
			return 0, errors.New("the export is empty: want a JSON array of incidents, [] for none")
		}
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, r.in.UnreadByte()
	}
}

var _ adapters.Agency = Agency{}
