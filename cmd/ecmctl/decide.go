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
decide --what-if --event FILE [--child-json FILE] [--consent-json FILE]

Asks the broker what the policy now serving would decide for the event in
FILE (one structured CloudEvent; "-" for stdin) against the child's current
index record and consent: every candidate participant, allowed or not, the
basis, the reason and the fields removed; then the same for the events the
broker would generate (a transfer on a move, a concern match). Nothing is
stored or delivered. --as-of replaces the event's time, so ages and consent
expiry are taken then.

--what-if decides the event about a hypothetical child instead of the one
it names: --child-json is the child's index record (api.IndexRecord: area,
dob, involvements, shielded ...) and --consent-json its consent
(api.Consent); without them, a child the broker does not know. No real
child's state is read ("would Connexions see this CAF if the child
consented to X, if the child were shielded, if the child moved to Y").

Examples:
  ecmctl decide --token "$OPERATOR_TOKEN" --event referral.json
  ecmctl decide --event caf.json --as-of 2027-01-01T00:00:00Z
  ecmctl decide --what-if --event caf.json --child-json child.json --consent-json consent.json`,
	run: runDecide,
}

func runDecide(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	file := fs.String("event", "", "`FILE` holding one structured CloudEvent, or - for stdin")
	asOf := fs.String("as-of", "", "decide as at `TIME` (RFC 3339) instead of the event's time")
	whatIf := fs.Bool("what-if", false, "decide about a hypothetical child (--child-json, --consent-json) instead of the real one (POST /v1/whatif)")
	childFile := fs.String("child-json", "", "with --what-if: `FILE` holding the hypothetical child's index record (JSON)")
	consentFile := fs.String("consent-json", "", "with --what-if: `FILE` holding the hypothetical child's consent (JSON)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *file == "" {
		return usagef("decide needs --event FILE and takes no arguments (see ecmctl decide -h)")
	}
	if *whatIf {
		if *asOf != "" {
			return usagef("--as-of does not go with --what-if: give the event the time to decide at")
		}
		return runWhatIf(ctx, a, *file, *childFile, *consentFile)
	}
	if *childFile != "" || *consentFile != "" {
		return usagef("--child-json and --consent-json describe a hypothetical child: they need --what-if")
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
		return tokenError(decideError(http.MethodPost, "/v1/decide", status, data), "an operator", "an operator token")
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

// decideError is a refused decide: an invalid event's problems are the
// broker's reason, each named.
func decideError(method, path string, status int, data []byte) *apiError {
	e := newAPIError(method, path, status, data)
	var body struct {
		Problems []api.Problem `json:"problems"`
	}
	if json.Unmarshal(data, &body) == nil && len(body.Problems) > 0 {
		var ps []string
		for _, p := range body.Problems {
			ps = append(ps, p.Field+": "+p.Reason)
		}
		e.Message += ": " + strings.Join(ps, "; ")
	}
	return e
}

// runWhatIf is decide --what-if: POST /v1/whatif with the event and the
// hypothetical child's state.
func runWhatIf(ctx context.Context, a *app, eventFile, childFile, consentFile string) error {
	if err := a.needToken(); err != nil {
		return err
	}
	ev, err := a.readInput(eventFile)
	if err != nil {
		return err
	}
	req := api.WhatIfRequest{Event: json.RawMessage(ev)}
	if !json.Valid(ev) {
		return usagef("--event %s does not hold JSON (one structured CloudEvent)", eventFile)
	}
	if childFile != "" {
		b, err := a.readInput(childFile)
		if err != nil {
			return err
		}
		req.Child = &api.IndexRecord{}
		if err := json.Unmarshal(b, req.Child); err != nil {
			return usagef("--child-json %s: not an index record: %v", childFile, err)
		}
	}
	if consentFile != "" {
		b, err := a.readInput(consentFile)
		if err != nil {
			return err
		}
		req.Consent = &api.Consent{}
		if err := json.Unmarshal(b, req.Consent); err != nil {
			return usagef("--consent-json %s: not a consent: %v", consentFile, err)
		}
	}
	body, _ := json.Marshal(req)
	status, data, err := a.do(ctx, http.MethodPost, "/v1/whatif", nil, "application/json", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return tokenError(decideError(http.MethodPost, "/v1/whatif", status, data), "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, data)
	}
	var ex api.Explanation
	if err := json.Unmarshal(data, &ex); err != nil {
		return fmt.Errorf("POST /v1/whatif: the answer is not the expected JSON: %w", err)
	}
	fmt.Fprintln(a.stdout, "What if (a hypothetical child; nothing published, no real child's state read):")
	return printExplanation(a, ex, "")
}
