package pipeline

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/nats-io/nats.go"
)

// redactMarkers must never appear in a problem: a surname, a postcode, a
// date of birth and a UIN that are not the event's child's.
var redactMarkers = []string{"Featherstonehaugh", "LS7 3QB", "2013-07-21", "4010232137"}

const redactValue = "Featherstonehaugh LS7 3QB 2013-07-21 4010232137"

// redactValid is a valid structured event from leeds/pct.
func redactValid() map[string]any {
	return map[string]any{"specversion": "1.0", "id": "redact-1", "source": "/leeds/pct", "type": "uk.gov.ecm.index.child.registered.v1",
		"subject": "9434765919", "time": "2026-11-20T09:30:00Z", "datacontenttype": "application/json",
		"data": map[string]any{"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2014-05-02", "gender": "female",
			"address": map[string]any{"lines": []any{"14 Park Row"}, "postcode": "LS6 3AA"}, "area": "leeds"}}
}

// redactProblems takes a NATS message through what ingest and the pipeline
// do with it (Decode, then Validate) and returns every problem, as the
// audit keeps them and as the dead letter's reasons say them.
func redactProblems(m *nats.Msg) []string {
	raw, err := cenats.Decode(m)
	var probs []api.Problem
	if err != nil {
		probs = []api.Problem{{Field: "event", Reason: err.Error()}}
	} else {
		_, probs = event.Validate(raw, "leeds/pct", redactNow)
	}
	out := make([]string, 0, 2*len(probs))
	for _, p := range capProblems(probs) {
		out = append(out, p.String())
	}
	return append(out, newDeadLetter("leeds/pct", m, probs).Reasons...)
}

// TestProblemsCarryNoChildData feeds events with a marker (a surname, a
// postcode, a date of birth, a UIN) in every attribute and every kind of
// place in data that can be invalid, in structured and binary mode, and
// checks that no problem, as the audit and the dead letters store them,
// repeats it.
func TestProblemsCarryNoChildData(t *testing.T) {
	type input struct {
		what string
		msg  *nats.Msg
	}
	var inputs []input
	structured := func(what string, ev map[string]any) {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg("ecm.ingest.leeds.pct.00")
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Data = b
		inputs = append(inputs, input{what, m})
	}
	rawStructured := func(what, body string) {
		m := nats.NewMsg("ecm.ingest.leeds.pct.00")
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Data = []byte(body)
		inputs = append(inputs, input{what, m})
	}
	// Every attribute, with the marker as its value, as a long value, with
	// a control character, and as the wrong JSON kind holding the marker.
	for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "override", "practitioner"} {
		for _, v := range []any{redactValue, strings.Repeat(redactValue, 120), redactValue + "\u0000", "\u202e" + redactValue,
			[]any{redactValue}, map[string]any{"v": redactValue}} {
			ev := redactValid()
			ev[attr] = v
			structured(attr, ev)
		}
	}
	// Attributes that are not allowed, named or valued with the marker.
	for _, name := range []string{"notes", "casenotes", "Featherstonehaugh", "featherstonehaugh ls7 3qb", "4010232137", "2013-07-21"} {
		ev := redactValid()
		ev[name] = redactValue
		structured("attribute "+name, ev)
	}
	// Data: every kind of field that can be wrong.
	for path, v := range map[string]any{
		"gender": redactValue, "dob": redactValue, "dob@": "2013-07-21x", "area": redactValue, "address.postcode": redactValue,
		"name.given": strings.Repeat(redactValue, 5), "name.family": redactValue + "\t", "address.lines": redactValue,
		"notes": redactValue, "name.alias": redactValue, "Featherstonehaugh": 1, "address.LS7 3QB": true,
	} {
		ev := redactValid()
		data := ev["data"].(map[string]any)
		keys := strings.Split(strings.TrimSuffix(path, "@"), ".")
		obj := data
		for _, k := range keys[:len(keys)-1] {
			obj = obj[k].(map[string]any)
		}
		obj[keys[len(keys)-1]] = v
		structured("data."+path, ev)
	}
	for _, typ := range []struct{ name, data string }{
		{"safeguarding.referral", `{"category":"` + redactValue + `","summary":"x y","significant_harm":"` + redactValue + `"}`},
		{"consent.granted", `{"given_by":"` + redactValue + `","purposes":["` + redactValue + `"],"agencies":["` + redactValue + `"],"expires":"` + redactValue + `"}`},
		{"index.carer.recorded", `{"name":"Jo Adams","relationship":"mother","contact":{"email":"Featherstonehaugh@@LS7 3QB","phone":"` + redactValue + `"}}`},
		{"index.gp.recorded", `{"practice":{"name":"Park","code":"` + redactValue + `","contact":{"phone":"0113 496 0789"}}}`},
	} {
		ev := redactValid()
		ev["type"] = "uk.gov.ecm." + typ.name + ".v1"
		ev["data"] = json.RawMessage(typ.data)
		structured("type "+typ.name, ev)
	}
	// Bodies that are not events, or not JSON.
	for _, body := range []string{`"` + redactValue + `"`, `[` + redactValue + `]`, `{"subject":` + redactValue + `}`, `{"subject":"` + redactValue,
		`{"specversion":"1.0","data":{"dob":2013-07-21}}`, `{"data_base64":"` + redactValue + `"}`} {
		rawStructured("body "+body[:min(len(body), 20)], body)
	}
	// Duplicate keys, the second value the marker.
	rawStructured("duplicate subject", `{"specversion":"1.0","id":"d","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","subject":"4010232137","data":{"practice":{"name":"Park","code":"B86001","contact":{"phone":"0113 496 0789"}}}}`)
	rawStructured("duplicate in data", `{"specversion":"1.0","id":"d","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":{"practice":{"name":"Park","name":"`+redactValue+`","code":"B86001","contact":{"phone":"0113 496 0789"}}}}`)
	// Binary mode: the marker in headers, header names and the body.
	binary := func(what string, h map[string]string, body string) {
		m := nats.NewMsg("ecm.ingest.leeds.pct.00")
		for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "b", "ce-source": "/leeds/pct",
			"ce-type": "uk.gov.ecm.index.gp.recorded.v1", "ce-subject": "9434765919", "content-type": "application/json"} {
			m.Header.Set(k, v)
		}
		for k, v := range h {
			m.Header.Set(k, v)
		}
		m.Data = []byte(body)
		inputs = append(inputs, input{"binary " + what, m})
	}
	gp := `{"practice":{"name":"Park","code":"B86001","contact":{"phone":"0113 496 0789"}}}`
	for _, attr := range []string{"ce-specversion", "ce-source", "ce-type", "ce-subject", "ce-time", "ce-override", "content-type", "ce-notes"} {
		binary(attr, map[string]string{attr: url.PathEscape(redactValue)}, gp)
	}
	binary("bad escape", map[string]string{"ce-id": "%ZZ" + redactValue}, gp)
	binary("header name", map[string]string{"ce-Featherstonehaugh LS7 3QB": "x"}, gp)
	binary("body not JSON", nil, redactValue)
	binary("body with the marker", nil, `{"practice":{"name":"Park","code":"`+redactValue+`","contact":{"phone":"`+redactValue+`"}}}`)
	binary("duplicate in body", nil, `{"practice":{"code":"B86001","code":"`+redactValue+`","name":"Park","contact":{"phone":"0113 496 0789"}}}`)

	refused := 0
	for _, in := range inputs {
		reasons := redactProblems(in.msg)
		if len(reasons) > 0 {
			refused++
		}
		for _, r := range reasons {
			for _, m := range redactMarkers {
				if strings.Contains(strings.ToLower(r), strings.ToLower(m)) {
					t.Errorf("%s: a reason repeats %q: %s", in.what, m, r)
				}
			}
		}
	}
	// A few carry the marker where any text is valid (id, practitioner,
	// override); nearly all must be refused, or the test checks nothing.
	if refused < len(inputs)*9/10 {
		t.Errorf("only %d of %d inputs refused", refused, len(inputs))
	}
}

