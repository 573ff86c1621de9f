package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Limits of the date checks that JSON Schema cannot express.
const (
	// clockSkew is how far ahead of the broker's clock a publisher's
	// occurred_at time may be before it counts as in the future.
	clockSkew = 5 * time.Minute
	// maxYearsAhead bounds every date: nobody is in scope beyond 25
	// (s.10(9)), so no date about a child in scope lies further ahead than
	// 25 years. A later date is a typing error in the year.
	maxYearsAhead = 25
)

// dateRule says what the broker checks on a date or date-time field beyond
// its format. Fields are known by name, wherever they stand in the data;
// TestDateFieldsKnown keeps this table in step with the schemas.
type dateRule int

const (
	plausible dateRule = iota // not more than maxYearsAhead years ahead
	notFuture                 // not after today (UK) or now, and plausible
)

var dateFields = map[string]dateRule{
	"dob":         notFuture,
	"last_seen":   notFuture,
	"occurred_at": notFuture,
	"flagged_at":  notFuture,
	"ended":       notFuture,
	"claimed_at":  notFuture,
	"since":       plausible, // connexions status since: may be announced ahead
	"from":        plausible, // a school place may start next term
	"to":          plausible,
	"start":       plausible,
	"end":         plausible,
	"expires":     plausible,
}

// datePairs are fields in one object where the second must not be before
// the first.
var datePairs = [][2]string{{"from", "to"}, {"start", "end"}, {"since", "ended"}}

// patternHelp explains, for each definition in defs.v1.json that has a
// pattern, what a value must look like. TestPatternsExplained keeps it in
// step with the schemas.
var patternHelp = map[string]string{
	"shortText":      "must be printable text, not blank, with no control characters (no tabs or line breaks)",
	"freeText":       "must not be blank and must have no control characters other than tabs and line breaks",
	"area":           "must be an area slug: a lower-case letter then 1 to 39 lower-case letters, digits or hyphens, e.g. leeds",
	"participant":    "must be a participant id <area>/<agency>, e.g. leeds/pct, where agency is one of la-social-care, lea, pct, connexions, yot, police",
	"phone":          "must be a telephone number of digits, spaces, brackets and hyphens, optionally starting with +, e.g. 0113 496 0000",
	"postcode":       "must be a UK postcode in capitals with one space, e.g. LS1 4AP",
	"gpPracticeCode": "must be a GP practice code: one capital letter and five digits, e.g. B86001",
}

// conditionNote says when a limit that an if/then of a schema imposes
// applies, keyed by the limit's schema location.
var conditionNote = map[string]string{
	DefsID + "#/$defs/involvement/then/properties/ended":       " while active is true",
	SchemaID("education.exclusion") + "#/then/properties/days": " for a fixed-period exclusion",
}

// checker gathers the problems of one event's data.
type checker struct {
	entry Entry
	root  any
	// The date checks' bounds, from the broker's clock: today's date in
	// the UK, the latest time that is not in the future, the latest date
	// that is plausible.
	today, latest, limit time.Time
	problems             []string
	// textProblem holds the paths whose string the walk found bad, so that
	// the schema's text pattern does not report the same string again.
	textProblem map[string]bool
}

func newChecker(entry Entry, root any, now time.Time) *checker {
	return &checker{
		entry:       entry,
		root:        root,
		today:       ukDate(now),
		latest:      now.Add(clockSkew),
		limit:       now.AddDate(maxYearsAhead, 0, 0),
		textProblem: map[string]bool{},
	}
}

func (c *checker) add(path, msg string) { c.problems = append(c.problems, path+": "+msg) }

// result returns the problems sorted by path, without duplicates, and never
// nil.
func (c *checker) result() []string {
	slices.Sort(c.problems)
	c.problems = slices.Compact(c.problems)
	if c.problems == nil {
		return []string{}
	}
	return c.problems
}

// step is one element of a path: an object key or an array index.
type step struct {
	key   string
	index int
	isKey bool
}

func formatPath(steps []step) string {
	var sb strings.Builder
	sb.WriteString("data")
	for _, s := range steps {
		if !s.isKey {
			sb.WriteString("[" + strconv.Itoa(s.index) + "]")
		} else if ShowName(s.key) {
			sb.WriteString("." + s.key)
		} else {
			sb.WriteString("." + NameWithheld) // a key that may be data (redact.go)
		}
	}
	return sb.String()
}

// instancePath turns a jsonschema instance location into our path form,
// looking at the data to tell array indexes from object keys.
func (c *checker) instancePath(tokens []string) string {
	steps := make([]step, 0, len(tokens))
	v := c.root
	for _, t := range tokens {
		switch x := v.(type) {
		case []any:
			i, _ := strconv.Atoi(t)
			steps = append(steps, step{index: i})
			if i >= 0 && i < len(x) {
				v = x[i]
			} else {
				v = nil
			}
		case map[string]any:
			steps = append(steps, step{key: t, isKey: true})
			v = x[t]
		default:
			steps = append(steps, step{key: t, isKey: true})
			v = nil
		}
	}
	return formatPath(steps)
}

