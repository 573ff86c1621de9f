// Package cenats is a thin CloudEvents NATS protocol binding (CloudEvents
// spec, nats-protocol-binding.md): binary mode carries the context attributes
// as "ce-" headers with percent-encoded values and the data as the payload;
// structured mode carries the whole event as JSON with content type
// application/cloudevents+json. The sdk-go NATS sub-modules are not available
// here, so adapters and the broker share this one.
//
// Decode does not validate: it returns what was received, so that the broker
// can list every problem with an event rather than the first.
package cenats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
)

// Header names and content types of the binding.
const (
	HeaderPrefix          = "ce-"
	HeaderContentType     = "content-type"
	ContentTypeStructured = "application/cloudevents+json"
	ContentTypeBatch      = "application/cloudevents-batch+json"
)

// Raw is a CloudEvent as received: its attributes (context attributes and
// extensions, by lower-case name) and its data.
type Raw struct {
	// Attrs holds attribute values: strings in binary mode, JSON values in
	// structured mode (a number stays a float64, so validation can say so).
	Attrs map[string]any
	// Data is the event's data, JSON when datacontenttype is JSON. Nil when
	// the event has no data.
	Data []byte
	// Structured reports which mode the event came in.
	Structured bool
	// Duplicates lists the attribute names a structured event gives more
	// than once (Attrs holds the last value of each); the broker refuses
	// such an event.
	Duplicates []string
}

// MsgID is the Nats-Msg-Id under which an event is stored, so that a retried
// publish of the same event (same source and id, CloudEvents' identity) is
// stored once.
func MsgID(source, id string) string { return wire.EventMsgID(source, id) }

// Encode puts an event in a NATS message in binary mode.
func Encode(subject string, e event.Event) (*nats.Msg, error) {
	m := nats.NewMsg(subject)
	attrs := map[string]string{
		"specversion": e.SpecVersion(),
		"id":          e.ID(),
		"source":      e.Source(),
		"type":        e.Type(),
	}
	if s := e.Subject(); s != "" {
		attrs["subject"] = s
	}
	if !e.Time().IsZero() {
		attrs["time"] = e.Time().UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	if s := e.DataSchema(); s != "" {
		attrs["dataschema"] = s
	}
	for k, v := range e.Extensions() {
		attrs[k] = fmt.Sprint(v)
	}
	for k, v := range attrs {
		m.Header.Set(HeaderPrefix+k, url.PathEscape(v))
	}
	if ct := e.DataContentType(); ct != "" {
		m.Header.Set(HeaderContentType, ct)
	}
	m.Data = e.Data()
	return m, nil
}

// EncodeStructured puts an event in a NATS message in structured mode.
func EncodeStructured(subject string, e event.Event) (*nats.Msg, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding event %s: %w", e.ID(), err)
	}
	m := nats.NewMsg(subject)
	m.Header.Set(HeaderContentType, ContentTypeStructured)
	m.Data = body
	return m, nil
}

// Decode reads an event from a NATS message in either mode: structured when
// the content type says so or when there are no ce- headers and the payload
// is a JSON object; binary otherwise.
func Decode(m *nats.Msg) (Raw, error) {
	ct := ""
	if m.Header != nil {
		ct = m.Header.Get(HeaderContentType)
	}
	if strings.HasPrefix(ct, ContentTypeStructured) || (!hasCEHeaders(m.Header) && looksLikeObject(m.Data)) {
		return DecodeStructured(m.Data)
	}
	r := Raw{Attrs: map[string]any{}, Data: m.Data}
	given := map[string]int{}
	for name, values := range m.Header {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, HeaderPrefix) {
			given[lower] += len(values)
		}
	}
	for name, values := range m.Header {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, HeaderPrefix) || len(values) == 0 {
			continue
		}
		if n := given[lower]; n > 1 {
			return r, fmt.Errorf("header %s: given %d times, expected once", headerLabel(lower), n)
		}
		v, err := url.PathUnescape(values[0])
		if err != nil { // not err: it quotes the value's bad escape
			return r, fmt.Errorf("header %s: bad percent-encoding (a %% must start %%XX, two hex digits)", headerLabel(lower))
		}
		r.Attrs[strings.TrimPrefix(lower, HeaderPrefix)] = v
	}
	if ct != "" {
		r.Attrs["datacontenttype"] = ct
	}
	if len(r.Data) == 0 {
		r.Data = nil
	}
	return r, nil
}

// DecodeStructured reads a structured-mode event (one JSON object).
func DecodeStructured(body []byte) (Raw, error) {
	if !utf8.Valid(body) {
		return Raw{}, fmt.Errorf("structured event is not a JSON object: it is not valid UTF-8")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return Raw{}, fmt.Errorf("structured event is not a JSON object: %s", DescribeJSONError(err))
	}
	r, err := FromObject(obj)
	r.Duplicates = topLevelDuplicates(body)
	return r, err
}

// FromObject turns one parsed structured-mode JSON object into a Raw event.
func FromObject(obj map[string]json.RawMessage) (Raw, error) {
	r := Raw{Attrs: map[string]any{}, Structured: true}
	for k, v := range obj {
		switch k {
		case "data":
			if !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				r.Data = v
			}
		case "data_base64":
			return r, fmt.Errorf("data_base64: binary data is not accepted, events carry JSON data")
		default:
			var val any
			if err := json.Unmarshal(v, &val); err != nil {
				return r, fmt.Errorf("attribute %s: %s", attrLabel(k), DescribeJSONError(err))
			}
			r.Attrs[k] = val
		}
	}
	return r, nil
}

// Names lists a Raw event's attribute names in order, for stable messages.
func (r Raw) Names() []string {
	names := make([]string, 0, len(r.Attrs))
	for k := range r.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// String returns attribute name as a string, and whether it was one.
func (r Raw) String(name string) (string, bool) {
	s, ok := r.Attrs[name].(string)
	return s, ok
}

// headerLabel names a ce- header in an error (see attrLabel).
func headerLabel(lower string) string {
	return HeaderPrefix + attrLabel(strings.TrimPrefix(lower, HeaderPrefix))
}

// attrLabel names an attribute in an error: as given when it has the form
// of a CloudEvents attribute name, otherwise not at all, since a name of
// another form may be data.
func attrLabel(name string) string {
	if name == "" || len(name) > 20 || strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return "<name withheld>"
	}
	return name
}

func hasCEHeaders(h nats.Header) bool {
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), HeaderPrefix) {
			return true
		}
	}
	return false
}

func looksLikeObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}
