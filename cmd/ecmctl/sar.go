package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

var sarCmd = &command{
	name:    "sar",
	summary: "subject access: everything held about a child and every disclosure of it (operator token)",
	usage: `
sar --child UIN

For a subject access request (Data Protection Act 1998 s.7; Children Act
2004 s.12(13) for the index): the index record and consent history held
now, every event about the child held in the broker (as published, with when
it was recorded), refused inputs that name the child, every decision in the
audit (allowed and denied, with participant, time, basis, fields removed and
policy revision), and the disclosures: who received which event, when and on
what basis. The export itself is audited.

The report shows the UIN and the child's data in full: it is for the data
subject. --json prints the complete export.

Examples:
  ecmctl sar --token "$OPERATOR_TOKEN" --child 9434765919 > sar-9434765919.txt
  ecmctl sar --child 9434765919 --json > sar-9434765919.json`,
	run: runSAR,
}

func runSAR(ctx context.Context, a *app, c *command, args []string) error {
	child, err := a.childArg(c, args)
	if err != nil {
		return err
	}
	var out api.SubjectAccess
	raw, err := a.getJSON(ctx, "/v1/sar", url.Values{"child": {child}}, &out)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	if err := printSAR(a, out); err != nil {
		return err
	}
	if err := printRefusedCopies(a, raw); err != nil { // copies.go
		return err
	}
	printGaps(a, raw) // gaps.go
	return nil
}

func printSAR(a *app, s api.SubjectAccess) error {
	w := a.stdout
	fmt.Fprintf(w, "SUBJECT ACCESS: child %s\nExported %s by %s\n", s.Child, s.GeneratedAt, s.GeneratedBy)
	fmt.Fprintln(w, "\n1. Index record held (Children Act 2004 s.12(4))")
	if s.Index == nil {
		fmt.Fprintln(w, "   none")
	} else {
		// Every field as the broker wrote it, one a line.
		var x map[string]any
		b, _ := json.Marshal(s.Index)
		_ = json.Unmarshal(b, &x)
		printFields(a, "   ", x)
	}
	fmt.Fprintln(w, "\n2. Consent history")
	if s.Consent == nil || len(s.Consent.Entries) == 0 {
		fmt.Fprintln(w, "   none recorded")
	} else {
		t := newTable(w, "   ", "WHEN", "KIND", "RECORDED BY", "GIVEN BY", "PURPOSES", "AGENCIES", "EXPIRES")
		for _, e := range s.Consent.Entries {
			t.Row(e.At, e.Kind, e.By, orDash(e.GivenBy), joinAny(e.Purposes), joinAny(e.Agencies), orDash(e.Expires))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n3. Events held about the child (%d)\n", len(s.Events))
	for _, e := range s.Events {
		var ev map[string]any
		_ = json.Unmarshal(e.Event, &ev)
		fmt.Fprintf(w, "   #%d recorded %s from %s: %v (id %v)\n", e.Seq, e.Recorded, e.Publisher, ev["type"], ev["id"])
		if d, ok := ev["data"].(map[string]any); ok {
			printFields(a, "      ", d)
		}
	}
	fmt.Fprintf(w, "\n4. Refused inputs naming the child (%d)\n", len(s.Rejected))
	for _, r := range s.Rejected {
		received := "-"
		if !r.DeadLetter.Received.IsZero() {
			received = r.DeadLetter.Received.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(w, "   #%d received %s from %s: %s\n", r.Seq, received, r.DeadLetter.Publisher, strings.Join(r.DeadLetter.Reasons, "; "))
	}
	fmt.Fprintf(w, "\n5. Decisions (%d audit records)\n", len(s.Decisions))
	for _, r := range s.Decisions {
		head := fmt.Sprintf("   %s %s", r.DecidedAt, r.Outcome)
		if r.Type != "" {
			head += " " + r.Type
		}
		if r.Source != "" {
			head += " from " + r.Source
		}
		if r.PolicyRevision != "" {
			head += ", policy " + r.PolicyRevision
		}
		if r.Action != nil {
			head += fmt.Sprintf(" [%s by %s", r.Action.Kind, r.Action.By)
			if r.Action.Participant != "" {
				head += " for " + r.Action.Participant
			}
			if r.Action.Reason != "" {
				head += ": " + r.Action.Reason
			}
			head += "]"
		}
		fmt.Fprintln(w, printable(head))
		if len(r.Decisions) == 0 {
			continue
		}
		t := newTable(w, "      ", "PARTICIPANT", "DECISION", "BASIS", "REMOVED")
		for _, d := range r.Decisions {
			v := "deny"
			if d.Allow {
				v = "allow"
			}
			t.Row(d.Participant, v, d.Basis, orDash(strings.Join(d.Remove, ", ")))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n6. Disclosures (%d)\n", len(s.Disclosures))
	if len(s.Disclosures) > 0 {
		t := newTable(w, "   ", "WHEN", "TO", "EVENT", "BASIS", "REMOVED", "POLICY", "REPLAY")
		for _, d := range s.Disclosures {
			t.Row(d.DecidedAt, d.Participant, d.Type, d.Basis, orDash(strings.Join(d.Removed, ", ")), d.PolicyRevision, orDash(d.Replay))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// printFields prints a JSON object one field a line, nested objects indented.
func printFields(a *app, indent string, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case map[string]any:
			fmt.Fprintf(a.stdout, "%s%s:\n", indent, printable(k))
			printFields(a, indent+"  ", v)
		default:
			b, _ := json.Marshal(v)
			fmt.Fprintf(a.stdout, "%s%s: %s\n", indent, printable(k), printable(string(b)))
		}
	}
}

func joinAny(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return orDash(strings.Join(parts, ", "))
}
