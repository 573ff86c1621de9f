package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/uin"
)

var replayCmd = &command{
	name:    "replay",
	summary: "send recorded events again to one participant, within what was decided for it then, never twice (operator token)",
	usage: `
replay --participant ID [--from TIME] [--to TIME] [--from-seq N] [--to-seq N] [--child UIN] [--type NAME]... [--dry-run]

Re-sends the copies a participant lost (refused by its delivery limit,
expired, gone from its own system): each selected event goes again only as
far as the decision recorded when the event was decided allowed it, narrowed
by the policy serving now with the child's state now: the copy goes only
when both allow, on the recorded basis, without every field either removes
(a child shielded since, a consent withdrawn since). An event refused to the
participant then, or decided before it was a participant, is not sent: that
is a backfill (ecmctl backfill), which shows what it would newly disclose
first. Copies the participant already holds are not sent again; a copy that
the delivery limit had refused is marked resolved in the dead letters. The
replay is audited as one action (who ran it, the selection, the counts) and,
for each child it sent copies of, the copies sent.

The selection narrows with each flag: --from/--to the time the broker
recorded the event (RFC 3339), --from-seq/--to-seq the ingest stream
sequence, --child one child's history, --type a catalogue name
(caf.completed) or type, repeatable. With none, every recorded event.
--dry-run decides and counts but delivers and audits nothing.

Progress goes to stderr; the summary and each event's outcome to stdout.

Examples:
  ecmctl replay --participant leeds/lea --from 2026-11-20T09:00:00Z --to 2026-11-20T17:00:00Z
  ecmctl replay --participant york/pct --child 9434765919 --dry-run
  ecmctl replay --participant leeds/police --type police.incident --json`,
	run: runReplay,
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runReplay(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	sel := addSelectionFlags(fs, "the participant `ID` to deliver to (area/agency)")
	dry := fs.Bool("dry-run", false, "decide and count, deliver nothing")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("replay takes no arguments, got %q (see ecmctl replay -h)", pos[0])
	}
	selection, err := sel.selection("replay")
	if err != nil {
		return err
	}
	if err := a.needToken(); err != nil {
		return err
	}
	selection.DryRun = *dry
	body, _ := json.Marshal(selection)
	raw, err := a.stream(ctx, http.MethodPost, "/v1/replay", nil, body)
	if err != nil {
		return tokenError(err, "an operator", "an operator token")
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	var res api.ReplayResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("POST /v1/replay: the answer is not the expected JSON: %w", err)
	}
	w := a.stdout
	what := "Replay"
	if *dry {
		what = "Dry run (nothing delivered)"
	}
	fmt.Fprintf(w, "%s %s to %s by %s, policy %s\n", what, res.ID, selection.Participant, res.Operator, res.PolicyRevision)
	fmt.Fprintf(w, "%s of %s selected: %d delivered, %d already held, %d denied\n",
		plural(res.Selected, "event", "events"), plural(res.Children, "child", "children"), res.Delivered, res.AlreadyDelivered, res.Denied)
	if len(res.DeniedBy) > 0 {
		var parts []string
		for _, k := range sortedKeys(res.DeniedBy) {
			parts = append(parts, fmt.Sprintf("%s %d", k, res.DeniedBy[k]))
		}
		fmt.Fprintf(w, "denied: %s\n", strings.Join(parts, ", "))
	}
	if len(res.Items) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "", "SEQ", "TYPE", "OUTCOME", "BASIS", "REMOVED")
	for _, it := range res.Items {
		removed := "-"
		if it.Removed > 0 {
			removed = strconv.Itoa(it.Removed) + " field(s)"
		}
		t.Row(strconv.FormatUint(it.Seq, 10), it.Type, it.Outcome, orDash(it.Basis), removed)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if res.ItemsTruncated {
		fmt.Fprintln(w, "(the first 10000 events are listed)")
	}
	return nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stream sends a request whose answer is newline-delimited JSON: progress
// lines, written to stderr as they come, then a result or an error. It
// returns the result. No overall timeout: a long operation reports progress.
func (a *app) stream(ctx context.Context, method, path string, q url.Values, body []byte) (json.RawMessage, error) {
	target := a.conn.server + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if a.conn.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.conn.token)
	}
	client := *a.client
	client.Timeout = 0
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach the broker at %s: %w", a.conn.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newAPIError(method, path, resp.StatusCode, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), maxResponse)
	for sc.Scan() {
		var line struct {
			Progress json.RawMessage `json:"progress"`
			Result   json.RawMessage `json:"result"`
			Error    string          `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
		}
		switch {
		case line.Error != "":
			return nil, fmt.Errorf("%s %s: %s", method, path, line.Error)
		case line.Result != nil:
			return line.Result, nil
		case line.Progress != nil:
			a.showProgress(line.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return nil, fmt.Errorf("%s %s: the broker ended the answer without a result", method, path)
}

// showProgress writes one progress line to stderr: "phase done/total".
func (a *app) showProgress(raw json.RawMessage) {
	var p struct {
		Phase string  `json:"phase"`
		Done  float64 `json:"done"`
		Total float64 `json:"total"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Phase == "" {
		return
	}
	pct := ""
	if p.Total > 0 {
		pct = fmt.Sprintf(" (%.0f%%)", 100*p.Done/p.Total)
	}
	fmt.Fprintf(a.stderr, "%s: %.0f of %.0f%s\n", p.Phase, p.Done, p.Total, pct)
}

// selectionFlags are the flags that select recorded events for a replay or
// a backfill.
type selectionFlags struct {
	participant, from, to, child *string
	fromSeq, toSeq               *uint64
	types                        multiFlag
}

func addSelectionFlags(fs *flag.FlagSet, participantHelp string) *selectionFlags {
	s := &selectionFlags{
		participant: fs.String("participant", "", participantHelp),
		from:        fs.String("from", "", "events recorded at or after `TIME` (RFC 3339)"),
		to:          fs.String("to", "", "events recorded before `TIME` (RFC 3339)"),
		fromSeq:     fs.Uint64("from-seq", 0, "from ingest sequence `N`"),
		toSeq:       fs.Uint64("to-seq", 0, "to ingest sequence `N` (inclusive)"),
		child:       fs.String("child", "", "only this child's events (`UIN`)"),
	}
	fs.Var(&s.types, "type", "only events of this catalogue `NAME` (repeatable)")
	return s
}

// selection checks the flags and returns what they select; cmd names the
// command in the usage errors.
func (s *selectionFlags) selection(cmd string) (api.ReplaySelection, error) {
	if *s.participant == "" || !strings.Contains(*s.participant, "/") {
		return api.ReplaySelection{}, usagef("%s needs --participant AREA/AGENCY", cmd)
	}
	for _, t := range []struct{ name, v string }{{"--from", *s.from}, {"--to", *s.to}} {
		if t.v != "" {
			if _, err := time.Parse(time.RFC3339, t.v); err != nil {
				return api.ReplaySelection{}, usagef("%s: %q is not an RFC 3339 time", t.name, t.v)
			}
		}
	}
	if *s.child != "" {
		if err := uin.Check(*s.child); err != nil {
			return api.ReplaySelection{}, usagef("--child: %v", err)
		}
	}
	return api.ReplaySelection{Participant: *s.participant, From: *s.from, To: *s.to, FromSeq: *s.fromSeq,
		ToSeq: *s.toSeq, Child: *s.child, Types: s.types}, nil
}
