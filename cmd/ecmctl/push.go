package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ecm-broker/ecm-broker/api"
)

var pushStatusCmd = &command{
	name:    "push status",
	summary: "for each participant with a webhook: copies pending, the oldest, failures, the circuit breaker (operator token)",
	usage: `
push status

One row per participant the broker pushes copies to (push: {url, secret} in
its configuration): how many copies wait to be delivered and since when,
how many attempts at the copy being tried have failed and what the latest
said, the endpoint's circuit breaker (closed, open or half-open, on the
broker instance that answered) and how many copies were given up after
push.give_up_after (see 'ecmctl push retry'). docs/push.md.

Examples:
  ecmctl push status --token "$OPERATOR_TOKEN"
  ecmctl push status --json | jq '.participants[] | select(.pending > 0)'`,
	run: runPushStatus,
}

var pushRetryCmd = &command{
	name:    "push retry",
	summary: "push again the copies given up for a participant's webhook (operator token with the replay role)",
	usage: `
push retry --participant AREA/AGENCY

Re-queues every copy the broker gave up pushing to the participant's webhook
(the push dead letters): each is stored again among the participant's
copies and pushed after those already waiting, with the webhook-id it had,
so a receiver that already processed it can drop it. The dead letters are
marked re-queued; the action is recorded in the audit with your name.

Examples:
  ecmctl push retry --participant leeds/la-social-care`,
	run: runPushRetry,
}

func runPushStatus(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("push status takes no arguments, got %q", pos[0])
	}
	if err := a.needToken(); err != nil {
		return err
	}
	var st api.PushStatus
	raw, err := a.getJSON(ctx, "/v1/push", nil, &st)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	if len(st.Participants) == 0 {
		_, err := fmt.Fprintln(a.stdout, "No participant has a webhook: every one reads its copies over NATS or GET /v1/deliveries.")
		return err
	}
	t := newTable(a.stdout, "", "PARTICIPANT", "ENDPOINT", "PENDING", "OLDEST", "FAILURES", "BREAKER", "DEAD-LETTERED", "LAST FAILURE")
	for _, p := range st.Participants {
		last := orDash(p.LastFailure)
		if p.NextAttempt != "" {
			last += " (next attempt " + p.NextAttempt + ")"
		}
		t.Row(p.Participant, p.Endpoint, strconv.FormatUint(p.Pending, 10), orDash(p.Oldest), strconv.Itoa(p.Failures), p.Breaker,
			strconv.Itoa(p.DeadLettered), last)
	}
	return t.Flush()
}

func runPushRetry(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	participant := fs.String("participant", "", "the participant `AREA/AGENCY` whose given-up copies to push again")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("push retry takes no arguments, got %q", pos[0])
	}
	if *participant == "" {
		return usagef("push retry needs --participant AREA/AGENCY (see ecmctl push status)")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	body, _ := json.Marshal(api.PushRetryRequest{Participant: *participant})
	status, data, err := a.do(ctx, http.MethodPost, "/v1/push/retry", nil, "application/json", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return tokenError(newAPIError(http.MethodPost, "/v1/push/retry", status, data), "an operator with the replay role", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, data)
	}
	var r api.PushRetryResult
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("POST /v1/push/retry: the answer is not the expected JSON: %w", err)
	}
	if r.Requeued == 0 {
		_, err = fmt.Fprintf(a.stdout, "Nothing to re-queue: no copy for %s was given up (retry %s, audited).\n", r.Participant, r.ID)
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "Re-queued %s for %s (retry %s, audited); they are pushed after the copies already waiting.\n",
		plural(r.Requeued, "copy", "copies"), r.Participant, r.ID)
	return err
}
