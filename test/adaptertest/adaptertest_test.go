package adaptertest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/uin"
)

// lineAgency is a minimal agency for testing the suite itself: each line of a
// *.txt export, "UIN|practitioner name", is a practitioner's involvement ending.
type lineAgency struct{}

func (lineAgency) Name() string { return "pct" }

func (lineAgency) Open(hint string, r io.Reader, area string) (adapters.Reader, error) {
	if !strings.HasSuffix(hint, ".txt") {
		return nil, fmt.Errorf("%s: not a .txt export", hint)
	}
	return &lineReader{s: bufio.NewScanner(r), area: area}, nil
}

var nameRE = regexp.MustCompile(`^[A-Z][a-z]+( [A-Z][a-z]+)*$`)

type lineReader struct {
	s    *bufio.Scanner
	area string
	line int
}

func (r *lineReader) Next() (adapters.Record, error) {
	if !r.s.Scan() {
		if err := r.s.Err(); err != nil {
			return adapters.Record{}, err
		}
		return adapters.Record{}, io.EOF
	}
	r.line++
	id, name, _ := strings.Cut(r.s.Text(), "|")
	if err := uin.Check(id); err != nil {
		return adapters.Record{}, adapters.Rejectf(r.line, "uin: %v", err)
	}
	if !nameRE.MatchString(name) {
		return adapters.Record{}, adapters.Rejectf(r.line, "name %q is not a name", name)
	}
	if len(name) > 100 { // the catalogue's limit for a name, as a real adapter checks it
		return adapters.Record{}, adapters.Rejectf(r.line, "name is %d characters, at most 100", len(name))
	}
	data := map[string]any{"practitioner": map[string]string{"name": name}}
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	e, err := adapters.NewEvent(r.area, "pct", "index.practitioner.ended", id, at, r.s.Text(), data)
	if err != nil {
		return adapters.Record{}, err
	}
	return adapters.Record{Line: r.line, Events: []event.Event{e}}, nil
}

func TestRun(t *testing.T) { Run(t, lineAgency{}, "leeds") }

func FuzzLines(f *testing.F) { Fuzz(f, lineAgency{}, "x.txt", []byte("9434765919|Ann Lee\n")) }

func TestCheckEvent(t *testing.T) {
	good := func() event.Event {
		e, err := adapters.NewEvent("leeds", "pct", "index.practitioner.ended", "9434765919",
			time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), "k", map[string]any{"practitioner": map[string]string{"name": "Ann Lee"}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name   string
		change func(*event.Event)
		want   string // a problem that must be listed; "" for none
	}{
		{"good", func(*event.Event) {}, ""},
		{"other area", func(e *event.Event) { e.SetSource("/york/pct") }, `source "/york/pct"`},
		{"other agency", func(e *event.Event) { e.SetSource("/leeds/lea") }, `source "/leeds/lea"`},
		{"bad check digit", func(e *event.Event) { e.SetSubject("9434765918") }, "check digit"},
		{"no subject", func(e *event.Event) { e.SetSubject("") }, "subject"},
		{"unversioned type", func(e *event.Event) { e.SetType("uk.gov.ecm.index.practitioner.ended") }, "type"},
		{"foreign type", func(e *event.Event) { e.SetType("org.example.ended.v1") }, "type"},
		{"other schema", func(e *event.Event) { e.SetDataSchema("urn:uk.gov.ecm:schema:index.concern.flagged.v1") }, "dataschema"},
		{"no time", func(e *event.Event) { e.SetTime(time.Time{}) }, "time is not set"},
		{"not json", func(e *event.Event) { e.DataEncoded = []byte("{") }, "not JSON"},
		{"not in catalogue", func(e *event.Event) { e.SetType("uk.gov.ecm.index.child.deleted.v1") }, "not in the event catalogue"},
		{"not its event", func(e *event.Event) { e.SetType("uk.gov.ecm.police.incident.v1") }, "may not publish police.incident"},
		{"schema-invalid", func(e *event.Event) { e.DataEncoded = []byte(`{"practitioner":{"name":""}}`) }, "data.practitioner.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good()
			tt.change(&e)
			problems := CheckEvent(e, "pct", "leeds")
			if tt.want == "" {
				if len(problems) > 0 {
					t.Fatalf("CheckEvent = %q, want none", problems)
				}
				return
			}
			if !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Fatalf("CheckEvent = %q, want a problem containing %q", problems, tt.want)
			}
		})
	}
}
