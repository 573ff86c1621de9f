package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Tokens the fake broker knows.
const (
	participantToken = "tok-leeds-pct"
	operatorToken    = "tok-ops"
)

// fakeBroker serves canned answers shaped like the broker's and records
// every request it was sent.
type fakeBroker struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, query, auth, contentType string
	body                                   []byte
}

func newFakeBroker(t *testing.T, routes map[string]http.HandlerFunc) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{}
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	fb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		fb.mu.Lock()
		fb.reqs = append(fb.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body.Bytes()})
		fb.mu.Unlock()
		r.Body = &readCloser{bytes.NewReader(body.Bytes())}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(fb.Close)
	return fb
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func (fb *fakeBroker) requests() []recorded {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]recorded(nil), fb.reqs...)
}

// writeJSON and writeError answer as broker/api.go does.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// requireToken answers 401 as the broker does unless the token is want.
func requireToken(w http.ResponseWriter, r *http.Request, want, kind string) bool {
	if r.Header.Get("Authorization") == "Bearer "+want {
		return true
	}
	writeError(w, http.StatusUnauthorized, "a"+kind+" token is required (Authorization: Bearer <token>)")
	return false
}

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs ecmctl with the given environment and stdin.
func runCLI(ctx context.Context, env map[string]string, stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// runAs runs ecmctl against fb with a token in the environment.
func runAs(t *testing.T, fb *fakeBroker, token string, args ...string) result {
	t.Helper()
	return runCLI(context.Background(), map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": token}, "", args...)
}

func TestConnectionSettings(t *testing.T) {
	fb := newFakeBroker(t, map[string]http.HandlerFunc{
		"GET /healthz": func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, map[string]string{"status": "ok"})
		},
		"GET /readyz": func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, map[string]any{"ready": true, "checks": map[string]string{"nats": "ok"}})
		},
	})
	other := "http://127.0.0.1:1" // nothing listens there
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantAuth string
		wantCode int
	}{
		{"environment", map[string]string{"ECM_URL": fb.URL, "ECM_TOKEN": "env"}, []string{"health"}, "Bearer env", 0},
		{"flags after the command win", map[string]string{"ECM_URL": other, "ECM_TOKEN": "env"},
			[]string{"health", "--server", fb.URL, "--token", "flag"}, "Bearer flag", 0},
		{"flags before the command", map[string]string{"ECM_URL": other},
			[]string{"--server", fb.URL, "--token", "before", "health"}, "Bearer before", 0},
		{"after beats before", nil,
			[]string{"--server", other, "--token", "before", "health", "--server", fb.URL, "--token", "after"}, "Bearer after", 0},
		{"no scheme", nil, []string{"health", "--server", strings.TrimPrefix(fb.URL, "http://")}, "", 0},
		{"unreachable", nil, []string{"health", "--server", other}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fb.requests())
			res := runCLI(context.Background(), tt.env, "", tt.args...)
			if res.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", res.code, tt.wantCode, res.stderr)
			}
			if tt.wantCode != 0 {
				return
			}
			reqs := fb.requests()[before:]
			if len(reqs) != 2 || reqs[0].path != "/healthz" || reqs[1].path != "/readyz" {
				t.Fatalf("requests %+v, want /healthz and /readyz", reqs)
			}
			if reqs[0].auth != tt.wantAuth {
				t.Errorf("Authorization %q, want %q", reqs[0].auth, tt.wantAuth)
			}
		})
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"frobnicate"}, `no command "frobnicate"`},
		{"unknown flag", []string{"audit", "--nope"}, "flag provided but not defined: -nope"},
		{"unreachable", []string{"--server", "http://127.0.0.1:1", "health"}, "cannot reach the broker at http://127.0.0.1:1"},
		{"no token", []string{"--server", "http://127.0.0.1:1", "deadletters"}, "no token"},
		{"bad server", []string{"--server", "ftp://x", "health"}, "not an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(context.Background(), nil, "", tt.args...)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1", res.code)
			}
			if !strings.HasPrefix(res.stderr, "ecmctl: ") || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr %q, want one line with %q", res.stderr, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		res := runCLI(context.Background(), nil, "", args...)
		if res.code != 0 || !strings.Contains(res.stdout, "Commands:") || !strings.Contains(res.stdout, "deadletters") {
			t.Errorf("%v: exit %d, stdout %q", args, res.code, res.stdout)
		}
	}
	for _, c := range commands() {
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}, {c.name, "--help"}} {
			res := runCLI(context.Background(), map[string]string{"ECM_TOKEN": "secret-in-env"}, "", args...)
			if res.code != 0 {
				t.Errorf("%v: exit %d, stderr %q", args, res.code, res.stderr)
			}
			for _, want := range []string{"Usage: ecmctl " + c.name, "Examples:", "-server", "-json"} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("%v: help lacks %q:\n%s", args, want, res.stdout)
				}
			}
			if strings.Contains(res.stdout, "secret-in-env") {
				t.Errorf("%v: help shows the token from the environment", args)
			}
		}
	}
}

func TestErrorKinds(t *testing.T) {
	fb := ingestBroker(t)
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  error
	}{
		{"usage", []string{"audit", "--child", "123"}, "", errUsage},
		{"no token", []string{"deliveries"}, "", errNoToken},
		{"rejected event", []string{"publish", "-", "--token", participantToken}, event("a-1", "bad", "/leeds/pct"), errNotAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			a := &app{stdin: strings.NewReader(tt.stdin), stdout: &out, stderr: &out, client: http.DefaultClient,
				getenv: func(k string) string { return map[string]string{"ECM_URL": fb.URL}[k] }}
			if err := a.dispatch(context.Background(), tt.args); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}
