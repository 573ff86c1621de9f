package pipeline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deadLetterBodyMax is how much of a rejected body is kept; an oversize body
// is kept in part, with its size, so an operator can see what it was.
const deadLetterBodyMax = 64 * 1024

// Limits that keep a dead letter well inside one JetStream message, however
// many problems an input has or however large its headers are.
const (
	deadLetterReasonsMax = 100
	deadLetterReasonLen  = 500
	deadLetterHeadersMax = 16 * 1024
	deadLetterDepthMax   = 64
)

func newDeadLetter(publisher string, m *nats.Msg, probs []api.Problem) api.DeadLetter {
	dl := api.DeadLetter{Received: time.Now().UTC(), Publisher: publisher, Size: len(m.Data)}
	dl.Reasons = reasons(probs)
	headerBytes := 0
	for k, v := range m.Header {
		if dl.Headers == nil {
			dl.Headers = map[string]string{}
		}
		val := strings.Join(v, ", ")
		if headerBytes += len(k) + len(val); headerBytes > deadLetterHeadersMax {
			dl.Headers["…"] = "further headers left out: over 16 KiB"
			dl.Truncated = true
			break
		}
		dl.Headers[k] = strings.ToValidUTF8(val, "\ufffd")
	}
	body := m.Data
	if len(body) > deadLetterBodyMax {
		body, dl.Truncated = body[:deadLetterBodyMax], true
	}
	switch {
	case !dl.Truncated && utf8.Valid(body) && json.Valid(body) && jsonDepth(body) <= deadLetterDepthMax:
		dl.Body = body
	case utf8.Valid(body):
		dl.BodyText = string(body)
	default:
		dl.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return dl
}

// reasons turns problems into at most deadLetterReasonsMax lines of at most
// deadLetterReasonLen bytes each.
func reasons(probs []api.Problem) []string {
	out := make([]string, 0, min(len(probs), deadLetterReasonsMax+1))
	for i, p := range probs {
		if i == deadLetterReasonsMax {
			out = append(out, fmt.Sprintf("… and %d more problems", len(probs)-i))
			break
		}
		out = append(out, strings.ToValidUTF8(event.Trunc(p.String(), deadLetterReasonLen), "\ufffd"))
	}
	return out
}

// capProblems bounds a problem list the same way, for answers and audit records.
func capProblems(probs []api.Problem) []api.Problem {
	if len(probs) <= deadLetterReasonsMax {
		return probs
	}
	out := append([]api.Problem{}, probs[:deadLetterReasonsMax]...)
	return append(out, api.Problem{Field: "event", Reason: fmt.Sprintf("… and %d more problems", len(probs)-deadLetterReasonsMax)})
}

// jsonDepth is the deepest nesting of objects and arrays in valid JSON.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// deadLetterAsync stores a rejected input and, when it names a child, the
// audit record of the refusal. It returns both publishes: the caller awaits
// them before it acknowledges the input. id makes a retried dead-lettering of
// the same input idempotent.
func (b *Pipeline) deadLetterAsync(publisher string, m *nats.Msg, probs []api.Problem, id string) ([]jetstream.PubAckFuture, error) {
	body, err := marshalNoEscape(newDeadLetter(publisher, m, probs))
	if err != nil {
		return nil, fmt.Errorf("encoding dead letter: %w", err)
	}
	out := nats.NewMsg(wire.DeadLetterSubject(publisher))
	out.Header.Set(jetstream.MsgIDHeader, wire.DeadLetterMsgID(id))
	out.Data = body
	b.Metrics.deadLettered.WithLabelValues(publisher).Inc()
	f, err := b.JS.PublishMsgAsync(out)
	if err != nil {
		return nil, err
	}
	rec, ok := b.rejectedRecord(publisher, m, probs)
	if !ok {
		return []jetstream.PubAckFuture{f}, nil
	}
	af, err := b.Audit.Rejected(rec, id)
	if err != nil {
		return nil, err
	}
	return []jetstream.PubAckFuture{f, af}, nil
}

// rejectedRecord is the audit record of a rejected event about a known
// child: nobody received it (fail closed), and the reasons are kept. ok is
// false when the input names no valid child.
func (b *Pipeline) rejectedRecord(publisher string, m *nats.Msg, probs []api.Problem) (rec api.AuditRecord, ok bool) {
	raw, err := cenats.Decode(m)
	if err != nil {
		return rec, false
	}
	subject, _ := raw.String("subject")
	if !uin.Valid(subject) {
		return rec, false
	}
	eventID, _ := raw.String("id")
	src, _ := raw.String("source")
	typ, _ := raw.String("type")
	// The audit cannot be erased: of a refused event it keeps only what was
	// checked, never an unchecked value (a type outside the catalogue, a
	// source not the publisher's may be anything, child data included).
	if _, ok := schemas.Lookup(typ); !ok {
		typ = ""
	}
	if src != "/"+publisher {
		src = ""
	}
	return api.AuditRecord{EventID: eventID, Source: src, Type: typ, Publisher: publisher, ChildKey: b.Children.Key(subject),
		DecidedAt: time.Now().UTC().Format(time.RFC3339Nano), PolicyRevision: b.Decider.Policy().Revision,
		Outcome: "rejected", Decisions: []api.Decision{}, Problems: capProblems(probs)}, true
}

// marshalNoEscape encodes v as JSON without escaping <, > and &, which would
// otherwise grow hostile input sixfold.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
