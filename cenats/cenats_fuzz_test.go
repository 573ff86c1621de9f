package cenats

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
)

// FuzzAttributeRoundTrip encodes an event whose attribute values are fuzzed
// and decodes it again: in binary mode every value must come out exactly
// as it went in, whatever bytes it holds (percent-encoding must carry CR,
// LF, %, non-ASCII and invalid UTF-8 through); in structured mode every
// valid UTF-8 value must.
func FuzzAttributeRoundTrip(f *testing.F) {
	f.Add("id-1", "9434765919", "abc", "Sam Tutor")
	f.Add("a%20b", "%ZZ", "100%", "50% off")
	f.Add("line\r\nce-source: /leeds/police", "\x00", "\xff\xfe", "é+ü/?#")
	f.Add("", " ", "%2F", "a\tb")
	f.Fuzz(func(t *testing.T, id, subject, trace, practitioner string) {
		e := event.New()
		e.SetID(id)
		e.SetSource("/leeds/pct")
		e.SetType("uk.gov.ecm.index.gp.recorded.v1")
		e.SetSubject(subject)
		e.SetExtension("trace", trace)
		e.SetExtension("practitioner", practitioner)
		if err := e.SetData("application/json", json.RawMessage(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
		// What went in is what the event holds (the SDK trims a subject).
		want := map[string]string{"specversion": "1.0", "id": e.ID(), "source": "/leeds/pct",
			"type": "uk.gov.ecm.index.gp.recorded.v1", "trace": trace, "practitioner": practitioner}
		if s := e.Subject(); s != "" {
			want["subject"] = s // Encode leaves an empty subject out
		}

		m, err := Encode("ecm.ingest.leeds.pct.00", e)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range m.Header {
			for _, v := range vs {
				for i := 0; i < len(v); i++ {
					if v[i] < 0x21 || v[i] > 0x7e {
						t.Fatalf("header %s carries byte %#x unescaped: %q", k, v[i], v)
					}
				}
			}
		}
		raw, err := Decode(m)
		if err != nil {
			t.Fatalf("decoding what Encode wrote: %v (%v)", err, m.Header)
		}
		if raw.Structured {
			t.Fatalf("a binary-mode message decoded as structured: %v", m.Header)
		}
		for k, w := range want {
			if got, ok := raw.String(k); !ok || got != w {
				t.Errorf("binary %s: %q went in, %q came out (%v)", k, w, got, ok)
			}
		}
		if ct, _ := raw.String("datacontenttype"); ct != "application/json" {
			t.Errorf("binary datacontenttype: %q", ct)
		}
		if string(raw.Data) != `{"a":1}` {
			t.Errorf("binary data: %q", raw.Data)
		}

		sm, err := EncodeStructured("ecm.ingest.leeds.pct.00", e)
		if err != nil {
			return // the SDK refuses some values in JSON; nothing was sent
		}
		sraw, err := Decode(sm)
		if err != nil && !utf8.Valid(sm.Data) {
			return // structured events that are not UTF-8 are refused whole
		}
		if err != nil {
			t.Fatalf("decoding what EncodeStructured wrote: %v\n%s", err, sm.Data)
		}
		for k, w := range want {
			if !utf8.ValidString(w) {
				continue // JSON cannot carry it; the broker must refuse it, not guess
			}
			if got, ok := sraw.String(k); !ok || got != w {
				t.Errorf("structured %s: %q went in, %q came out (%v)", k, w, got, ok)
			}
		}
	})
}
