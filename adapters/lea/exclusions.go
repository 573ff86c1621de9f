package lea

import (
	"fmt"
	"io"
	"strconv"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// exclusionsReader reads the LEA's CSV of exclusions and children missing
// education, one row per case:
//
//	record_id,uin,kind,days,reason,last_seen,setting,date
//
// with optional columns setting_phone and setting_email. kind fixed or
// permanent is an exclusion (days, reason); kind missing a child missing
// education (last_seen, and setting with setting_phone or setting_email, as
// the catalogue's setting carries a contact). date is the event time: a date,
// taken as midnight London time, or an RFC 3339 time. record_id is the LEA's
// own id of the row and keys its event.
type exclusionsReader struct {
	t    *adapters.Table
	area string
}

func newExclusionsReader(r io.Reader, area string) (*exclusionsReader, error) {
	t, err := adapters.OpenTable(r, "record_id", "uin", "kind", "days", "reason", "last_seen", "setting", "date")
	if err != nil {
		return nil, fmt.Errorf("lea exclusions: %w", err)
	}
	return &exclusionsReader{t: t, area: area}, nil
}

func (r *exclusionsReader) Next() (adapters.Record, error) {
	row, err := r.t.Next()
	if err != nil {
		return adapters.Record{}, err
	}
	rec := adapters.Record{Line: row.Line}
	c := &check{line: row.Line}
	id := c.text("record_id", row.Get("record_id"))
	child := c.uin("uin", row.Get("uin"))
	at := c.when("date", row.Get("date"))
	var name string
	var data any
	switch kind := row.Get("kind"); kind {
	case "fixed", "permanent":
		name = "education.exclusion"
		data = exclusion{Kind: kind, Days: c.days(kind, row.Get("days")), Reason: c.freeText("reason", row.Get("reason"))}
	case "missing":
		name = "education.missing"
		data = missing{
			LastSeen: c.date("last_seen", row.Get("last_seen"), true),
			Setting: setting{
				Name:    c.text("setting", row.Get("setting")),
				Contact: c.contact("setting (setting_phone, setting_email)", row.Get("setting_phone"), row.Get("setting_email")),
			},
		}
	default:
		c.fail("kind %s is not fixed, permanent or missing", quote(kind))
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

// days is an exclusion's length in whole school days: 1 to 45 for a fixed
// period (the statutory maximum in a school year); for a permanent exclusion
// 0 to 190 (a school year), and empty is 0.
func (c *check) days(kind, s string) int {
	lo, hi := 1, 45
	if kind == "permanent" {
		if s == "" {
			return 0
		}
		lo, hi = 0, 190
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		c.fail("days %s is not a whole number from %d to %d, as a %s exclusion needs", quote(s), lo, hi, kind)
		return 0
	}
	return n
}
