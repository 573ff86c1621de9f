package run

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTTPSource(t *testing.T) {
	s, st := newBroker(t)
	r := newRunner(t, natsPub(t, s.ClientURL()), 2)
	src := NewHTTPSource(HTTPSourceOptions{Addr: "127.0.0.1:0", Token: "let-me-in", Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, src) }()
	base := "http://" + src.Addr() + "/v1/records"

	post := func(query, token, body string) (int, httpAnswerJSON) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+query, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a httpAnswerJSON
		json.NewDecoder(resp.Body).Decode(&a)
		return resp.StatusCode, a
	}
	tests := []struct {
		name, query, token, body string
		code                     int
		read, published, reject  int
	}{
		{"good and bad", "?format=fake", "let-me-in", "one\nbad x\nmulti two\nthree\n", 200, 4, 4, 1},
		{"all bad", "?format=fake", "let-me-in", "bad x\nbad y\n", 422, 2, 0, 2},
		{"not this format", "?format=hl7", "let-me-in", "one\n", 422, 0, 0, 1},
		{"no format", "", "let-me-in", "one\n", 400, 0, 0, 0},
		{"no token", "?format=fake", "", "one\n", 401, 0, 0, 0},
		{"empty", "?format=fake", "let-me-in", "", 200, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := post(tt.query, tt.token, tt.body)
			if code != tt.code || a.Read != tt.read || a.Published != tt.published || len(a.Rejects) != tt.reject {
				t.Errorf("got %d %+v, want %d read %d published %d rejects %d", code, a, tt.code, tt.read, tt.published, tt.reject)
			}
		})
	}
	if n := len(stored(t, st)); n != 4 {
		t.Errorf("stream holds %d, want 4", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

type httpAnswerJSON struct {
	Read      int      `json:"read"`
	Published int      `json:"published"`
	Rejected  int      `json:"rejected"`
	Rejects   []string `json:"rejects"`
	Error     string   `json:"error"`
}
