package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/cenats"
)

// fakeIngest mimics the broker's POST /v1/events in batch mode: 202 per
// event, except that the first request is answered 503, and events whose id
// is in refuse are invalid. It remembers what it stored.
type fakeIngest struct {
	mu      sync.Mutex
	token   string
	refuse  map[string]bool
	flaky   int // answer this many requests 503 first
	batches []int
	stored  map[string]int
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/events" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Content-Type") != cenats.ContentTypeBatch {
		http.Error(w, "not a batch", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var items []map[string]any
	if err := json.Unmarshal(body, &items); err != nil || len(items) > 1000 {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	f.batches = append(f.batches, len(items))
	if f.flaky > 0 {
		f.flaky--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	results := make([]map[string]any, len(items))
	for i, it := range items {
		id, _ := it["id"].(string)
		res := map[string]any{"index": i, "id": id, "status": 202, "outcome": "accepted"}
		switch {
		case f.refuse[id]:
			res = map[string]any{"index": i, "id": id, "status": 400, "outcome": "invalid", "error": "invalid event",
				"problems": []map[string]string{{"field": "subject", "reason": "not a UIN"}}}
		case f.stored[id] > 0:
			res["outcome"] = "duplicate"
			f.stored[id]++
		default:
			f.stored[id]++
		}
		results[i] = res
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"results": results})
}

func events(n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = fakeEvent(testArea, fmt.Sprintf("k%d", i))
	}
	return out
}

func TestHTTPPublisher(t *testing.T) {
	evs := events(1200)
	f := &fakeIngest{token: "secret", flaky: 1, stored: map[string]int{}, refuse: map[string]bool{evs[700].ID(): true}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p, err := NewHTTPPublisher(HTTPOptions{URL: srv.URL, Token: "secret", Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Publish(context.Background(), evs)
	var rj *RejectedError
	if !errors.As(err, &rj) || len(rj.Reasons) != 1 {
		t.Fatalf("Publish = %v, want one refusal", err)
	}
	if got, want := rj.Reasons[700], "the broker refused event "+evs[700].ID()+" (invalid: invalid event): subject: not a UIN"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if want := []int{500, 500, 500, 200}; fmt.Sprint(f.batches) != fmt.Sprint(want) {
		t.Errorf("batches %v, want %v (the first answered 503 and sent again)", f.batches, want)
	}
	if len(f.stored) != 1199 {
		t.Errorf("stored %d events, want 1199", len(f.stored))
	}
	for id, n := range f.stored {
		if n != 1 {
			t.Errorf("event %s sent %d times", id, n)
		}
	}

	// Everything again: duplicates are fine.
	if err := p.Publish(context.Background(), evs[:10]); err != nil {
		t.Errorf("publishing duplicates: %v", err)
	}

	bad, _ := NewHTTPPublisher(HTTPOptions{URL: srv.URL, Token: "wrong"})
	if err := bad.Publish(context.Background(), evs[:1]); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("with a wrong token Publish = %v, want ErrUnauthorized", err)
	}
}

// TestHTTPPublisherPartial: the broker stores some events of a batch and
// answers 503 for others; only those are sent again.
func TestHTTPPublisherPartial(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var items []json.RawMessage
		json.NewDecoder(r.Body).Decode(&items)
		mu.Lock()
		first := len(sizes) == 0
		sizes = append(sizes, len(items))
		mu.Unlock()
		results := make([]map[string]any, len(items))
		for i := range items {
			status := 202
			if first && i%2 == 1 {
				status = 503
			}
			results[i] = map[string]any{"index": i, "status": status, "outcome": "accepted"}
		}
		json.NewEncoder(w).Encode(map[string]any{"results": results})
	}))
	defer srv.Close()
	p, _ := NewHTTPPublisher(HTTPOptions{URL: srv.URL, Token: "t", Backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	if err := p.Publish(context.Background(), events(10)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[10 5]" {
		t.Errorf("requests of %v events, want [10 5]", sizes)
	}
}

// TestHTTPPublisherThroughRunner: a file through the runner to the HTTP
// ingest, refusals in the rejects.
func TestHTTPPublisherThroughRunner(t *testing.T) {
	refused := fakeEvent(testArea, "two")
	f := &fakeIngest{token: "secret", stored: map[string]int{}, refuse: map[string]bool{refused.ID(): true}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p, _ := NewHTTPPublisher(HTTPOptions{URL: srv.URL, Token: "secret"})
	path := t.TempDir() + "/x.fake"
	write(t, path, "one\ntwo\nbad x\nthree\n")
	r := newRunner(t, p, 1000)
	if err := r.Run(context.Background(), NewFilesSource([]string{path}, nil)); err != nil {
		t.Fatal(err)
	}
	want := "line 2: the broker refused event " + refused.ID() + " (invalid: invalid event): subject: not a UIN\nline 3: x\n"
	if got := read(t, path+".rejects"); got != want {
		t.Errorf("rejects\n%s\nwant\n%s", got, want)
	}
	if tot := r.Totals(); tot.Published != 2 || tot.Rejected != 2 {
		t.Errorf("totals %+v", tot)
	}
}

// TestUnauthorizedStops: a wrong token stops the runner and the dropped file
// stays where it is, to be read once the token is fixed.
func TestUnauthorizedStops(t *testing.T) {
	srv := httptest.NewServer(&fakeIngest{token: "right", stored: map[string]int{}})
	defer srv.Close()
	p, _ := NewHTTPPublisher(HTTPOptions{URL: srv.URL, Token: "wrong"})
	dir := t.TempDir()
	write(t, dir+"/x.fake", "one\n")
	r := newRunner(t, p, 10)
	err := r.Run(context.Background(), NewFolderSource(FolderOptions{Dir: dir, Poll: 10 * time.Millisecond}))
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	if !exists(dir + "/x.fake") {
		t.Error("the file was moved although nothing was stored")
	}
}
