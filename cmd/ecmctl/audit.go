package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

var auditCmd = &command{
	name:    "audit",
	summary: "every decision about a child: who received each event, who did not, and why (operator token)",
	usage: `
audit --child UIN

One block per audit record, oldest first: when, the event type, its source,
the outcome, the policy revision and REVIEW when a person should look at it;
then one line per participant: allow or deny, the basis, the fields removed
from its copy. --json prints the broker's answer, which includes the UIN.

Examples:
  ecmctl audit --token "$OPERATOR_TOKEN" --child 9434765919
  ecmctl audit --child 9434765919 --json | jq '.records[] | select(.review)'`,
	run: runAudit,
}

func runAudit(ctx context.Context, a *app, c *command, args []string) error {
	child, err := a.childArg(c, args)
	if err != nil {
		return err
	}
	var out struct {
		Records []api.AuditRecord `json:"records"`
	}
	raw, err := a.getJSON(ctx, "/v1/audit", url.Values{"child": {child}}, &out)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	return printAudit(a, child, out.Records)
}

func printAudit(a *app, child string, recs []api.AuditRecord) error {
	w := a.stdout
	fmt.Fprintf(w, "Audit of child %s: %s\n", maskUIN(child), plural(len(recs), "record", "records"))
	if len(recs) == 0 {
		return nil
	}
	rt := newTable(w, "", "TIME", "TYPE", "SOURCE", "OUTCOME", "POLICY", "")
	rows := make([][]string, len(recs))
	for i, r := range recs {
		flag := ""
		if r.Review {
			flag = "REVIEW"
		}
		rows[i] = []string{orDash(firstOf(r.EventTime, r.DecidedAt)), orDash(r.Type), orDash(r.Source), orDash(r.Outcome), orDash(r.PolicyRevision), flag}
		rt.Widen(rows[i]...)
	}
	for i, r := range recs {
		fmt.Fprintln(w)
		rt.Row(rows[i]...)
		if err := rt.Flush(); err != nil {
			return err
		}
		for _, line := range recordNotes(r) {
			fmt.Fprintf(w, "    %s\n", printable(line))
		}
		if len(r.Copies) > 0 {
			if err := printCopies(w, r.Copies); err != nil {
				return err
			}
			continue
		}
		if len(r.Decisions) == 0 {
			continue
		}
		dt := newTable(w, "    ", "PARTICIPANT", "DECISION", "BASIS", "REMOVED")
		for _, d := range r.Decisions {
			verdict := "deny"
			if d.Allow {
				verdict = "allow"
			}
			dt.Row(d.Participant, verdict, orDash(d.Basis), orDash(strings.Join(d.Remove, ", ")))
		}
		if err := dt.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// recordNotes are what a record says besides its decisions.
func recordNotes(r api.AuditRecord) []string {
	var notes []string
	if r.EventID != "" {
		notes = append(notes, "event "+r.EventID)
	}
	if r.CausedBy != "" {
		notes = append(notes, "caused by "+r.CausedBy)
	}
	if r.Error != "" {
		notes = append(notes, "error: "+r.Error)
	}
	if r.Note != "" {
		notes = append(notes, "note: "+r.Note)
	}
	for _, p := range r.Problems {
		notes = append(notes, "problem: "+p.String())
	}
	if len(r.Decisions) == 0 && len(r.Copies) == 0 {
		notes = append(notes, "sent to nobody")
	}
	return notes
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
