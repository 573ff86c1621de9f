package broker

import (
	"encoding/json"
	"fmt"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// auditAsync stores rec under message id (wire.AuditMsgID and its kin), linked
// into the audit chain once the chain runs.
func (b *Broker) auditAsync(rec api.AuditRecord, id string) (jetstream.PubAckFuture, error) {
	if b.chain != nil {
		return b.chain.submit(rec, id)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding audit record: %w", err)
	}
	m := nats.NewMsg(wire.AuditSubject(rec.ChildKey))
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Data = body
	return b.js.PublishMsgAsync(m)
}
