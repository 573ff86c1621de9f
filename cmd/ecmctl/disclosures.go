package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

var disclosuresCmd = &command{
	name:    "disclosures",
	summary: "which participants received your events about a child (participant token)",
	usage: `
disclosures --child UIN

For the participant whose token is given: each event it published about the
child, and every participant that received it (replays included), when, on
what basis and without which fields. Only its own events: who received other
agencies' events is theirs to ask.

Examples:
  ecmctl disclosures --token "$LEEDS_PCT_TOKEN" --child 9434765919
  ecmctl disclosures --child 9434765919 --json`,
	run: runDisclosures,
}

func runDisclosures(ctx context.Context, a *app, c *command, args []string) error {
	child, err := a.childArg(c, args)
	if err != nil {
		return err
	}
	var out api.DisclosureList
	raw, err := a.getJSON(ctx, "/v1/disclosures", url.Values{"child": {child}}, &out)
	if err != nil {
		return tokenError(err, "a participant", "your participant token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	w := a.stdout
	fmt.Fprintf(w, "Events of %s about child %s: %d\n", out.Participant, maskUIN(child), len(out.Events))
	for _, e := range out.Events {
		fmt.Fprintf(w, "\n%s  %s  (event %s)\n", orDash(e.EventTime), e.Type, e.EventID)
		if len(e.Recipients) == 0 {
			fmt.Fprintln(w, "    received by nobody")
			continue
		}
		t := newTable(w, "    ", "RECEIVED BY", "WHEN", "BASIS", "REMOVED", "REPLAY")
		for _, r := range e.Recipients {
			t.Row(r.Participant, r.DecidedAt, r.Basis, orDash(strings.Join(r.Removed, ", ")), orDash(r.Replay))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	printGaps(a, raw) // gaps.go
	return nil
}
