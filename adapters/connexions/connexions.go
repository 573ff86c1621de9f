// Package connexions maps exports of the Connexions client caseload system
// (CCIS) to catalogue events.
//
// Enters: JSON lines (*.jsonl, *.ndjson, or --format jsonl), one caseload
// record per line, each with record_id, uin, kind and recorded_at.
//
// Leaves, one event per record, at the record's recorded_at:
//   - kind status_change → connexions.neet {status: neet|eet, since}
//   - kind adviser_assigned → index.practitioner.involved
//     {practitioner {name, role "personal adviser", contact}, service}
//   - kind adviser_ended → index.practitioner.ended {practitioner {name}}
//
// A record's Line is its line number; blank lines are skipped but counted.
//
// Every field, code and reject reason, for the agencies' IT teams:
// docs/formats/connexions.md.
package connexions

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// maxLine bounds one record. A longer line is rejected and skipped: no
// caseload record comes near it, and the reader must not grow without limit.
const maxLine = 1 << 20

// Agency is the Connexions service. Its zero value reads statuses with the
// shipped code book, codes/ccis-status.csv.
type Agency struct {
	// Statuses, if set, replaces the shipped status code book
	// (ecm-adapter --codes FILE); its codes map to one of Statuses.
	Statuses *adapters.CodeBook
}

// Name is the agency kind of the domain spec.
func (Agency) Name() string { return "connexions" }

// Open recognises a JSON lines export by its extension (.jsonl, .ndjson) or
// the bare format name jsonl.
func (a Agency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	switch strings.ToLower(hint) {
	case "jsonl", "ndjson":
	default:
		switch strings.ToLower(filepath.Ext(hint)) {
		case ".jsonl", ".ndjson":
		default:
			return nil, fmt.Errorf("connexions: export %q not recognised: want JSON lines (.jsonl)", hint)
		}
	}
	if area == "" {
		return nil, fmt.Errorf("connexions: no area given")
	}
	statuses := a.Statuses
	if statuses == nil {
		statuses = defaultStatuses
	}
	return &reader{in: bufio.NewReader(r), area: area, statuses: statuses}, nil
}

type reader struct {
	in       *bufio.Reader
	area     string
	statuses *adapters.CodeBook
	line     int // the last line read
}

func (r *reader) Next() (adapters.Record, error) {
	for {
		text, tooLong, err := r.readLine()
		if err == io.EOF {
			return adapters.Record{}, io.EOF
		}
		if err != nil {
			return adapters.Record{}, fmt.Errorf("reading connexions export after line %d: %w", r.line, err)
		}
		if tooLong {
			return adapters.Record{}, adapters.Rejectf(r.line, "line is longer than %d bytes", maxLine)
		}
		if r.line == 1 {
			text = bytes.TrimPrefix(text, []byte("\uFEFF"))
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		return mapRecord(text, r.line, r.area, r.statuses)
	}
}

// readLine reads the next line without its line ending. tooLong says the line
// passed maxLine; its text is then incomplete. err is io.EOF only when no
// line is left.
func (r *reader) readLine() (text []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.in.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLine {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(buf) == 0 && !tooLong:
			return nil, false, io.EOF
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		r.line++
		return buf, tooLong, nil
	}
}

var _ adapters.Agency = Agency{}
