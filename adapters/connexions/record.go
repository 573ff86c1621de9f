package connexions

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// Role and default service of a Connexions practitioner on the index.
const (
	adviserRole    = "personal adviser"
	defaultService = "personal adviser"
)

// native is one caseload record as the CCIS exports it. Fields the broker
// does not carry are ignored.
type native struct {
	RecordID   string     `json:"record_id"`
	UIN        string     `json:"uin"`
	Kind       string     `json:"kind"`
	Status     statusCode `json:"status"`
	Since      string     `json:"since"`
	RecordedAt string     `json:"recorded_at"`
	Adviser    *struct {
		Name  string `json:"name"`
		Phone string `json:"phone"`
		Email string `json:"email"`
	} `json:"adviser"`
	Service string `json:"service"`
}

// statusCode accepts a status written as a string ("NEET", "610") or as a
// number (610), as CCIS exports differ.
type statusCode string

func (s *statusCode) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '"', 'n':
		return json.Unmarshal(b, (*string)(s))
	case 't', 'f':
		return &json.UnmarshalTypeError{Value: "bool", Type: reflect.TypeFor[string]()}
	case '{':
		return &json.UnmarshalTypeError{Value: "object", Type: reflect.TypeFor[string]()}
	case '[':
		return &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[string]()}
	}
	*s = statusCode(b) // a number literal, as written
	return nil
}

// Catalogue data shapes.
type (
	neetData struct {
		Status string `json:"status"`
		Since  string `json:"since"`
	}
	practitioner struct {
		Name    string           `json:"name"`
		Role    string           `json:"role"`
		Contact adapters.Contact `json:"contact"`
	}
	involvedData struct {
		Practitioner practitioner `json:"practitioner"`
		Service      string       `json:"service"`
	}
	practitionerName struct {
		Name string `json:"name"`
	}
	endedData struct {
		Practitioner practitionerName `json:"practitioner"`
	}
)

// mapRecord maps one JSON line to its event, or rejects it.
func mapRecord(text []byte, line int, area string, statuses *adapters.CodeBook) (adapters.Record, error) {
	var n native
	if err := json.Unmarshal(text, &n); err != nil {
		// After a type error Unmarshal has filled the other fields: name
		// the record when its id is there.
		if id, idErr := adapters.ShortField("record_id", n.RecordID); idErr == nil {
			return adapters.Record{}, adapters.Rejectf(line, "record %s: %s", id, jsonReason(err))
		}
		return adapters.Record{}, adapters.Rejectf(line, "%s", jsonReason(err))
	}
	id, err := adapters.ShortField("record_id", n.RecordID)
	if err != nil {
		return adapters.Record{}, adapters.Rejectf(line, "%v", err)
	}
	reject := func(err error) (adapters.Record, error) {
		return adapters.Record{}, adapters.Rejectf(line, "record %s: %v", id, err)
	}
	child, err := adapters.ChildUIN(n.UIN)
	if err != nil {
		return reject(err)
	}
	at, err := adapters.Timestamp("recorded_at", n.RecordedAt)
	if err != nil {
		return reject(err)
	}
	var eventName string // the catalogue name
	var data any
	switch kind := strings.TrimSpace(n.Kind); kind {
	case "status_change":
		status, err := neetStatus(statuses, string(n.Status))
		if err != nil {
			return reject(err)
		}
		since, err := adapters.ISODate("since", n.Since)
		if err != nil {
			return reject(err)
		}
		eventName, data = "connexions.neet", neetData{Status: status, Since: since}
	case "adviser_assigned":
		name, err := adviserName(n)
		if err != nil {
			return reject(err)
		}
		c, err := adapters.ContactOf("adviser", n.Adviser.Phone, n.Adviser.Email)
		if err != nil {
			return reject(err)
		}
		service := defaultService
		if strings.TrimSpace(n.Service) != "" {
			if service, err = adapters.ShortField("service", n.Service); err != nil {
				return reject(err)
			}
		}
		p := practitioner{Name: name, Role: adviserRole, Contact: c}
		eventName, data = "index.practitioner.involved", involvedData{Practitioner: p, Service: service}
	case "adviser_ended":
		name, err := adviserName(n)
		if err != nil {
			return reject(err)
		}
		eventName, data = "index.practitioner.ended", endedData{Practitioner: practitionerName{Name: name}}
	case "":
		return reject(errors.New("kind is missing"))
	default:
		return reject(fmt.Errorf("kind %q is not one of status_change, adviser_assigned, adviser_ended", adapters.Clip(kind)))
	}
	e, err := adapters.NewEvent(area, Agency{}.Name(), eventName, child, at, id, data)
	if err == nil {
		err = adapters.BrokerCheck(e)
	}
	if err != nil {
		return reject(err)
	}
	return adapters.Record{Line: line, Events: []event.Event{e}}, nil
}

// adviserName reads the name of the record's adviser.
func adviserName(n native) (string, error) {
	if n.Adviser == nil {
		return "", errors.New("adviser is missing")
	}
	return adapters.ShortField("adviser name", n.Adviser.Name)
}

// statuses is the default status code book, codes/ccis-status.csv: the
// words NEET and EET, and the three-digit CCIS current-activity codes by
// their group: 1xx education, 2xx employment and 3xx training are eet; 5xx
// and 6xx (seeking or not ready for EET, not available to the labour market)
// are neet. Other groups (custody, not known, left the cohort) say nothing
// about NEET and are not listed, so they are rejected.
//
//go:embed codes/ccis-status.csv
var statusCSV []byte

// Statuses are the catalogue's connexions.neet statuses, what a code may map to.
var Statuses = []string{"neet", "eet"}

var defaultStatuses = adapters.MustParseCodeBook("ccis-status.csv", statusCSV, Statuses...)

// neetStatus maps a status to the catalogue's neet or eet by the book.
func neetStatus(book *adapters.CodeBook, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("status is missing")
	}
	if v, ok := book.Lookup(s); ok {
		return v, nil
	}
	return "", book.Unknown("status", s)
}

// jsonReason words a JSON decoding error for a reject.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("line is a JSON %s, want an object", te.Value)
		}
		return fmt.Sprintf("%s is a JSON %s, want a %s", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, err)
	}
	return "not valid JSON: " + err.Error()
}
