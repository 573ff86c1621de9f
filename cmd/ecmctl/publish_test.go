package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
)

// ingestBroker answers POST /v1/events as broker/ingest.go does, for
// leeds/pct: a subject "bad" is invalid, a source other than /leeds/pct is
// forbidden, an id starting "dup" is a duplicate, anything else accepted.
func ingestBroker(t *testing.T) *fakeBroker {
	var seq atomic.Uint64
	one := func(raw json.RawMessage) api.IngestResult {
		var ev map[string]any
		if json.Unmarshal(raw, &ev) != nil {
			return api.IngestResult{Status: 400, Outcome: "invalid", Error: "invalid event",
				Problems: []api.Problem{{Field: "event", Reason: "not a JSON object"}}}
		}
		id, _ := ev["id"].(string)
		switch {
		case ev["subject"] == "bad":
			return api.IngestResult{ID: id, Status: 400, Outcome: "invalid", Error: "invalid event", Problems: []api.Problem{
				{Field: "subject", Reason: "not a valid UIN: uin must be exactly 10 digits"}, {Field: "time", Reason: "is in the future"}}}
		case ev["source"] != "/leeds/pct":
			return api.IngestResult{ID: id, Status: 403, Outcome: "forbidden", Error: "an event's source must be the publisher's own identity",
				Problems: []api.Problem{{Field: "source", Reason: "is not the publisher's identity (/leeds/pct)"}}}
		case strings.HasPrefix(id, "dup"):
			return api.IngestResult{ID: id, Status: 202, Outcome: "duplicate", Seq: 1}
		}
		return api.IngestResult{ID: id, Status: 202, Outcome: "accepted", Seq: seq.Add(1)}
	}
	return newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/events": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, participantToken, " participant") {
				return
			}
			var body json.RawMessage
			_ = json.NewDecoder(r.Body).Decode(&body)
			if r.Header.Get("Content-Type") != contentTypeBatch {
				res := one(body)
				writeJSON(w, res.Status, res)
				return
			}
			var items []json.RawMessage
			if err := json.Unmarshal(body, &items); err != nil {
				writeJSON(w, 400, api.IngestResult{Status: 400, Outcome: "invalid", Error: "invalid batch",
					Problems: []api.Problem{{Field: "batch", Reason: "must be a JSON array of structured events"}}})
				return
			}
			if len(items) > maxBatchEvents {
				writeJSON(w, 413, api.IngestResult{Status: 413, Outcome: "invalid", Error: "batch too large",
					Problems: []api.Problem{{Field: "batch", Reason: fmt.Sprintf("has %d events, at most %d", len(items), maxBatchEvents)}}})
				return
			}
			results := make([]api.IngestResult, len(items))
			for i, item := range items {
				results[i] = one(item)
				results[i].Index = i
			}
			writeJSON(w, 200, map[string]any{"results": results})
		},
	})
}

func event(id, subject, source string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":%q,"type":"uk.gov.ecm.index.concern.flagged.v1","subject":%q,"data":{}}`, id, source, subject)
}

func TestPublishDetectsSingleAndBatch(t *testing.T) {
	ok1, ok2 := event("a-1", amy, "/leeds/pct"), event("a-2", amy, "/leeds/pct")
	pretty := strings.ReplaceAll(ok1, ",", ",\n  ")
	tests := []struct {
		name, input string
		wantCT      string
		wantEvents  int
		wantWhere   []string
	}{
		{"one object", ok1, contentTypeStructured, 1, []string{"event"}},
		{"one object over several lines", pretty, contentTypeStructured, 1, []string{"event"}},
		{"array", "[" + ok1 + ",\n" + ok2 + "]", contentTypeBatch, 2, []string{"[0]", "[1]"}},
		{"array of one", "[" + ok1 + "]", contentTypeBatch, 1, []string{"[0]"}},
		{"JSON lines", ok1 + "\n\n" + ok2 + "\r\n", contentTypeBatch, 2, []string{"line 1", "line 3"}},
		{"JSON lines with a byte order mark", "\xef\xbb\xbf" + ok1 + "\n" + ok2, contentTypeBatch, 2, []string{"line 1", "line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := ingestBroker(t)
			file := filepath.Join(t.TempDir(), "events.json")
			if err := os.WriteFile(file, []byte(tt.input), 0o600); err != nil {
				t.Fatal(err)
			}
			res := runAs(t, fb, participantToken, "publish", file)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			reqs := fb.requests()
			if len(reqs) != 1 || reqs[0].contentType != tt.wantCT {
				t.Fatalf("requests %+v, want one %s", reqs, tt.wantCT)
			}
			if tt.wantCT == contentTypeBatch {
				var items []json.RawMessage
				if err := json.Unmarshal(reqs[0].body, &items); err != nil || len(items) != tt.wantEvents {
					t.Errorf("batch body %s: %v", reqs[0].body, err)
				}
			} else if !json.Valid(reqs[0].body) || reqs[0].body[0] != '{' {
				t.Errorf("body %s", reqs[0].body)
			}
			for _, w := range tt.wantWhere {
				if !strings.Contains(res.stdout, "\n"+w+" ") {
					t.Errorf("stdout lacks a row for %s:\n%s", w, res.stdout)
				}
			}
			if want := fmt.Sprintf("%s: %d accepted\n", plural(tt.wantEvents, "event", "events"), tt.wantEvents); !strings.HasSuffix(res.stdout, want) {
				t.Errorf("stdout does not end %q:\n%s", want, res.stdout)
			}
		})
	}
}

