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
// events.
//
// A message maps in parts. What every part needs (the message type, time and
// control id, and the child's NHS number) rejects the message whole when it
// is wrong: the error. Each event beyond that (registration or address
// change, GP practice) is mapped on its own: the record holds those that
// could be, leftOut says why each of the others was left out, so that a
// registration is not lost because its practice has no phone number.
func mapMessage(m *message, area string, practices *Practices) (rec adapters.Record, leftOut []*adapters.RecordError, err error) {
	rec = adapters.Record{Line: m.line}
	msh := &m.segs[0]
	trigger := m.comp(msh.field(9), 2)
	if trigger == "" { // HL7 2.3 senders may give the trigger in EVN-1 only
		trigger = m.comp(m.segment("EVN").field(1), 1)
	}
	registers := trigger == "A04" || trigger == "A28"
	updates := trigger == "A08" || trigger == "A31"
	if m.comp(msh.field(9), 1) != "ADT" || !registers && !updates {
		return rec, nil, nil
	}

	c := &check{line: m.line}
	at := c.hl7Time("MSH-7 message time", m.comp(msh.field(7), 1))
	control := c.text("MSH-10 message control id", m.comp(msh.field(10), 1))
	pid := m.segment("PID")
	if pid == nil {
		c.fail("ADT^%s message has no PID segment", trigger)
	}
	child := nhsNumber(c, m, pid.field(3))
	nhsNumberStatus(c, m, pid.field(32))
	if c.err != nil {
		return rec, nil, c.err
	}
	// Control ids are unique per sending system only, and one area's PCT
	// may run several systems.
	key := strings.Join([]string{msh.field(3), msh.field(4), control}, "|")

	// part maps one event with its own check; a problem leaves it out.
	part := func(name string, mapData func(c *check) any) error {
		pc := &check{line: m.line}
		data := mapData(pc)
		if pc.err != nil {
			leftOut = append(leftOut, adapters.Rejectf(m.line, "%s left out: %s", name, pc.err.Reason))
			return nil
		}
		e, err := adapters.NewEvent(area, agency, name, child, at, key, data)
		if err != nil {
			return err
		}
		rec.Events = append(rec.Events, e)
		return nil
	}

	addr := homeAddress(m, pid.field(11))
	switch {
	case registers:
		err = part("index.child.registered", func(c *check) any {
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
			return reg
		})
	case addr != "":
		err = part("index.address.changed", func(c *check) any {
			var ch addressChanged
			ch.Address, ch.Area = mapAddress(c, m, addr, area)
			return ch
		})
	}
	if err != nil {
		return rec, nil, err
	}
	if org, ok := primaryPractice(m); ok {
		err = part("index.gp.recorded", func(c *check) any {
			return gpRecorded{gpPractice(c, m, org, practices)}
		})
	}
	return rec, leftOut, err
}

// nhsNumber is the child's UIN: the NHS number among PID-3's identifiers
// (identifier type CX-5 NH, or, from HL7 2.3 senders that leave the type
// out, assigning authority CX-4 NHS). Hospital numbers, local patient ids
// and the like beside it are ignored.
func nhsNumber(c *check, m *message, field string) string {
	var found string
	for _, rep := range m.reps(field) {
		typ := m.comp(rep, 5)
		if typ != "NH" && (typ != "" || m.comp(rep, 4) != "NHS") {
			continue
		}
		id := strings.ReplaceAll(m.comp(rep, 1), " ", "") // "943 476 5919" as printed on letters
		if found != "" && id != found {
			return c.fail("PID-3 holds two different NHS numbers")
		}
		found = id
	}
	if found == "" {
		return c.fail("PID-3 has no NHS number (identifier type NH, or assigning authority NHS)")
	}
	return c.uin("PID-3 NHS number", found)
}

