package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/uin"
)

var sarReviewCmd = &command{
	name:    "sar review",
	summary: "the subject-access report as released, with the items an IG lead withholds taken out (operator token)",
	usage: `
sar review --child UIN --withhold-file F

F, or "-" for stdin, holds the items to withhold, a JSON array (or
{"withhold": [...]}) of:
  {"kind": "event",      "seq": N,                  "ground": G, "reason": TEXT}
  {"kind": "rejected",   "seq": N,                  "ground": G, "reason": TEXT}
  {"kind": "decision",   "id": EVENT_ID or ACTION_ID, "ground": G, "reason": TEXT}
  {"kind": "disclosure", "event_id": ID, "participant": P, "ground": G, "reason": TEXT}
where G is "third-party" (another person's data) or "exempt". Sequences and
ids are those of 'ecmctl sar --child UIN --json'. An item the report does
not hold is refused by name, and nothing is released. The release is
recorded in the child's audit with how many items were withheld on each
ground (not the reasons). The report printed is the one released, followed
by the list of what was withheld and why.

Examples:
  ecmctl sar --child 9434765919 --json > sar.json
  echo '[{"kind":"event","seq":12,"ground":"third-party","reason":"names a neighbour"}]' > withhold.json
  ecmctl sar review --child 9434765919 --withhold-file withhold.json > released.txt`,
	run: runSARReview,
}

func runSARReview(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	child := fs.String("child", "", "the child's `UIN` (10 digits)")
	file := fs.String("withhold-file", "", "`F`: the items to withhold (JSON), or - for stdin")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("sar review takes no arguments, got %q", pos[0])
	}
	if *child == "" || *file == "" {
		return usagef("sar review needs --child UIN and --withhold-file F")
	}
	if err := uin.Check(*child); err != nil {
		return usagef("--child: %v", err)
	}
	data, err := a.readInput(*file)
	if err != nil {
		return err
	}
	req := api.SARReviewRequest{Child: *child}
	data = bytes.TrimSpace(data)
	if bytes.HasPrefix(data, []byte("[")) {
		err = json.Unmarshal(data, &req.Withhold)
	} else {
		err = json.Unmarshal(data, &req)
		req.Child = *child
	}
	if err != nil {
		return usagef("%s: not a list of items to withhold: %v", *file, err)
	}
	if err := a.needToken(); err != nil {
		return err
	}
	body, _ := json.Marshal(req)
	status, out, err := a.do(ctx, http.MethodPost, "/v1/sar/review", nil, "application/json", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return tokenError(newAPIError(http.MethodPost, "/v1/sar/review", status, out), "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, out)
	}
	var rev api.ReviewedSubjectAccess
	if err := json.Unmarshal(out, &rev); err != nil {
		return fmt.Errorf("POST /v1/sar/review: the answer is not the expected JSON: %w", err)
	}
	if err := printSAR(a, rev.Report); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\n7. Withheld (%d), reviewed by %s at %s\n", len(rev.Withheld), rev.ReviewedBy, rev.ReviewedAt)
	if len(rev.Withheld) == 0 {
		return nil
	}
	t := newTable(a.stdout, "   ", "KIND", "ITEM", "GROUND", "REASON")
	for _, w := range rev.Withheld {
		t.Row(w.Kind, withheldItem(w), w.Ground, w.Reason)
	}
	return t.Flush()
}

// withheldItem names an item as the report does.
func withheldItem(w api.WithheldItem) string {
	switch w.Kind {
	case "event", "rejected":
		return "#" + strconv.FormatUint(w.Seq, 10)
	case "disclosure":
		return w.EventID + " to " + w.Participant
	default:
		return w.ID
	}
}
