// Package demo is the README's first command: a sample configuration of two
// areas and a realistic sequence of events for a few children, published
// through the broker's HTTP API as the agencies would, then a report of who
// received what and why, read back from the audit.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/google/uuid"
)

// The demo configuration's operators: ops may do everything; ig-lead may
// change the policy (so that a proposal by one is approved by the other:
// four eyes); viewer only reads.
const (
	OperatorToken = "demo-operator-token-ops"
	IGLeadToken   = "demo-operator-token-ig-lead"
	ViewerToken   = "demo-operator-token-viewer"
)

var agencies = []string{"la-social-care", "lea", "pct", "connexions", "yot", "police"}

// Config is a sample configuration: every agency in Leeds and York.
func Config() *config.Config {
	c := &config.Config{Operators: []config.Operator{
		{Name: "ops", Token: OperatorToken, Roles: config.Roles},
		{Name: "ig-lead", Token: IGLeadToken, Roles: []config.Role{config.RolePolicy}},
		{Name: "viewer", Token: ViewerToken}, // read only
	}}
	for _, area := range []string{"leeds", "york"} {
		for _, a := range agencies {
			c.Participants = append(c.Participants, config.Participant{ID: area + "/" + a, Agency: a, Area: area, Token: Token(area + "/" + a)})
		}
	}
	if err := c.Check(); err != nil {
		panic(err)
	}
	return c
}

// Token is the demo token of a participant.
func Token(id string) string { return "demo-token-" + strings.ReplaceAll(id, "/", "-") }

// Step is one event a participant publishes in the demo.
type Step struct {
	Child, Label, From, Name, Override string
	Data                               map[string]any
}

// Children of the demo: UINs with valid check digits, ages as of 2026.
var Children = map[string]string{"Amy (4)": "9434765919", "Ben (14)": "9434765870", "Cal (16)": "4010232137"}

func contact(phone string) map[string]any { return map[string]any{"phone": phone} }

// Steps is the demo sequence.
func Steps() []Step {
	amy, ben, cal := "Amy (4)", "Ben (14)", "Cal (16)"
	tutor := map[string]any{"name": "Sam Tutor", "role": "learning mentor", "contact": contact("0113 496 0050")}
	addr := func(line, pc string) map[string]any {
		return map[string]any{"lines": []any{line, "Leeds"}, "postcode": pc}
	}
	return []Step{
		{amy, "registered by the GP practice", "leeds/pct", "index.child.registered", "", map[string]any{
			"name": map[string]any{"given": "Amy", "family": "Adams"}, "dob": "2022-03-14", "gender": "female",
			"address": addr("1 Park Row", "LS1 5HD"), "area": "leeds"}},
		{amy, "health visitor starts", "leeds/pct", "index.practitioner.involved", "", map[string]any{
			"practitioner": map[string]any{"name": "Hana Visitor", "role": "health visitor", "contact": contact("0113 496 0001")}, "service": "health visiting"}},
		{amy, "police: domestic abuse, child present", "leeds/police", "police.incident", "", map[string]any{
			"kind": "domestic_abuse", "occurred_at": "2026-11-20T22:10:00Z", "child_present": true, "summary": "Officers attended a disturbance; the child was in the house."}},
		{amy, "health visitor flags a concern", "leeds/pct", "index.concern.flagged", "", map[string]any{
			"practitioner": map[string]any{"name": "Hana Visitor", "contact": contact("0113 496 0001")}}},
		{amy, "police flag a concern too (a match)", "leeds/police", "index.concern.flagged", "", map[string]any{
			"practitioner": map[string]any{"name": "PC Dale", "contact": contact("0113 496 0100")}}},
		{amy, "nursery refers: significant harm", "leeds/lea", "safeguarding.referral", "", map[string]any{
			"category": "physical", "summary": "Bruising seen on the child's arms at nursery.", "significant_harm": true}},
		{amy, "family moves to York", "leeds/pct", "index.address.changed", "", map[string]any{
			"address": map[string]any{"lines": []any{"4 Minster Yard", "York"}, "postcode": "YO1 7HH"}, "area": "york"}},
		{amy, "referral in York after the move", "york/pct", "safeguarding.referral", "", map[string]any{
			"category": "neglect", "summary": "Missed health checks since the move.", "significant_harm": false}},

		{ben, "registered by the school", "leeds/lea", "index.child.registered", "", map[string]any{
			"name": map[string]any{"given": "Ben", "family": "Brown"}, "dob": "2012-06-01", "gender": "male",
			"address": addr("9 Kirkgate", "LS2 7DJ"), "area": "leeds"}},
		{ben, "CAF before any consent", "leeds/lea", "caf.completed", "", map[string]any{
			"needs": []any{map[string]any{"outcome": "enjoy_and_achieve", "summary": "Falling behind in maths."}}, "lead_professional": tutor}},
		{ben, "Ben consents to sharing CAF with health and social care", "leeds/lea", "consent.granted", "", map[string]any{
			"given_by": "child", "purposes": []any{"caf"}, "agencies": []any{"pct", "la-social-care"}}},
		{ben, "CAF after consent", "leeds/lea", "caf.completed", "", map[string]any{
			"needs": []any{map[string]any{"outcome": "be_healthy", "summary": "Asthma not well managed."}}, "lead_professional": tutor}},
		{ben, "Ben withdraws consent for health", "leeds/lea", "consent.withdrawn", "", map[string]any{
			"purposes": []any{"caf"}, "agencies": []any{"pct"}}},
		{ben, "CAF after withdrawal", "leeds/lea", "caf.completed", "", map[string]any{
			"needs": []any{map[string]any{"outcome": "stay_safe", "summary": "Walking home alone late."}}, "lead_professional": tutor}},

		{cal, "registered by Connexions", "leeds/connexions", "index.child.registered", "", map[string]any{
			"name": map[string]any{"given": "Cal", "family": "Clark"}, "dob": "2010-02-02", "gender": "other",
			"address": addr("22 Briggate", "LS1 6HD"), "area": "leeds"}},
		{cal, "youth justice order, shared under s.12(11) override", "leeds/yot", "youthjustice.order",
			"Risk of exploitation; parents cannot be reached and delay would put the child at risk.", map[string]any{
				"order": "referral order", "start": "2026-11-01", "end": "2027-05-01",
				"worker": map[string]any{"name": "Yusuf Worker", "contact": contact("0113 496 0200")}}},
	}
}

