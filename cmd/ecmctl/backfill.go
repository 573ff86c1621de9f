package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

var backfillCmd = &command{
	name:    "backfill",
	summary: "send history under today's policy, what was never sent included: a dry run first, then --confirm (operator token)",
	usage: `
backfill --participant ID [--from TIME] [--to TIME] [--from-seq N] [--to-seq N] [--child UIN] [--type NAME]... [--confirm ID]

Sends recorded events to one participant as the policy serving now decides
them, with the child's state as it was at the event and with its state now
(the copy goes only when both allow, without every field either removes).
Unlike a replay, which never goes beyond what was decided for the participant
when the event was decided, a backfill can disclose what was never disclosed:
events decided before the participant existed, or refused to it by an
earlier policy. So it runs in two steps:

  1. without --confirm, a dry run: nothing is sent; every event it would send
     is listed, NEW marking those the decision recorded at the time did not
     allow (or allowed with fewer fields), and the dry run gets an id;
  2. with --confirm ID and the same selection, the backfill sends exactly
     what that dry run showed, or nothing at all when that has changed since
     (a new event, another policy): then run a new dry run.

A dry run can be confirmed for 24 hours. Both steps are audited, as a backfill.
The selection flags are replay's (see ecmctl replay -h).

Examples:
  ecmctl backfill --participant york/lea --child 9434765919
  ecmctl backfill --participant york/lea --child 9434765919 --confirm 5f0c2a1e9b7d3c44`,
	run: runBackfill,
}

func runBackfill(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	sel := addSelectionFlags(fs, "the participant `ID` to send to (area/agency)")
	confirm := fs.String("confirm", "", "send what the dry run `ID` showed (same selection)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("backfill takes no arguments, got %q (see ecmctl backfill -h)", pos[0])
	}
	selection, err := sel.selection("backfill")
	if err != nil {
		return err
	}
	if err := a.needToken(); err != nil {
		return err
	}
	req := api.BackfillRequest{ReplaySelection: selection, Confirm: *confirm}
	body, _ := json.Marshal(req)
	raw, err := a.stream(ctx, http.MethodPost, "/v1/backfill", nil, body)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	var res api.ReplayResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("POST /v1/backfill: the answer is not the expected JSON: %w", err)
	}
	return printBackfill(a, res)
}

func printBackfill(a *app, res api.ReplayResult) error {
	w := a.stdout
	if res.DryRun {
		fmt.Fprintf(w, "Backfill dry run %s (nothing sent) to %s by %s, policy %s\n", res.ID, res.Selection.Participant, res.Operator, res.PolicyRevision)
		fmt.Fprintf(w, "%s of %s selected: %d would be sent, %d of them newly disclosed; %d already held, %d denied\n",
			plural(res.Selected, "event", "events"), plural(res.Children, "child", "children"), res.Delivered, res.NewlyDisclosed,
			res.AlreadyDelivered, res.Denied)
	} else {
		fmt.Fprintf(w, "Backfill %s to %s by %s, policy %s, confirming dry run %s\n", res.ID, res.Selection.Participant, res.Operator,
			res.PolicyRevision, res.Confirms)
		fmt.Fprintf(w, "%s of %s selected: %d sent, %d of them newly disclosed; %d refused by the delivery limit, %d already held, %d denied\n",
			plural(res.Selected, "event", "events"), plural(res.Children, "child", "children"), res.Delivered, res.NewlyDisclosed,
			res.Refused, res.AlreadyDelivered, res.Denied)
	}
	if len(res.DeniedBy) > 0 {
		var parts []string
		for _, k := range sortedKeys(res.DeniedBy) {
			parts = append(parts, fmt.Sprintf("%s %d", k, res.DeniedBy[k]))
		}
		fmt.Fprintf(w, "denied: %s\n", strings.Join(parts, ", "))
	}
	if len(res.Items) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "", "SEQ", "TYPE", "OUTCOME", "BASIS", "RECORDED THEN", "NEW")
		for _, it := range res.Items {
			isNew := "-"
			switch {
			case it.NewlyDisclosed && len(it.NewFields) > 0:
				isNew = "fields: " + strings.Join(it.NewFields, ", ")
			case it.NewlyDisclosed:
				isNew = "NEW"
			}
			t.Row(strconv.FormatUint(it.Seq, 10), it.Type, it.Outcome, orDash(it.Basis), orDash(it.Recorded), isNew)
		}
		if err := t.Flush(); err != nil {
			return err
		}
		if res.ItemsTruncated {
			fmt.Fprintln(w, "(the first 10000 events are listed)")
		}
	}
	if res.DryRun && res.Delivered > 0 {
		fmt.Fprintf(w, "\nTo send exactly these copies, run the same command with --confirm %s (within 24 hours).\n", res.ID)
	}
	return nil
}
