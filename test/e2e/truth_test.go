package e2e

// The record tells the truth (issue 11): what the broker stores about a
// refused event holds no child data, and an event that says two things at
// once (a key given twice) is refused rather than read one way and stored
// the other.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
)

// truthMarkers stand for another person's details: a surname, a postcode,
// a date of birth and a UIN that is not the event's child's.
var truthMarkers = []string{"Featherstonehaugh", "LS7 3QB", "2013-07-21", "4010232137"}

const truthValue = "Featherstonehaugh LS7 3QB 2013-07-21 4010232137"

func truthContains(b []byte) string {
	for _, m := range truthMarkers {
		if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(m))) {
			return m
		}
	}
	return ""
}

func truthRegistration(id string) map[string]any {
	ev := testenv.Event("leeds/pct", "index.child.registered", amy, map[string]any{
		"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2014-05-02", "gender": "female",
		"address": map[string]any{"lines": []any{"14 Park Row"}, "postcode": "LS6 3AA"}, "area": "leeds"})
	ev["id"] = id
	return ev
}

// TestRefusalsStoreNoChildData posts events about Amy carrying another
// person's details in every kind of field that can be invalid, over HTTP
// (structured, batch, binary) and NATS, and reads back what is kept: the
// answers, Amy's audit (which nobody can delete) and the dead letters'
// reasons hold none of it. The dead letters' bodies keep the input, for
// the agency to fix; retention and erasure remove them.
func TestRefusalsStoreNoChildData(t *testing.T) {
	env := testenv.Start(t, "")
	type bad struct {
		name string
		edit func(ev map[string]any)
	}
	data := func(path string, v any) func(map[string]any) {
		return func(ev map[string]any) {
			keys := strings.Split(path, ".")
			obj := ev["data"].(map[string]any)
			for _, k := range keys[:len(keys)-1] {
				obj = obj[k].(map[string]any)
			}
			obj[keys[len(keys)-1]] = v
		}
	}
	attr := func(name string, v any) func(map[string]any) { return func(ev map[string]any) { ev[name] = v } }
	cases := []bad{
		{"wrong enum", data("gender", truthValue)},
		{"bad date", data("dob", truthValue)},
		{"impossible date", data("dob", "2013-02-30")},
		{"too long", data("name.family", strings.Repeat(truthValue+" ", 5))},
		{"control character", data("name.given", truthValue+"\u0007")},
		{"bad postcode", data("address.postcode", truthValue)},
		{"bad area", data("area", truthValue)},
		{"wrong kind", data("address.lines", truthValue)},
		{"unknown field", data("notes", truthValue)},
		{"unknown key that is data", data("Featherstonehaugh LS7 3QB", truthValue)},
		{"a UIN as a key", data("4010232137", "x")},
		{"unknown attribute", attr("notes", truthValue)},
		{"attribute named with data", attr("Featherstonehaugh", truthValue)},
		{"type", attr("type", truthValue)},
		{"specversion", attr("specversion", truthValue)},
		{"datacontenttype", attr("datacontenttype", truthValue)},
		{"time", attr("time", truthValue)},
		{"dataschema", attr("dataschema", truthValue)},
		{"override too short", attr("override", "LS7 3QB")},
		{"practitioner too long", attr("practitioner", strings.Repeat(truthValue, 4))},
		{"source", attr("source", "/"+truthValue)},
	}
	n := 0
	answers := [][]byte{}
	for _, c := range cases {
		n++
		ev := truthRegistration("truth-" + strings.ReplaceAll(c.name, " ", "-"))
		c.edit(ev)
		r := env.Publish("leeds/pct", ev)
		if r.Code != http.StatusBadRequest && r.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s", c.name, r.Code, r.Body)
		}
		answers = append(answers, r.Body)
	}
	// A bad UIN: no audit record (no child), a dead letter.
	ev := truthRegistration("truth-bad-uin")
	ev["subject"] = truthValue
	if r := env.Publish("leeds/pct", ev); r.Code != http.StatusBadRequest {
		t.Errorf("bad UIN: %d %s", r.Code, r.Body)
	} else {
		answers = append(answers, r.Body)
	}
	// A batch of two bad events and a body that is no event.
	b1, b2 := truthRegistration("truth-batch-1"), truthRegistration("truth-batch-2")
	data("gender", truthValue)(b1)
	data("address.postcode", truthValue)(b2)
	batch, _ := json.Marshal([]any{b1, b2, truthValue})
	if r := env.Do("POST", "/v1/events", demo.Token("leeds/pct"), cenats.ContentTypeBatch, batch); r.Code != http.StatusOK {
		t.Errorf("batch: %d %s", r.Code, r.Body)
	} else {
		answers = append(answers, r.Body)
		n += 2
	}
	for _, body := range []string{`"` + truthValue + `"`, `{"specversion":` + truthValue + `}`, `[` + truthValue + `]`} {
		r := env.Do("POST", "/v1/events", demo.Token("leeds/pct"), cenats.ContentTypeBatch, []byte(body))
		if r.Code != http.StatusBadRequest {
			t.Errorf("batch %s: %d %s", body, r.Code, r.Body)
		}
		answers = append(answers, r.Body)
	}
	// Binary mode: another person's details in headers and data.
	for i, h := range [][]string{
		{"Ce-Type", url.PathEscape(truthValue)},
		{"Ce-Id", "%ZZ" + url.PathEscape(truthValue)},
		{"Content-Type", "text/" + url.PathEscape(truthValue)},
	} {
		headers := []string{"Ce-Specversion", "1.0", "Ce-Id", "truth-binary-" + string(rune('a'+i)), "Ce-Source", "/leeds/pct",
			"Ce-Type", "uk.gov.ecm.index.gp.recorded.v1", "Ce-Subject", amy}
		headers = append(headers, h...)
		r := env.Do("POST", "/v1/events", demo.Token("leeds/pct"), "application/json",
			[]byte(`{"practice":{"name":"Park","code":"`+truthValue+`","contact":{"phone":"0113 496 0789"}}}`), headers...)
		if r.Code != http.StatusBadRequest {
			t.Errorf("binary %v: %d %s", h, r.Code, r.Body)
		}
		if h[0] != "Ce-Id" { // an event that cannot be decoded names no child: no audit record
			n++
		}
		answers = append(answers, r.Body)
	}
	// Over NATS, as an adapter publishes: the pipeline refuses it.
	natsEv := truthRegistration("truth-nats")
	data("gender", truthValue)(natsEv)
	data("dob", "2013-07-21x")(natsEv)
	body, _ := json.Marshal(natsEv)
	m := nats.NewMsg(wire.IngestSubject("leeds/pct", amy))
	m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
	m.Header.Set("Nats-Msg-Id", cenats.MsgID("/leeds/pct", "truth-nats"))
	m.Data = body
	if _, err := env.Broker.JetStream().PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	n++
	env.WaitIdle()

	for _, a := range answers {
		if mk := truthContains(a); mk != "" {
			t.Errorf("an answer repeats %q: %s", mk, a)
		}
	}
	// Amy's audit: one rejected record per refused event about her, none
	// holding the marker anywhere.
	var raw []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := env.Do("GET", "/v1/audit?child="+amy, demo.OperatorToken, "", nil)
		if r.Code != http.StatusOK {
			t.Fatalf("audit: %d %s", r.Code, r.Body)
		}
		var out struct{ Records []api.AuditRecord }
		r.JSON(t, &out)
		rejected := 0
		for _, rec := range out.Records {
			if rec.Outcome == "rejected" {
				rejected++
				if len(rec.Problems) == 0 {
					t.Errorf("rejected record without its problems: %+v", rec)
				}
			}
		}
		raw = r.Body
		if rejected >= n || time.Now().After(deadline) {
			if rejected < n {
				t.Errorf("%d rejected records in Amy's audit, want %d", rejected, n)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if mk := truthContains(raw); mk != "" {
		t.Errorf("Amy's audit holds %q:\n%s", mk, raw)
	}
	// Every refusal is dead-lettered; the reasons name fields and rules
	// only, the body is kept as received.
	dls := env.DeadLetters()
	if len(dls) < n+6 {
		t.Errorf("%d dead letters, want at least %d", len(dls), n+6)
	}
	withBody := 0
	for _, dl := range dls {
		rs, _ := json.Marshal(dl.Reasons)
		if mk := truthContains(rs); mk != "" {
			t.Errorf("dead letter %d: reasons repeat %q: %s", dl.Seq, mk, rs)
		}
		if len(dl.Reasons) == 0 {
			t.Errorf("dead letter %d has no reason", dl.Seq)
		}
		if truthContains(dl.Body) != "" || truthContains([]byte(dl.BodyText)) != "" {
			withBody++
		}
	}
	if withBody == 0 {
		t.Errorf("no dead letter kept the body as received")
	}
}

// TestDuplicateKeysRefused: an event that gives a key twice is refused with
// a reason and dead-lettered, over HTTP (structured, batch, binary) and
// NATS; today the last value routes it while the stored bytes keep both.
func TestDuplicateKeysRefused(t *testing.T) {
	env := testenv.Start(t, "")
	referral := func(id, subjects, data string) string {
		return `{"specversion":"1.0","id":"` + id + `","source":"/leeds/lea","type":"uk.gov.ecm.safeguarding.referral.v1",` + subjects +
			`"datacontenttype":"application/json","data":` + data + `}`
	}
	good := `{"category":"neglect","summary":"Arrived hungry again.","significant_harm":false}`
	dupData := `{"category":"neglect","summary":"Arrived hungry again.","significant_harm":false,"significant_harm":true}`
	cases := []struct{ name, body, want string }{
		{"subject twice", referral("dup-subject", `"subject":"`+amy+`","subject":"`+ben+`",`, good), "subject: is given more than once"},
		{"subject twice, escaped", referral("dup-escaped", `"subject":"`+amy+`","subj\u0065ct":"`+ben+`",`, good), "subject: is given more than once"},
		{"a key in data twice", referral("dup-data", `"subject":"`+amy+`",`, dupData), "data.significant_harm: is given more than once"},
	}
	refused := func(r testenv.Response, want string) bool {
		var res api.IngestResult
		_ = json.Unmarshal(r.Body, &res)
		return r.Code == http.StatusBadRequest && badHasReason(res.Problems, want)
	}
	for _, c := range cases {
		r := env.Do("POST", "/v1/events", demo.Token("leeds/lea"), cenats.ContentTypeStructured, []byte(c.body))
		if !refused(r, c.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.name, r.Code, r.Body, c.want)
		}
	}
	batch := `[` + referral("dup-batch-ok", `"subject":"`+amy+`",`, good) + `,` + referral("dup-batch", `"subject":"`+amy+`","subject":"`+ben+`",`, good) + `]`
	r := env.Do("POST", "/v1/events", demo.Token("leeds/lea"), cenats.ContentTypeBatch, []byte(batch))
	var res struct{ Results []api.IngestResult }
	_ = json.Unmarshal(r.Body, &res)
	if r.Code != http.StatusOK || len(res.Results) != 2 || res.Results[0].Status != http.StatusAccepted || res.Results[1].Status != http.StatusBadRequest ||
		!hasProblem(res.Results[1].Problems, "subject") {
		t.Errorf("batch: %d %s", r.Code, r.Body)
	}
	r = env.Do("POST", "/v1/events", demo.Token("leeds/lea"), "application/json", []byte(dupData),
		"Ce-Specversion", "1.0", "Ce-Id", "dup-binary", "Ce-Source", "/leeds/lea", "Ce-Type", "uk.gov.ecm.safeguarding.referral.v1", "Ce-Subject", amy)
	if !refused(r, "data.significant_harm: is given more than once") {
		t.Errorf("binary: %d %s", r.Code, r.Body)
	}
	// Over NATS, to the partition of the last subject (the one Go reads).
	m := nats.NewMsg(wire.IngestSubject("leeds/lea", ben))
	m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
	m.Header.Set("Nats-Msg-Id", cenats.MsgID("/leeds/lea", "dup-nats"))
	m.Data = []byte(referral("dup-nats", `"subject":"`+amy+`","subject":"`+ben+`",`, good))
	if _, err := env.Broker.JetStream().PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	env.WaitIdle()

	// Only the valid batch event reached social care.
	for _, d := range env.Deliveries("leeds/la-social-care") {
		if id := d.Event["id"]; id != "dup-batch-ok" {
			t.Errorf("delivered %v", id)
		}
	}
	wantDL := map[string]bool{"dup-subject": false, "dup-escaped": false, "dup-data": false, "dup-batch": false, "dup-binary": false, "dup-nats": false}
	for _, dl := range env.DeadLetters() {
		var id string
		if ev := map[string]any{}; json.Unmarshal(dl.Body, &ev) == nil {
			id, _ = ev["id"].(string)
		}
		if id == "" {
			id = dl.Headers["ce-id"]
		}
		if _, ok := wantDL[id]; ok && badReasonsMention(dl.Reasons, "is given more than once") {
			wantDL[id] = true
		}
	}
	for id, found := range wantDL {
		if !found {
			t.Errorf("%s: no dead letter saying a key is given more than once", id)
		}
	}
	// Ben's audit shows no decision on the event that named Amy first.
	for _, rec := range env.Audit(ben) {
		if rec.EventID == "dup-nats" && rec.Outcome != "rejected" {
			t.Errorf("the NATS event was %s for Ben: %+v", rec.Outcome, rec)
		}
	}
}

