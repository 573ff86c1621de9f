package adapters

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
)

// Checks for the formats of the domain spec (shared/spec/domain.md,
// "Formats"). Each returns the cleaned value or an error that names the
// native field and what is wrong, worded for the agency's IT team. What they
// leave out (the shape of a phone number or an email address, how far ahead
// a date may be) BrokerCheck catches with the catalogue's own schemas.

const (
	maxShort = 100  // names and short fields
	maxText  = 4000 // free text
)

// Contact is the spec's {phone?, email?}, at least one present.
type Contact struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// ShortField trims s and checks it is present, at most 100 characters and
// free of control characters.
func ShortField(field, s string) (string, error) {
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

// ChildUIN strips the spaces of the usual 3-3-4 writing and checks the
// mod-11 check digit. The error does not repeat the number.
func ChildUIN(s string) (string, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if s == "" {
		return "", fmt.Errorf("uin is missing")
	}
	if err := uin.Check(s); err != nil {
		return "", err
	}
	return s, nil
}

// ISODate checks an ISO 8601 calendar date (2026-03-01).
func ISODate(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", fmt.Errorf("%s %q is not a date of the form YYYY-MM-DD", field, Clip(s))
	}
	return t.Format(time.DateOnly), nil
}

// Timestamp checks an RFC 3339 time (2026-03-02T09:00:00Z).
func Timestamp(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is missing", field)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-03-02T09:00:00Z", field, Clip(s))
	}
	return t, nil
}

// ContactOf builds a contact from a phone number and an email address, either
// of which may be empty but not both. Their formats are left to BrokerCheck.
func ContactOf(field, phone, email string) (Contact, error) {
	var c Contact
	phone, email = strings.TrimSpace(phone), strings.TrimSpace(email)
	if phone == "" && email == "" {
		return c, fmt.Errorf("%s has neither a phone number nor an email address", field)
	}
	var err error
	if phone != "" {
		if c.Phone, err = ShortField(field+" phone", phone); err != nil {
			return c, err
		}
	}
	if email != "" {
		if c.Email, err = ShortField(field+" email", email); err != nil {
			return c, err
		}
	}
	return c, nil
}

// BrokerCheck refuses an event the broker would refuse on ingest, by the
// same schemas.Validate, so that the record lands in the agency's rejects
// file instead of the broker's dead letters.
func BrokerCheck(e event.Event) error {
	if problems := schemas.Validate(e.Type(), e.Data(), time.Now()); len(problems) > 0 {
		return fmt.Errorf("the broker would refuse the event: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Clip shortens a native value quoted in a reject reason.
func Clip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// FreeText trims s and checks it is present and at most 4,000 characters.
// Line breaks and tabs are allowed; other control characters are left to
// brokerCheck.
func FreeText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	if n := utf8.RuneCountInString(s); n > maxText {
		return "", fmt.Errorf("%s is %d characters long, at most %d allowed", field, n, maxText)
	}
	return s, nil
}
