package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

const amy = "9434765919" // a valid UIN, from the demo

// delivered builds a api.Delivery as the broker stores it.
func delivered(t *testing.T, seq uint64, basis, typ, subject string) api.Delivery {
	t.Helper()
	ev, err := json.Marshal(map[string]any{"specversion": "1.0", "id": "ev-" + strconv.FormatUint(seq, 10),
		"source": "/leeds/police", "type": typ, "subject": subject, "time": "2026-11-20T22:10:00Z",
		"data": map[string]any{"kind": "domestic_abuse"}})
	if err != nil {
		t.Fatal(err)
	}
	return api.Delivery{Seq: seq, Basis: basis, Event: ev}
}

// deliveryPage answers as handleDeliveries does.
func deliveryPageJSON(after uint64, ds []api.Delivery) map[string]any {
	next := after
	for _, d := range ds {
		next = d.Seq
	}
	if ds == nil {
		ds = []api.Delivery{}
	}
	return map[string]any{"deliveries": ds, "next": next}
}

func TestDeliveriesTable(t *testing.T) {
	var ds []api.Delivery
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deliveries": func(w http.ResponseWriter, r *http.Request) {
			if !requireToken(w, r, participantToken, " participant") {
				return
			}
			writeJSON(w, 200, deliveryPageJSON(40, ds))
		},
	})
	ds = []api.Delivery{
		delivered(t, 41, "statutory-duty", "uk.gov.ecm.police.incident.v1", amy),
		delivered(t, 42, "", "uk.gov.ecm.index.concern.flagged.v1", "9434765870"),
	}
	res := runAs(t, fb, participantToken, "deliveries", "--participant", "leeds/la-social-care", "--after", "40", "--limit", "2")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := `SEQ  TIME                  TYPE                                 SUBJECT     SOURCE         BASIS
41   2026-11-20T22:10:00Z  uk.gov.ecm.police.incident.v1        ******5919  /leeds/police  statutory-duty
42   2026-11-20T22:10:00Z  uk.gov.ecm.index.concern.flagged.v1  ******5870  /leeds/police  -
2 deliveries for leeds/la-social-care after 40; next: --after 42
`
	if res.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, want)
	}
	for _, u := range []string{amy, "9434765870"} {
		if strings.Contains(res.stdout, u) {
			t.Errorf("the table shows the UIN %s", u)
		}
	}
	q, _ := url.ParseQuery(fb.requests()[0].query)
	if q.Get("after") != "40" || q.Get("limit") != "2" {
		t.Errorf("query %q, want after=40 and limit=2", fb.requests()[0].query)
	}

	res = runAs(t, fb, participantToken, "deliveries", "--json")
	var page struct {
		Deliveries []api.Delivery `json:"deliveries"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &page) != nil || len(page.Deliveries) != 2 {
		t.Errorf("--json: exit %d, stdout %q", res.code, res.stdout)
	}
}

func TestDeliveriesNeedsAParticipantToken(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deliveries": func(w http.ResponseWriter, r *http.Request) {
			if requireToken(w, r, participantToken, " participant") {
				writeJSON(w, 200, deliveryPageJSON(0, nil))
			}
		},
	})
	res := runAs(t, fb, operatorToken, "deliveries", "--participant", "leeds/pct")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1", res.code)
	}
	for _, want := range []string{"the token is not a participant token (401: a participant token is required", "give leeds/pct's token with --token"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr %q lacks %q", res.stderr, want)
		}
	}
	if strings.Count(res.stderr, "\n") != 1 || res.stdout != "" {
		t.Errorf("want one line on stderr and nothing on stdout, got %q and %q", res.stderr, res.stdout)
	}
}

func TestDeliveriesEmpty(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deliveries": func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, deliveryPageJSON(7, nil)) },
	})
	res := runAs(t, fb, participantToken, "deliveries", "--after", "7")
	if res.code != 0 || res.stdout != "0 deliveries after 7; next: --after 7\n" {
		t.Errorf("exit %d, stdout %q", res.code, res.stdout)
	}
}

// followBroker serves seqs 1..total, at most limit a page, and cancels the
// context once it has answered stopAfter requests. A 503 is served first if
// flaky.
func followBroker(t *testing.T, total uint64, stopAfter int32, flaky bool, cancel context.CancelFunc) *fakeBroker {
	var n atomic.Int32
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deliveries": func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			if i >= stopAfter {
				defer cancel()
			}
			if flaky && i == 1 {
				writeError(w, http.StatusServiceUnavailable, "nats: no responders available for request")
				return
			}
			after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			var ds []api.Delivery
			for s := after + 1; s <= total && len(ds) < limit; s++ {
				ds = append(ds, delivered(t, s, "consent", "uk.gov.ecm.caf.completed.v1", amy))
			}
			writeJSON(w, 200, deliveryPageJSON(after, ds))
		},
	})
	return fb
}

// afters are the cursors fb was asked for, in order.
func afters(fb *fakeBroker) []uint64 {
	var out []uint64
	for _, r := range fb.requests() {
		q, _ := url.ParseQuery(r.query)
		after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
		out = append(out, after)
	}
	return out
}

func TestDeliveriesFollowPages(t *testing.T) {
	tests := []struct {
		name       string
		total      uint64
		stopAfter  int32
		flaky      bool
		args       []string
		wantAfters []uint64
		wantSeqs   []string
	}{
		{"pages while full, then polls", 5, 5, false, []string{"--limit", "2"},
			[]uint64{0, 2, 4, 5, 5}, []string{"1", "2", "3", "4", "5"}},
		{"starts after --after", 5, 3, false, []string{"--limit", "2", "--after", "3"},
			[]uint64{3, 5, 5}, []string{"4", "5"}},
		{"retries a broker that is not ready", 2, 3, true, nil,
			[]uint64{0, 0, 2}, []string{"1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			fb := followBroker(t, tt.total, tt.stopAfter, tt.flaky, cancel)
			args := append([]string{"deliveries", "--follow", "--interval", "5ms"}, tt.args...)
			res := runCLI(ctx, map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": participantToken}, "", args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if got := len(fb.requests()); got != int(tt.stopAfter) {
				t.Errorf("%d requests, want %d", got, tt.stopAfter)
			}
			if got := afters(fb); !equal(got, tt.wantAfters) {
				t.Errorf("after= %v, want %v", got, tt.wantAfters)
			}
			lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "SEQ ") || strings.Count(res.stdout, "SEQ ") != 1 {
				t.Errorf("want the header once, first:\n%s", res.stdout)
			}
			var seqs []string
			for _, l := range lines[1:] {
				seqs = append(seqs, strings.Fields(l)[0])
				if !strings.Contains(l, "******5919") {
					t.Errorf("row %q is not masked", l)
				}
			}
			if !equal(seqs, tt.wantSeqs) {
				t.Errorf("rows %v, want %v", seqs, tt.wantSeqs)
			}
			if tt.flaky != strings.Contains(res.stderr, "retrying") {
				t.Errorf("stderr %q", res.stderr)
			}
		})
	}
}

func TestDeliveriesFollowJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fb := followBroker(t, 3, 3, false, cancel)
	res := runCLI(ctx, map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": participantToken}, "",
		"deliveries", "--follow", "--json", "--limit", "2", "--interval", "5ms")
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if res.code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, stdout %q", res.code, res.stdout)
	}
	for i, l := range lines {
		var d api.Delivery
		if err := json.Unmarshal([]byte(l), &d); err != nil || d.Seq != uint64(i+1) {
			t.Errorf("line %d: %q (%v)", i, l, err)
		}
	}
}

func TestDeliveriesFollowStopsOnRefusal(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /v1/deliveries": func(w http.ResponseWriter, r *http.Request) {
			requireToken(w, r, participantToken, " participant")
		},
	})
	res := runAs(t, fb, "wrong", "deliveries", "--follow", "--interval", "5ms")
	if res.code != 1 || len(fb.requests()) != 1 || !strings.Contains(res.stderr, "not a participant token") {
		t.Errorf("exit %d after %d requests, stderr %q", res.code, len(fb.requests()), res.stderr)
	}
}

func TestMaskUIN(t *testing.T) {
	tests := []struct{ in, want string }{
		{amy, "******5919"},
		{"", "-"},
		{"123", "***"},
		{"1234", "****"},
		{"12345", "*2345"},
	}
	for _, tt := range tests {
		if got := maskUIN(tt.in); got != tt.want {
			t.Errorf("maskUIN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
