package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	amy = "9434765919" // valid UINs
	ben = "9434765870"
)

// Every catalogue type that a participant may publish is accepted, using the
// schemas' own valid fixtures as data.
func TestEveryCatalogueTypeAccepted(t *testing.T) {
	env := testenv.Start(t, "")
	files, err := filepath.Glob("../../schemas/testdata/valid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid fixtures: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		base := filepath.Base(f)
		name := base[:strings.Index(base, ".v1.")]
		entry, ok := schemas.LookupName(name)
		if !ok {
			t.Fatalf("%s: %s is not in the catalogue", f, name)
		}
		if entry.Generated {
			continue
		}
		var data map[string]any
		b, _ := os.ReadFile(f)
		if err := json.Unmarshal(b, &data); err != nil {
			t.Fatal(err)
		}
		from := "leeds/" + entry.Publishers[0]
		if r := env.Publish(from, testenv.Event(from, name, amy, data)); r.Code != http.StatusAccepted {
			t.Errorf("%s as %s: %d %s", base, from, r.Code, r.Body)
		}
		seen[name] = true
	}
	for _, n := range schemas.Names() {
		if e, _ := schemas.LookupName(n); !e.Generated && !seen[n] {
			t.Errorf("no accepted event of type %s", n)
		}
	}
	env.WaitIdle()
	if got := len(env.DeadLetters()); got != 0 {
		t.Fatalf("%d valid events were dead-lettered", got)
	}
}

// An invalid event of each kind is answered with the right status, the
// problem named, and dead-lettered with the reason.
func TestInvalidEventsAreRejected(t *testing.T) {
	env := testenv.Start(t, "")
	valid := func() map[string]any {
		return testenv.Event("leeds/pct", "index.gp.recorded", amy, map[string]any{
			"practice": map[string]any{"name": "Park Surgery", "code": "B86001", "contact": map[string]any{"phone": "0113 496 0000"}}})
	}
	with := func(f func(map[string]any)) []byte {
		ev := valid()
		f(ev)
		b, _ := json.Marshal(ev)
		return b
	}
	tests := []struct {
		name  string
		ct    string
		body  []byte
		code  int
		field string // a problem's field, in the answer and the dead letter
	}{
		{"bad specversion", cenats.ContentTypeStructured, with(func(e map[string]any) { e["specversion"] = "0.3" }), 400, "specversion"},
		{"missing id", cenats.ContentTypeStructured, with(func(e map[string]any) { delete(e, "id") }), 400, "id"},
		{"bad UIN check digit", cenats.ContentTypeStructured, with(func(e map[string]any) { e["subject"] = "9434765918" }), 400, "subject"},
		{"unknown type", cenats.ContentTypeStructured, with(func(e map[string]any) { e["type"] = "uk.gov.ecm.gossip.v1" }), 400, "type"},
		{"schema violation", cenats.ContentTypeStructured, with(func(e map[string]any) { e["data"] = map[string]any{"practice": map[string]any{"name": "x"}} }), 400, "data.practice"},
		{"case notes in an index event", cenats.ContentTypeStructured, with(func(e map[string]any) {
			e["data"].(map[string]any)["notes"] = "mother disclosed"
		}), 400, "data"},
		{"agency may not publish type", cenats.ContentTypeStructured, with(func(e map[string]any) { e["type"] = "uk.gov.ecm.index.flags.set.v1" }), 400, "type"},
		{"wrong source", cenats.ContentTypeStructured, with(func(e map[string]any) { e["source"] = "/leeds/police" }), 403, "source"},
		{"short override", cenats.ContentTypeStructured, with(func(e map[string]any) { e["override"] = "urgent" }), 400, "override"},
		{"oversize body", cenats.ContentTypeStructured, append([]byte(`{"pad":"`), append([]byte(strings.Repeat("x", 1<<20)), '"', '}')...), 413, "event"},
		{"non-JSON", cenats.ContentTypeStructured, []byte("MSH|^~\\&|not json"), 400, "event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do("POST", "/v1/events", demo.Token("leeds/pct"), tt.ct, tt.body)
			if r.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.code, r.Body)
			}
			var res api.IngestResult
			r.JSON(t, &res)
			if !hasProblem(res.Problems, tt.field) {
				t.Fatalf("no problem with field %q in %s", tt.field, r.Body)
			}
		})
	}
	env.WaitIdle()
	dls := env.DeadLetters()
	if len(dls) != len(tests) {
		t.Fatalf("%d dead letters, want %d", len(dls), len(tests))
	}
	for i, tt := range tests {
		found := false
		for _, reason := range dls[i].Reasons {
			found = found || strings.HasPrefix(reason, tt.field)
		}
		if !found || dls[i].Publisher != "leeds/pct" {
			t.Errorf("dead letter %d (%s): publisher %s reasons %v", i, tt.name, dls[i].Publisher, dls[i].Reasons)
		}
	}
}

func TestAuthentication(t *testing.T) {
	env := testenv.Start(t, "")
	ev, _ := json.Marshal(testenv.Event("leeds/pct", "index.concern.withdrawn", amy, map[string]any{"practitioner": map[string]any{"name": "A B"}}))
	for _, tok := range []string{"", "not-a-token-at-all", demo.OperatorToken} {
		if r := env.Do("POST", "/v1/events", tok, cenats.ContentTypeStructured, ev); r.Code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, r.Code)
		}
	}
	if r := env.Do("GET", "/v1/audit?child="+amy, demo.Token("leeds/pct"), "", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("participant reading audit: %d, want 401", r.Code)
	}
	if r := env.Do("GET", "/v1/deadletters", demo.Token("leeds/pct"), "", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("participant reading dead letters: %d, want 401", r.Code)
	}
}

