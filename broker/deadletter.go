package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/uin"
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

// Limits that keep a dead letter well inside one JetStream message, however
// many problems an input has or however large its headers are.
const (
	deadLetterReasonsMax = 100
	deadLetterReasonLen  = 500
	deadLetterHeadersMax = 16 * 1024
	deadLetterDepthMax   = 64
)

func newDeadLetter(publisher string, m *nats.Msg, probs []Problem) DeadLetter {
	dl := DeadLetter{Received: time.Now().UTC(), Publisher: publisher, Size: len(m.Data)}
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
func reasons(probs []Problem) []string {
	out := make([]string, 0, min(len(probs), deadLetterReasonsMax+1))
	for i, p := range probs {
		if i == deadLetterReasonsMax {
			out = append(out, fmt.Sprintf("… and %d more problems", len(probs)-i))
			break
		}
		out = append(out, strings.ToValidUTF8(trunc(p.String(), deadLetterReasonLen), "\ufffd"))
	}
	return out
}

// capProblems bounds a problem list the same way, for answers and audit records.
func capProblems(probs []Problem) []Problem {
	if len(probs) <= deadLetterReasonsMax {
		return probs
	}
	out := append([]Problem{}, probs[:deadLetterReasonsMax]...)
	return append(out, Problem{"event", fmt.Sprintf("… and %d more problems", len(probs)-deadLetterReasonsMax)})
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

// deadLetterAsync stores a rejected input. id makes a retried dead-lettering
// of the same input idempotent.
func (b *Broker) deadLetterAsync(publisher string, m *nats.Msg, probs []Problem, id string) (jetstream.PubAckFuture, error) {
	body, err := marshalNoEscape(newDeadLetter(publisher, m, probs))
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
	// The audit cannot be erased: of a refused event it keeps only what was
	// checked, never an unchecked value (a type outside the catalogue, a
	// source not the publisher's may be anything, child data included).
	if _, ok := schemas.Lookup(typ); !ok {
		typ = ""
	}
	if src != "/"+publisher {
		src = ""
	}
	rec := AuditRecord{EventID: eventID, Source: src, Type: typ, Publisher: publisher, ChildKey: b.children.Key(subject),
		DecidedAt: time.Now().UTC().Format(time.RFC3339Nano), PolicyRevision: b.decider.Policy().Revision,
		Outcome: "rejected", Decisions: []Decision{}, Problems: capProblems(probs), rejectID: id}
	if _, err := b.auditAsync(rec); err != nil {
		b.auditFailing(err)
	}
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