// TestBadCursorIsRefused: a paging cursor the broker never handed out, or a
// limit out of range, is a 400 whose reason a person can act on, never a
// 503 with the store's internals.
func TestBadCursorIsRefused(t *testing.T) {
	env := testenv.Start(t, "")
	env.MustPublish("leeds/lea", testenv.Event("leeds/lea", "safeguarding.referral", amy,
		map[string]any{"category": "neglect", "summary": "Arrived hungry again.", "significant_harm": false}))
	env.WaitIdle()
	ds := env.Deliveries("leeds/la-social-care")
	if len(ds) != 1 {
		t.Fatalf("deliveries: %+v", ds)
	}
	s, err := env.Broker.JetStream().Stream(context.Background(), wire.StreamDelivery)
	if err != nil {
		t.Fatal(err)
	}
	last := s.CachedInfo().State.LastSeq
	tok := demo.Token("leeds/la-social-care")
	for _, tt := range []struct{ query, field string }{
		{"after=18446744073709551615", "after"},
		{"after=18446744073709551616", "after"},
		{"after=" + strconv.FormatUint(last+1, 10), "after"},
		{"after=" + strconv.FormatUint(last+1000, 10), "after"},
		{"after=-1", "after"},
		{"after=abc", "after"},
		{"after=1.5", "after"},
		{"after=1e3", "after"},
		{"after=0x10", "after"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=-5", "limit"},
		{"limit=ten", "limit"},
		{"after=18446744073709551615&limit=10", "after"},
	} {
		r := env.Do("GET", "/v1/deliveries?"+tt.query, tok, "", nil)
		var body struct{ Error string }
		_ = json.Unmarshal(r.Body, &body)
		if r.Code != http.StatusBadRequest || !strings.HasPrefix(body.Error, tt.field+": ") || strings.Contains(strings.ToLower(body.Error), "nats") ||
			strings.Contains(body.Error, "consumer") {
			t.Errorf("GET /v1/deliveries?%s: %d %s, want 400 with a reason about %s", tt.query, r.Code, r.Body, tt.field)
		}
	}
	if r := env.Do("GET", "/v1/deadletters?after=18446744073709551615", demo.OperatorToken, "", nil); r.Code != http.StatusBadRequest {
		t.Errorf("GET /v1/deadletters?after=2^64-1: %d %s", r.Code, r.Body)
	}
	// The cursors the broker hands out still work: the last sequence is an
	// empty page that keeps the cursor, 0 is the start.
	for _, tt := range []struct {
		after uint64
		n     int
		next  uint64
	}{{0, 1, ds[0].Seq}, {ds[0].Seq, 0, ds[0].Seq}, {last, 0, last}} {
		r := env.Do("GET", "/v1/deliveries?after="+strconv.FormatUint(tt.after, 10), tok, "", nil)
		var page struct {
			Deliveries []json.RawMessage
			Next       uint64
		}
		_ = json.Unmarshal(r.Body, &page)
		if r.Code != http.StatusOK || len(page.Deliveries) != tt.n || page.Next != tt.next {
			t.Errorf("after=%d: %d %s, want %d deliveries and next %d", tt.after, r.Code, r.Body, tt.n, tt.next)
		}
	}
}

// TestErasureReasonMustNotIdentifyTheChild: the reason of an erasure is
// kept in the audit, which erasure cannot remove; one holding the child's
// UIN, name, date of birth or postcode as held is refused before anything
// is erased, and the refusal does not repeat it.
func TestErasureReasonMustNotIdentifyTheChild(t *testing.T) {
	env := testenv.Start(t, "")
	env.MustPublish("leeds/pct", testenv.Event("leeds/pct", "index.child.registered", amy, map[string]any{
		"name": map[string]any{"given": "Amy", "family": "Featherstonehaugh"}, "dob": "2013-07-21", "gender": "female",
		"address": map[string]any{"lines": []any{"14 Park Row"}, "postcode": "LS7 3QB"}, "area": "leeds"}))
	env.WaitIdle()
	before := len(env.Deliveries("leeds/la-social-care"))
	if before == 0 {
		t.Fatal("nothing delivered to erase")
	}
	erase := func(reason string) testenv.Response {
		b, _ := json.Marshal(api.ErasureRequest{Child: amy, Reason: reason})
		return env.Do("POST", "/v1/erase", demo.OperatorToken, "application/json", b)
	}
	for reason, kind := range map[string]string{
		"asked by the family of 943 476 5919":  "UIN",
		"request from amy's mother":            "given name",
		"the FEATHERSTONEHAUGH family asked":   "family name",
		"child born 21/07/2013, parent asked":  "date of birth",
		"child born 2013-07-21, parent asked":  "date of birth",
		"family moved away from ls73qb":        "postcode",
		"family moved away from LS7 3QB today": "postcode",
	} {
		r := erase(reason)
		if r.Code != http.StatusBadRequest || !strings.Contains(string(r.Body), "child's "+kind) {
			t.Errorf("%q: %d %s, want 400 naming the %s", reason, r.Code, r.Body, kind)
		}
		for _, d := range []string{amy, "943 476 5919", "Amy", "Featherstonehaugh", "2013", "LS7", "ls73qb"} {
			if strings.Contains(string(r.Body), d) {
				t.Errorf("%q: the answer repeats %q: %s", reason, d, r.Body)
			}
		}
	}
	// Nothing was erased, nothing recorded as erased.
	if n := len(env.Deliveries("leeds/la-social-care")); n != before {
		t.Errorf("%d copies after refused erasures, want %d", n, before)
	}
	for _, rec := range env.Audit(amy) {
		if rec.Outcome == "erased" {
			t.Errorf("an erasure was recorded: %+v", rec.Action)
		}
	}
	if r := erase("retention period ended (ticket IG-1234)"); r.Code != http.StatusOK {
		t.Fatalf("a reason without the child's details: %d %s", r.Code, r.Body)
	}
	if n := len(env.Deliveries("leeds/la-social-care")); n != 0 {
		t.Errorf("%d copies after the erasure", n)
	}
}
