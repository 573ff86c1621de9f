package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
)

var deliveriesCmd = &command{
	name:    "deliveries",
	summary: "a participant's delivered events, oldest first (participant token)",
	usage: `
deliveries [--participant ID] [--after N] [--limit N] [--follow [--interval D]]

The broker knows the participant from the token; --participant only labels the
output and the error when the token is not a participant token. Subjects are
masked to the last four digits of the UIN; --json prints the broker's answer
unmasked (with --follow, one delivery per line).

Examples:
  ecmctl deliveries --token "$PCT_TOKEN" --participant leeds/pct
  ecmctl deliveries --after 120 --limit 50
  ecmctl deliveries --follow --interval 5s
  ecmctl deliveries --json --follow | jq .event.type`,
	run: runDeliveries,
}

type deliveriesOpts struct {
	participant string
	after       uint64
	limit       int
	follow      bool
	interval    time.Duration
}

func runDeliveries(ctx context.Context, a *app, c *command, args []string) error {
	var o deliveriesOpts
	fs := a.flagSet(c)
	fs.StringVar(&o.participant, "participant", "", "the participant the token belongs to, e.g. leeds/pct (a label)")
	fs.Uint64Var(&o.after, "after", 0, "show deliveries with a sequence above `N`")
	fs.IntVar(&o.limit, "limit", 100, "at most `N` deliveries per request, 1 to 1000")
	fs.BoolVar(&o.follow, "follow", false, "keep polling and paging for new deliveries until interrupted")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "with --follow, the wait between polls once caught up")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("deliveries takes no arguments, got %q", pos[0])
	}
	if o.limit < 1 || o.limit > 1000 {
		return usagef("--limit must be 1 to 1000")
	}
	if o.interval <= 0 {
		return usagef("--interval must be positive")
	}
	if err := a.needToken(); err != nil {
		return err
	}
	if o.follow {
		return a.followDeliveries(ctx, o)
	}
	page, raw, err := a.deliveries(ctx, o)
	if err != nil {
		return err
	}
	if a.conn.json {
		return writeRaw(a.stdout, raw)
	}
	t := newDeliveriesTable(a)
	for _, d := range page.Deliveries {
		t.Row(deliveryRow(d)...)
	}
	if len(page.Deliveries) > 0 {
		if err := t.Flush(); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(a.stdout, "%s%s after %d; next: --after %d\n",
		plural(len(page.Deliveries), "delivery", "deliveries"), o.forParticipant(), o.after, page.Next)
	return err
}

func (o deliveriesOpts) forParticipant() string {
	if o.participant == "" {
		return ""
	}
	return " for " + o.participant
}

func newDeliveriesTable(a *app) *table {
	return newTable(a.stdout, "", "SEQ", "TIME", "TYPE", "SUBJECT", "SOURCE", "BASIS")
}

// deliveries reads one page after o.after.
func (a *app) deliveries(ctx context.Context, o deliveriesOpts) (api.DeliveryPage, []byte, error) {
	var page api.DeliveryPage
	q := url.Values{"after": {strconv.FormatUint(o.after, 10)}, "limit": {strconv.Itoa(o.limit)}}
	raw, err := a.getJSON(ctx, "/v1/deliveries", q, &page)
	if err != nil {
		want := "a participant token"
		if o.participant != "" {
			want = o.participant + "'s token"
		}
		return page, nil, tokenError(err, "a participant", want)
	}
	return page, raw, nil
}

// followDeliveries pages with next until interrupted: at once while pages
// come back full, every interval once caught up. A broker that cannot be
// reached or answers 5xx is retried; any other refusal ends the command.
func (a *app) followDeliveries(ctx context.Context, o deliveriesOpts) error {
	t := newDeliveriesTable(a)
	// Pages come one at a time; columns as wide as usual values from the
	// start keep later pages in line with the first.
	t.Widen("123456", "2006-01-02T15:04:05Z", "uk.gov.ecm.index.practitioner.involved.v1", "******1234", "/leeds/la-social-care")
	for {
		page, _, err := a.deliveries(ctx, o)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && (statusOf(err) == 0 || statusOf(err) >= http.StatusInternalServerError):
			fmt.Fprintf(a.stderr, "ecmctl: %s; retrying in %s\n", oneLine(err.Error()), o.interval)
		case err != nil:
			return err
		default:
			if err := a.printPage(t, page); err != nil {
				return err
			}
			o.after = max(o.after, page.Next)
			if len(page.Deliveries) >= o.limit {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
	}
}

func (a *app) printPage(t *table, page api.DeliveryPage) error {
	if a.conn.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false)
		for _, d := range page.Deliveries {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	if len(page.Deliveries) == 0 {
		return nil
	}
	for _, d := range page.Deliveries {
		t.Row(deliveryRow(d)...)
	}
	return t.Flush()
}

// deliveryRow is one delivery as a table row, its subject masked.
func deliveryRow(d api.Delivery) []string {
	var ev map[string]any
	_ = json.Unmarshal(d.Event, &ev)
	attr := func(name string) string {
		s, _ := ev[name].(string)
		return orDash(s)
	}
	subject, _ := ev["subject"].(string)
	return []string{strconv.FormatUint(d.Seq, 10), attr("time"), attr("type"), maskUIN(subject), attr("source"), orDash(d.Basis)}
}

// maskUIN shows only the last four characters of a child's UIN, enough to
// tell records apart on screen without disclosing the number.
func maskUIN(s string) string {
	r := []rune(s)
	switch {
	case len(r) == 0:
		return "-"
	case len(r) <= 4:
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}
