package pct

import (
	"fmt"
	"io"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// involvementsReader reads the health visiting service's CSV of
// involvements and concerns:
//
//	record_id,uin,action,practitioner_name,role,phone,email,service,date
//
// action is involved (needs role, phone or email, service), ended, concern
// (needs phone or email) or concern_withdrawn. date is the event time: a
// date, taken as midnight London time, or an RFC 3339 time. record_id is the
// service's own id of the row and keys its event.
type involvementsReader struct {
	t    *adapters.Table
	area string
}

func newInvolvementsReader(r io.Reader, area string) (*involvementsReader, error) {
	t, err := adapters.OpenTable(r, "record_id", "uin", "action", "practitioner_name", "role", "phone", "email", "service", "date")
	if err != nil {
		return nil, fmt.Errorf("pct involvements: %w", err)
	}
	return &involvementsReader{t: t, area: area}, nil
}

func (r *involvementsReader) Next() (adapters.Record, error) {
	row, err := r.t.Next()
	if err != nil {
		return adapters.Record{}, err
	}
	rec := adapters.Record{Line: row.Line}
	c := &check{line: row.Line}
	id := c.text("record_id", row.Get("record_id"))
	child := c.uin("uin", row.Get("uin"))
	at := c.when("date", row.Get("date"))
	data := involvement{Practitioner: practitioner{Name: c.text("practitioner_name", row.Get("practitioner_name"))}}
	withContact := func() {
		k := c.contact("practitioner (phone, email)", row.Get("phone"), row.Get("email"))
		data.Practitioner.Contact = &k
	}
	var name string
	switch action := row.Get("action"); action {
	case "involved":
		name = "index.practitioner.involved"
		data.Practitioner.Role = c.text("role", row.Get("role"))
		withContact()
		data.Service = c.text("service", row.Get("service"))
	case "ended":
		name = "index.practitioner.ended"
	case "concern":
		name = "index.concern.flagged"
		withContact()
	case "concern_withdrawn":
		name = "index.concern.withdrawn"
	default:
		c.fail("action %s is not involved, ended, concern or concern_withdrawn", quote(action))
	}
	if c.err != nil {
		return rec, c.err
	}
	e, err := adapters.NewEvent(r.area, agency, name, child, at, id, data)
	if err != nil {
		return rec, err
	}
	rec.Events = append(rec.Events, e)
	return rec, nil
}

// when is an event time: an RFC 3339 time, or a date taken as midnight
// London time.
func (c *check) when(field, s string) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	t, err := time.ParseInLocation(time.DateOnly, s, london)
	if err != nil {
		c.fail("%s %s is not a date (YYYY-MM-DD) or an RFC 3339 time", field, quote(s))
	}
	return t
}
