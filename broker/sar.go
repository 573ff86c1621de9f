package broker

// Subject access (Data Protection Act 1998 s.7; Children Act 2004 s.12(13)
// applies it to the index): everything the broker holds about a child and
// every disclosure of it, for an operator answering a request. And, for a
// publishing participant, who received its own events about a child.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// SubjectAccess is the export of everything held about one child.
type SubjectAccess struct {
	Child       string       `json:"child"`
	ChildKey    string       `json:"child_key"`
	GeneratedAt string       `json:"generated_at"`
	GeneratedBy string       `json:"generated_by"`
	Index       *IndexRecord `json:"index"`   // the s.12(4) index record now held
	Consent     *Consent     `json:"consent"` // every grant and withdrawal, by the events' own time
	// Events are the events about the child held in the ingest stream, as
	// published, with when the broker recorded them.
	Events []HeldEvent `json:"events"`
	// Rejected are inputs naming the child that were refused, as held in
	// the dead letters.
	Rejected []HeldRejection `json:"rejected"`
	// Decisions are every audit record about the child, oldest first: each
	// decided event with every participant's decision, allowed or denied,
	// replays, erasures and earlier subject access exports.
	Decisions []AuditRecord `json:"decisions"`
	// Disclosures are the allowed decisions, one per copy a participant
	// received: the disclosures of the child's data.
	Disclosures []Disclosure `json:"disclosures"`
}

// HeldEvent is one stored event.
type HeldEvent struct {
	Seq       uint64          `json:"seq"`
	Recorded  string          `json:"recorded"`
	Publisher string          `json:"publisher"`
	Event     json.RawMessage `json:"event"`
}

// HeldRejection is a refused input naming the child.
type HeldRejection struct {
	Seq        uint64     `json:"seq"`
	DeadLetter DeadLetter `json:"dead_letter"`
}

// Disclosure is one copy of an event about the child that a participant
// received.
type Disclosure struct {
	Participant    string   `json:"participant"`
	EventID        string   `json:"event_id"`
	Type           string   `json:"type"`
	Source         string   `json:"source"`
	EventTime      string   `json:"event_time"`
	DecidedAt      string   `json:"decided_at"`
	Basis          string   `json:"basis"`
	Removed        []string `json:"removed"`
	PolicyRevision string   `json:"policy_revision"`
	Review         bool     `json:"review,omitempty"`
	Replay         string   `json:"replay,omitempty"` // the replay that delivered it
}

// disclosuresOf lists the copies an audit record says were delivered.
func disclosuresOf(r AuditRecord) []Disclosure {
	if r.Outcome != "decided" && r.Outcome != "replayed" {
		return nil
	}
	var out []Disclosure
	for _, d := range r.Decisions {
		if !d.Allow {
			continue
		}
		x := Disclosure{Participant: d.Participant, EventID: r.EventID, Type: r.Type, Source: r.Source, EventTime: r.EventTime,
			DecidedAt: r.DecidedAt, Basis: d.Basis, Removed: d.Remove, PolicyRevision: r.PolicyRevision, Review: d.Review}
		if x.Removed == nil {
			x.Removed = []string{}
		}
		if r.Action != nil {
			x.Replay = r.Action.ID
		}
		out = append(out, x)
	}
	return out
}

// childMessages are the stored messages that name one child.
type childMessages struct {
	ingest      []jetstream.Msg
	deadLetters []jetstream.Msg
}

// findChild reads the ingest partition the child's events are published to
// (and the unrouted subjects) and the dead letters, and returns every message
// whose event names the child.
func (b *Broker) findChild(ctx context.Context, child string) (childMessages, error) {
	var out childMessages
	part := uin.Partition(child)
	err := scanStream(ctx, b.js, StreamIngest, scanOpts{filter: []string{"ecm.ingest.*.*." + part, "ecm.ingest.*.*"}},
		func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
			raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
			if s, _ := raw.String("subject"); s == child || err != nil && bytes.Contains(m.Data(), []byte(child)) {
				out.ingest = append(out.ingest, m)
			}
			return nil
		})
	if err != nil {
		return out, err
	}
	err = scanStream(ctx, b.js, StreamDeadLetter, scanOpts{}, func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
		if namesChild(m.Data(), child) {
			out.deadLetters = append(out.deadLetters, m)
		}
		return nil
	})
	return out, err
}

// namesChild reports whether a dead letter holds the UIN anywhere, its body
// kept as JSON, text or base64.
func namesChild(data []byte, child string) bool {
	if bytes.Contains(data, []byte(child)) {
		return true
	}
	var dl DeadLetter
	if json.Unmarshal(data, &dl) != nil || dl.BodyBase64 == "" {
		return false
	}
	body, err := base64.StdEncoding.DecodeString(dl.BodyBase64)
	return err == nil && bytes.Contains(body, []byte(child))
}

