package cenats

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// DescribeJSONError says why input is not the JSON expected without
// repeating the input: the broker stores the reason in the dead letters and
// the audit, and the input is about a child. encoding/json's syntax errors
// quote one character at most and are kept; a type error says the kind of
// value found (its Value can hold a number, which is dropped); anything else
// is said in general terms.
func DescribeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &syntax):
		return syntax.Error()
	case errors.As(err, &typ):
		kind, literal, _ := strings.Cut(typ.Value, " ") // "number 1e999": the kind only
		if literal != "" {
			return "it is a JSON " + kind + " too large or too precise to read"
		}
		return "it is a JSON " + kind
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "unexpected end of JSON input"
	}
	return "it cannot be read as JSON"
}