// nhsNumberStatus checks PID-32, the identity reliability code, which NHS
// HL7 v2 messages (ITK) use for the NHS number status indicator: the codes
// of the FHIR verification status (nhsVerificationStatus). As for a FHIR
// Patient, only 01 "number present and verified" is taken: a number not
// traced, or in dispute, may name another child, whose records this
// child's would then join. An empty PID-32 is accepted: HL7 2.3 has no
// PID-32 and many PAS exports leave it out; the number still passes the
// check-digit test.
func nhsNumberStatus(c *check, m *message, field string) {
	status := ""
	for _, rep := range m.reps(field) {
		if status = strings.TrimSpace(m.comp(rep, 1)); status != "" {
			break
		}
	}
	if status == "" || status == nhsVerified {
		return
	}
	what := nhsVerificationStatus[status]
	if what == "" {
		what = "not a known status"
	}
	c.fail("PID-32 NHS number status is %s (%s), not 01 (number present and verified)", quote(status), what)
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

// primaryPractice is PD1-3, the patient's primary facility: the registered
// GP practice, an XON. ok is false when the message names none.
func primaryPractice(m *message) (org string, ok bool) {
	orgs := m.reps(m.segment("PD1").field(3))
	for _, o := range orgs {
		if m.comp(o, 1)+m.comp(o, 3)+m.comp(o, 10) != "" {
			return o, true
		}
	}
	return "", false
}

// gpPractice maps the practice of PD1-3: its ODS code from XON-3 (HL7 2.3
// and 2.4) or XON-10 (2.5), its name from XON-1. XON has no telecom
// component, so the contact comes from the local ZGP segment when the sender
// adds one (ZGP-1, an XTN list: a phone in XTN-1, an email in XTN-4, as
// ^NET^Internet^a@b); the practice file fills in what the message lacks.
func gpPractice(c *check, m *message, org string, practices *Practices) practice {
	code := m.comp(org, 3)
	if code == "" {
		code = m.comp(org, 10)
	}
	var phone, email string
	for _, xtn := range m.reps(m.segment("ZGP").field(1)) {
		if v := m.comp(xtn, 4); v != "" && email == "" {
			email = v
		} else if v := m.comp(xtn, 1); v != "" && phone == "" {
			phone = v
		}
	}
	return namedPractice{
		field: "PD1-3", code: code,
		nameField: "PD1-3.1 practice name", name: m.comp(org, 1),
		contactField: "ZGP-1 contact of practice", phone: phone, email: email,
		noContact: "the message has no ZGP segment",
	}.complete(c, practices)
}

// namedPractice is a GP practice as a message names it: always by its ODS
// code, with its name and contact when the sender gives them.
type namedPractice struct {
	field, code                string // where the code is, the code
	nameField, name            string
	contactField, phone, email string
	noContact                  string // why the message gives no contact
}

// complete checks the practice and fills in its name and phone from the
// practice file where the message has none. The message's contact wins: the
// sender knows the practice's own line; the file gives its main number. A
// practice the file lists as closed is refused, whatever the message says.
func (n namedPractice) complete(c *check, practices *Practices) practice {
	code := c.practiceCode(n.field+" practice code", n.code)
	if c.err != nil {
		return practice{}
	}
	var ods odsPractice
	known := false
	var reloadErr error
	if practices != nil {
		ods, known, reloadErr = practices.lookup(code)
	}
	if known && ods.status == "C" {
		c.fail("%s practice %s is closed in the practice file (epraccur status C)", n.field, code)
		return practice{}
	}
	phone, email, field := n.phone, n.email, n.contactField+" "+code
	if phone == "" && email == "" {
		phone, field = ods.phone, "phone of practice "+code+" in the practice file"
		switch {
		case !known:
			c.fail("%s practice %s has no contact: %s and %s", n.field, code, n.noContact, notInFile(code, practices, reloadErr))
			return practice{}
		case phone == "":
			c.fail("%s practice %s has no contact: %s and the practice file gives no phone (column 18) for it", n.field, code, n.noContact)
			return practice{}
		}
	}
	name := n.name
	if name == "" {
		name = ods.name
	}
	if name == "" {
		c.fail("%s is empty and %s", n.nameField, notInFile(code, practices, reloadErr))
		return practice{}
	}
	return practice{
		Name:    c.text(n.nameField, name),
		Code:    code,
		Contact: c.contact(field, phone, email),
	}
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
