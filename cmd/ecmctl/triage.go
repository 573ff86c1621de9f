package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

var resolveCmd = &command{
	name:    "deadletters resolve",
	summary: "mark a dead letter as dealt with, with a note (operator token with the replay role)",
	usage: `
deadletters resolve SEQ --note TEXT

Records what was done about dead letter SEQ (as 'ecmctl deadletters' lists
it): who, when and the note. It then no longer counts as open ('ecmctl
deadletters --open', 'ecmctl ops'). The note is kept with the dead letter
and erased with it; it must not carry child data (names, dates of birth,
UINs, addresses). The audit records the action and the sequence, not the
note.

Examples:
  ecmctl deadletters resolve 42 --note "publisher fixed its clock; events resent by them (ticket OPS-17)"`,
	run: runResolve,
}

var resubmitCmd = &command{
	name:    "deadletters resubmit",
	summary: "publish a corrected body for a dead letter on its publisher's behalf (operator token with the replay role)",
	usage: `
deadletters resubmit SEQ FILE --note TEXT

FILE, or "-" for stdin, holds the corrected structured CloudEvent. Its source
must be the dead letter's publisher: the broker ingests it as that
participant's, with the same checks as POST /v1/events, and it is decided
and delivered like any event (once, however often it is sent). A body still
wrong is refused with every problem, nothing is published, and the dead
letter stays open (exit status 1). The audit records each attempt.

Examples:
  ecmctl deadletters --json | jq '.deadletters[] | select(.seq == 42) | .body' > fixed.json
  $EDITOR fixed.json
  ecmctl deadletters resubmit 42 fixed.json --note "time corrected: publisher clock two days fast"`,
	run: runResubmit,
}

// triageArgs parses SEQ [FILE] --note for the triage commands.
func (a *app) triageArgs(c *command, args []string, files int) (uint64, []string, string, error) {
	fs := a.flagSet(c)
	note := fs.String("note", "", "what was done about it, in words (no child data)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return 0, nil, "", err
	}
	want := "SEQ"
	if files > 0 {
		want = "SEQ FILE"
	}
	if len(pos) != 1+files {
		return 0, nil, "", usagef("%s needs %s (see ecmctl %s -h)", c.name, want, c.name)
	}
	seq, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil || seq == 0 {
		return 0, nil, "", usagef("SEQ: the dead letter's sequence, a whole number from 1, not %q", pos[0])
	}
	if strings.TrimSpace(*note) == "" {
		return 0, nil, "", usagef("%s needs --note TEXT: what was done about it", c.name)
	}
	return seq, pos[1:], *note, a.needToken()
}

func runResolve(ctx context.Context, a *app, c *command, args []string) error {
	seq, _, note, err := a.triageArgs(c, args, 0)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(api.DeadLetterResolve{Note: note})
	return a.triage(ctx, fmt.Sprintf("/v1/deadletters/%d/resolve", seq), body)
}

func runResubmit(ctx context.Context, a *app, c *command, args []string) error {
	seq, files, note, err := a.triageArgs(c, args, 1)
	if err != nil {
		return err
	}
	ev, err := a.readInput(files[0])
	if err != nil {
		return err
	}
	if !json.Valid(ev) {
		return usagef("%s does not hold one JSON object (a structured CloudEvent)", files[0])
	}
	body, _ := json.Marshal(api.DeadLetterResubmit{Event: ev, Note: note})
	return a.triage(ctx, fmt.Sprintf("/v1/deadletters/%d/resubmit", seq), body)
}

// errResubmitRefused is a corrected body the broker refused.
var errResubmitRefused = errors.New("the corrected event was refused, nothing was published")

func (a *app) triage(ctx context.Context, path string, body []byte) error {
	status, data, err := a.do(ctx, http.MethodPost, path, nil, "application/json", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusUnprocessableEntity {
		return tokenError(newAPIError(http.MethodPost, path, status, data), "an operator", "an operator token")
	}
	var t api.DeadLetterTriage
	if err := json.Unmarshal(data, &t); err != nil {
		return fmt.Errorf("POST %s: the answer is not the expected JSON: %w", path, err)
	}
	if a.conn.json {
		if err := writeRaw(a.stdout, data); err != nil {
			return err
		}
	} else {
		printTriage(a, t)
	}
	if status == http.StatusUnprocessableEntity {
		return fmt.Errorf("dead letter %d: %w (%s)", t.Seq, errResubmitRefused, plural(len(t.Problems), "problem", "problems"))
	}
	return nil
}

func printTriage(a *app, t api.DeadLetterTriage) {
	w := a.stdout
	switch {
	case t.Action == "resolved":
		fmt.Fprintf(w, "Dead letter %d resolved by %s at %s\nNote: %s\n", t.Seq, t.By, t.At, printable(t.Note))
	case t.Accepted:
		fmt.Fprintf(w, "Dead letter %d resubmitted by %s at %s: event %s accepted\nNote: %s\n", t.Seq, t.By, t.At, printable(t.EventID), printable(t.Note))
	default:
		fmt.Fprintf(w, "Dead letter %d: the corrected event was refused; nothing was published and the dead letter stays open\n", t.Seq)
		tb := newTable(w, "  ", "FIELD", "PROBLEM")
		for _, p := range t.Problems {
			tb.Row(orDash(p.Field), p.Reason)
		}
		tb.Flush()
	}
}

// triageLine says what was done about a dead letter, for the list.
func triageLine(t *api.DeadLetterTriage) string {
	if t == nil {
		return ""
	}
	what := t.Action
	if t.Action == "resubmitted" && t.EventID != "" {
		what += " as " + t.EventID
	}
	return fmt.Sprintf("dealt with: %s by %s at %s: %s", what, t.By, t.At, t.Note)
}
