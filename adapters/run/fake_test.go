package run

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// fakeAgency reads a tiny line format, *.fake (or --format fake), one record
// a line:
//
//	KEY            one event, its id derived from KEY
//	multi KEY      two events
//	bad REASON     a record that cannot be mapped
//	fatal          the export breaks off here
//
// Blank lines are not records.
type fakeAgency struct{}

func (fakeAgency) Name() string { return "pct" }

func (fakeAgency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	if hint != "fake" && !strings.HasSuffix(hint, ".fake") {
		return nil, fmt.Errorf("fake: %s is not a .fake export", hint)
	}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1<<20)
	return &fakeReader{s: s, area: area}, nil
}

type fakeReader struct {
	s    *bufio.Scanner
	area string
	line int
}

var fakeTime = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func (r *fakeReader) Next() (adapters.Record, error) {
	for {
		if !r.s.Scan() {
			if err := r.s.Err(); err != nil {
				return adapters.Record{}, err
			}
			return adapters.Record{}, io.EOF
		}
		r.line++
		text := strings.TrimSpace(r.s.Text())
		if text != "" {
			return r.record(text)
		}
	}
}

func (r *fakeReader) record(text string) (adapters.Record, error) {
	if reason, ok := strings.CutPrefix(text, "bad "); ok {
		return adapters.Record{}, adapters.Rejectf(r.line, "%s", reason)
	}
	if text == "fatal" {
		return adapters.Record{}, errors.New("the export breaks off")
	}
	n := 1
	if key, ok := strings.CutPrefix(text, "multi "); ok {
		text, n = key, 2
	}
	rec := adapters.Record{Line: r.line}
	for i := range n {
		e, err := adapters.NewEvent(r.area, "pct", "index.practitioner.involved", "4010234563", fakeTime,
			fmt.Sprintf("%s/%d", text, i), map[string]string{"key": text})
		if err != nil {
			return rec, err
		}
		rec.Events = append(rec.Events, e)
	}
	return rec, nil
}

var _ adapters.Agency = fakeAgency{}

// fakeEvent is what fakeAgency maps line KEY to (its first event).
func fakeEvent(area, key string) event.Event {
	e, err := adapters.NewEvent(area, "pct", "index.practitioner.involved", "4010234563", fakeTime,
		key+"/0", map[string]string{"key": key})
	if err != nil {
		panic(err)
	}
	return e
}
