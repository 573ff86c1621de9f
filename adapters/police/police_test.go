package police

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/test/adaptertest"
)

func TestConformance(t *testing.T) { adaptertest.Run(t, Agency{}, "leeds") }

func FuzzJSON(f *testing.F) {
	adaptertest.Fuzz(f, Agency{}, "incidents.json", seeds(f, "*.json")...)
}

// seeds are the package's samples, good and bad.
func seeds(f *testing.F, pattern string) [][]byte {
	var out [][]byte
	for _, dir := range []string{"testdata", filepath.Join("testdata", "bad")} {
		paths, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// result is an export read to its end: "line subject data" per event, the
// rejects, and the fatal error if the reader stopped with one.
type result struct {
	events  []string
	rejects []string
	fatal   error
}

func read(t *testing.T, export string) result {
	t.Helper()
	r, err := Agency{}.Open("x.json", strings.NewReader(export), "leeds")
	if err != nil {
		t.Fatal(err)
	}
	var res result
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return res
		}
		var re *adapters.RecordError
		if errors.As(err, &re) {
			res.rejects = append(res.rejects, re.Error())
			continue
		}
		if err != nil {
			res.fatal = err
			return res
		}
		for _, e := range rec.Events {
			res.events = append(res.events, strconv.Itoa(rec.Line)+" "+e.Subject()+" "+string(e.Data()))
		}
	}
}

