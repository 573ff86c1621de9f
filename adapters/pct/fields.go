package pct

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London on hosts without a zoneinfo database
	"unicode"
	"unicode/utf8"

	"github.com/ecm-broker/ecm-broker/adapters"
	"github.com/ecm-broker/ecm-broker/uin"
)

// The data of the catalogue events this adapter publishes (domain spec,
// "Event catalogue"; schemas/*.v1.json).
type (
	personName struct {
		Given  string `json:"given"`
		Family string `json:"family"`
	}
	address struct {
		Lines    []string `json:"lines"`
		Postcode string   `json:"postcode"`
	}
	contact struct {
		Phone string `json:"phone,omitempty"`
		Email string `json:"email,omitempty"`
	}
	registered struct {
		Name    personName `json:"name"`
		DOB     string     `json:"dob"`
		Gender  string     `json:"gender"`
		Address address    `json:"address"`
		Area    string     `json:"area"`
	}
	addressChanged struct {
		Address address `json:"address"`
		Area    string  `json:"area"`
	}
	gpRecorded struct {
		Practice practice `json:"practice"`
	}
	practice struct {
		Name    string  `json:"name"`
		Code    string  `json:"code"`
		Contact contact `json:"contact"`
	}
	// practitioner carries what each event allows: involved has all three,
	// concern.flagged name and contact, ended and withdrawn the name only.
	practitioner struct {
		Name    string   `json:"name"`
		Role    string   `json:"role,omitempty"`
		Contact *contact `json:"contact,omitempty"`
	}
	// involvement is the data of the practitioner and concern events;
	// only index.practitioner.involved has a service.
	involvement struct {
		Practitioner practitioner `json:"practitioner"`
		Service      string       `json:"service,omitempty"`
	}
)

// london is the time zone of native times that carry no offset.
var london = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var (
	postcodeRE = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$`)
	phoneRE    = regexp.MustCompile(`^[+(0-9][0-9() -]{4,23}[0-9]$`)
	emailRE    = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@" +
		`[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)
	areaRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)
	odsRE  = regexp.MustCompile(`^[A-Z][0-9]{5}$`)
)

// check reads a record's fields and keeps the first problem, so that
// mapping code reads straight through and rejects the record once at the end.
// Each method returns its field's catalogue value ("" after a problem).
type check struct {
	line int
	err  *adapters.RecordError
}

func (c *check) fail(format string, args ...any) string {
	if c.err == nil {
		c.err = adapters.Rejectf(c.line, format, args...)
	}
	return ""
}

// text is a name or other short field: present, at most 100 characters, no
// control characters.
func (c *check) text(field, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return c.fail("%s is empty", field)
	case !utf8.ValidString(s):
		return c.fail("%s is not UTF-8 text", field)
	case utf8.RuneCountInString(s) > 100:
		return c.fail("%s is longer than 100 characters", field)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return c.fail("%s contains control characters", field)
	case strings.ContainsRune(s, utf8.RuneError):
		return c.fail("%s contains U+FFFD: the text was mis-encoded before export", field)
	case strings.IndexFunc(s, isBidiControl) >= 0:
		return c.fail("%s contains bidirectional control characters, which can disguise text", field)
	}
	return s
}

// isBidiControl reports the embedding, override and isolate characters that
// the broker refuses in any text.
func isBidiControl(r rune) bool { return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 }

func (c *check) uin(field, s string) string {
	if s == "" {
		return c.fail("%s is empty", field)
	}
	if err := uin.Check(s); err != nil {
		return c.fail("%s: %v", field, err)
	}
	return s
}

// dob is a date of birth written in layout and not in the future, as
// YYYY-MM-DD.
func (c *check) dob(field, s, layout string) string {
	d, err := time.Parse(layout, s)
	switch {
	case err != nil:
		return c.fail("%s %s is not a date", field, quote(s))
	case d.After(time.Now()):
		return c.fail("%s %s is in the future", field, s)
	}
	return d.Format(time.DateOnly)
}

func (c *check) postcode(field, s string) string {
	// Agencies write "ls62ab" or "LS6  2AB"; the catalogue has "LS6 2AB".
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if len(s) > 3 {
		s = s[:len(s)-3] + " " + s[len(s)-3:]
	}
	if !postcodeRE.MatchString(s) {
		return c.fail("%s is not a UK postcode", field)
	}
	return s
}

func (c *check) address(field string, lines []string, postcode string) address {
	a := address{Postcode: c.postcode(field+" postcode", postcode)}
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			a.Lines = append(a.Lines, c.text(field+" line", l))
		}
	}
	if len(a.Lines) == 0 {
		c.fail("%s has no lines", field)
	}
	return a
}

// contact needs a phone or an email; an empty one is left out.
func (c *check) contact(field, phone, email string) contact {
	k := contact{Phone: strings.TrimSpace(phone), Email: strings.TrimSpace(email)}
	switch {
	case k.Phone == "" && k.Email == "":
		c.fail("%s has neither a phone nor an email", field)
	case k.Phone != "" && !phoneRE.MatchString(k.Phone):
		c.fail("%s phone %s is not a phone number", field, quote(k.Phone))
	case k.Email != "" && (len(k.Email) > 254 || !emailRE.MatchString(k.Email)):
		c.fail("%s email %s is not an email address", field, quote(k.Email))
	}
	return k
}

func (c *check) area(field, s string) string {
	if !areaRE.MatchString(s) {
		return c.fail("%s %s is not an area slug (like leeds)", field, quote(s))
	}
	return s
}

func (c *check) practiceCode(field, s string) string {
	if !odsRE.MatchString(s) {
		return c.fail("%s %s is not a GP practice code (like B86001)", field, quote(s))
	}
	return s
}

// quote shows a bad value in a reject, cut short: rejects are read by people.
func quote(s string) string {
	if r := []rune(s); len(r) > 30 {
		s = string(r[:30]) + "..."
	}
	return strconv.Quote(s)
}
