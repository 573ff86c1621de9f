package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

var decideCmd = &command{
	name:    "decide",
	summary: "explain the decision for one event against the current state, delivering nothing (operator token)",
	usage: `
decide --event FILE [--as-of TIME]

Asks the broker what the policy now serving would decide for the event in
FILE (one structured CloudEvent; "-" for stdin) against the child's current
index record and consent: every candidate participant, allowed or not, the
basis, the reason and the fields removed; then the same for the events the
broker would generate (a transfer on a move, a concern match). Nothing is
stored or delivered. --as-of replaces the event's time, so ages and consent
expiry are taken then.

Examples:
  ecmctl decide --token "$OPERATOR_TOKEN" --event referral.json
  ecmctl decide --event caf.json --as-of 2027-01-01T00:00:00Z`,
	run: runDecide,
}

func runDecide(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	file := fs.String("event", "", "`FILE` holding one structured CloudEvent, or - for stdin")
	asOf := fs.String("as-of", "", "decide as at `TIME` (RFC 3339) instead of the event's time")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *file == "" {
		return usagef("decide needs --event FILE and takes no arguments (see ecmctl decide -h)")
	}
	q := url.Values{}
	if *asOf != "" {
		if _, err := time.Parse(time.RFC3339, *asOf); err != nil {
			return usagef("--as-of: %q is not an RFC 3339 time", *asOf)
		}
		q.Set("as_of", *asOf)
	}
	if err := a.needToken(); err != nil {
		return err
	}
	body, err := a.readInput(*file)
	if err != nil {
		return err
	}
	status, data, err := a.do(ctx, http.MethodPost, "/v1/decide", q, "application/cloudevents+json", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return tokenError(newAPIError(http.MethodPost, "/v1/decide", status, data), "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, data)
	}
	var ex api.Explanation
	if err := json.Unmarshal(data, &ex); err != nil {
		return fmt.Errorf("POST /v1/decide: the answer is not the expected JSON: %w", err)
	}
	return printExplanation(a, ex, "")
}

func printExplanation(a *app, ex api.Explanation, indent string) error {
	w := a.stdout
	known := "the broker holds an index record for the child"
	if !ex.ChildKnown {
		known = "no index record yet: the child's area is the publisher's, its age unknown"
	}
	fmt.Fprintf(w, "%s%s from %s as at %s, policy %s\n%s(%s)\n", indent, ex.Type, ex.Publisher, ex.AsOf, ex.PolicyRevision, indent, known)
	if ex.Error != "" {
		fmt.Fprintf(w, "%sPOLICY ERROR: %s\n", indent, printable(ex.Error))
	}
	t := newTable(w, indent, "PARTICIPANT", "DECISION", "BASIS", "REMOVED", "REASON")
	for _, d := range ex.Decisions {
		verdict := "deny"
		if d.Allow {
			verdict = "allow"
		}
		if d.Review {
			verdict += " (review)"
		}
		t.Row(d.Participant, verdict, orDash(d.Basis), orDash(strings.Join(d.Remove, ", ")), orDash(d.Reason))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, g := range ex.Generated {
		fmt.Fprintf(w, "\n%sthe broker would generate:\n", indent)
		if err := printExplanation(a, g, indent+"    "); err != nil {
			return err
		}
	}
	return nil
}