// walk visits every value once: strings for characters no field may hold,
// objects for the date rules.
func (c *checker) walk(v any, path []step) {
	switch x := v.(type) {
	case string:
		if msg := badText(x); msg != "" {
			p := formatPath(path)
			c.textProblem[p] = true
			c.add(p, msg)
		}
	case []any:
		for i, e := range x {
			c.walk(e, append(path, step{index: i}))
		}
	case map[string]any:
		for k, e := range x {
			c.walk(e, append(path, step{key: k, isKey: true}))
		}
		c.checkDates(x, path)
	}
}

// badText reports the first character of s that no field may hold. Tabs
// and line breaks are left to the schemas, which allow them in free text
// only. The data was valid UTF-8, so U+FFFD can only come from an
// unpaired surrogate escape or from text that was mis-decoded upstream.
func badText(s string) string {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case unicode.Is(unicode.Cc, r):
			return fmt.Sprintf("contains control character U+%04X; remove it", r)
		case r == unicode.ReplacementChar:
			return "contains U+FFFD or an unpaired surrogate escape: the text was mis-encoded before publishing"
		case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
			return fmt.Sprintf("contains bidirectional control character U+%04X, which can disguise text; remove it", r)
		}
	}
	return ""
}

// parseDate reads a value of the date or dateTime definition; ok is false
// when the schema's format check will report it instead.
func parseDate(v any) (t time.Time, dateOnly, ok bool) {
	s, isStr := v.(string)
	if !isStr {
		return time.Time{}, false, false
	}
	if len(s) == len("2006-01-02") {
		t, err := time.Parse(time.DateOnly, s)
		return t, true, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, false, err == nil
}

func (c *checker) checkDates(obj map[string]any, path []step) {
	for k, v := range obj {
		rule, known := dateFields[k]
		if !known {
			continue
		}
		t, dateOnly, ok := parseDate(v)
		if !ok {
			continue
		}
		p := formatPath(append(path, step{key: k, isKey: true}))
		switch {
		case rule == notFuture && dateOnly && t.After(c.today):
			c.add(p, "must not be in the future")
		case rule == notFuture && !dateOnly && t.After(c.latest):
			c.add(p, "must not be in the future")
		case t.After(c.limit):
			c.add(p, fmt.Sprintf("is more than %d years ahead; check the year", maxYearsAhead))
		}
	}
	for _, pair := range datePairs {
		a, aok := dateField(obj, pair[0])
		b, bok := dateField(obj, pair[1])
		if aok && bok && b.Before(a) {
			p := formatPath(append(path, step{key: pair[1], isKey: true}))
			c.add(p, "must not be before "+formatPath(append(path, step{key: pair[0], isKey: true})))
		}
	}
}

// ukDate is the calendar date in the UK at t, as midnight UTC: a baby born
// at 00:30 British Summer Time is not born "tomorrow". BST runs from 01:00
// UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
// October (Summer Time Order 2002); computing it here spares the broker a
// dependency on the host's time zone database.
func ukDate(t time.Time) time.Time {
	t = t.UTC()
	y := t.Year()
	if !t.Before(lastSunday(y, time.March)) && t.Before(lastSunday(y, time.October)) {
		t = t.Add(time.Hour)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// lastSunday returns 01:00 UTC on the last Sunday of month m of year y.
func lastSunday(y int, m time.Month) time.Time {
	d := time.Date(y, m+1, 0, 1, 0, 0, 0, time.UTC) // last day of m
	return d.AddDate(0, 0, -int(d.Weekday()))
}

func dateField(obj map[string]any, key string) (time.Time, bool) {
	v, present := obj[key]
	if !present {
		return time.Time{}, false
	}
	t, _, ok := parseDate(v)
	return t, ok
}

// collect turns a jsonschema error tree into problems, one per leaf.
func (c *checker) collect(e *jsonschema.ValidationError) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		// "at least one of" (contact, index.flags.set) is written as
		// anyOf of required; say it as one problem, not one per branch.
		if names, ok := alternatives(e); ok {
			c.add(c.instancePath(e.InstanceLocation), "needs at least one of "+joinQuoted(names))
			return
		}
	}
	if len(e.Causes) > 0 {
		for _, cause := range e.Causes {
			c.collect(cause)
		}
		return
	}
	c.leaf(e)
}

// alternatives returns the missing property names when every branch of an
// anyOf failed only because a property at the same place is missing.
func alternatives(e *jsonschema.ValidationError) ([]string, bool) {
	var names []string
	var visit func(x *jsonschema.ValidationError) bool
	visit = func(x *jsonschema.ValidationError) bool {
		if len(x.Causes) > 0 {
			for _, cause := range x.Causes {
				if !visit(cause) {
					return false
				}
			}
			return true
		}
		r, ok := x.ErrorKind.(*kind.Required)
		if !ok || !slices.Equal(x.InstanceLocation, e.InstanceLocation) {
			return false
		}
		names = append(names, r.Missing...)
		return true
	}
	if len(e.Causes) == 0 || !visit(e) {
		return nil, false
	}
	return names, true
}

func (c *checker) leaf(e *jsonschema.ValidationError) {
	path := c.instancePath(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			c.add(c.instancePath(append(slices.Clone(e.InstanceLocation), m)), "required")
		}
	case *kind.AdditionalProperties:
		why := fmt.Sprintf(" (not in the %s schema)", c.entry.Name)
		if c.entry.Index {
			why = " (index events carry s.12(4) basic data only)"
		}
		for _, p := range k.Properties {
			c.add(path, "unknown field "+QuoteName(p)+why)
		}
	case *kind.Type:
		c.add(path, "must be "+withArticle(k.Want)+", got "+k.Got)
	case *kind.Enum:
		c.add(path, "must be one of "+displayList(k.Want)) // never the value given (redact.go)
	case *kind.Const:
		c.add(path, "must be "+display(k.Want))
	case *kind.Format:
		c.add(path, formatHelp(k))
	case *kind.Pattern:
		def := defName(e.SchemaURL)
		if (def == "shortText" || def == "freeText") && c.textProblem[path] {
			return // the walk has said which character is wrong
		}
		if help, ok := patternHelp[def]; ok {
			c.add(path, help)
		} else {
			c.add(path, "is not in the expected form (pattern "+k.Want+")")
		}
	case *kind.MinLength:
		if k.Want == 1 {
			c.add(path, "must not be empty")
		} else {
			c.add(path, fmt.Sprintf("must be at least %d characters", k.Want))
		}
	case *kind.MaxLength:
		c.add(path, fmt.Sprintf("must be at most %d characters, got %d", k.Want, k.Got))
	case *kind.MinItems:
		c.add(path, fmt.Sprintf("must have at least %d %s", k.Want, plural(k.Want, "item")))
	case *kind.MaxItems:
		c.add(path, fmt.Sprintf("must have at most %d %s, got %d", k.Want, plural(k.Want, "item"), k.Got))
	case *kind.UniqueItems:
		c.add(path, fmt.Sprintf("items %d and %d are the same; list each once", k.Duplicates[0], k.Duplicates[1]))
	case *kind.Minimum:
		c.add(path, "must be at least "+ratString(k.Want)+conditionNote[e.SchemaURL])
	case *kind.Maximum:
		c.add(path, "must be at most "+ratString(k.Want)+conditionNote[e.SchemaURL])
	case *kind.FalseSchema:
		c.add(path, "must not be present"+conditionNote[e.SchemaURL])
	default:
		// A keyword the schemas do not use today. The library's wording
		// can quote the value, so name the keyword only.
		c.add(path, "does not meet the schema's "+strings.Join(e.ErrorKind.KeywordPath(), "/")+" rule")
	}
}

