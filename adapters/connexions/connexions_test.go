package connexions

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/test/adaptertest"
)

func TestConformance(t *testing.T) { adaptertest.Run(t, Agency{}, "leeds") }

func FuzzJSONL(f *testing.F) {
	adaptertest.Fuzz(f, Agency{}, "caseload.jsonl", seeds(f, "*.jsonl")...)
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

// result is an export read to its end: per record, its line and each event's
// type and data; per reject, its line and reason.
type result struct {
	events  []string // "line type data"
	rejects []string
}

func read(t *testing.T, export string) result {
	t.Helper()
	r, err := Agency{}.Open("x.jsonl", strings.NewReader(export), "leeds")
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
			t.Fatalf("Next: %v", err)
		}
		for _, e := range rec.Events {
			name := strings.TrimSuffix(strings.TrimPrefix(e.Type(), schemas.TypePrefix), schemas.TypeSuffix)
			res.events = append(res.events, itoa(rec.Line)+" "+name+" "+string(e.Data()))
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMapping(t *testing.T) {
	const (
		at   = `"recorded_at":"2026-03-02T09:00:00Z"`
		good = `"uin":"9434765919"`
	)
	tests := []struct {
		name    string
		export  string
		events  []string
		rejects []string
	}{
		{
			name:   "CCIS activity code as a number is neet",
			export: `{"record_id":"A",` + good + `,"kind":"status_change","status":619,"since":"2026-03-01",` + at + "}\n",
			events: []string{`1 connexions.neet {"status":"neet","since":"2026-03-01"}`},
		},
		{
			name:   "CCIS activity code as a string is eet",
			export: `{"record_id":"A",` + good + `,"kind":"status_change","status":"130","since":"2026-03-01",` + at + "}\n",
			events: []string{`1 connexions.neet {"status":"eet","since":"2026-03-01"}`},
		},
		{
			name:    "CCIS not-known code is rejected",
			export:  `{"record_id":"A",` + good + `,"kind":"status_change","status":"810","since":"2026-03-01",` + at + "}\n",
			rejects: []string{`line 1: record A: status "810" is not in the code book ccis-status.csv: add it there, mapped to one of neet, eet`},
		},
		{
			name:   "status words in any case",
			export: `{"record_id":"A",` + good + `,"kind":"status_change","status":" neet ","since":"2026-03-01",` + at + "}\n",
			events: []string{`1 connexions.neet {"status":"neet","since":"2026-03-01"}`},
		},
		{
			name:    "status as a bool",
			export:  `{"record_id":"A",` + good + `,"kind":"status_change","status":true,"since":"2026-03-01",` + at + "}\n",
			rejects: []string{"line 1: record A: status is a JSON bool, want a string"},
		},
		{
			name:   "UIN written 3-3-4 with spaces",
			export: `{"record_id":"A","uin":"943 476 5919","kind":"adviser_ended","adviser":{"name":"Sam Okafor","phone":"0113 496 0410"},` + at + "}\n",
			events: []string{`1 index.practitioner.ended {"practitioner":{"name":"Sam Okafor"}}`},
		},
		{
			name:   "service defaults to personal adviser",
			export: `{"record_id":"A",` + good + `,"kind":"adviser_assigned","adviser":{"name":" Sam Okafor ","email":"sam@example.org"},` + at + "}\n",
			events: []string{`1 index.practitioner.involved {"practitioner":{"name":"Sam Okafor","role":"personal adviser","contact":{"email":"sam@example.org"}},"service":"personal adviser"}`},
		},
		{
			name:    "adviser without phone or email",
			export:  `{"record_id":"A",` + good + `,"kind":"adviser_assigned","adviser":{"name":"Sam Okafor","phone":" "},` + at + "}\n",
			rejects: []string{"line 1: record A: adviser has neither a phone number nor an email address"},
		},
		{
			name:    "adviser email without @",
			export:  `{"record_id":"A",` + good + `,"kind":"adviser_assigned","adviser":{"name":"Sam Okafor","email":"sam.okafor"},` + at + "}\n",
			rejects: []string{"line 1: record A: the broker would refuse the event: data.practitioner.contact.email: …"},
		},
		{
			name:    "adviser phone that is not a number",
			export:  `{"record_id":"A",` + good + `,"kind":"adviser_assigned","adviser":{"name":"Sam Okafor","phone":"ext 4410"},` + at + "}\n",
			rejects: []string{"line 1: record A: the broker would refuse the event: data.practitioner.contact.phone: …"},
		},
		{
			name:    "mistyped year",
			export:  `{"record_id":"A",` + good + `,"kind":"status_change","status":"EET","since":"2206-03-01",` + at + "}\n",
			rejects: []string{"line 1: record A: the broker would refuse the event: data.since: …"},
		},
		{
			name:    "adviser name too long",
			export:  `{"record_id":"A",` + good + `,"kind":"adviser_ended","adviser":{"name":"` + strings.Repeat("x", 101) + `"},` + at + "}\n",
			rejects: []string{"line 1: record A: adviser name is 101 characters long, at most 100 allowed"},
		},
		{
			name:    "control character in a name",
			export:  `{"record_id":"A",` + good + `,"kind":"adviser_ended","adviser":{"name":"Sam\u0007Okafor"},` + at + "}\n",
			rejects: []string{"line 1: record A: adviser name contains a control character"},
		},
		{
			name:    "missing record id",
			export:  `{` + good + `,"kind":"adviser_ended","adviser":{"name":"Sam"},` + at + "}\n",
			rejects: []string{"line 1: record_id is missing"},
		},
		{
			name:    "line that is not an object",
			export:  "[1,2]\n",
			rejects: []string{"line 1: line is a JSON array, want an object"},
		},
		{
			name: "BOM, CRLF, blank lines and no final newline",
			export: "\uFEFF" + `{"record_id":"A",` + good + `,"kind":"adviser_ended","adviser":{"name":"Sam"},` + at + "}\r\n\r\n   \r\n" +
				`{"record_id":"B",` + good + `,"kind":"adviser_ended","adviser":{"name":"Ann"},` + at + "}",
			events: []string{
				`1 index.practitioner.ended {"practitioner":{"name":"Sam"}}`,
				`4 index.practitioner.ended {"practitioner":{"name":"Ann"}}`,
			},
		},
		{
			name: "over-long line is rejected and skipped",
			export: `{"record_id":"A","pad":"` + strings.Repeat("x", maxLine) + `"}` + "\n" +
				`{"record_id":"B",` + good + `,"kind":"adviser_ended","adviser":{"name":"Ann"},` + at + "}\n",
			events:  []string{`2 index.practitioner.ended {"practitioner":{"name":"Ann"}}`},
			rejects: []string{"line 1: line is longer than 1048576 bytes"},
		},
		{
			name:    "time with no zone",
			export:  `{"record_id":"A",` + good + `,"kind":"adviser_ended","adviser":{"name":"Sam"},"recorded_at":"2026-03-02 09:00"}` + "\n",
			rejects: []string{`line 1: record A: recorded_at "2026-03-02 09:00" is not an RFC 3339 time such as 2026-03-02T09:00:00Z`},
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
		})
	}
}

func TestOpen(t *testing.T) {
	for _, hint := range []string{"caseload.jsonl", "/drop/CASELOAD.JSONL", "x.ndjson", "jsonl"} {
		if _, err := (Agency{}).Open(hint, strings.NewReader(""), "leeds"); err != nil {
			t.Errorf("Open(%q): %v", hint, err)
		}
	}
	for _, hint := range []string{"caseload.json", "caseload.csv", "", "xml"} {
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
