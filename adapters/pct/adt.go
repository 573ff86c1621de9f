package pct

import (
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// hl7Sex maps PID-8 administrative sex (HL7 table 0001) to the catalogue's
// gender. A (ambiguous) is other and N (not applicable) unknown; an empty
// PID-8 is unknown too, since the catalogue has a value for "not recorded".
var hl7Sex = map[string]string{
	"F": "female", "M": "male", "O": "other", "U": "unknown",
	"A": "other", "N": "unknown", "": "unknown",
}

// mapMessage maps one ADT message. A04 and A28 register a child; A08 and
// A31 change the child's address and GP practice. Other messages (admissions,
// discharges, results) are no business of the index: their record has no
// events. A message maps whole or is rejected whole.
func mapMessage(m *message, area string) (adapters.Record, error) {
	rec := adapters.Record{Line: m.line}
	msh := &m.segs[0]
	trigger := m.comp(msh.field(9), 2)
	registers := trigger == "A04" || trigger == "A28"
	updates := trigger == "A08" || trigger == "A31"
	if m.comp(msh.field(9), 1) != "ADT" || !registers && !updates {
		return rec, nil
	}

	c := &check{line: m.line}
	at := c.hl7Time("MSH-7 message time", m.comp(msh.field(7), 1))
	control := c.text("MSH-10 message control id", m.comp(msh.field(10), 1))
	pid := m.segment("PID")
	if pid == nil {
		c.fail("ADT^%s message has no PID segment", trigger)
	}
	child := nhsNumber(c, m, pid.field(3))

	type out struct {
		name string
		data any
	}
	var outs []out
	addr := homeAddress(m, pid.field(11))
	if registers {
		name := legalName(m, pid.field(5))
		reg := registered{
			Name: personName{
				Given:  c.text("PID-5.2 given name", m.comp(name, 2)),
				Family: c.text("PID-5.1 family name", m.comp(name, 1)),
			},
			DOB:    c.dob("PID-7 date of birth", hl7Date(m.comp(pid.field(7), 1)), "20060102"),
			Gender: c.sex("PID-8 administrative sex", m.comp(pid.field(8), 1)),
		}
		reg.Address, reg.Area = mapAddress(c, m, addr, area)
		outs = append(outs, out{"index.child.registered", reg})
	} else if addr != "" {
		var ch addressChanged
		ch.Address, ch.Area = mapAddress(c, m, addr, area)
		outs = append(outs, out{"index.address.changed", ch})
	}
	if p, ok := gpPractice(c, m); ok {
		outs = append(outs, out{"index.gp.recorded", gpRecorded{p}})
	}
	if c.err != nil {
		return rec, c.err
	}

	// Control ids are unique per sending system only, and one area's PCT
	// may run several systems.
	key := strings.Join([]string{msh.field(3), msh.field(4), control}, "|")
	for _, o := range outs {
		e, err := adapters.NewEvent(area, agency, o.name, child, at, key, o.data)
		if err != nil {
			return rec, err
		}
		rec.Events = append(rec.Events, e)
	}
	return rec, nil
}

// nhsNumber is the child's UIN: the NHS number among PID-3's identifiers
// (identifier type NH). Hospital numbers and the like beside it are ignored.
func nhsNumber(c *check, m *message, field string) string {
	var found string
	for _, rep := range m.reps(field) {
		if m.comp(rep, 5) != "NH" {
			continue
		}
		id := strings.ReplaceAll(m.comp(rep, 1), " ", "") // "943 476 5919" as printed on letters
		if found != "" && id != found {
			return c.fail("PID-3 holds two different NHS numbers")
		}
		found = id
	}
	if found == "" {
		return c.fail("PID-3 has no NHS number (identifier type NH)")
	}
	return c.uin("PID-3 NHS number", found)
}

// legalName picks PID-5's legal name (name type L), or its first name.
func legalName(m *message, field string) string { return pick(m, field, 7, "L") }

// homeAddress picks PID-11's home address (address type H), or its first;
// "" when PID-11 is empty.
func homeAddress(m *message, field string) string {
	a := pick(m, field, 7, "H")
	if m.comp(a, 1)+m.comp(a, 2)+m.comp(a, 3)+m.comp(a, 5) == "" {
		return ""
	}
	return a
}

// pick returns the repetition of field whose component n is want, or the
// first repetition.
func pick(m *message, field string, n int, want string) string {
	reps := m.reps(field)
	for _, r := range reps {
		if m.comp(r, n) == want {
			return r
		}
	}
	if len(reps) == 0 {
		return ""
	}
	return reps[0]
}

// mapAddress reads an XAD (street^other designation^city^county^postcode^
// ^type^^area). The area is the county/parish code PID-11.9 when the sender
// fills it with an area slug, for a child who moved across a boundary, and
// the adapter's own area otherwise.
func mapAddress(c *check, m *message, xad, area string) (address, string) {
	if xad == "" {
		c.fail("PID-11 address is empty")
		return address{}, ""
	}
	lines := []string{m.comp(xad, 1), m.comp(xad, 2), m.comp(xad, 3), m.comp(xad, 4)}
	a := c.address("PID-11 address", lines, m.comp(xad, 5))
	if v := m.comp(xad, 9); v != "" {
		area = c.area("PID-11.9 area", v)
	}
	return a, area
}

// gpPractice reads the registered practice from PD1-3 (XON: name^^code, or
// the code in XON-10 as HL7 2.5 puts it). XON has no telecom component, so
// the practice's contact comes from a ZGP segment whose ZGP-1 is an XTN
// list: a phone in XTN-1, an email in XTN-4 (^NET^Internet^a@b). ok is false
// when there is no PD1-3.
func gpPractice(c *check, m *message) (p practice, ok bool) {
	org := m.reps(m.segment("PD1").field(3))
	if len(org) == 0 || m.comp(org[0], 1)+m.comp(org[0], 3)+m.comp(org[0], 10) == "" {
		return p, false
	}
	code := m.comp(org[0], 3)
	if code == "" {
		code = m.comp(org[0], 10)
	}
	var phone, email string
	for _, xtn := range m.reps(m.segment("ZGP").field(1)) {
		if v := m.comp(xtn, 4); v != "" && email == "" {
			email = v
		} else if v := m.comp(xtn, 1); v != "" && phone == "" {
			phone = v
		}
	}
	return practice{
		Name:    c.text("PD1-3.1 practice name", m.comp(org[0], 1)),
		Code:    c.practiceCode("PD1-3.3 practice code", code),
		Contact: c.contact("ZGP-1 contact of the PD1-3 practice", phone, email),
	}, true
}

// hl7Date is the date part of an HL7 DTM, YYYYMMDD[HHMM...].
func hl7Date(s string) string { return s[:min(8, len(s))] }

// hl7Time reads an HL7 DTM to the minute or finer:
// YYYYMMDDHHMM[SS[.S...]][+/-ZZZZ]. Without an offset it is London time, the
// local time of the systems that send it.
func (c *check) hl7Time(field, s string) time.Time {
	digits, offset := s, ""
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		digits, offset = s[:i], s[i:]
	}
	whole, _, _ := strings.Cut(digits, ".")
	layout, ok := map[int]string{12: "200601021504", 14: "20060102150405"}[len(whole)]
	if offset != "" {
		layout += "-0700"
	}
	t, err := time.ParseInLocation(layout, s, london)
	if !ok || err != nil {
		c.fail("%s %s is not YYYYMMDDHHMM[SS]", field, quote(s))
	}
	return t
}

func (c *check) sex(field, s string) string {
	g, ok := hl7Sex[s]
	if !ok {
		return c.fail("%s %s is not one of F, M, O, U, A, N", field, quote(s))
	}
	return g
}
