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
	t    *table
	area string
}

func newInvolvementsReader(r io.Reader, area string) (*involvementsReader, error) {
	t, err := openTable(r, "record_id", "uin", "action", "practitioner_name", "role", "phone", "email", "service", "date")
	if err != nil {
		return nil, fmt.Errorf("pct involvements: %w", err)
	}
	return &involvementsReader{t: t, area: area}, nil
}

func (r *involvementsReader) Next() (adapters.Record, error) {
	row, err := r.t.next()
	if err != nil {
		return adapters.Record{}, err
	}
	rec := adapters.Record{Line: row.line}
	c := &check{line: row.line}
	id := c.text("record_id", row.get("record_id"))
	child := c.uin("uin", row.get("uin"))
	at := c.when("date", row.get("date"))
	data := involvement{Practitioner: practitioner{Name: c.text("practitioner_name", row.get("practitioner_name"))}}
	withContact := func() {
		k := c.contact("practitioner (phone, email)", row.get("phone"), row.get("email"))
		data.Practitioner.Contact = &k
	}
	var name string
	switch action := row.get("action"); action {
	case "involved":
		name = "index.practitioner.involved"
		data.Practitioner.Role = c.text("role", row.get("role"))
		withContact()
		data.Service = c.text("service", row.get("service"))
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
