package police

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/broker/uin"
	"github.com/ecm-broker/ecm-broker/schemas"
)

// Checks for the formats of the domain spec (shared/spec/domain.md,
// "Formats"). Each returns the cleaned value or an error that names the
// native field and what is wrong, worded for the agency's IT team. What they
// leave out (control characters in free text, times in the future)
// brokerCheck catches with the catalogue's own schemas.

const (
	maxShort = 100  // names and short fields
	maxText  = 4000 // free text
)

// shortField trims s and checks it is present, at most 100 characters and
// free of control characters.
func shortField(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	if n := utf8.RuneCountInString(s); n > maxShort {
		return "", fmt.Errorf("%s is %d characters long, at most %d allowed", field, n, maxShort)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%s contains a control character", field)
	}
	return s, nil
}

// childUIN strips the spaces of the usual 3-3-4 writing and checks the
// mod-11 check digit. The error does not repeat the number.
func childUIN(s string) (string, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if s == "" {
		return "", fmt.Errorf("uin is missing")
	}
	if err := uin.Check(s); err != nil {
		return "", err
	}
	return s, nil
}

// freeText trims s and checks it is present and at most 4,000 characters.
// Line breaks and tabs are allowed; other control characters are left to
// brokerCheck.
func freeText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	if n := utf8.RuneCountInString(s); n > maxText {
		return "", fmt.Errorf("%s is %d characters long, at most %d allowed", field, n, maxText)
	}
	return s, nil
}

// timestamp checks an RFC 3339 time (2026-03-02T09:00:00Z).
func timestamp(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is missing", field)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-03-02T09:00:00Z", field, clip(s))
	}
	return t, nil
}

// brokerCheck refuses an event the broker would refuse on ingest, by the
// same schemas.Validate, so that the record lands in the agency's rejects
// file instead of the broker's dead letters.
func brokerCheck(e event.Event) error {
	if problems := schemas.Validate(e.Type(), e.Data(), time.Now()); len(problems) > 0 {
		return fmt.Errorf("the broker would refuse the event: %s", strings.Join(problems, "; "))
	}
	return nil
}

// clip shortens a native value quoted in a reject reason.
func clip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}
