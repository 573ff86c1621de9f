package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

// printCopies shows a record of copies (what became of each copy of an
// event, or of a replay's copies to one child): one line per copy, its
// participant, delivered at its sequence or refused and why, the fields it
// was sent without.
func printCopies(w io.Writer, copies []api.Copy) error {
	t := newTable(w, "    ", "PARTICIPANT", "COPY", "BASIS", "REMOVED", "EVENT")
	for _, c := range copies {
		what := c.Status
		switch c.Status {
		case api.CopyDelivered:
			what = "stored at " + strconv.FormatUint(c.DeliverySeq, 10)
		case api.CopyRefused:
			what = "REFUSED: " + c.Reason
		}
		ev := "-"
		if c.EventID != "" {
			ev = c.Type + " " + c.EventID
		}
		t.Row(c.Participant, printable(what), orDash(c.Basis), orDash(strings.Join(c.Removed, ", ")), ev)
	}
	return t.Flush()
}

// printRefusedCopies ends a subject access report with the copies that
// were allowed but never stored (refused by a delivery limit): nothing of
// them was disclosed, unless a replay delivered them later.
func printRefusedCopies(a *app, raw []byte) error {
	var sa api.SubjectAccess
	if err := json.Unmarshal(raw, &sa); err != nil {
		return fmt.Errorf("GET /v1/sar: the answer is not the expected JSON: %w", err)
	}
	w := a.stdout
	fmt.Fprintf(w, "\n7. Copies allowed but refused, not disclosed (%d)\n", len(sa.Refused))
	if len(sa.Refused) == 0 {
		return nil
	}
	t := newTable(w, "   ", "WHEN", "TO", "EVENT", "WHY", "DELIVERED LATER BY")
	for _, d := range sa.Refused {
		t.Row(d.DecidedAt, d.Participant, d.Type, printable(d.RefusedReason), orDash(d.ResolvedBy))
	}
	return t.Flush()
}
