package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/adapters/connexions"
	"github.com/ecm-broker/ecm-broker/adapters/lea"
	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/adapters/police"
	"github.com/ecm-broker/ecm-broker/adapters/run"
	"github.com/ecm-broker/ecm-broker/adapters/yot"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
)

var agencies = []adapters.Agency{pct.Agency{}, lea.Agency{}, connexions.Agency{}, police.Agency{}, yot.Agency{}}

// samples copies an agency's good sample exports into a fresh folder (the
// runner writes progress and rejects beside its input) and returns them
// with the events their goldens say they map to.
func samples(t *testing.T, agency string) (files []string, events []map[string]any) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("../../adapters", agency, "testdata")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".golden.jsonl") || strings.HasSuffix(name, ".rejects") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(src, name))
		dst := filepath.Join(dir, name)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, dst)
		g, err := os.Open(filepath.Join(src, name+".golden.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(g)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatal(err)
			}
			events = append(events, ev)
		}
		g.Close()
	}
	return files, events
}

// All five adapters feed the running broker from their sample files over
// NATS; each participant receives exactly what the audit says it was
// allowed; a second run of the same files adds nothing.
func TestAdaptersFeedTheBroker(t *testing.T) {
	env := testenv.Start(t, "")
	all := agencies
	feed := func() int {
		total := 0
		for _, a := range all {
			files, events := samples(t, a.Name())
			total += len(events)
			err := run.Main(context.Background(), run.Config{Agency: a, Area: "leeds", Files: files,
				Server: env.Broker.NATSURL(), Stdout: io.Discard, Stderr: io.Discard})
			if err != nil {
				t.Fatalf("%s adapter: %v", a.Name(), err)
			}
		}
		env.WaitIdle()
		return total
	}
	published := feed()
	if dls := env.DeadLetters(); len(dls) != 0 {
		t.Fatalf("the broker refused %d adapter events, first: %v", len(dls), dls[0].Reasons)
	}
	stream, err := env.Broker.JetStream().Stream(t.Context(), wire.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	stored := stream.CachedInfo().State.Msgs
	if int(stored) != published {
		t.Fatalf("ingest holds %d events, the goldens list %d", stored, published)
	}

	// Every allowed decision in the audit is a delivery, and nothing else is.
	want := map[string]map[string]bool{} // participant -> event id
	children := map[string]bool{}
	for _, a := range all {
		_, evs := samples(t, a.Name())
		for _, e := range evs {
			children[e["subject"].(string)] = true
		}
	}
	for child := range children {
		for _, r := range env.Audit(child) {
			for _, d := range r.Decisions {
				if d.Allow {
					if want[d.Participant] == nil {
						want[d.Participant] = map[string]bool{}
					}
					want[d.Participant][r.EventID] = true
				}
			}
		}
	}
	if len(want["leeds/la-social-care"]) == 0 {
		t.Fatal("children's social care received nothing from the adapters")
	}
	deliveries := map[string]int{}
	for _, p := range env.Config.Participants {
		got := env.Deliveries(p.ID)
		deliveries[p.ID] = len(got)
		seen := map[string]bool{}
		for _, d := range got {
			id := d.Event["id"].(string)
			if !want[p.ID][id] || seen[id] {
				t.Errorf("%s received %s (allowed %v, already %v)", p.ID, id, want[p.ID][id], seen[id])
			}
			seen[id] = true
		}
		if len(seen) != len(want[p.ID]) {
			t.Errorf("%s received %d events, the audit allowed %d", p.ID, len(seen), len(want[p.ID]))
		}
	}

	// Police incidents reach social care of the child's area (rule 7).
	_, incidents := samples(t, "police")
	for _, e := range incidents {
		if !want["leeds/la-social-care"][e["id"].(string)] {
			t.Errorf("police incident %s did not reach leeds/la-social-care", e["id"])
		}
	}

	// Re-reading the same exports stores nothing new and delivers nothing new.
	feed()
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != stored {
		t.Errorf("second run: ingest holds %d events, was %d", info.State.Msgs, stored)
	}
	for _, p := range env.Config.Participants {
		if n := len(env.Deliveries(p.ID)); n != deliveries[p.ID] {
			t.Errorf("second run: %s has %d deliveries, was %d", p.ID, n, deliveries[p.ID])
		}
	}
}

// A police export with faults, into the running broker: the good incidents
// are published, and every reject names its incident by place and
// reference, never a line (the force's staff search their system by it).
func TestPoliceRejectsNameTheIncident(t *testing.T) {
	env := testenv.Start(t, "")
	src := "../../adapters/police/testdata/bad/incidents-2026-03-21.json"
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "incidents-2026-03-21.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	err = run.Main(context.Background(), run.Config{Agency: police.Agency{}, Area: "leeds", Files: []string{path},
		Server: env.Broker.NATSURL(), Stdout: io.Discard, Stderr: &logs})
	if err == nil {
		t.Error("an export with rejected incidents ended without an error (no --allow-rejects)")
	}
	env.WaitIdle()
	rejects, err := os.ReadFile(path + ".rejects")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(rejects)), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "incident ") || strings.HasPrefix(l, "line ") {
			t.Errorf("reject %q does not name its incident", l)
		}
	}
	if !strings.Contains(string(rejects), "incident 3 (WY-2026-000207): kind \"BREACH OF THE PEACE\"") ||
		!strings.Contains(string(rejects), "incident 5: incident_id is missing") {
		t.Errorf("rejects:\n%s", rejects)
	}
	if !strings.Contains(logs.String(), "incident 3 (WY-2026-000207)") {
		t.Errorf("the log does not name the rejected incident:\n%s", logs.String())
	}
	stream, err := env.Broker.JetStream().Stream(t.Context(), wire.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	if n := stream.CachedInfo().State.Msgs; n == 0 {
		t.Error("the good children of the export were not published")
	}
}
