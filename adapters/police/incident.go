package police

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// native is one incident notification. Fields the broker does not carry
// (officers, offenders, locations) are not read.
type native struct {
	IncidentID string            `json:"incident_id"`
	Kind       string            `json:"kind"`
	OccurredAt string            `json:"occurred_at"`
	ReportedAt string            `json:"reported_at"`
	Summary    string            `json:"summary"`
	Children   []json.RawMessage `json:"children"` // decoded one by one: a bad entry rejects one child
}

// nativeChild is one entry of an incident's children.
type nativeChild struct {
	UIN     string `json:"uin"`
	Present *bool  `json:"present"`
}

// incidentData is the catalogue's police.incident.
type incidentData struct {
	Kind         string `json:"kind"`
	OccurredAt   string `json:"occurred_at"`
	ChildPresent bool   `json:"child_present"`
	Summary      string `json:"summary"`
}

// mapIncident maps incident number n to a record of its children's events
// and a reject for each child that cannot be published. err rejects the
// whole incident.
func mapIncident(raw json.RawMessage, n int, area string, kinds *adapters.CodeBook) (rec adapters.Record, rejects []*adapters.RecordError, err error) {
	// Rejects name the incident, by its place in the export and its
	// reference, never a "line": a JSON export has no lines to speak of.
	name := fmt.Sprintf("incident %d", n)
	rejectf := func(format string, args ...any) *adapters.RecordError {
		return &adapters.RecordError{Line: n, Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	var in native
	if err := json.Unmarshal(raw, &in); err != nil {
		if id, idErr := adapters.ShortField("incident_id", in.IncidentID); idErr == nil {
			name = fmt.Sprintf("incident %d (%s)", n, id)
		}
		return rec, nil, rejectf("%s", jsonReason(err, "incident"))
	}
	id, err := adapters.ShortField("incident_id", in.IncidentID)
	if err != nil {
		return rec, nil, rejectf("%v", err)
	}
	name = fmt.Sprintf("incident %d (%s)", n, id)
	reject := func(err error) (adapters.Record, []*adapters.RecordError, error) {
		return adapters.Record{}, nil, rejectf("%v", err)
	}
	kind, err := incidentKind(kinds, in.Kind)
	if err != nil {
		return reject(err)
	}
	occurred, err := adapters.Timestamp("occurred_at", in.OccurredAt)
	if err != nil {
		return reject(err)
	}
	reported, err := adapters.Timestamp("reported_at", in.ReportedAt)
	if err != nil {
		return reject(err)
	}
	summary, err := adapters.FreeText("summary", in.Summary)
	if err != nil {
		return reject(err)
	}
	if len(in.Children) == 0 {
		return reject(errors.New("children is empty: the incident names no child"))
	}

	rec.Line, rec.Name = n, name
	seen := map[string]bool{}
	for i, raw := range in.Children {
		var c nativeChild
		var child string
		err := json.Unmarshal(raw, &c)
		if err != nil {
			err = errors.New(jsonReason(err, "child"))
		} else {
			child, err = adapters.ChildUIN(c.UIN)
		}
		switch {
		case err != nil:
		case seen[child]:
			err = errors.New("the child is listed twice in the incident")
		case c.Present == nil:
			err = errors.New("present is missing: say whether the child was present")
		}
		if err != nil {
			rejects = append(rejects, rejectf("children[%d]: %v", i, err))
			continue
		}
		seen[child] = true
		data := incidentData{
			Kind:         kind,
			OccurredAt:   occurred.UTC().Format(time.RFC3339),
			ChildPresent: *c.Present,
			Summary:      summary,
		}
		e, err := adapters.NewEvent(area, Agency{}.Name(), "police.incident", child, reported, id+"/"+child, data)
		if err == nil {
			err = adapters.BrokerCheck(e)
		}
		if err != nil {
			// The data is the incident's, whichever the child: its fault
			// is the incident's.
			return reject(err)
		}
		rec.Events = append(rec.Events, e)
	}
	return rec, rejects, nil
}

// kinds is the default incident kinds code book, codes/incident-kinds.csv:
// a force's incident categories mapped to the catalogue's kinds. A category
// it does not list is rejected rather than guessed: a domestic abuse
// incident published as "other" would not reach the child's school (rule 7).
//
//go:embed codes/incident-kinds.csv
var kindsCSV []byte

// Kinds are the catalogue's police.incident kinds, what a code may map to.
var Kinds = []string{"domestic_abuse", "missing_person", "other"}

var defaultKinds = adapters.MustParseCodeBook("incident-kinds.csv", kindsCSV, Kinds...)

func incidentKind(book *adapters.CodeBook, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", errors.New("kind is missing")
	}
	if k, ok := book.Lookup(s); ok {
		return k, nil
	}
	return "", book.Unknown("kind", s)
}

// jsonReason words a JSON decoding error of an incident or a child entry
// (what) for a reject.
func jsonReason(err error, what string) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("%s is a JSON %s, want an object", what, te.Value)
		}
		return fmt.Sprintf("%s is a JSON %s, want a %s", te.Field, te.Value, te.Type)
	}
	return "not valid JSON: " + err.Error()
}
