package ops

// Subject access (Data Protection Act 1998 s.7; Children Act 2004 s.12(13)
// applies it to the index): everything the broker holds about a child and
// every disclosure of it, for an operator answering a request. And, for a
// publishing participant, who received its own events about a child.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// disclosuresFrom reads a child's audit records, oldest first, into the
// copies of its events that participants were sent (stored, oldest first)
// and those that were allowed but refused (docs/operations.md, "What a
// disclosure is"). A decision only says a copy was allowed; the record of
// copies written once the copy's publish resolved says whether it was
// stored, where and when. A decision whose copies have no such record
// (written before copy records were kept, or the broker stopped between
// the two) is listed as unconfirmed: it may have been disclosed.
func disclosuresFrom(recs []api.AuditRecord) (stored, refused []api.Disclosure) {
	type key struct{ event, participant, op string }
	var list []*api.Disclosure
	open := map[key]*api.Disclosure{} // allowed, outcome not yet read
	for _, r := range recs {
		op := ""
		if r.Action != nil {
			op = r.Action.ID
		}
		switch {
		case (r.Outcome == "decided" && r.Action == nil) || r.Outcome == "replayed":
			// "replayed": a replay's per-event record, before replays wrote
			// their copies per child.
			for _, d := range r.Decisions {
				if !d.Allow {
					continue
				}
				x := &api.Disclosure{Participant: d.Participant, EventID: r.EventID, Type: r.Type, Source: r.Source, EventTime: r.EventTime,
					DecidedAt: r.DecidedAt, Basis: d.Basis, Removed: nonNil(d.Remove), PolicyRevision: r.PolicyRevision, Review: d.Review,
					Replay: op, Status: api.DisclosureUnconfirmed}
				if r.Action != nil {
					x.Operation = "replay"
				}
				open[key{wire.EventMsgID(r.Source, r.EventID), d.Participant, op}] = x
				list = append(list, x)
			}
		case len(r.Copies) > 0:
			for _, c := range r.Copies {
				ev := api.Copy{EventID: r.EventID, Source: r.Source, Type: r.Type, EventTime: r.EventTime}
				if c.EventID != "" {
					ev = c
				}
				k := key{wire.EventMsgID(ev.Source, ev.EventID), c.Participant, op}
				x := open[k]
				if x == nil {
					x = &api.Disclosure{Participant: c.Participant, EventID: ev.EventID, Type: ev.Type, Source: ev.Source, EventTime: ev.EventTime,
						DecidedAt: r.DecidedAt, PolicyRevision: r.PolicyRevision, Replay: op}
					if r.Action != nil {
						x.Operation = r.Action.Kind
					}
					list = append(list, x)
				}
				x.Basis, x.Removed, x.Review = c.Basis, nonNil(c.Removed), c.Review
				switch c.Status {
				case api.CopySending:
					x.Status = api.DisclosureUnconfirmed
					open[k] = x
					continue
				case api.CopyRefused:
					x.Status, x.RefusedReason, x.DeadLetterSeq = api.CopyRefused, c.Reason, c.DeadLetterSeq
				default:
					x.Status, x.DeliverySeq, x.StoredAt = api.CopyDelivered, c.DeliverySeq, c.StoredAt
				}
				delete(open, k)
			}
		}
	}
	stored, refused = []api.Disclosure{}, []api.Disclosure{}
	for i, x := range list {
		if x.Status != api.CopyRefused {
			stored = append(stored, *x)
			continue
		}
		for _, later := range list[i+1:] {
			if later.Status == api.CopyDelivered && later.Replay != "" && later.Participant == x.Participant &&
				later.EventID == x.EventID && later.Source == x.Source {
				x.ResolvedBy = later.Replay
				break
			}
		}
		refused = append(refused, *x)
	}
	return stored, refused
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// childMessages are the stored messages that name one child.
type childMessages struct {
	ingest      []store.Msg
	deadLetters []store.Msg
	// Messages of the child's ingest partition and of the dead letters
	// that the store counts but could not return (a damaged block).
	lostIngest, lostDeadLetters uint64
}

// findChild reads the ingest partition the child's events are published to
// (and the unrouted subjects) and the dead letters, and returns every message
// whose event names the child.
func (b *Ops) findChild(ctx context.Context, child string) (childMessages, error) {
	var out childMessages
	part := uin.Partition(child)
	uinBytes := []byte(child)
	var err error
	// One consumer per filter: JetStream serves a consumer of several
	// filters by intersecting them with each block's subjects for every
	// message it loads, which took most of a subject access's time (issue
	// 16: 1.2 s of a child's 2.4 s export among 100,000 events).
	for _, filter := range wire.IngestPartitionFilters(part) {
		lost, err := store.ScanCounting(ctx, b.js, wire.StreamIngest, store.ScanOpts{Filter: []string{filter}},
			func(m store.Msg) error {
				if !mayName(m, uinBytes) {
					return nil // most of the partition: other children's events, not decoded
				}
				raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
				if s, _ := raw.String("subject"); s == child || err != nil && bytes.Contains(m.Data, uinBytes) {
					out.ingest = append(out.ingest, m)
				}
				return nil
			})
		if err != nil {
			return out, err
		}
		out.lostIngest += lost
	}
	sort.Slice(out.ingest, func(i, j int) bool { return out.ingest[i].Seq < out.ingest[j].Seq })
	out.lostDeadLetters, err = store.ScanCounting(ctx, b.js, wire.StreamDeadLetter, store.ScanOpts{}, func(m store.Msg) error {
		if namesChild(m.Data, child) {
			out.deadLetters = append(out.deadLetters, m)
		}
		return nil
	})
	return out, err
}

// mayName reports whether an ingest message can be an event about child,
// without decoding it: a structured event whose subject is the child holds
// the UIN as it is, or escaped (\u); a binary one has it in a ce- header,
// percent-encoded perhaps, so those are always decoded.
func mayName(m store.Msg, child []byte) bool {
	if bytes.Contains(m.Data, child) || bytes.Contains(m.Data, []byte(`\u`)) {
		return true
	}
	for k := range m.Header {
		if len(k) >= len(cenats.HeaderPrefix) && strings.EqualFold(k[:len(cenats.HeaderPrefix)], cenats.HeaderPrefix) {
			return true
		}
	}
	return false
}

// namesChild reports whether a dead letter holds the UIN anywhere, its body
// kept as JSON, text or base64.
func namesChild(data []byte, child string) bool {
	if bytes.Contains(data, []byte(child)) {
		return true
	}
	var dl api.DeadLetter
	if json.Unmarshal(data, &dl) != nil || dl.BodyBase64 == "" {
		return false
	}
	body, err := base64.StdEncoding.DecodeString(dl.BodyBase64)
	return err == nil && bytes.Contains(body, []byte(child))
}

// SubjectAccess gathers everything held about a child and audits the export.
func (b *Ops) SubjectAccess(ctx context.Context, operator, child string) (*api.SubjectAccess, error) {
	sa, err := b.gatherSubjectAccess(ctx, operator, child)
	if err != nil {
		return nil, err
	}
	if err := b.auditSubjectAccess(ctx, sa, "subject-access", nil); err != nil {
		return nil, err // not exported unless the export is audited
	}
	return sa, nil
}

// gatherSubjectAccess reads everything held about a child, auditing nothing.
func (b *Ops) gatherSubjectAccess(ctx context.Context, operator, child string) (*api.SubjectAccess, error) {
	key := b.children.Key(child)
	st, _, err := b.children.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	recs, lost, err := b.auditLog.ChildRecords(ctx, key)
	if err != nil {
		return nil, err
	}
	found, err := b.findChild(ctx, child)
	if err != nil {
		return nil, err
	}
	sa := &api.SubjectAccess{Child: child, ChildKey: key, GeneratedAt: time.Now().UTC().Format(time.RFC3339Nano), GeneratedBy: operator,
		Index: st.Index, Consent: st.Consent, Events: []api.HeldEvent{}, Rejected: []api.HeldRejection{}, Decisions: []api.AuditRecord{},
		Gaps: b.gaps(st, recs, lost, found)}
	for _, m := range found.ingest {
		publisher, _ := wire.ParseIngestSubject(m.Subject)
		sa.Events = append(sa.Events, api.HeldEvent{Seq: m.Seq, Recorded: m.Time.UTC().Format(time.RFC3339Nano),
			Publisher: publisher, Event: structured(m)})
	}
	for _, m := range found.deadLetters {
		var dl api.DeadLetter
		if json.Unmarshal(m.Data, &dl) == nil {
			dl.Seq = m.Seq
			sa.Rejected = append(sa.Rejected, api.HeldRejection{Seq: m.Seq, DeadLetter: dl})
		}
	}
	for _, r := range recs {
		r.Child = child
		sa.Decisions = append(sa.Decisions, r)
	}
	sa.Disclosures, sa.Refused = disclosuresFrom(recs)
	return sa, nil
}

// auditSubjectAccess records the export of sa on the child's audit subject
// (kind subject-access, or subject-access-review with the counts of what was
// withheld), and must succeed before the report is given.
func (b *Ops) auditSubjectAccess(ctx context.Context, sa *api.SubjectAccess, kind string, extra map[string]int) error {
	rec := api.AuditRecord{ChildKey: sa.ChildKey, Type: kind, Publisher: "broker", DecidedAt: sa.GeneratedAt,
		PolicyRevision: b.decider.Policy().Revision, Outcome: kind, Decisions: []api.Decision{},
		Action: &api.AuditAction{Kind: kind, ID: randomHex(8), By: sa.GeneratedBy,
			Counts: map[string]int{"events": len(sa.Events), "decisions": len(sa.Decisions), "disclosures": len(sa.Disclosures), "refused": len(sa.Refused)}}}
	if len(sa.Gaps) > 0 {
		rec.Action.Counts["gaps"] = len(sa.Gaps)
	}
	for k, v := range extra {
		rec.Action.Counts[k] = v
	}
	if err := b.audit.Action(ctx, rec, "sar", rec.Action.ID); err != nil {
		return err
	}
	b.log.Info("subject access export", zap.String("kind", kind), zap.String("operator", sa.GeneratedBy), zap.String("child_key", sa.ChildKey))
	return nil
}

// structured returns a stored event as one structured CloudEvent.
func structured(m store.Msg) json.RawMessage {
	raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	if err != nil {
		b, _ := json.Marshal(map[string]string{"undecodable": string(m.Data)})
		return b
	}
	if raw.Structured {
		return m.Data
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

// Disclosures lists participant's own events about child and who received
// each (replays included), as stored, with the copies refused apart; nothing
// about other publishers' events. The gaps name what the list cannot show (a
// record lost from the audit, a broken chain).
func (b *Ops) Disclosures(ctx context.Context, participant, child string) ([]api.EventDisclosures, []string, error) {
	recs, lost, err := b.auditLog.ChildRecords(ctx, b.children.Key(child))
	if err != nil {
		return nil, nil, err
	}
	source := "/" + participant
	byID := map[string]*api.EventDisclosures{}
	var order []string
	group := func(id, typ, at string) *api.EventDisclosures {
		e := byID[id]
		if e == nil {
			e = &api.EventDisclosures{EventID: id, Type: typ, EventTime: at, Recipients: []api.Disclosure{}}
			byID[id] = e
			order = append(order, id)
		}
		return e
	}
	for _, rec := range recs {
		if rec.Publisher != participant || rec.CausedBy != "" || rec.Source != source || rec.Action != nil {
			continue
		}
		if rec.Outcome == "decided" || rec.Outcome == "policy-error" {
			group(rec.EventID, rec.Type, rec.EventTime)
		}
	}
	stored, refused := disclosuresFrom(recs)
	for _, d := range stored {
		if d.Source == source {
			e := group(d.EventID, d.Type, d.EventTime)
			e.Recipients = append(e.Recipients, d)
		}
	}
	for _, d := range refused {
		if d.Source == source {
			e := group(d.EventID, d.Type, d.EventTime)
			e.Refused = append(e.Refused, d)
		}
	}
	out := make([]api.EventDisclosures, 0, len(order))
	for _, id := range order {
		e := byID[id]
		sort.SliceStable(e.Recipients, func(i, j int) bool {
			return e.Recipients[i].DecidedAt < e.Recipients[j].DecidedAt ||
				e.Recipients[i].DecidedAt == e.Recipients[j].DecidedAt && strings.Compare(e.Recipients[i].Participant, e.Recipients[j].Participant) < 0
		})
		out = append(out, *e)
	}
	return out, b.auditGaps(lost), nil
}
