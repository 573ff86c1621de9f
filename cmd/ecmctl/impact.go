package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/policies"
)

var impactCmd = &command{
	name:    "impact",
	summary: "what a draft policy would change, against what was decided, delivering nothing (operator token)",
	usage: `
impact --policy DIR [--from TIME] [--to TIME] [--samples N]

Sends the Rego files and data files (matrix.yaml, legend.yaml) under DIR
(the draft; its _test.rego files are left out) to the broker, which decides the recorded events again with it and
compares with the decisions in the audit. Nothing is delivered or stored.
For each participant: the events and children it would gain or lose, the
decisions still allowed on another basis, and the fields newly disclosed to
it or newly withheld; then a sample of changed decisions with both bases.

Only the event types a changed rule can reach are decided again; the others
are counted as unaffected (see docs/operations.md). --from/--to limit the
analysis to decisions made in that period (RFC 3339). Progress goes to
stderr.

Examples:
  ecmctl impact --policy ./policies-draft
  ecmctl impact --policy ./policies-draft --from 2026-10-01T00:00:00Z --to 2026-11-01T00:00:00Z
  ecmctl impact --policy ./policies-draft --json | jq '.participants[] | select(.events_lost > 0)'`,
	run: runImpact,
}

func runImpact(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	dir := fs.String("policy", "", "`DIR` holding the draft policy's .rego and data files")
	from := fs.String("from", "", "only decisions made at or after `TIME` (RFC 3339)")
	to := fs.String("to", "", "only decisions made before `TIME` (RFC 3339)")
	samples := fs.Int("samples", 20, "how many changed decisions to show (`N`)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("impact takes no arguments, got %q (the draft goes after --policy)", pos[0])
	}
	if *dir == "" {
		return usagef("impact needs --policy DIR")
	}
	for _, t := range []struct{ name, v string }{{"--from", *from}, {"--to", *to}} {
		if t.v != "" {
			if _, err := time.Parse(time.RFC3339, t.v); err != nil {
				return usagef("%s: %q is not an RFC 3339 time", t.name, t.v)
			}
		}
	}
	modules, err := readPolicyDir(*dir)
	if err != nil {
		return err
	}
	if err := a.needToken(); err != nil {
		return err
	}
	body, _ := json.Marshal(api.ImpactRequest{Modules: modules, From: *from, To: *to, Samples: *samples})
	raw, err := a.stream(ctx, http.MethodPost, "/v1/impact", nil, body)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	var rep api.ImpactReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("POST /v1/impact: the answer is not the expected JSON: %w", err)
	}
	return printImpact(a, rep)
}

// readPolicyDir reads the .rego files under dir, tests left out, by path.
// readPolicyDir reads a draft policy: its .rego modules (not the tests) and
// its data files (the sharing matrix and legend), as the broker loads them.
func readPolicyDir(dir string) (map[string]string, error) {
	files, err := policies.Read(os.DirFS(dir), false)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	n := 0
	for name := range files {
		if policies.IsModule(name) {
			n++
		}
	}
	if n == 0 {
		return nil, usagef("--policy %s: no .rego files (tests are left out)", dir)
	}
	return files, nil
}

func printImpact(a *app, r api.ImpactReport) error {
	w := a.stdout
	fmt.Fprintf(w, "Draft %s against policy %s: %s and %s decided", r.DraftRevision, r.CurrentRevision,
		plural(r.Events, "event", "events"), plural(r.Generated, "generated event", "generated events"))
	fmt.Fprintf(w, ", %.1fs\n", r.Seconds)
	if len(r.ChangedRules) == 0 {
		fmt.Fprintln(w, "The draft changes no rule.")
	} else {
		fmt.Fprintf(w, "Changed rules: %s\n", strings.Join(r.ChangedRules, ", "))
		fmt.Fprintf(w, "Event types they can reach: %s\n", orDash(strings.Join(r.AffectedTypes, ", ")))
	}
	fmt.Fprintf(w, "Decided again: %d; unaffected: %d; of another policy revision: %d; no longer held: %d\n",
		r.Evaluated, r.Unaffected, r.OtherRevision, r.Missing)
	fmt.Fprintf(w, "Changed: %s in %s\n", plural(r.ChangedDecisions, "decision", "decisions"), plural(r.ChangedEvents, "event", "events"))
	if len(r.Participants) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "", "PARTICIPANT", "EVENTS +", "EVENTS -", "CHILDREN +", "CHILDREN -", "NEW BASIS", "FIELDS DISCLOSED", "FIELDS WITHHELD")
		for _, p := range r.Participants {
			t.Row(p.Participant, strconv.Itoa(p.EventsGained), strconv.Itoa(p.EventsLost), strconv.Itoa(p.ChildrenGained),
				strconv.Itoa(p.ChildrenLost), strconv.Itoa(p.BasisChanged), fieldCounts(p.FieldsDisclosed), fieldCounts(p.FieldsWithheld))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	if len(r.Samples) > 0 {
		fmt.Fprintf(w, "\nChanged decisions (%d shown):\n", len(r.Samples))
		t := newTable(w, "", "SEQ", "TYPE", "CHILD", "PARTICIPANT", "NOW", "DRAFT")
		for _, s := range r.Samples {
			t.Row(strconv.FormatUint(s.Seq, 10), strings.TrimSuffix(strings.TrimPrefix(s.Type, "uk.gov.ecm."), ".v1"), s.Child,
				s.Participant, verdict(s.Current), verdict(s.Draft))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func verdict(d api.Decision) string {
	v := "deny " + d.Basis
	if d.Allow {
		v = "allow " + d.Basis
		if len(d.Remove) > 0 {
			v += " without " + strings.Join(d.Remove, ",")
		}
	}
	return v
}

func fieldCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s(%d)", strings.TrimPrefix(k, "data."), m[k])
	}
	return strings.Join(parts, " ")
}
