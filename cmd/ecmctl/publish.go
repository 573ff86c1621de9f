package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
)

// The broker's content types and batch limits (cenats, the broker's ingest).
const (
	contentTypeStructured = "application/cloudevents+json"
	contentTypeBatch      = "application/cloudevents-batch+json"
	maxBatchEvents        = 1000
	maxBatchBytes         = 16 << 20
)

var publishCmd = &command{
	name:    "publish",
	summary: "publish structured CloudEvents from a file or stdin (participant token)",
	usage: `
publish [--participant ID] FILE

FILE, or "-" for stdin, holds one structured CloudEvent (a JSON object), a
JSON array of them, or JSON lines (one event per line). An object is sent on
its own; an array or JSON lines are sent as batches of at most 1000 events.
Each event's outcome and problems are printed. The exit status is 1 when any
event was not accepted; a duplicate of an event already stored counts as
accepted. With --participant, every event's source must be /ID, or nothing
is sent.

Examples:
  ecmctl publish --token "$PCT_TOKEN" referral.json
  ecmctl publish --participant leeds/pct overnight.jsonl
  pct-export | ecmctl publish -`,
	run: runPublish,
}

// accepted reports whether the broker holds the event: stored now, or a
// duplicate of one already stored.
func accepted(r api.IngestResult) bool { return r.Outcome == "accepted" || r.Outcome == "duplicate" }

// eventsFile is what publish read: the events, where each came from in the
// file ("line 3", "[2]"), and whether they go as a batch.
type eventsFile struct {
	events []json.RawMessage
	where  []string
	batch  bool
}

func runPublish(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flagSet(c)
	participant := fs.String("participant", "", "check that every event's source is /`ID` before sending")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("publish needs one FILE, or - for stdin (see ecmctl publish -h)")
	}
	data, err := a.readInput(pos[0])
	if err != nil {
		return err
	}
	f, err := parseEvents(data)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *participant != "" {
		if err := f.checkSource("/" + strings.TrimPrefix(*participant, "/")); err != nil {
			return fmt.Errorf("%s: %w; nothing was sent", pos[0], err)
		}
	}
	if err := a.needToken(); err != nil {
		return err
	}
	if !f.batch {
		res, raw, err := a.publishOne(ctx, f.events[0])
		if err != nil {
			return err
		}
		return a.report(f, []api.IngestResult{res}, [][]byte{raw}, nil)
	}
	var results []api.IngestResult
	var raws [][]byte
	for start := 0; start < len(f.events); {
		end := batchEnd(f.events, start)
		res, raw, err := a.publishBatch(ctx, f, start, end)
		results, raws = append(results, res...), append(raws, raw...)
		if err != nil {
			return a.report(f, results, raws, err)
		}
		start = end
	}
	return a.report(f, results, raws, nil)
}

func (a *app) readInput(name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(a.stdin)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return data, nil
}

// parseEvents tells the three forms apart: a whole document that is one
// JSON object is a single event, one that is an array is a batch, and
// anything else must be JSON lines, sent as a batch.
func parseEvents(data []byte) (eventsFile, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if len(data) == 0 {
		return eventsFile{}, fmt.Errorf("no events: the input is empty")
	}
	if json.Valid(data) {
		switch data[0] {
		case '{':
			return eventsFile{events: []json.RawMessage{data}, where: []string{"event"}}, nil
		case '[':
			var evs []json.RawMessage
			if err := json.Unmarshal(data, &evs); err != nil {
				return eventsFile{}, err
			}
			if len(evs) == 0 {
				return eventsFile{}, fmt.Errorf("no events: the array is empty")
			}
			f := eventsFile{events: evs, batch: true}
			for i := range evs {
				f.where = append(f.where, "["+strconv.Itoa(i)+"]")
			}
			return f, nil
		default:
			return eventsFile{}, fmt.Errorf("expected a CloudEvent object, an array of them or JSON lines")
		}
	}
	f := eventsFile{batch: true}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var v json.RawMessage
		if err := json.Unmarshal(line, &v); err != nil {
			return eventsFile{}, fmt.Errorf("line %d: not a JSON event (a single event may span lines, JSON lines may not): %v", i+1, err)
		}
		f.events = append(f.events, v)
		f.where = append(f.where, "line "+strconv.Itoa(i+1))
	}
	return f, nil
}

// checkSource finds the first event whose source is not source. The broker
// would refuse it; checking first keeps a wrong file from being half sent.
func (f eventsFile) checkSource(source string) error {
	for i, ev := range f.events {
		var attrs struct {
			Source *string `json:"source"`
		}
		if json.Unmarshal(ev, &attrs) != nil || attrs.Source == nil {
			continue // the broker says what is wrong with it
		}
		if *attrs.Source != source {
			return fmt.Errorf("%s: source %q is not %s (--participant)", f.where[i], *attrs.Source, source)
		}
	}
	return nil
}

// batchEnd is where the batch starting at start ends within the broker's
// limits on events and bytes.
func batchEnd(evs []json.RawMessage, start int) int {
	size := 2
	end := start
	for end < len(evs) && end-start < maxBatchEvents {
		size += len(evs[end]) + 1
		if end > start && size > maxBatchBytes {
			break
		}
		end++
	}
	return end
}

