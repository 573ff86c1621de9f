package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

var deadLettersCmd = &command{
	name:    "deadletters",
	summary: "inputs the broker rejected, with every reason (operator token)",
	usage: `
deadletters [--after N] [--limit N] [--open]

One row per rejected input: its sequence, when it was received, who sent it,
and each reason on a line of its own, then what an operator did about it,
if anything ('ecmctl deadletters resolve', 'ecmctl deadletters resubmit').
--open lists only those nobody has dealt with. --json prints the broker's
answer, which includes the rejected bodies.

Examples:
  ecmctl deadletters --token "$OPERATOR_TOKEN"
  ecmctl deadletters --after 300 --limit 20
  ecmctl deadletters --open
  ecmctl deadletters --json | jq '.deadletters[] | select(.publisher == "leeds/pct")'`,
	run: runDeadLetters,
}

func runDeadLetters(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	after := fs.Uint64("after", 0, "show dead letters with a sequence above `N`")
	limit := fs.Int("limit", 100, "at most `N` dead letters, 1 to 1000")
	open := fs.Bool("open", false, "only the dead letters nobody has dealt with")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("deadletters takes no arguments, got %q", pos[0])
	}
	if *limit < 1 || *limit > 1000 {
		return usagef("--limit must be 1 to 1000")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var page api.DeadLetterPage
	q := url.Values{"after": {strconv.FormatUint(*after, 10)}, "limit": {strconv.Itoa(*limit)}}
	if *open {
		q.Set("open", "true")
	}
	raw, err := a.getJSON(ctx, "/v1/deadletters", q, &page)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	t := newTable(a.stdout, "", "SEQ", "RECEIVED", "PUBLISHER", "REASONS")
	for _, dl := range page.DeadLetters {
		reasons := dl.Reasons
		if len(reasons) == 0 {
			reasons = []string{"-"}
		}
		received := "-"
		if !dl.Received.IsZero() {
			received = dl.Received.UTC().Format(time.RFC3339)
		}
		t.Row(strconv.FormatUint(dl.Seq, 10), received, orDash(dl.Publisher), reasons[0])
		for _, r := range reasons[1:] {
			t.Row("", "", "", r)
		}
		if l := triageLine(dl.Triage); l != "" {
			t.Row("", "", "", l)
		}
	}
	if len(page.DeadLetters) > 0 {
		if err := t.Flush(); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(a.stdout, "%s after %d; next: --after %d\n",
		plural(len(page.DeadLetters), "dead letter", "dead letters"), *after, page.Next)
	return err
}