// storyStart is when the demo's first event happens, three days after the
// police incident of the story; each step is ten minutes after the one
// before. The events are the same on every run (ids from their place in
// the sequence, fixed times, the same bytes), so a demo run again on the
// same store publishes events the broker already holds: it recognises each
// as a duplicate and records nothing new.
var storyStart = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// Events are the demo's steps as the structured CloudEvents it publishes,
// and their ids.
func Events(now time.Time) ([]map[string]any, []string) {
	steps := Steps()
	start := storyStart
	if end := start.Add(time.Duration(len(steps)) * 10 * time.Minute); now.Before(end) {
		// A clock before the story (the broker refuses events from the
		// future): the story happens yesterday instead, the same all day.
		start = now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1).Add(9 * time.Hour)
	}
	evs, ids := make([]map[string]any, len(steps)), make([]string, len(steps))
	for i, s := range steps {
		ids[i] = uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("demo-%d-%s", i, s.Name))).String()
		evs[i] = map[string]any{"specversion": "1.0", "id": ids[i], "source": "/" + s.From, "type": "uk.gov.ecm." + s.Name + ".v1",
			"subject": Children[s.Child], "time": start.Add(time.Duration(i) * 10 * time.Minute).Format(time.RFC3339),
			"datacontenttype": "application/json", "data": s.Data}
		if s.Override != "" {
			evs[i]["override"] = s.Override
		}
	}
	return evs, ids
}