func (a *app) publishOne(ctx context.Context, ev json.RawMessage) (api.IngestResult, []byte, error) {
	status, data, err := a.do(ctx, http.MethodPost, "/v1/events", nil, contentTypeStructured, ev)
	if err != nil {
		return api.IngestResult{}, nil, err
	}
	var res api.IngestResult
	if status == http.StatusUnauthorized || json.Unmarshal(data, &res) != nil || res.Outcome == "" {
		return res, nil, tokenError(newAPIError(http.MethodPost, "/v1/events", status, data), "a participant", "the publishing participant's token")
	}
	return res, data, nil
}

// publishBatch sends events start to end as one batch and returns their
// results, indexed from the start of the file, and each result as received.
// A batch refused as a whole is an error after the results before it.
func (a *app) publishBatch(ctx context.Context, f eventsFile, start, end int) ([]api.IngestResult, [][]byte, error) {
	body := []byte{'['}
	for i, ev := range f.events[start:end] {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, ev...)
	}
	body = append(body, ']')
	status, data, err := a.do(ctx, http.MethodPost, "/v1/events", nil, contentTypeBatch, body)
	if err != nil {
		return nil, nil, err
	}
	if status != http.StatusOK {
		var res api.IngestResult
		if status == http.StatusUnauthorized || json.Unmarshal(data, &res) != nil || res.Outcome == "" {
			return nil, nil, tokenError(newAPIError(http.MethodPost, "/v1/events", status, data), "a participant", "the publishing participant's token")
		}
		msg := res.Error
		for _, p := range res.Problems {
			msg += "; " + p.String()
		}
		return nil, nil, fmt.Errorf("the batch %s to %s was %w: %d %s", f.where[start], f.where[end-1], errNotAccepted, status, msg)
	}
	var out struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Results) != end-start {
		return nil, nil, fmt.Errorf("POST /v1/events: the answer does not have a result for each of the %d events sent", end-start)
	}
	results := make([]api.IngestResult, len(out.Results))
	raws := make([][]byte, len(out.Results))
	for i, r := range out.Results {
		if err := json.Unmarshal(r, &results[i]); err != nil {
			return nil, nil, fmt.Errorf("POST /v1/events: result %d: %w", i, err)
		}
		results[i].Index = start + i
		raws[i] = reindex(r, start+i)
	}
	return results, raws, nil
}

// reindex sets a result's index to its place in the whole file, keeping
// every other field as the broker wrote it.
func reindex(raw json.RawMessage, index int) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	m["index"] = json.RawMessage(strconv.Itoa(index))
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// report prints the results, then ends the command: with failed if the
// sending stopped, with errNotAccepted if any event was not accepted.
func (a *app) report(f eventsFile, results []api.IngestResult, raws [][]byte, failed error) error {
	if a.conn.json {
		if !f.batch && len(raws) == 1 {
			if err := writeRaw(a.stdout, raws[0]); err != nil {
				return err
			}
		} else {
			items := make([]json.RawMessage, len(raws))
			for i, r := range raws {
				items[i] = r
			}
			data, err := json.Marshal(map[string]any{"results": items})
			if err != nil {
				return err
			}
			if err := writeRaw(a.stdout, data); err != nil {
				return err
			}
		}
	} else if err := a.printResults(f, results); err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	refused := 0
	for _, r := range results {
		if !accepted(r) {
			refused++
		}
	}
	if refused > 0 {
		return fmt.Errorf("%d of %s %w", refused, plural(len(results), "event", "events"), errNotAccepted)
	}
	return nil
}

func (a *app) printResults(f eventsFile, results []api.IngestResult) error {
	if len(results) == 0 {
		return nil
	}
	t := newTable(a.stdout, "", "EVENT", "ID", "OUTCOME", "SEQ", "PROBLEMS")
	counts := map[string]int{}
	var order []string
	for _, r := range results {
		if counts[r.Outcome] == 0 {
			order = append(order, r.Outcome)
		}
		counts[r.Outcome]++
		where := strconv.Itoa(r.Index)
		if r.Index >= 0 && r.Index < len(f.where) {
			where = f.where[r.Index]
		}
		seq := "-"
		if r.Seq > 0 {
			seq = strconv.FormatUint(r.Seq, 10)
		}
		lines := make([]string, 0, len(r.Problems)+1)
		for _, p := range r.Problems {
			lines = append(lines, p.String())
		}
		if len(lines) == 0 && r.Error != "" {
			lines = append(lines, r.Error)
		}
		if len(lines) == 0 {
			lines = append(lines, "-")
		}
		t.Row(where, orDash(r.ID), r.Outcome, seq, lines[0])
		for _, l := range lines[1:] {
			t.Row("", "", "", "", l)
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	parts := make([]string, len(order))
	for i, o := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[o], o)
	}
	_, err := fmt.Fprintf(a.stdout, "%s: %s\n", plural(len(results), "event", "events"), strings.Join(parts, ", "))
	return err
}
