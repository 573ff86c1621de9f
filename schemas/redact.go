package schemas

// A problem with an event is stored: in the dead letters' reasons and in the
// audit, which nobody can delete and erasure does not touch. So a problem
// names the field and the rule broken and never repeats what the publisher
// sent: no string value, no enum value given, no date, no UIN. It may say a
// value's JSON kind, its length or a count, and it may quote values from the
// schema (the enum values allowed).
//
// Keys are names chosen by the publisher's software, and naming the unknown
// field "notes" is what lets an agency fix its export. But a key can itself
// be data (a child's name or UIN used as a key), so a name is repeated only
// when it has the form every field name of the catalogue has: lower_snake_case
// ASCII of at most 40 characters. Any other key is written as NameWithheld.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// NameWithheld stands for a key or attribute name that a problem does not
// repeat (see ShowName).
const NameWithheld = "<name withheld>"

var fieldNameForm = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ShowName reports whether a key or attribute name taken from an event may
// be repeated in a problem: only when it has the form of a catalogue field
// name (lower_snake_case, at most 40 characters).
func ShowName(name string) bool { return fieldNameForm.MatchString(name) }

// QuoteName writes a key or attribute name from an event for a problem:
// quoted when ShowName allows it, NameWithheld otherwise.
func QuoteName(name string) string {
	if ShowName(name) {
		return strconv.Quote(name)
	}
	return NameWithheld
}

// errTrailing is jsonschema.UnmarshalJSON's error for data followed by more
// than white space; it holds none of the input.
const errTrailing = "invalid character after top-level value"

// jsonProblem says why data is not valid JSON without repeating it.
// encoding/json's syntax errors quote one character at most (never a
// value); a type error can carry a number, so only the kind is kept.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return syntax.Error()
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ")
		return fmt.Sprintf("a JSON %s where another kind of value was expected, at byte %d", kind, typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "unexpected end of JSON input"
	case err.Error() == errTrailing:
		return errTrailing
	}
	return "cannot be read as JSON"
}
