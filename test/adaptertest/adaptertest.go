// Package adaptertest is the conformance suite for agency adapters. Every
// adapter should pass it: an adapter package's test calls Run with its Agency
// and an area, and one Fuzz target per export format.
//
// Run reads the package's own testdata (go test runs in the package
// directory):
//
//	testdata/<sample>               a good export: every record maps, none is rejected
//	testdata/<sample>.golden.jsonl  the events it maps to, one CloudEvent per line
//	testdata/bad/<sample>           an export with at least one bad record
//	testdata/bad/<sample>.rejects   its rejects, one "line N: reason" per line (or the record's name: "incident N (ID): reason")
//	testdata/bad/<sample>.golden.jsonl  the events of its good records (may be empty)
//
// A record may yield events and rejects both (a message mapped in parts):
// its rejects carry the record's line.
//
// The sample's file name is the hint given to Agency.Open. After a deliberate
// change of mapping, rewrite the goldens with
//
//	go test ./adapters/<agency> -run TestConformance -update
//
// and read the diff before committing it. The suite defines the -update flag,
// so a package that uses it must not define its own.
package adaptertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
)

var update = flag.Bool("update", false, "rewrite the adapter's golden files in testdata/")

const (
	goldenExt  = ".golden.jsonl"
	rejectsExt = ".rejects"
)

// Run checks a against the samples in ./testdata and ./testdata/bad, reading
// them as exports of area.
func Run(t *testing.T, a adapters.Agency, area string) {
	t.Helper()
	RunDir(t, a, area, "testdata")
}

// RunDir is Run on the samples in dir and dir/bad: samples that need the
// agency configured otherwise than in Run (the PCT's read with an ODS
// practice file) go in a folder of their own below testdata/.
func RunDir(t *testing.T, a adapters.Agency, area, dir string) {
	t.Helper()
	good := samples(t, dir)
	if len(good) == 0 {
		t.Fatalf("no samples in %s/: every adapter needs at least one good export", dir)
	}
	for _, path := range good {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out := readSample(t, a, path, area)
			for _, reject := range out.rejects {
				t.Errorf("good sample rejected a record: %s", reject)
			}
			checkOutput(t, a, path, area, out)
		})
	}
	for _, path := range samples(t, filepath.Join(dir, "bad")) {
		t.Run("bad/"+filepath.Base(path), func(t *testing.T) {
			out := readSample(t, a, path, area)
			if len(out.rejects) == 0 {
				t.Error("bad sample yielded no rejects")
			}
			golden(t, path+rejectsExt, lines(out.rejects))
			checkOutput(t, a, path, area, out)
		})
	}
	t.Run("unknown format", func(t *testing.T) {
		if _, err := a.Open("export.unknown-format", strings.NewReader(""), area); err == nil {
			t.Error(`Open("export.unknown-format") = nil error, want an error before any record`)
		}
	})
}

// checkOutput compares a sample's events with its golden, checks each event
// and checks that a second reading yields the same ids.
func checkOutput(t *testing.T, a adapters.Agency, path, area string, out output) {
	t.Helper()
	var js []string
	ids := map[string]bool{}
	for _, e := range out.events {
		for _, p := range CheckEvent(e, a.Name(), area) {
			t.Errorf("event %s: %s", e.ID(), p)
		}
		if ids[e.ID()] {
			t.Errorf("event id %s occurs twice in one export", e.ID())
		}
		ids[e.ID()] = true
		js = append(js, canonical(t, e))
	}
	golden(t, path+goldenExt, lines(js))

	again := readSample(t, a, path, area)
	if len(again.events) != len(out.events) {
		t.Fatalf("second reading yields %d events, first %d", len(again.events), len(out.events))
	}
	for i, e := range again.events {
		if e.ID() != out.events[i].ID() {
			t.Errorf("event %d: id %s on second reading, %s on first: ids must derive from the record", i, e.ID(), out.events[i].ID())
		}
	}
}

// output is what one export reads to.
type output struct {
	events  []event.Event
	rejects []string
}

func readSample(t *testing.T, a adapters.Agency, path, area string) output {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Open(filepath.Base(path), bytes.NewReader(b), area)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	var out output
	last := 0
	for n := 0; ; n++ {
		if n > len(b)+1 {
			t.Fatalf("reader yields more records than the export has bytes: it does not reach io.EOF")
		}
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		var re *adapters.RecordError
		if errors.As(err, &re) {
			out.rejects = append(out.rejects, re.Error())
			if re.Line < last {
				t.Errorf("reject %q comes after line %d: records must come in export order", re, last)
			}
			last = re.Line
			continue
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if rec.Line < 1 || rec.Line < last {
			t.Errorf("record line %d after line %d: lines are 1-based and in export order", rec.Line, last)
		}
		last = rec.Line
		out.events = append(out.events, rec.Events...)
	}
}

// samples lists the exports in dir: its files that are not goldens.
func samples(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, goldenExt) || strings.HasSuffix(name, rejectsExt) {
			continue
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	return paths
}

// canonical is an event's JSON with its keys sorted at every level, so that
// goldens do not depend on the SDK's field order.
func canonical(t *testing.T, e event.Event) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshalling event %s: %v", e.ID(), err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decoding event %s: %v", e.ID(), err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // "Dr Patel & Partners" reads better than \u0026
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

func lines(ss []string) []byte {
	var b bytes.Buffer
	for _, s := range ss {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// golden compares got with the file at path, or writes it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestConformance -update to write it, then read it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		gl, wl := at(g, i), at(w, i)
		if gl != wl {
			t.Errorf("%s differs at line %d:\n got: %s\nwant: %s", path, i+1, gl, wl)
			return
		}
	}
}

func at(ss []string, i int) string {
	if i < len(ss) {
		return ss[i]
	}
	return fmt.Sprintf("(end of output after %d lines)", len(ss)-1)
}
