package main

import (
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
