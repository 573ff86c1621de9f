package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
)

// Stored rebuilds the Event the pipeline decided from a stored ingest
// message, without validating it again (it was valid when decided, and the
// schemas may have changed since). eventTime is the time the pipeline used
// (from the audit record) for an event published without one.
func Stored(subject string, h nats.Header, data []byte, eventTime string) (*Event, error) {
	raw, ok := structuredFast(h, data)
	if !ok {
		var err error
		if raw, err = cenats.Decode(&nats.Msg{Subject: subject, Header: h, Data: data}); err != nil {
			return nil, err
		}
	}
	publisher, _ := wire.ParseIngestSubject(subject)
	str := func(k string) string { s, _ := raw.String(k); return s }
	typ := str("type")
	entry, ok := schemas.Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("type %q is not in the catalogue", typ)
	}
	at, err := time.Parse(time.RFC3339Nano, str("time"))
	if err != nil {
		if at, err = time.Parse(time.RFC3339Nano, eventTime); err != nil {
			return nil, fmt.Errorf("event %s has no time", str("id"))
		}
	}
	var d map[string]any
	if err := json.Unmarshal(raw.Data, &d); err != nil || d == nil {
		return nil, fmt.Errorf("event %s: data is not a JSON object", str("id"))
	}
	attrs := make(map[string]any, len(raw.Attrs)+2)
	for k, v := range raw.Attrs {
		attrs[k] = v
	}
	attrs["time"] = at.UTC().Format(time.RFC3339Nano)
	attrs["datacontenttype"] = "application/json"
	return &Event{ID: str("id"), Source: str("source"), Type: typ, Name: entry.Name, Subject: str("subject"), Time: at,
		Override: str("override"), Practitioner: str("practitioner"), Publisher: publisher, Attrs: attrs, Data: d, Raw: raw.Data}, nil
}

// structuredFast reads a structured-mode event as cenats.Decode does, in
// one pass over the bytes (the impact analysis reads hundreds of thousands).
// ok is false for anything but a plain structured event.
func structuredFast(h nats.Header, data []byte) (cenats.Raw, bool) {
	ct := h.Get(cenats.HeaderContentType)
	if !strings.HasPrefix(ct, cenats.ContentTypeStructured) && (ct != "" || len(data) == 0 || data[0] != '{') {
		return cenats.Raw{}, false
	}
	r := cenats.Raw{Attrs: map[string]any{}, Structured: true}
	ok := true
	err := ScanFields(data, AllFields, func(k string, v []byte) {
		switch {
		case k == "data":
			if string(v) != "null" {
				r.Data = v
			}
		case k == "data_base64":
			ok = false
		case len(v) > 0 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0:
			r.Attrs[k] = string(v[1 : len(v)-1])
		default:
			var val any
			if json.Unmarshal(v, &val) != nil {
				ok = false
			}
			r.Attrs[k] = val
		}
	})
	return r, ok && err == nil
}

// AllFields makes ScanFields pass every field.
var AllFields = everyField{}