// Run publishes the demo sequence to a started broker and prints the report.
// Run again on the same store, it publishes the same events, which the
// broker recognises as already published: nothing new is recorded.
func Run(ctx context.Context, out io.Writer, b *broker.Broker, cfg *config.Config) error {
	base := b.HTTPURL()
	steps := Steps()
	fmt.Fprintf(out, "ecm-broker demo: %d participants in leeds and york, policy %s\n\n", len(cfg.Participants), b.PolicyRevision())
	evs, ids := Events(time.Now())
	duplicates := 0
	for i, s := range steps {
		code, body, err := post(ctx, base+"/v1/events", Token(s.From), evs[i])
		if err != nil {
			return err
		}
		if code != http.StatusAccepted {
			return fmt.Errorf("demo step %d (%s) answered %d: %s", i+1, s.Label, code, body)
		}
		var res api.IngestResult
		if json.Unmarshal([]byte(body), &res) == nil && res.Outcome == "duplicate" {
			duplicates++
		}
	}
	switch {
	case duplicates == len(steps):
		fmt.Fprintf(out, "The demo's %d events were already published to this store (the demo ran on it before): the broker\n"+
			"recognised each as a duplicate and recorded nothing new. What they caused then:\n\n", len(steps))
	case duplicates > 0:
		fmt.Fprintf(out, "%d of the demo's %d events were already published to this store and were recognised as duplicates.\n\n",
			duplicates, len(steps))
	}
	audit := map[string][]api.AuditRecord{}
	deadline := time.Now().Add(30 * time.Second)
	for child, u := range Children {
		for {
			recs, err := auditFor(ctx, base, u)
			if err != nil {
				return err
			}
			if countOriginal(recs) >= countSteps(steps, child) || time.Now().After(deadline) {
				audit[child] = recs
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	labels := map[string]string{}
	for i, s := range steps {
		labels[ids[i]] = s.Label
	}
	names := make([]string, 0, len(Children))
	for c := range Children {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, child := range names {
		fmt.Fprintf(out, "== %s, UIN ******%s\n", child, Children[child][6:])
		for _, rec := range audit[child] {
			if !isDecision(rec) {
				continue // a record of copies, or an operator's read: the decision says who and why
			}
			label := labels[rec.EventID]
			switch {
			case label != "":
			case rec.CausedBy != "":
				label = "generated by the broker"
			default: // on a store the demo ran on before: the exports below
				label = "from an agency export, through its adapter"
			}
			name := strings.TrimSuffix(strings.TrimPrefix(rec.Type, "uk.gov.ecm."), ".v1")
			fmt.Fprintf(out, "-- %s: %s from %s", label, name, strings.TrimPrefix(rec.Source, "/"))
			if rec.Review {
				fmt.Fprint(out, "  [marked for review]")
			}
			fmt.Fprintln(out)
			tw := tabwriter.NewWriter(out, 4, 4, 2, ' ', 0)
			var denied []string
			for _, d := range rec.Decisions {
				if !d.Allow {
					denied = append(denied, d.Participant+" ("+d.Basis+")")
					continue
				}
				removed := ""
				if len(d.Remove) > 0 {
					removed = "without " + strings.Join(d.Remove, ", ")
				}
				fmt.Fprintf(tw, "   received\t%s\t%s\t%s\n", d.Participant, d.Basis, removed)
			}
			tw.Flush()
			if len(denied) > 0 {
				fmt.Fprintf(out, "   not sent to: %s\n", strings.Join(denied, ", "))
			}
		}
		fmt.Fprintln(out)
	}
	if err := feedAdapters(ctx, out, b); err != nil {
		return err
	}
	fmt.Fprintf(out, "Read back: curl -H 'Authorization: Bearer %s' '%s/v1/deliveries?after=0'\n", Token("leeds/la-social-care"), b.HTTPURL())
	fmt.Fprintf(out, "           curl -H 'Authorization: Bearer %s' '%s/v1/audit?child=%s'\n", OperatorToken, b.HTTPURL(), Children["Amy (4)"])
	fmt.Fprintf(out, "\nIG console: %s\n", b.ConsoleURL())
	fmt.Fprintf(out, "  sign in as ops (every role), token %s\n", OperatorToken)
	fmt.Fprintf(out, "          or ig-lead (policy: approves what ops proposes), token %s\n", IGLeadToken)
	fmt.Fprintf(out, "          or viewer (read only), token %s\n", ViewerToken)
	fmt.Fprintf(out, "  a child to look up: Amy, UIN %s\n", Children["Amy (4)"])
	return nil
}

func countSteps(steps []Step, child string) int {
	n := 0
	for _, s := range steps {
		if s.Child == child {
			n++
		}
	}
	return n
}

func countOriginal(recs []api.AuditRecord) int {
	n := 0
	for _, r := range recs {
		if r.CausedBy == "" && isDecision(r) {
			n++
		}
	}
	return n
}

// isDecision reports whether rec is the decision about an event (not the
// record of its copies, and not an operator's action).
func isDecision(rec api.AuditRecord) bool {
	return rec.Action == nil && rec.Outcome != "copies"
}

func post(ctx context.Context, url, token string, ev any) (int, string, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func auditFor(ctx context.Context, base, child string) ([]api.AuditRecord, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/audit?child="+child, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Records []api.AuditRecord `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out.Records, nil
}
