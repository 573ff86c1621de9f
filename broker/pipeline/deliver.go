package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeliveryMsg is the message that carries participant d's copy of e, to
// its delivery subject. The message id is the event's identity plus the
// participant, so a redelivered event is stored once.
func DeliveryMsg(e *event.Event, d api.Decision) (*nats.Msg, error) {
	body, err := json.Marshal(deliveredCopy(e, d.Remove))
	if err != nil {
		return nil, fmt.Errorf("encoding copy of %s for %s: %w", e.ID, d.Participant, err)
	}
	m := nats.NewMsg(wire.DeliverySubject(d.Participant))
	m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
	m.Header.Set(jetstream.MsgIDHeader, wire.DeliveryMsgID(e.Source, e.ID, d.Participant))
	m.Header.Set(wire.HeaderBasis, d.Basis)
	m.Data = body
	return m, nil
}

// deliveredCopy is the structured-mode CloudEvent a participant receives:
// the original attributes and the data less the removed fields.
func deliveredCopy(e *event.Event, remove []string) map[string]any {
	out := make(map[string]any, len(e.Attrs)+1)
	for k, v := range e.Attrs {
		out[k] = v
	}
	out["data"] = without(e.Data, remove)
	return out
}

// without returns data less the fields at the given paths ("data.a.b"),
// copying only the objects on those paths so e.Data is never changed.
func without(data map[string]any, paths []string) map[string]any {
	if len(paths) == 0 {
		return data
	}
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = v
	}
	for _, p := range paths {
		parts := strings.Split(strings.TrimPrefix(p, "data."), ".")
		removePath(out, parts)
	}
	return out
}

func removePath(m map[string]any, parts []string) {
	if len(parts) == 1 {
		delete(m, parts[0])
		return
	}
	child, ok := m[parts[0]].(map[string]any)
	if !ok {
		return
	}
	cp := make(map[string]any, len(child))
	for k, v := range child {
		cp[k] = v
	}
	removePath(cp, parts[1:])
	m[parts[0]] = cp
}
