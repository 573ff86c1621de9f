package yot

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

func FuzzXML(f *testing.F) {
	adaptertest.Fuzz(f, Agency{}, "cases.xml", seeds(f, "*.xml")...)
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

// result is an export read to its end: "line type data" per event, the
// rejects, and the fatal error if the reader stopped with one.
type result struct {
	events  []string
	rejects []string
	fatal   error
}

func read(t *testing.T, export string) result {
	t.Helper()
	r, err := Agency{}.Open("x.xml", strings.NewReader(export), "leeds")
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
			if _, again := r.Next(); again != err {
				t.Errorf("Next after a fatal error = %v, want the same error again", again)
			}
			return res
		}
		for _, e := range rec.Events {
			name := strings.TrimSuffix(strings.TrimPrefix(e.Type(), schemas.TypePrefix), schemas.TypeSuffix)
			res.events = append(res.events, strconv.Itoa(rec.Line)+" "+name+" "+e.Time().Format("15:04")+" "+string(e.Data()))
		}
	}
}

func TestMapping(t *testing.T) {
	const (
		person = `<young-person><uin>9434765919</uin></young-person>`
		priya  = `<worker><name>Priya Shah</name><phone>0113 496 0501</phone></worker>`
	)
	tests := []struct {
		name    string
		export  string
		events  []string
		rejects []string
		fatal   string // part of the fatal error's text
	}{
		{
			name: "line is where <case> starts, even with attributes on later lines",
			export: "<x exported=\"2026-04-01T06:00:00Z\">\n\n  <case\n id=\"A\"\n updated=\"2026-03-30T14:20:00Z\">" + person + priya + "</case>\n" +
				`<case id="B">` + person + `</case></x>`,
			events: []string{`3 index.practitioner.involved 14:20 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`},
		},
		{
			name:   "event time falls back to the export's",
			export: `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person + priya + `</case></x>`,
			events: []string{`1 index.practitioner.involved 06:00 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`},
		},
		{
			name:    "no time at all",
			export:  `<x><case id="A">` + person + priya + `</case></x>`,
			rejects: []string{"line 1: case A: updated attribute (and the export's exported attribute) is missing"},
		},
		{
			name: "order names the first worker, without a role; workers come first",
			export: `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person +
				`<order><type> youth-rehabilitation-order </type><start>2026-02-03</start><end>2027-02-02</end></order>` +
				priya + `<worker><name>Aisha Rahman</name><email>a.rahman@example.org</email></worker></case></x>`,
			events: []string{
				`1 index.practitioner.involved 06:00 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`,
				`1 index.practitioner.involved 06:00 {"practitioner":{"name":"Aisha Rahman","role":"YOT case worker","contact":{"email":"a.rahman@example.org"}},"service":"youth justice"}`,
				`1 youthjustice.order 06:00 {"order":"youth_rehabilitation_order","start":"2026-02-03","end":"2027-02-02","worker":{"name":"Priya Shah","contact":{"phone":"0113 496 0501"}}}`,
			},
		},
		{
			name: "a worker or order listed twice is published once",
			export: `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person + priya + priya +
				`<order><type>RO</type><start>2026-02-03</start><end>2026-08-02</end></order>` +
				`<order><type>Referral Order</type><start>2026-02-03</start><end>2026-08-02</end></order></case></x>`,
			events: []string{
				`1 index.practitioner.involved 06:00 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`,
				`1 youthjustice.order 06:00 {"order":"referral_order","start":"2026-02-03","end":"2026-08-02","worker":{"name":"Priya Shah","contact":{"phone":"0113 496 0501"}}}`,
			},
		},
		{
			name:    "worker name with a bidirectional override",
			export:  `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person + "<worker><name>Priya \u202eShah</name><phone>0113 496 0501</phone></worker></case></x>",
			rejects: []string{"line 1: case A: the broker would refuse the event: data.practitioner.name: …"},
		},
		{
			name: "the same order listed twice is published once, an amended one again",
			export: `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person + priya +
				`<order id="O-1"><type>RO</type><start>2026-02-03</start><end>2026-08-02</end></order>` +
				`<order id="O-1"><type>RO</type><start>2026-02-03</start><end>2026-08-02</end></order>` +
				`<order id="O-1"><type>RO</type><start>2026-02-03</start><end>2026-11-02</end></order></case></x>`,
			events: []string{
				`1 index.practitioner.involved 06:00 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`,
				`1 youthjustice.order 06:00 {"order":"referral_order","start":"2026-02-03","end":"2026-08-02","worker":{"name":"Priya Shah","contact":{"phone":"0113 496 0501"}}}`,
				`1 youthjustice.order 06:00 {"order":"referral_order","start":"2026-02-03","end":"2026-11-02","worker":{"name":"Priya Shah","contact":{"phone":"0113 496 0501"}}}`,
			},
		},
		{
			name:    "two young people in one case",
			export:  `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person + person + `</case></x>`,
			rejects: []string{"line 1: case A: has 2 young-person elements, want one"},
		},
		{
			name:    "order without an end",
			export:  `<x exported="2026-04-01T06:00:00Z"><case id="A">` + person + priya + `<order id="O-1"><type>DTO</type><start>2026-02-03</start></order></case></x>`,
			rejects: []string{"line 1: case A: order O-1 end is missing"},
		},
		{
			name: "malformed document: cases before the fault come out, then a fatal error",
			export: "<x exported=\"2026-04-01T06:00:00Z\">\n<case id=\"A\">" + person + priya + "</case>\n" +
				"<case id=\"B\">" + person + "<worker><name>Ann</wrong></case>\n<case id=\"C\">" + person + "</case></x>",
			events: []string{`2 index.practitioner.involved 06:00 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`},
			fatal:  "line 3",
		},
		{
			name:   "truncated document",
			export: "<x exported=\"2026-04-01T06:00:00Z\">\n<case id=\"A\">" + person + priya + "</case>\n<case id=\"B\">",
			events: []string{`2 index.practitioner.involved 06:00 {"practitioner":{"name":"Priya Shah","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`},
			fatal:  "unexpected EOF",
		},
		{
			name:  "empty export",
			fatal: "no root element",
		},
		{
			name:  "undeclared entity",
			fatal: "entity",
			export: `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x exported="2026-04-01T06:00:00Z"><case id="A">` + person +
				`<worker><name>&e;</name><phone>1</phone></worker></case></x>`,
		},
		{
			name: "ISO-8859-1 export",
			export: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<x exported=\"2026-04-01T06:00:00Z\"><case id=\"A\">" + person +
				"<worker><name>Ren\xe9e L\xf3pez</name><phone>0113 496 0501</phone></worker></case></x>",
			events: []string{`2 index.practitioner.involved 06:00 {"practitioner":{"name":"Renée López","role":"YOT case worker","contact":{"phone":"0113 496 0501"}},"service":"youth justice"}`},
		},
		{
			name:   "unsupported encoding",
			fatal:  "not supported",
			export: "<?xml version=\"1.0\" encoding=\"EBCDIC\"?>\n<x/>",
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
	for _, hint := range []string{"cases.xml", "/drop/CASES.XML", "xml"} {
		if _, err := (Agency{}).Open(hint, strings.NewReader(""), "leeds"); err != nil {
			t.Errorf("Open(%q): %v", hint, err)
		}
	}
	for _, hint := range []string{"cases.json", "cases.xml.gz", "", "jsonl"} {
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