func TestPublishRejected(t *testing.T) {
	fb := ingestBroker(t)
	input := strings.Join([]string{
		event("a-1", amy, "/leeds/pct"),
		event("a-2", "bad", "/leeds/pct"),
		event("dup-3", amy, "/leeds/pct"),
		event("a-4", amy, "/leeds/lea"),
	}, "\n")
	res := runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": participantToken}, input, "publish", "-")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1", res.code)
	}
	want := `EVENT   ID     OUTCOME    SEQ  PROBLEMS
line 1  a-1    accepted   1    -
line 2  a-2    invalid    -    subject: not a valid UIN: uin must be exactly 10 digits
                               time: is in the future
line 3  dup-3  duplicate  1    -
line 4  a-4    forbidden  -    source: is not the publisher's identity (/leeds/pct)
4 events: 1 accepted, 1 invalid, 1 duplicate, 1 forbidden
`
	if res.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, want)
	}
	if res.stderr != "ecmctl: 2 of 4 events not accepted\n" {
		t.Errorf("stderr %q", res.stderr)
	}
}

func TestPublishSingleRejected(t *testing.T) {
	fb := ingestBroker(t)
	res := runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": participantToken},
		event("a-1", "bad", "/leeds/pct"), "publish", "-", "--json")
	var got api.IngestResult
	if res.code != 1 || json.Unmarshal([]byte(res.stdout), &got) != nil || got.Outcome != "invalid" || len(got.Problems) != 2 {
		t.Errorf("exit %d, stdout %q", res.code, res.stdout)
	}
	if !strings.Contains(res.stderr, "ecmctl: 1 of 1 event not accepted") {
		t.Errorf("stderr %q", res.stderr)
	}
}

func TestPublishLargeBatchIsSplit(t *testing.T) {
	fb := ingestBroker(t)
	var lines []string
	for i := range 2500 {
		subject := amy
		if i == 2100 {
			subject = "bad"
		}
		lines = append(lines, event(fmt.Sprintf("e-%d", i), subject, "/leeds/pct"))
	}
	res := runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": participantToken},
		strings.Join(lines, "\n"), "publish", "-", "--json")
	if res.code != 1 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	reqs := fb.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want batches of 1000, 1000 and 500", len(reqs))
	}
	var out struct {
		Results []api.IngestResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil || len(out.Results) != 2500 {
		t.Fatalf("stdout is not 2500 results: %v", err)
	}
	for i, r := range out.Results {
		if r.Index != i || r.ID != fmt.Sprintf("e-%d", i) {
			t.Fatalf("result %d has index %d and id %s", i, r.Index, r.ID)
		}
	}
	if out.Results[2100].Outcome != "invalid" || !strings.Contains(res.stderr, "ecmctl: 1 of 2500 events not accepted") {
		t.Errorf("result 2100 %+v, stderr %q", out.Results[2100], res.stderr)
	}
}

func TestPublishRefusedBeforeSending(t *testing.T) {
	ok := event("a-1", amy, "/leeds/pct")
	tests := []struct {
		name, input, token string
		args               []string
		want               string
	}{
		{"empty", "  \n", participantToken, nil, "no events: the input is empty"},
		{"empty array", "[]", participantToken, nil, "no events: the array is empty"},
		{"not an event", `"hello"`, participantToken, nil, "expected a CloudEvent object"},
		{"a broken line", ok + "\n{\"id\":", participantToken, nil, "line 2: not a JSON event"},
		{"another participant's source", ok + "\n" + event("a-2", amy, "/leeds/lea"), participantToken,
			[]string{"--participant", "leeds/pct"}, `line 2: source "/leeds/lea" is not /leeds/pct (--participant); nothing was sent`},
		{"no token", ok, "", nil, "no token"},
		{"two files", ok, participantToken, []string{"other.json"}, "publish needs one FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := ingestBroker(t)
			args := append([]string{"publish", "-"}, tt.args...)
			res := runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": tt.token}, tt.input, args...)
			if res.code != 1 || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, tt.want)
			}
			if n := len(fb.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestPublishWrongToken(t *testing.T) {
	fb := ingestBroker(t)
	for _, input := range []string{event("a-1", amy, "/leeds/pct"), "[" + event("a-1", amy, "/leeds/pct") + "]"} {
		res := runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": operatorToken}, input, "publish", "-")
		if res.code != 1 || !strings.Contains(res.stderr, "not a participant token") || res.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
		}
	}
}

func TestPublishBatchRefusedWhole(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"POST /v1/events": func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 413, api.IngestResult{Status: 413, Outcome: "invalid", Error: "batch too large",
				Problems: []api.Problem{{Field: "event", Reason: "body is over 16777216 bytes"}}})
		},
	})
	res := runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": participantToken},
		"["+event("a-1", amy, "/leeds/pct")+"]", "publish", "-")
	want := "ecmctl: the batch [0] to [0] was not accepted: 413 batch too large; event: body is over 16777216 bytes\n"
	if res.code != 1 || res.stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, want)
	}
}
