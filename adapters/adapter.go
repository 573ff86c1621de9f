// Package adapters holds what every agency adapter shares: the shape of the
// native-format side (Agency, Reader) and the construction of catalogue
// events from native records. Each agency has its own package below this one
// (adapters/pct, adapters/lea, ...) that turns its export formats into
// CloudEvents; cmd/ecm-adapter reads exports, maps them with an Agency and
// publishes the events to the broker. What each adapter reads, field by
// field, and every reject reason: docs/formats/. Code books (codebook.go)
// keep an agency's native codes as data.
package adapters

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/google/uuid"
)

// Agency is what one adapters/<agency> package provides. The runner calls
// Open once per export (a dropped file, stdin, an HTTP body).
type Agency interface {
	// Name is the agency kind of the domain spec: pct, lea, connexions, yot, police.
	Name() string
	// Open returns a Reader over one export. hint is the export's file name
	// (its extension and name choose the format, e.g. "adt.hl7",
	// "involvements.csv") or a bare format name given with --format. An
	// export the agency does not recognise is an error, before any record.
	Open(hint string, r io.Reader, area string) (Reader, error)
}

// Reader yields an export's records in the order they stand in it.
type Reader interface {
	// Next returns the next record. At the end of the export it returns
	// io.EOF. A record that cannot be mapped returns a *RecordError: the
	// caller writes it to the rejects file and calls Next again. Any other
	// error means the export itself cannot be read further.
	Next() (Record, error)
}

// Record is one native record mapped to catalogue events.
type Record struct {
	// Line is where the record starts in its export, 1-based: a line number
	// for line formats, the message or element number otherwise. The
	// runner uses it for rejects and to resume a file after a restart.
	Line int
	// Name, when set, is how the agency's people know the record, and its
	// rejects name it so instead of "line N": "incident 3 (WY-2026-000201)",
	// the third incident of a police export. It starts with a word and the
	// record's Line, which is how a rejects file is read back (Where).
	Name string
	// Events are the catalogue events the record maps to, in publish order.
	Events []event.Event
}

// RecordError says why one record could not be mapped. The reason is for a
// person in the agency's IT team: it names the field and what is wrong.
// Name is the record's, as in Record.
type RecordError struct {
	Line   int
	Name   string
	Reason string
}

func (e *RecordError) Error() string { return Where(e.Line, e.Name) + ": " + e.Reason }

// Where is how a reject names its record: its Name, or "line N".
func Where(line int, name string) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("line %d", line)
}

// WhereLine reads a record's Line back from the start of a reject: "line
// N: …" or a Name such as "incident N (ID): …".
func WhereLine(reject string) (int, bool) {
	_, rest, ok := strings.Cut(reject, " ")
	if !ok {
		return 0, false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 || end == len(rest) || (rest[end] != ':' && rest[end] != ' ') {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:end])
	return n, err == nil
}

// Rejectf builds a RecordError.
func Rejectf(line int, format string, args ...any) *RecordError {
	return &RecordError{Line: line, Reason: fmt.Sprintf(format, args...)}
}

// idSpace is the UUID namespace of event ids derived from native records.
var idSpace = uuid.MustParse("6f1c2b0e-5d1a-4c3e-9a57-2f0e8d6b1c44")

// NewEvent builds a catalogue event published by agency in area about the
// child with the given UIN. key identifies the native record (and, when one
// record yields several events, which of them): the event id is derived from
// source, name and key, so re-reading the same export yields the same ids and
// the broker stores each event once.
func NewEvent(area, agency, name, uin string, at time.Time, key string, data any) (event.Event, error) {
	e := event.New(event.CloudEventsVersionV1)
	source := "/" + area + "/" + agency
	e.SetID(uuid.NewSHA1(idSpace, []byte(source+"\x00"+name+"\x00"+key)).String())
	e.SetSource(source)
	e.SetType(schemas.TypeOf(name))
	e.SetSubject(uin)
	e.SetTime(at.UTC())
	e.SetDataSchema(schemas.SchemaID(name))
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return e, fmt.Errorf("encoding %s data: %w", name, err)
	}
	return e, nil
}