func TestMapping(t *testing.T) {
	incident := func(id, kind, children string) string {
		return `{"incident_id":"` + id + `","kind":"` + kind + `","occurred_at":"2026-03-14T22:40:00+01:00",` +
			`"reported_at":"2026-03-14T23:05:00Z","summary":" Argument. ","children":[` + children + `]}`
	}
	const (
		amy = `{"uin":"9434765919","present":true}`
		ben = `{"uin":"4010232137","present":false}`
	)
	tests := []struct {
		name    string
		export  string
		events  []string
		rejects []string
		fatal   string // part of the fatal error's text
	}{
		{
			name:   "one object, not an array; occurred_at in UTC; summary trimmed",
			export: "\uFEFF\n " + incident("A", "domestic_abuse", amy+","+ben) + "\n",
			events: []string{
				`1 9434765919 {"kind":"domestic_abuse","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`,
				`1 4010232137 {"kind":"domestic_abuse","occurred_at":"2026-03-14T21:40:00Z","child_present":false,"summary":"Argument."}`,
			},
		},
		{
			name:   "kind spellings",
			export: "[" + incident("A", "Domestic-Violence", amy) + "," + incident("B", "MISPER", amy) + "," + incident("C", "asb", amy) + "]",
			events: []string{
				`1 9434765919 {"kind":"domestic_abuse","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`,
				`2 9434765919 {"kind":"missing_person","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`,
				`3 9434765919 {"kind":"other","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`,
			},
		},
		{
			name:   "bad children are rejected after the good ones' record, in their order",
			export: "[" + incident("A", "DOMESTIC ABUSE", `{"uin":"123"},`+amy+`,{"uin":"9434765919","present":false},7,`+ben) + "]",
			events: []string{
				`1 9434765919 {"kind":"domestic_abuse","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`,
				`1 4010232137 {"kind":"domestic_abuse","occurred_at":"2026-03-14T21:40:00Z","child_present":false,"summary":"Argument."}`,
			},
			rejects: []string{
				"incident 1 (A): children[0]: uin must be exactly 10 digits",
				"incident 1 (A): children[2]: the child is listed twice in the incident",
				"incident 1 (A): children[3]: child is a JSON number, want an object",
			},
		},
		{
			name:    "all children rejected: no record, only rejects",
			export:  "[" + incident("A", "DOMESTIC ABUSE", `{"uin":"9434765919"}`) + "," + incident("B", "OTHER", amy) + "]",
			events:  []string{`2 9434765919 {"kind":"other","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`},
			rejects: []string{"incident 1 (A): children[0]: present is missing: say whether the child was present"},
		},
		{
			name:    "no children",
			export:  "[" + incident("A", "OTHER", "") + "]",
			rejects: []string{"incident 1 (A): children is empty: the incident names no child"},
		},
		{
			name:    "summary too long",
			export:  strings.Replace(incident("A", "OTHER", amy), "Argument.", strings.Repeat("é", 4001), 1),
			rejects: []string{"incident 1 (A): summary is 4001 characters long, at most 4000 allowed"},
		},
		{
			name:    "an incident that is not an object",
			export:  `["WY-1",` + incident("B", "OTHER", amy) + `]`,
			events:  []string{`2 9434765919 {"kind":"other","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`},
			rejects: []string{"incident 1: incident is a JSON string, want an object"},
		},
		{
			name:    "wrong type in the incident names the incident",
			export:  `[{"incident_id":"A","summary":12}]`,
			rejects: []string{"incident 1 (A): summary is a JSON number, want a string"},
		},
		{
			name:    "occurred in the future: the broker would refuse it, so the incident is rejected",
			export:  strings.Replace(incident("A", "OTHER", amy+","+ben), "2026-03-14T22:40:00+01:00", "2099-03-14T22:40:00Z", 1),
			rejects: []string{"incident 1 (A): the broker would refuse the event: data.occurred_at: …"},
		},
		{
			name:   "empty array",
			export: " [ ] ",
		},
		{
			name:   "syntax error: incidents before it come out, then a fatal error",
			export: "[" + incident("A", "OTHER", amy) + ", {\"incident_id\": }, " + incident("B", "OTHER", amy) + "]",
			events: []string{`1 9434765919 {"kind":"other","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`},
			fatal:  "after incident 1: invalid character",
		},
		{
			name:   "truncated array",
			export: "[" + incident("A", "OTHER", amy) + ",",
			events: []string{`1 9434765919 {"kind":"other","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`},
			fatal:  "unexpected EOF",
		},
		{
			name:   "data after the document",
			export: incident("A", "OTHER", amy) + incident("B", "OTHER", amy),
			events: []string{`1 9434765919 {"kind":"other","occurred_at":"2026-03-14T21:40:00Z","child_present":true,"summary":"Argument."}`},
			fatal:  "more JSON after the end",
		},
		{
			name:  "empty export",
			fatal: "the export is empty",
		},
		{
			name:   "not JSON",
			export: "incident_id,kind\n",
			fatal:  "neither a JSON array",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := read(t, tt.export)
			if strings.Join(got.events, "\n") != strings.Join(tt.events, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got.events, "\n"), strings.Join(tt.events, "\n"))
			}
			if !matchRejects(got.rejects, tt.rejects) {
				t.Errorf("rejects:\n%s\nwant:\n%s", strings.Join(got.rejects, "\n"), strings.Join(tt.rejects, "\n"))
			}
			switch {
			case tt.fatal == "" && got.fatal != nil:
				t.Errorf("fatal error %v, want none", got.fatal)
			case tt.fatal != "" && (got.fatal == nil || !strings.Contains(got.fatal.Error(), tt.fatal)):
				t.Errorf("fatal error %v, want one containing %q", got.fatal, tt.fatal)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	for _, hint := range []string{"incidents.json", "/drop/WY.JSON", "json"} {
		if _, err := (Agency{}).Open(hint, strings.NewReader(""), "leeds"); err != nil {
			t.Errorf("Open(%q): %v", hint, err)
		}
	}
	for _, hint := range []string{"incidents.jsonl", "incidents.xml", "", "csv"} {
		if _, err := (Agency{}).Open(hint, strings.NewReader(""), "leeds"); err == nil {
			t.Errorf("Open(%q) = nil error, want one", hint)
		}
	}
}

// matchRejects compares rejects with their wants. A want ending in … is a
// prefix: the wording after it is the schemas package's, not this adapter's.
func matchRejects(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		if p, ok := strings.CutSuffix(w, "…"); ok && strings.HasPrefix(got[i], p) {
			continue
		}
		if got[i] != w {
			return false
		}
	}
	return true
}
