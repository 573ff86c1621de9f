package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestDryRun(t *testing.T) {
	s, st := newBroker(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "export.fake")
	write(t, path, "one\nbad x\nmulti two\n")
	var stdout, stderr bytes.Buffer
	err := Main(context.Background(), Config{Agency: fakeAgency{}, Area: testArea, Files: []string{path},
		DryRun: true, Server: s.ClientURL(), Stdout: &stdout, Stderr: &stderr})
	if err == nil || err.Error() != "1 record(s) rejected, see the rejects (--allow-rejects accepts a partial export)" {
		t.Fatalf("Main = %v, want the rejected record reported", err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("dry run printed %d lines, want 3:\n%s", len(lines), stdout.String())
	}
	for i, l := range lines {
		var e event.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d is not a CloudEvent: %v\n%s", i+1, err, l)
		}
		if e.Source() != "/leeds/pct" {
			t.Errorf("line %d: source %q", i+1, e.Source())
		}
	}
	if want := fakeEvent(testArea, "one"); !strings.Contains(lines[0], want.ID()) {
		t.Errorf("first event is not line one's: %s", lines[0])
	}
	if n := len(stored(t, st)); n != 0 {
		t.Errorf("dry run published %d events", n)
	}
	if exists(path+".rejects") || exists(filepath.Join(dir, ".progress")) {
		t.Error("dry run wrote beside the export")
	}
	if !strings.Contains(stderr.String(), "export.fake: line 2: x\n") {
		t.Errorf("stderr lacks the reject:\n%s", stderr.String())
	}
	var totals map[string]any
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		var entry map[string]any
		if json.Unmarshal(sc.Bytes(), &entry) == nil && entry["msg"] == "totals" {
			totals = entry
		}
	}
	if totals["records_read"] != 3.0 || totals["events_published"] != 3.0 || totals["records_rejected"] != 1.0 {
		t.Errorf("totals on stderr: %v", totals)
	}
}

func TestStdin(t *testing.T) {
	s, st := newBroker(t)
	rejects := filepath.Join(t.TempDir(), "out.rejects")
	var stderr bytes.Buffer
	err := Main(context.Background(), Config{Agency: fakeAgency{}, Area: testArea, Stdin: true, Format: "fake",
		Rejects: rejects, In: strings.NewReader("one\nbad x\ntwo\n"), Server: s.ClientURL(), Stderr: &stderr,
		AllowRejects: true})
	if err != nil {
		t.Fatalf("with --allow-rejects a partial export is no error: %v", err)
	}
	if n := len(stored(t, st)); n != 2 {
		t.Errorf("stream holds %d, want 2", n)
	}
	if got := read(t, rejects); got != "line 2: x\n" {
		t.Errorf("rejects %q", got)
	}
	// All rejected: an error, for scripts.
	err = Main(context.Background(), Config{Agency: fakeAgency{}, Area: testArea, Stdin: true, Format: "fake",
		Rejects: rejects, In: strings.NewReader("bad y\n"), Server: s.ClientURL(), Stderr: &stderr})
	if err == nil {
		t.Error("an export with every record rejected is not an error")
	}
	if got := read(t, rejects); got != "line 1: y\n" {
		t.Errorf("rejects of the second run %q", got)
	}
	// Some rejected, without --allow-rejects: an error too, the others stored.
	err = Main(context.Background(), Config{Agency: fakeAgency{}, Area: testArea, Stdin: true, Format: "fake",
		Rejects: rejects, In: strings.NewReader("three\nbad z\n"), Server: s.ClientURL(), Stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "1 record(s) rejected") {
		t.Errorf("a partial export without --allow-rejects: %v, want an error", err)
	}
	if n := len(stored(t, st)); n != 3 {
		t.Errorf("stream holds %d, want 3", n)
	}
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"no agency", Config{Area: "leeds", Stdin: true, Format: "x"}, "--agency"},
		{"bad area", Config{Agency: fakeAgency{}, Area: "Leeds!", Stdin: true, Format: "x"}, "--area"},
		{"no input", Config{Agency: fakeAgency{}, Area: "leeds"}, "exactly one input"},
		{"two inputs", Config{Agency: fakeAgency{}, Area: "leeds", Stdin: true, Format: "x", Watch: "/tmp"}, "exactly one input"},
		{"stdin without format", Config{Agency: fakeAgency{}, Area: "leeds", Stdin: true}, "--format"},
		{"missing file", Config{Agency: fakeAgency{}, Area: "leeds", Files: []string{"/nonexistent/x.fake"}}, "no such file"},
		{"broker url without token", Config{Agency: fakeAgency{}, Area: "leeds", Stdin: true, Format: "x", BrokerURL: "http://x"}, "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check() = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

// TestDryRunWatch: a dry run over a drop folder reads each file once and
// leaves it where it is.
func TestDryRunWatch(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.fake"), "one\n")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := Main(ctx, Config{Agency: fakeAgency{}, Area: testArea, Watch: dir, Poll: 20 * time.Millisecond,
		DryRun: true, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 1 {
		t.Errorf("printed %d events, want 1 (the file read once)", n)
	}
	if !exists(filepath.Join(dir, "a.fake")) || exists(filepath.Join(dir, "done")) {
		t.Error("a dry run moved the file or made folders")
	}
}