// Binary mode over HTTP and a batch answer per event.
func TestBinaryAndBatch(t *testing.T) {
	env := testenv.Start(t, "")
	data := `{"practitioner":{"name":"Hana Visitor","role":"health visitor","contact":{"phone":"0113 496 0001"}},"service":"health visiting"}`
	r := env.Do("POST", "/v1/events", demo.Token("leeds/pct"), "application/json", []byte(data),
		"Ce-Specversion", "1.0", "Ce-Id", "bin-1", "Ce-Source", "/leeds/pct",
		"Ce-Type", "uk.gov.ecm.index.practitioner.involved.v1", "Ce-Subject", amy, "Ce-Practitioner", "Hana%20Visitor")
	if r.Code != http.StatusAccepted {
		t.Fatalf("binary: %d %s", r.Code, r.Body)
	}
	good := testenv.Event("leeds/lea", "index.concern.withdrawn", ben, map[string]any{"practitioner": map[string]any{"name": "Sam Tutor"}})
	bad := testenv.Event("leeds/lea", "index.concern.withdrawn", "123", map[string]any{"practitioner": map[string]any{"name": "Sam Tutor"}})
	body, _ := json.Marshal([]any{good, bad, good})
	r = env.Do("POST", "/v1/events", demo.Token("leeds/lea"), cenats.ContentTypeBatch, body)
	var res struct{ Results []api.IngestResult }
	r.JSON(t, &res)
	if r.Code != http.StatusOK || len(res.Results) != 3 {
		t.Fatalf("batch: %d %s", r.Code, r.Body)
	}
	want := []string{"accepted", "invalid", "duplicate"}
	for i, w := range want {
		if res.Results[i].Outcome != w {
			t.Errorf("batch event %d: %s, want %s", i, res.Results[i].Outcome, w)
		}
	}
	// The same id with other content is a conflict, not a silent duplicate.
	good["data"] = map[string]any{"practitioner": map[string]any{"name": "Someone Else"}}
	b, _ := json.Marshal(good)
	if r := env.Do("POST", "/v1/events", demo.Token("leeds/lea"), cenats.ContentTypeStructured, b); r.Code != http.StatusConflict {
		t.Fatalf("reused id: %d %s", r.Code, r.Body)
	}
}

// Adapters publish straight to their ingest subject over NATS: the same
// validation applies, and a spoofed source is dead-lettered.
func TestNATSIngest(t *testing.T) {
	env := testenv.Start(t, "")
	nc, err := nats.Connect(env.Broker.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := env.Broker.JetStream()
	publish := func(subject string, ev map[string]any) {
		b, _ := json.Marshal(ev)
		m := nats.NewMsg(subject)
		m.Header.Set("content-type", cenats.ContentTypeStructured)
		m.Header.Set("Nats-Msg-Id", cenats.MsgID(ev["source"].(string), ev["id"].(string)))
		m.Data = b
		if _, err := js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	referral := map[string]any{"category": "neglect", "summary": "No food at home.", "significant_harm": false}
	publish(wire.IngestSubject("leeds/lea", ben), testenv.Event("leeds/lea", "safeguarding.referral", ben, referral))
	publish(wire.IngestSubject("leeds/lea", ben), testenv.Event("leeds/police", "safeguarding.referral", ben, referral))
	// A participant that is not configured has no ingest stream: its publish
	// is refused at once, nothing is stored.
	nowhere, _ := json.Marshal(testenv.Event("nowhere/pct", "safeguarding.referral", ben, referral))
	if _, err := js.Publish(t.Context(), "ecm.ingest.nowhere.pct."+uin.Partition(ben), nowhere); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("publishing as an unconfigured participant: %v, want no stream", err)
	}
	publish("ecm.ingest.leeds.lea", testenv.Event("leeds/lea", "safeguarding.referral", ben, referral))
	wrong := "00"
	if uin.Partition(ben) == wrong {
		wrong = "01"
	}
	publish("ecm.ingest.leeds.lea."+wrong, testenv.Event("leeds/lea", "safeguarding.referral", ben, referral))
	noID := testenv.Event("leeds/lea", "safeguarding.referral", ben, referral)
	b, _ := json.Marshal(noID)
	if _, err := js.Publish(t.Context(), wire.IngestSubject("leeds/lea", ben), b); err != nil {
		t.Fatal(err)
	}
	env.WaitIdle()
	if d := env.Deliveries("leeds/la-social-care"); len(d) != 1 || d[0].Basis != "s11-safeguarding" {
		t.Fatalf("la-social-care deliveries: %+v", d)
	}
	dls := env.DeadLetters()
	reasons := map[string]int{}
	for _, dl := range dls {
		field, _, _ := strings.Cut(dl.Reasons[0], ":")
		reasons[field]++
	}
	if len(dls) != 4 || reasons["source"] != 1 || reasons["partition"] != 2 || reasons["Nats-Msg-Id"] != 1 {
		t.Fatalf("dead letters: %+v", dls)
	}
}

func hasProblem(probs []api.Problem, field string) bool {
	for _, p := range probs {
		if strings.HasPrefix(p.Field, field) {
			return true
		}
	}
	return false
}