// An event that names an attribute or a data key twice is refused, however
// it arrives: structured (HTTP, batch, NATS) or binary (the data).
func TestValidateRefusesDuplicateKeys(t *testing.T) {
	gp := func(practice string) string {
		return `{"practice":{"name":"Park Lane Surgery",` + practice + `"contact":{"phone":"0113 496 0789"}}}`
	}
	head := `{"specversion":"1.0","id":"dup-1","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","time":"2026-11-20T09:30:00Z",`
	tests := []struct {
		name, body string
		binary     bool
		want       string
	}{
		{"valid", head + `"subject":"9434765919","data":` + gp(`"code":"B86001",`) + `}`, false, ""},
		{"subject twice", head + `"subject":"9434765919","subject":"9434765870","data":` + gp(`"code":"B86001",`) + `}`, false,
			"subject: is given more than once"},
		{"subject twice, escaped", head + `"subject":"9434765919","subj\u0065ct":"9434765870","data":` + gp(`"code":"B86001",`) + `}`, false,
			"subject: is given more than once"},
		{"data twice", head + `"subject":"9434765919","data":` + gp(`"code":"B86001",`) + `,"data":` + gp(`"code":"B86002",`) + `}`, false,
			"data: is given more than once"},
		{"a key in data twice", head + `"subject":"9434765919","data":` + gp(`"code":"B86001","code":"B86002",`) + `}`, false,
			"data.practice.code: is given more than once"},
		{"binary data", gp(`"code":"B86001","code":"B86002",`), true, "data.practice.code: is given more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := nats.NewMsg("ecm.ingest.leeds.pct.00")
			m.Data = []byte(tt.body)
			if tt.binary {
				for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "b", "ce-source": "/leeds/pct",
					"ce-type": "uk.gov.ecm.index.gp.recorded.v1", "ce-subject": "9434765919", "content-type": "application/json"} {
					m.Header.Set(k, v)
				}
			}
			raw, err := cenats.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			ev, probs := event.Validate(raw, "leeds/pct", time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
			var got bytes.Buffer
			for _, p := range probs {
				got.WriteString(p.String() + "\n")
			}
			switch {
			case tt.want == "" && ev == nil:
				t.Errorf("refused: %s", got.String())
			case tt.want != "" && (ev != nil || !strings.Contains(got.String(), tt.want)):
				t.Errorf("problems %q, want one saying %q", got.String(), tt.want)
			}
		})
	}
}

// redactNow is the time the events of these tests are validated at.
var redactNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
