package broker

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecm-broker/ecm-broker/broker/cenats"
	"github.com/ecm-broker/ecm-broker/broker/uin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deadLetterBodyMax is how much of a rejected body is kept; an oversize body
// is kept in part, with its size, so an operator can see what it was.
const deadLetterBodyMax = 64 * 1024

// DeadLetter is a rejected input with every reason it was rejected.
type DeadLetter struct {
	Seq        uint64            `json:"seq,omitempty"`
	Received   time.Time         `json:"received"`
	Publisher  string            `json:"publisher"`
	Reasons    []string          `json:"reasons"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       json.RawMessage   `json:"body,omitempty"`
	BodyText   string            `json:"body_text,omitempty"`
	BodyBase64 string            `json:"body_base64,omitempty"`
	Size       int               `json:"size"`
	Truncated  bool              `json:"truncated,omitempty"`
}

func newDeadLetter(publisher string, m *nats.Msg, probs []Problem) DeadLetter {
	dl := DeadLetter{Received: time.Now().UTC(), Publisher: publisher, Size: len(m.Data)}
	for _, p := range probs {
		dl.Reasons = append(dl.Reasons, p.String())
	}
	for k, v := range m.Header {
		if dl.Headers == nil {
			dl.Headers = map[string]string{}
		}
		dl.Headers[k] = strings.Join(v, ", ")
	}
	body := m.Data
	if len(body) > deadLetterBodyMax {
		body, dl.Truncated = body[:deadLetterBodyMax], true
	}
	switch {
	case !dl.Truncated && json.Valid(body):
		dl.Body = body
	case utf8.Valid(body):
		dl.BodyText = string(body)
	default:
		dl.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return dl
}

// deadLetterAsync stores a rejected input. id makes a retried dead-lettering
// of the same input idempotent.
func (b *Broker) deadLetterAsync(publisher string, m *nats.Msg, probs []Problem, id string) (jetstream.PubAckFuture, error) {
	body, err := json.Marshal(newDeadLetter(publisher, m, probs))
	if err != nil {
		return nil, fmt.Errorf("encoding dead letter: %w", err)
	}
	out := nats.NewMsg(DeadLetterSubject(publisher))
	out.Header.Set(jetstream.MsgIDHeader, "dl:"+id)
	out.Data = body
	b.metrics.deadLettered.WithLabelValues(publisher).Inc()
	f, err := b.js.PublishMsgAsync(out)
	if err != nil {
		return nil, err
	}
	b.auditRejected(publisher, m, probs, id)
	return f, nil
}

// auditRejected writes an audit record for a rejected event about a known
// child: nobody received it (fail closed), and the reasons are kept.
func (b *Broker) auditRejected(publisher string, m *nats.Msg, probs []Problem, id string) {
	raw, err := cenats.Decode(m)
	if err != nil {
		return
	}
	subject, _ := raw.String("subject")
	if !uin.Valid(subject) {
		return
	}
	eventID, _ := raw.String("id")
	src, _ := raw.String("source")
	typ, _ := raw.String("type")
	rec := AuditRecord{EventID: eventID, Source: src, Type: typ, Publisher: publisher, ChildKey: b.children.Key(subject),
		DecidedAt: time.Now().UTC().Format(time.RFC3339Nano), PolicyRevision: b.decider.Policy().Revision,
		Outcome: "rejected", Decisions: []Decision{}, Problems: probs, rejectID: id}
	if _, err := b.auditAsync(rec); err != nil {
		b.auditFailing(err)
	}
}
