package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/ecm-broker/ecm-broker/api"
)

var opsCmd = &command{
	name:    "ops",
	summary: "the operations overview: readiness, audit chain, policy, who is not reading, what is waiting (operator token)",
	usage: `
ops

Readiness and each check (as /readyz), the audit chain's last verification,
the policy revision and how it is reloaded, then one row per participant:
the copies waiting on its durable consumer (stored and not yet read over
NATS: who is not reading) and when it last read. Then the dead letters nobody
has dealt with (of which copies refused by a delivery limit: a replay
delivers them) and the most recent replays and backfills. It names no child.

Examples:
  ecmctl ops
  ecmctl ops --json | jq '.participants[] | select(.waiting > 1000)'`,
	run: runOps,
}

func runOps(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("ops takes no arguments, got %q", pos[0])
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var o api.Operations
	raw, err := a.getJSON(ctx, "/v1/operations", nil, &o)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	w := a.stdout
	ready := "yes"
	if !o.Ready {
		ready = "NO"
	}
	t := newTable(w, "", "CHECK", "STATUS")
	t.Row("ready", ready)
	names := make([]string, 0, len(o.Checks))
	for n := range o.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Row("  "+n, o.Checks[n])
	}
	t.Row("policy", orDash(o.Policy))
	t.Row("policy reload", orDash(o.Reload))
	t.Row("dead letters open", strconv.Itoa(o.DeadLetters))
	t.Row("  of which refused copies", strconv.Itoa(o.RefusedCopies))
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "", "PARTICIPANT", "NAME", "WAITING", "LAST READ")
	for _, p := range o.Participants {
		t.Row(p.Participant, p.Name, strconv.FormatUint(p.Waiting, 10), orDash(p.LastRead))
	}
	if len(o.Participants) > 0 {
		if err := t.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nRecent replays and backfills (%d)\n", len(o.Replays))
	if len(o.Replays) == 0 {
		return nil
	}
	t = newTable(w, "  ", "WHEN", "KIND", "ID", "BY", "PARTICIPANT", "COUNTS")
	for _, r := range o.Replays {
		if r.Action == nil {
			continue
		}
		t.Row(r.DecidedAt, r.Action.Kind, r.Action.ID, r.Action.By, orDash(r.Action.Participant), counts(r.Action.Counts))
	}
	return t.Flush()
}

// counts prints an action's counts as name=n, in name order.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", k, m[k])
	}
	return orDash(s)
}