// defName returns the definition name of a location in defs.v1.json
// ("urn:uk.gov.ecm:schema:defs.v1#/$defs/postcode" gives "postcode"), or
// "".
func defName(schemaURL string) string {
	rest, ok := strings.CutPrefix(schemaURL, DefsID+"#/$defs/")
	if !ok || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

func formatHelp(k *kind.Format) string {
	switch k.Want {
	case "date":
		return "must be a date written YYYY-MM-DD, e.g. 2014-05-02"
	case "date-time":
		return "must be a date and time in RFC 3339 form with an offset, e.g. 2026-05-02T10:00:00Z"
	case "email":
		// Not the library's reason: it can quote a character of the value.
		return "must be an email address, e.g. name@example.org"
	}
	return "must be a valid " + k.Want
}

func withArticle(types []string) string {
	out := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "object", "array", "integer":
			out[i] = "an " + t
		case "null":
			out[i] = t
		default:
			out[i] = "a " + t
		}
	}
	return strings.Join(out, " or ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(3)
}

// display writes a scalar from a schema (an enum or const value) for a
// message. Never a value from the data: see redact.go.
func display(v any) string {
	switch x := v.(type) {
	case string:
		return quoteTrunc(x, 40)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprint(v)
}

func displayList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = display(v)
	}
	return strings.Join(parts, ", ")
}

func joinQuoted(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = strconv.Quote(n)
	}
	return strings.Join(parts, ", ")
}

// quoteTrunc quotes s (escaping control characters) after cutting it to
// max characters.
func quoteTrunc(s string, max int) string {
	if utf8Count := len([]rune(s)); utf8Count > max {
		return strconv.Quote(string([]rune(s)[:max])) + "..."
	}
	return strconv.Quote(s)
}
