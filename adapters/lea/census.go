package lea

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// censusGender maps the census's gender column, as a code (F, M, O, U) or a
// word, in any case.
var censusGender = map[string]string{
	"f": "female", "m": "male", "o": "other", "u": "unknown",
	"female": "female", "male": "male", "other": "other", "unknown": "unknown",
}

// censusReader reads a school census export, one row per pupil:
//
//	upn,uin,given,family,dob,gender,address1,address2,postcode,
//	school_urn,school_name,school_phone,entry_date,leaving_date
//
// with optional columns school_email (the setting's contact is school_phone,
// school_email or both) and census_date. address2 and leaving_date may be
// empty. The child's area is the adapter's area: the census says where a
// pupil goes to school, not which authority they live in.
//
// A census is a snapshot taken each term, so a pupil's row comes back
// unchanged term after term. Each event's id derives from the UPN and the
// event's data: an unchanged fact keeps its id and the broker stores it once,
// a changed one (a new address, a leaving date) is a new event. The UPN is
// the school's own pupil number and is not published. The event time is the
// census_date when the export has one, else the leaving date of a leaver and
// the entry date of anyone else.
type censusReader struct {
	t    *adapters.Table
	area string
}

func newCensusReader(r io.Reader, area string) (*censusReader, error) {
	t, err := adapters.OpenTable(r, "upn", "uin", "given", "family", "dob", "gender", "address1", "address2", "postcode",
		"school_urn", "school_name", "school_phone", "entry_date", "leaving_date")
	if err != nil {
		return nil, fmt.Errorf("lea census: %w", err)
	}
	return &censusReader{t: t, area: area}, nil
}

func (r *censusReader) Next() (adapters.Record, error) {
	row, err := r.t.Next()
	if err != nil {
		return adapters.Record{}, err
	}
	rec := adapters.Record{Line: row.Line}
	c := &check{line: row.Line}
	upn := c.text("upn", row.Get("upn"))
	child := c.uin("uin", row.Get("uin"))
	gender, ok := censusGender[strings.ToLower(row.Get("gender"))]
	if !ok {
		c.fail("gender %s is not one of F, M, O, U (or female, male, other, unknown)", quote(row.Get("gender")))
	}
	reg := registered{
		Name:    personName{Given: c.text("given", row.Get("given")), Family: c.text("family", row.Get("family"))},
		DOB:     c.date("dob", row.Get("dob"), true),
		Gender:  gender,
		Address: c.address("address", []string{row.Get("address1"), row.Get("address2")}, row.Get("postcode")),
		Area:    r.area,
	}
	edu := educationRecorded{
		Setting: setting{
			Name:    c.text("school_name", row.Get("school_name")),
			Contact: c.contact("school (school_phone, school_email)", row.Get("school_phone"), row.Get("school_email")),
		},
		From: c.date("entry_date", row.Get("entry_date"), false),
	}
	if to := row.Get("leaving_date"); to != "" {
		edu.To = c.date("leaving_date", to, false)
		if c.err == nil && edu.To < edu.From {
			c.fail("leaving_date %s is before entry_date %s", edu.To, edu.From)
		}
	}
	at := row.Get("census_date")
	if at == "" {
		at = max(edu.From, edu.To)
	}
	when := c.when("census_date", at)
	if c.err != nil {
		return rec, c.err
	}
	for _, o := range []struct {
		name string
		data any
	}{{"index.child.registered", reg}, {"index.education.recorded", edu}} {
		e, err := r.event(o.name, child, when, upn, o.data)
		if err != nil {
			return rec, err
		}
		rec.Events = append(rec.Events, e)
	}
	return rec, nil
}

// event keys an event by the pupil's UPN and its data (see censusReader).
func (r *censusReader) event(name, child string, at time.Time, upn string, data any) (event.Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return event.Event{}, err
	}
	return adapters.NewEvent(r.area, agency, name, child, at, upn+"\x00"+string(b), data)
}
