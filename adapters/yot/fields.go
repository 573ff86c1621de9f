package yot

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
// leave out (the shape of a phone number or an email address, how far ahead
// a date may be) brokerCheck catches with the catalogue's own schemas.

// maxShort bounds names and short fields.
const maxShort = 100

// contact is the spec's {phone?, email?}, at least one present.
type contact struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

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

// isoDate checks an ISO 8601 calendar date (2026-03-01).
func isoDate(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", fmt.Errorf("%s %q is not a date of the form YYYY-MM-DD", field, clip(s))
	}
	return t.Format(time.DateOnly), nil
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

// contactOf builds a contact from a phone number and an email address, either
// of which may be empty but not both. Their formats are left to brokerCheck.
func contactOf(field, phone, email string) (contact, error) {
	var c contact
	phone, email = strings.TrimSpace(phone), strings.TrimSpace(email)
	if phone == "" && email == "" {
		return c, fmt.Errorf("%s has neither a phone number nor an email address", field)
	}
	var err error
	if phone != "" {
		if c.Phone, err = shortField(field+" phone", phone); err != nil {
			return c, err
		}
	}
	if email != "" {
		if c.Email, err = shortField(field+" email", email); err != nil {
			return c, err
		}
	}
	return c, nil
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
