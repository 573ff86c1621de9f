package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/uin"
)

var eraseCmd = &command{
	name:    "erase",
	summary: "erase a child's personal data from the index, consent, events, copies and dead letters (operator token)",
	usage: `
erase --child UIN --reason TEXT --yes

Removes the child's index record and consent history, every event about the
child in the ingest stream, every copy delivered to a participant and every
refused input naming the child; stored bytes are overwritten, not only
marked deleted. The audit keeps its records (they hold the child only as a
keyed hash, never the UIN or event data), so the disclosures stay
accountable and 'ecmctl audit verify' still passes. The erasure is recorded
in the audit with the operator and the reason: the broker refuses, before
erasing anything, a reason holding the child's UIN, name, date of birth or
postcode as held in the index.

Nothing is done without --yes. An erasure cannot be undone.

Examples:
  ecmctl erase --child 9434765919 --reason "retention period ended (ticket IG-1234)" --yes`,
	run: runErase,
}

func runErase(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	child := fs.String("child", "", "the child's `UIN` (10 digits)")
	reason := fs.String("reason", "", "why (kept in the audit; at least 10 characters, without the child's UIN, name, date of birth or postcode)")
	yes := fs.Bool("yes", false, "really erase")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("erase takes no arguments, got %q", pos[0])
	}
	if *child == "" || strings.TrimSpace(*reason) == "" {
		return usagef("erase needs --child UIN and --reason TEXT")
	}
	if err := uin.Check(*child); err != nil {
		return usagef("--child: %v", err)
	}
	if !*yes {
		return usagef("erasing child %s cannot be undone: add --yes to go ahead", maskUIN(*child))
	}
	if err := a.needToken(); err != nil {
		return err
	}
	body, _ := json.Marshal(api.ErasureRequest{Child: *child, Reason: *reason})
	status, data, err := a.do(ctx, http.MethodPost, "/v1/erase", nil, "application/json", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return tokenError(newAPIError(http.MethodPost, "/v1/erase", status, data), "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, data)
	}
	var r api.ErasureResult
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("POST /v1/erase: the answer is not the expected JSON: %w", err)
	}
	w := a.stdout
	fmt.Fprintf(w, "Erased child %s (erasure %s by %s at %s)\n", maskUIN(*child), r.ID, r.Operator, r.At)
	held := "no index record was held"
	if r.IndexRecord {
		held = "index record and consent history removed"
	}
	fmt.Fprintf(w, "%s; %s, %s, %s removed\n", held, plural(r.Ingest, "event", "events"),
		plural(r.Deliveries, "delivered copy", "delivered copies"), plural(r.DeadLetters, "refused input", "refused inputs"))
	fmt.Fprintf(w, "The audit keeps its records under child key %s, with this erasure.\n", r.ChildKey)
	return nil
}