// SubjectAccess gathers everything held about a child and audits the export.
func (b *Broker) SubjectAccess(ctx context.Context, operator, child string) (*SubjectAccess, error) {
	key := b.children.Key(child)
	st, _, err := b.children.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	recs, err := b.childAudit(ctx, key)
	if err != nil {
		return nil, err
	}
	found, err := b.findChild(ctx, child)
	if err != nil {
		return nil, err
	}
	sa := &SubjectAccess{Child: child, ChildKey: key, GeneratedAt: time.Now().UTC().Format(time.RFC3339Nano), GeneratedBy: operator,
		Index: st.Index, Consent: st.Consent, Events: []HeldEvent{}, Rejected: []HeldRejection{}, Decisions: []AuditRecord{}, Disclosures: []Disclosure{}}
	for _, m := range found.ingest {
		meta, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		publisher, _ := parseIngestSubject(m.Subject())
		sa.Events = append(sa.Events, HeldEvent{Seq: meta.Sequence.Stream, Recorded: meta.Timestamp.UTC().Format(time.RFC3339Nano),
			Publisher: publisher, Event: structured(m)})
	}
	for _, m := range found.deadLetters {
		meta, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		var dl DeadLetter
		if json.Unmarshal(m.Data(), &dl) == nil {
			dl.Seq = meta.Sequence.Stream
			sa.Rejected = append(sa.Rejected, HeldRejection{Seq: meta.Sequence.Stream, DeadLetter: dl})
		}
	}
	for _, r := range recs {
		r.Child = child
		sa.Decisions = append(sa.Decisions, r)
		sa.Disclosures = append(sa.Disclosures, disclosuresOf(r)...)
	}
	rec := AuditRecord{ChildKey: key, Type: "subject-access", Publisher: "broker", DecidedAt: sa.GeneratedAt,
		PolicyRevision: b.decider.Policy().Revision, Outcome: "subject-access", Decisions: []Decision{},
		Action: &AuditAction{Kind: "subject-access", ID: randomHex(8), By: operator,
			Counts: map[string]int{"events": len(sa.Events), "decisions": len(sa.Decisions), "disclosures": len(sa.Disclosures)}}}
	rec.msgID = "audit-sar:" + rec.Action.ID
	if err := b.auditWait(ctx, rec); err != nil {
		return nil, err // not exported unless the export is audited
	}
	b.log.Info("subject access export", zap.String("operator", operator), zap.String("child_key", key))
	return sa, nil
}

// structured returns a stored event as one structured CloudEvent.
func structured(m jetstream.Msg) json.RawMessage {
	raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
	if err != nil {
		b, _ := json.Marshal(map[string]string{"undecodable": string(m.Data())})
		return b
	}
	if raw.Structured {
		return m.Data()
	}
	out := make(map[string]any, len(raw.Attrs)+1)
	for k, v := range raw.Attrs {
		out[k] = v
	}
	if json.Valid(raw.Data) {
		out["data"] = json.RawMessage(raw.Data)
	} else {
		out["data_base64"] = base64.StdEncoding.EncodeToString(raw.Data)
	}
	b, _ := json.Marshal(out)
	return b
}

// handleSubjectAccess is GET /v1/sar?child=UIN (operators).
func (b *Broker) handleSubjectAccess(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	child := r.URL.Query().Get("child")
	if err := uin.Check(child); err != nil {
		writeError(w, http.StatusBadRequest, "child: "+err.Error())
		return
	}
	sa, err := b.SubjectAccess(r.Context(), op, child)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, sa)
}

// EventDisclosures is one of a publisher's events and who received it.
type EventDisclosures struct {
	EventID    string       `json:"event_id"`
	Type       string       `json:"type"`
	EventTime  string       `json:"event_time"`
	Recipients []Disclosure `json:"recipients"`
}

// handleDisclosures is GET /v1/disclosures?child=UIN (participant token):
// the participant's own events about the child, and who received each,
// replays included. Nothing about other publishers' events.
func (b *Broker) handleDisclosures(w http.ResponseWriter, r *http.Request) {
	p, ok := b.participantFor(w, r)
	if !ok {
		return
	}
	child := r.URL.Query().Get("child")
	if err := uin.Check(child); err != nil {
		writeError(w, http.StatusBadRequest, "child: "+err.Error())
		return
	}
	recs, err := b.childAudit(r.Context(), b.children.Key(child))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	byID := map[string]*EventDisclosures{}
	var order []string
	for _, rec := range recs {
		if rec.Publisher != p.ID || rec.CausedBy != "" || rec.Source != "/"+p.ID {
			continue
		}
		if rec.Outcome != "decided" && rec.Outcome != "policy-error" && rec.Outcome != "replayed" {
			continue
		}
		e := byID[rec.EventID]
		if e == nil {
			e = &EventDisclosures{EventID: rec.EventID, Type: rec.Type, EventTime: rec.EventTime, Recipients: []Disclosure{}}
			byID[rec.EventID] = e
			order = append(order, rec.EventID)
		}
		e.Recipients = append(e.Recipients, disclosuresOf(rec)...)
	}
	out := make([]EventDisclosures, 0, len(order))
	for _, id := range order {
		e := byID[id]
		sort.SliceStable(e.Recipients, func(i, j int) bool {
			return e.Recipients[i].DecidedAt < e.Recipients[j].DecidedAt ||
				e.Recipients[i].DecidedAt == e.Recipients[j].DecidedAt && strings.Compare(e.Recipients[i].Participant, e.Recipients[j].Participant) < 0
		})
		out = append(out, *e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"child": child, "participant": p.ID, "events": out})
}
