package event

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/nats-io/nats.go"
)

// fuzzNow is the broker's clock in the fuzz targets: fixed, so that a
// finding replays the same way whenever it is run.
var fuzzNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const fuzzPublisher = "leeds/pct"

// fuzzSeeds are valid structured events from leeds/pct (every type it may
// publish, with the schemas' valid fixtures as data) and the small
// structured inputs of the bad-input corpus.
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	valid, _ := filepath.Glob("../../schemas/testdata/valid/*.json")
	for _, p := range valid {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		base := filepath.Base(p)
		name := base[:strings.Index(base, ".v1.")]
		ev := map[string]any{"specversion": "1.0", "id": "seed-" + base, "source": "/" + fuzzPublisher,
			"type": "uk.gov.ecm." + name + ".v1", "subject": "9434765919", "time": "2026-11-20T09:30:00Z",
			"datacontenttype": "application/json", "data": json.RawMessage(data)}
		if name == "caf.completed" {
			ev["override"] = "Child at risk; mother cannot be reached for consent."
			ev["practitioner"] = "Sarah Khan"
		}
		b, err := json.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	if len(seeds) < 10 {
		f.Fatalf("only %d valid seeds: run from broker/event", len(seeds))
	}
	bad, _ := filepath.Glob("../../test/testdata/bad/*.json")
	for _, p := range bad {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 8<<10 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzValidateStructured feeds bytes to DecodeStructured and Validate. It
// checks that neither panics, that Validate returns an event or problems
// (never both, never neither), that every problem says why, and that an
// accepted event, encoded again as the broker stores and delivers it,
// decodes and validates to the same event.
func FuzzValidateStructured(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := cenats.DecodeStructured(body)
		if err != nil {
			return
		}
		ev := checkValidate(t, raw)
		if ev == nil {
			return
		}
		again := make(map[string]any, len(ev.Attrs)+1)
		for k, v := range ev.Attrs {
			again[k] = v
		}
		again["data"] = ev.Raw
		b, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("re-encoding an accepted event: %v", err)
		}
		raw2, err := cenats.DecodeStructured(b)
		if err != nil {
			t.Fatalf("an accepted event, re-encoded, does not decode: %v\n%s", err, b)
		}
		ev2 := checkValidate(t, raw2)
		if ev2 == nil {
			t.Fatalf("an accepted event, re-encoded, is rejected\nfirst:  %s\nagain: %s", body, b)
		}
		sameEvent(t, ev, ev2)
	})
}

// FuzzDecodeBinary builds a binary-mode NATS message from fuzzed header
// values, an extension and a body, and decodes and validates it. An
// accepted event, encoded again in binary mode (percent-encoded headers),
// must decode and validate to the same event.
func FuzzDecodeBinary(f *testing.F) {
	data := `{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}}}`
	f.Add("1.0", "bin-1", "/leeds/pct", "uk.gov.ecm.index.gp.recorded.v1", "9434765919", "2026-11-20T09:30:00Z", "application/json", "trace", "abc", []byte(data))
	f.Add("1.0", "bin%202", "%2Fleeds%2Fpct", "uk.gov.ecm.index.gp.recorded.v1", "9434765919", "2026-11-20T09:30:00.123456789Z", "", "practitioner", "Sam%20Tutor", []byte(data))
	f.Add("1.0", "bin-3%0D%0A", "/leeds/police", "uk.gov.ecm.index.gp.recorded.v1", "9434765918", "2999-01-01T00:00:00Z", "text/plain", "Bad_Name", "%ZZ", []byte(`{"practice":`))
	f.Add("1.0", "bin-4", "/leeds/pct", "uk.gov.ecm.safeguarding.referral.v1", "9434765919", "2026-11-23T11:00:00+01:00", "application/json; charset=utf-8", "override",
		"Risk%20of%20significant%20harm%20to%20the%20child", []byte(`{"category":"neglect","summary":"No food at home.","significant_harm":false}`))
	f.Add("1.0", "bin-5", "/leeds/pct", "uk.gov.ecm.consent.granted.v1", "9434765919", "2026-11-23T12:04:59Z", "application/json", "x", "%FF", []byte(`{"given_by":"parent","purposes":["caf"],"agencies":["lea"]}`))
	f.Add("1.0", "bin-6", "/leeds/pct", "", "9434765919", "2026-11-20T09:30:00Z", "application/json", "x", "", []byte(`{"anything":"at all"}`))
	f.Fuzz(func(t *testing.T, specversion, id, source, typ, subject, at, ct, ext, extValue string, body []byte) {
		m := nats.NewMsg("ecm.ingest.leeds.pct.00")
		for k, v := range map[string]string{"specversion": specversion, "id": id, "source": source, "type": typ, "subject": subject, "time": at} {
			m.Header.Set(cenats.HeaderPrefix+k, v)
		}
		m.Header.Set(cenats.HeaderPrefix+ext, extValue)
		if ct != "" {
			m.Header.Set(cenats.HeaderContentType, ct)
		}
		m.Data = body
		raw, err := cenats.Decode(m)
		if err != nil {
			return
		}
		ev := checkValidate(t, raw)
		if ev == nil || raw.Structured {
			return
		}
		again := nats.NewMsg(m.Subject)
		for k, v := range ev.Attrs {
			if k != "datacontenttype" {
				again.Header.Set(cenats.HeaderPrefix+k, url.PathEscape(v.(string)))
			}
		}
		again.Header.Set(cenats.HeaderContentType, "application/json")
		again.Data = ev.Raw
		raw2, err := cenats.Decode(again)
		if err != nil {
			t.Fatalf("an accepted event, re-encoded, does not decode: %v\n%v", err, again.Header)
		}
		ev2 := checkValidate(t, raw2)
		if ev2 == nil {
			t.Fatalf("an accepted event, re-encoded, is rejected: %v", again.Header)
		}
		sameEvent(t, ev, ev2)
	})
}

// checkValidate runs Validate and checks the shape of its answer.
func checkValidate(t *testing.T, raw cenats.Raw) *Event {
	t.Helper()
	ev, probs := Validate(raw, fuzzPublisher, fuzzNow)
	switch {
	case ev == nil && len(probs) == 0:
		t.Fatalf("no event and no problem for %v", raw.Attrs)
	case ev != nil && len(probs) > 0:
		t.Fatalf("an event and problems %v", probs)
	}
	for _, p := range probs {
		if p.Reason == "" {
			t.Fatalf("problem without a reason: %+v", p)
		}
	}
	if ev != nil && (ev.Source != "/"+fuzzPublisher || ev.Name == "" || ev.Data == nil) {
		t.Fatalf("accepted an event with source %q, catalogue name %q, data %v", ev.Source, ev.Name, ev.Data)
	}
	return ev
}

func sameEvent(t *testing.T, a, b *Event) {
	t.Helper()
	if a.ID != b.ID || a.Source != b.Source || a.Type != b.Type || a.Subject != b.Subject || !a.Time.Equal(b.Time) ||
		a.Override != b.Override || a.Practitioner != b.Practitioner {
		t.Fatalf("re-validated event differs:\n%+v\n%+v", a, b)
	}
	if !reflect.DeepEqual(a.Data, b.Data) {
		t.Fatalf("re-validated data differs:\n%v\n%v", a.Data, b.Data)
	}
	if !reflect.DeepEqual(a.Attrs, b.Attrs) {
		t.Fatalf("re-validated attributes differ:\n%v\n%v", a.Attrs, b.Attrs)
	}
}
