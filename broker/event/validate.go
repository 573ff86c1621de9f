package event

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
)

// knownAttrs are the CloudEvents context attributes and the catalogue's two
// extensions (spec: override, practitioner). Any other attribute is refused:
// an unknown extension would travel to every recipient unchecked.
var knownAttrs = map[string]bool{"specversion": true, "id": true, "source": true, "type": true, "subject": true,
	"time": true, "datacontenttype": true, "dataschema": true, "override": true, "practitioner": true}

var (
	extensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)
	required      = []string{"specversion", "id", "source", "type", "subject"}
	stringAttrs   = map[string]bool{"specversion": true, "id": true, "source": true, "type": true, "subject": true,
		"time": true, "datacontenttype": true, "dataschema": true, "override": true, "practitioner": true}
)

// Validate checks a received event against CloudEvents 1.0.2, the UIN rule,
// the catalogue and the JSON Schema of its type, for a publisher, and returns
// the event or every problem found.
func Validate(r cenats.Raw, publisher string, now time.Time) (*Event, []api.Problem) {
	var probs []api.Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, api.Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	for _, name := range required {
		if _, ok := r.Attrs[name]; !ok {
			add(name, "required attribute is missing")
		}
	}
	for _, name := range r.Duplicates { // cenats/duplicates.go: last value kept, bytes hold all
		add(attrField(name), "is given more than once: the broker cannot tell which value is meant; send each attribute once")
	}
	str := map[string]string{}
	for _, name := range r.Names() {
		v := r.Attrs[name]
		if !extensionName.MatchString(name) {
			add("attributes", "%s: attribute names are 1-20 lower-case letters or digits", schemas.QuoteName(name))
			continue
		}
		if !knownAttrs[name] {
			add(attrField(name), "unknown attribute: events carry the CloudEvents attributes and the extensions override and practitioner only")
			continue
		}
		s, ok := v.(string)
		if stringAttrs[name] && !ok {
			add(name, "must be a string, got %s", jsonKind(v))
			continue
		}
		if ok {
			if !utf8.ValidString(s) {
				add(name, "is not valid UTF-8")
				continue
			}
			if strings.ContainsRune(s, utf8.RuneError) {
				add(name, "contains U+FFFD: the sender's text was not valid UTF-8")
				continue
			}
			if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }); i >= 0 {
				add(name, "contains a control character at byte %d", i)
				continue
			}
			if len(s) > 4096 {
				add(name, "is %d bytes, at most 4096", len(s))
				continue
			}
			str[name] = s
		}
	}
	if v, ok := str["specversion"]; ok && v != "1.0" {
		add("specversion", "must be \"1.0\" (CloudEvents 1.0.2)")
	}
	if v, ok := str["id"]; ok && v == "" {
		add("id", "must not be empty")
	}
	if v, ok := str["type"]; ok && v == "" {
		add("type", "must not be empty")
	}
	if v, ok := str["source"]; ok {
		if _, err := url.Parse(v); err != nil || v == "" {
			add("source", "must be a non-empty URI-reference")
		} else if publisher != "broker" && v != "/"+publisher {
			add("source", "%s (/%s)", ReasonSourceNotPublisher, publisher)
		}
	}
	if v, ok := str["subject"]; ok {
		if err := uin.Check(v); err != nil {
			add("subject", "not a valid UIN: %v", err)
		}
	}
	var at time.Time
	if v, ok := str["time"]; ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		switch {
		case err != nil:
			add("time", "must be an RFC 3339 timestamp")
		case t.After(now.Add(5 * time.Minute)):
			add("time", "is in the future")
		case t.Year() < 1900:
			add("time", "is before 1900")
		default:
			at = t
		}
	}
	if at.IsZero() {
		at = now
	}
	if v, ok := str["datacontenttype"]; ok && v != "application/json" && !strings.HasPrefix(v, "application/json;") {
		add("datacontenttype", "must be application/json")
	}
	if v, ok := str["dataschema"]; ok {
		if u, err := url.Parse(v); err != nil || !u.IsAbs() {
			add("dataschema", "must be an absolute URI")
		}
	}
	if v, ok := str["override"]; ok && len([]rune(strings.TrimSpace(v))) < 20 {
		add("override", "a justification for sharing without consent (s.12(11)) must be at least 20 characters")
	}
	if v, ok := str["practitioner"]; ok && len([]rune(v)) > 100 {
		add("practitioner", "at most 100 characters")
	}
	typ, name := str["type"], ""
	if typ != "" {
		entry, ok := schemas.Lookup(typ)
		switch {
		case !ok:
			add("type", "is not in the event catalogue (want uk.gov.ecm.<name>.v1, e.g. uk.gov.ecm.caf.completed.v1)")
		case !entry.MayPublish(agencyOf(publisher)):
			add("type", "%s may not be published by %s", entry.Name, agencyLabel(publisher))
		default:
			name = entry.Name
		}
	}
	var data map[string]any
	switch {
	case r.Data == nil:
		add("data", "required: every catalogue event carries a JSON object")
	case !utf8.Valid(r.Data):
		add("data", "is not valid UTF-8")
	case name != "":
		for _, p := range schemas.Validate(typ, r.Data, now) {
			field, reason, ok := strings.Cut(p, ": ")
			if !ok {
				field, reason = "data", p
			}
			add(field, "%s", reason)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	if err := json.Unmarshal(r.Data, &data); err != nil || data == nil {
		return nil, []api.Problem{{Field: "data", Reason: "must be a JSON object"}}
	}
	attrs := make(map[string]any, len(r.Attrs)+2)
	for k, v := range r.Attrs {
		attrs[k] = v
	}
	attrs["time"] = at.UTC().Format(time.RFC3339Nano)
	attrs["datacontenttype"] = "application/json"
	return &Event{
		ID: str["id"], Source: str["source"], Type: typ, Name: name, Subject: str["subject"],
		Time: at, Override: str["override"], Practitioner: str["practitioner"], Publisher: publisher,
		Attrs: attrs, Data: data, Raw: r.Data,
	}, nil
}

func agencyOf(participant string) string {
	if participant == "broker" {
		return "broker"
	}
	_, agency, _ := strings.Cut(participant, "/")
	return agency
}

func agencyLabel(publisher string) string {
	if publisher == "broker" {
		return "the broker"
	}
	return "a " + agencyOf(publisher) + " participant (" + publisher + ")"
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Trunc shortens s to n bytes, marking the cut.
func Trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SafeValidate is Validate that turns a panic on hostile input into a
// problem: one bad event never stops the pipeline.
func SafeValidate(raw cenats.Raw, publisher string) (ev *Event, probs []api.Problem) {
	defer func() {
		if r := recover(); r != nil {
			// Not the panic's text, which may hold a value (the reason is stored).
			ev, probs = nil, []api.Problem{{Field: "event", Reason: "could not be validated: the broker failed on it (an internal error)"}}
		}
	}()
	return Validate(raw, publisher, time.Now())
}

// attrField names an attribute in a problem: by its name when it has the
// form of one (schemas.ShowName), otherwise as "attributes <name withheld>",
// since a name such as a UIN may be data.
func attrField(name string) string {
	if knownAttrs[name] || schemas.ShowName(name) {
		return name
	}
	return "attributes " + schemas.NameWithheld
}
