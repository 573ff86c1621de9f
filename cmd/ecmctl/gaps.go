package main

import (
	"encoding/json"
	"fmt"
)

// printGaps ends a subject access report or a disclosures list with what
// the broker says it cannot show (a record lost from a damaged audit block,
// a broken chain: docs/operations.md, "A damaged audit"), and warns on
// stderr, so that an incomplete report is never taken for a complete one.
func printGaps(a *app, raw []byte) {
	var g struct {
		Gaps []string `json:"gaps"`
	}
	if json.Unmarshal(raw, &g) != nil || len(g.Gaps) == 0 {
		return
	}
	fmt.Fprintf(a.stdout, "\nINCOMPLETE: the broker cannot show everything it should (%d gap(s)):\n", len(g.Gaps))
	for _, s := range g.Gaps {
		fmt.Fprintf(a.stdout, "  - %s\n", s)
	}
	fmt.Fprintf(a.stderr, "warning: this report is incomplete: %d gap(s), listed at its end\n", len(g.Gaps))
}
