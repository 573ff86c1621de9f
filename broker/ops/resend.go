package ops

// Sending what a replay or a backfill planned (replay.go), and marking the
// dead letters of refused copies it delivers as resolved.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/pipeline"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// copiesPerRecord bounds the copies one audit record lists, so that a
// child with a long history still fits a record in one message.
const copiesPerRecord = 1000

// resendExec sends the planned copies of one replay or backfill.
type resendExec struct {
	*Ops
	op, operator, participant string
	res                       *api.ReplayResult
	refused                   map[string]uint64 // copy message id → its dead letter, not yet resolved
	resolve                   []resolveRef      // delivered copies whose dead letter is to be resolved
}

// resolveRef is a delivered copy whose refusal is in the dead letters; msg
// is the copy as sent (nil: read it from ECM_DELIVERY).
type resolveRef struct {
	msgID       string
	deliverySeq uint64
	msg         *nats.Msg
}

// send sends a batch of planned copies, whole children at a time, and
// returns how many children were sent copies. For each child: a record of
// the copies about to go out (nothing goes out unless it is stored), the
// copies, a record of what became of each. A copy whose publish fails other
// than by the delivery limit keeps only the first record (the subject access
// report shows it unconfirmed) and the batch ends with the error.
func (x *resendExec) send(ctx context.Context, batch []planned) (int, error) {
	var keys []string
	byKey := map[string][]int{}
	for i, pl := range batch {
		if byKey[pl.c.key] == nil {
			keys = append(keys, pl.c.key)
		}
		byKey[pl.c.key] = append(byKey[pl.c.key], i)
	}
	copies := make([]api.Copy, len(batch))
	for i, pl := range batch {
		copies[i] = api.Copy{Participant: x.participant, EventID: pl.c.ev.ID, Source: pl.c.ev.Source, Type: pl.c.ev.Type,
			EventTime: pl.c.ev.Time.UTC().Format(time.RFC3339Nano), IngestSeq: pl.c.seq, Status: api.CopySending,
			Basis: pl.d.Basis, Removed: nonNil(pl.d.Remove), Review: pl.d.Review}
		if cause, ok := pl.c.ev.Attrs["causedby"].(string); ok {
			copies[i].CausedBy = cause
		}
	}
	// 1. The records of the copies about to go out.
	if err := x.records(ctx, keys, byKey, copies, x.op, x.op); err != nil {
		return 0, fmt.Errorf("audit not written, nothing more sent: %w", err)
	}
	// 2. The copies.
	msgs := make([]*nats.Msg, len(batch))
	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, pl := range batch {
		m, err := replayDeliver(pl.c.ev, pl.d, x.res.ID)
		if err != nil {
			return 0, err
		}
		f, err := x.js.PublishMsgAsync(m)
		if err != nil {
			return 0, fmt.Errorf("publishing to %s: %w", m.Subject, err)
		}
		msgs[i], futures[i] = m, f
	}
	known := make([]bool, len(batch))
	var failed error
	for i, f := range futures {
		c := &copies[i]
		select {
		case ack := <-f.Ok():
			c.Status, c.DeliverySeq, c.StoredAt = api.CopyDelivered, ack.Sequence, time.Now().UTC().Format(time.RFC3339Nano)
			x.res.Delivered++
			x.setItem(batch[i].item, "delivered", ack.Sequence)
			id := msgs[i].Header.Get(jetstream.MsgIDHeader)
			if _, ok := x.refused[id]; ok {
				x.resolve = append(x.resolve, resolveRef{msgID: id, deliverySeq: ack.Sequence, msg: msgs[i]})
			}
		case err := <-f.Err():
			if !pipeline.RefusedByLimit(err) {
				if failed == nil {
					failed = fmt.Errorf("publishing to %s: %w", f.Msg().Subject, err)
				}
				continue // may or may not be stored: left unconfirmed
			}
			c.Status = api.CopyRefused
			c.Reason = fmt.Sprintf("not delivered: %s already holds delivery_limits.max_per_participant (%d) copies, so %s refused this one; "+
				"run the %s again once it has room", x.participant, x.cfg.DeliveryLimits.MaxPerParticipant, wire.StreamDelivery, x.op)
			x.res.Refused++
			x.setItem(batch[i].item, "refused", 0)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		known[i] = true
	}
	// 3. What became of them.
	for k, idx := range byKey {
		var keep []int
		for _, i := range idx {
			if known[i] {
				keep = append(keep, i)
			}
		}
		byKey[k] = keep
	}
	if err := x.records(ctx, keys, byKey, copies, "copies", x.op+"-copies"); err != nil {
		return len(keys), fmt.Errorf("auditing the copies sent: %w", err)
	}
	if failed != nil {
		return len(keys), failed
	}
	return len(keys), x.resolveRefused(ctx)
}

// records writes, for each child, the records listing its copies (at most
// copiesPerRecord each) and waits until they are stored.
func (x *resendExec) records(ctx context.Context, keys []string, byKey map[string][]int, copies []api.Copy, outcome, idKind string) error {
	var fs []jetstream.PubAckFuture
	at := time.Now().UTC().Format(time.RFC3339Nano)
	for _, k := range keys {
		idx := byKey[k]
		for part := 0; part*copiesPerRecord < len(idx); part++ {
			var list []api.Copy
			review := false
			for _, i := range idx[part*copiesPerRecord : min(len(idx), (part+1)*copiesPerRecord)] {
				list = append(list, copies[i])
				review = review || copies[i].Review
			}
			rec := api.AuditRecord{ChildKey: k, Type: x.op, Publisher: "broker", DecidedAt: at, PolicyRevision: x.res.PolicyRevision,
				Outcome: outcome, Decisions: []api.Decision{}, Review: review, Copies: list,
				Action: &api.AuditAction{Kind: x.op, ID: x.res.ID, By: x.operator, Participant: x.participant, Confirms: x.res.Confirms}}
			f, err := x.audit.ActionAsync(rec, idKind, fmt.Sprintf("%s:%s:%d", x.res.ID, k, part))
			if err != nil {
				return err
			}
			fs = append(fs, f)
		}
	}
	return audit.Await(ctx, fs...)
}

func (x *resendExec) setItem(i int, outcome string, seq uint64) {
	if i >= 0 {
		x.res.Items[i].Outcome, x.res.Items[i].DeliverySeq = outcome, seq
	}
}

// refusedCopies reads which of participant's copies the delivery limit
// refused and the dead letters still hold unresolved: the copy's message id
// → the dead letter's sequence.
func (b *Ops) refusedCopies(ctx context.Context, participant string) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := store.Scan(ctx, b.js, wire.StreamDeadLetter, store.ScanOpts{Filter: []string{wire.UndeliveredSubject(participant)}, HeadersOnly: true},
		func(m store.Msg) error {
			if id, resolved, ok := wire.ParseUndeliveredMsgID(m.Header.Get(jetstream.MsgIDHeader)); ok && !resolved {
				out[id] = m.Seq
			}
			return nil
		})
	return out, err
}

// resolveRefused marks the dead letters of the refused copies now
// delivered as resolved: each is replaced by one that holds the copy as
// delivered (so never a field the delivered copy lacks, such as an address
// shielded since) and says which operation delivered it, and the refused
// one is overwritten and removed.
func (x *resendExec) resolveRefused(ctx context.Context) error {
	if len(x.resolve) == 0 {
		return nil
	}
	dls, err := x.js.Stream(ctx, wire.StreamDeadLetter)
	if err != nil {
		return err
	}
	var delivery jetstream.Stream
	for _, r := range x.resolve {
		dlSeq, ok := x.refused[r.msgID]
		if !ok {
			continue
		}
		msg := r.msg
		if msg == nil { // delivered before: read the copy as it is held
			if delivery == nil {
				if delivery, err = x.js.Stream(ctx, wire.StreamDelivery); err != nil {
					return err
				}
			}
			m, err := delivery.GetMsg(ctx, r.deliverySeq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading the delivered copy %d: %w", r.deliverySeq, err)
			}
			msg = &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
		}
		old, err := dls.GetMsg(ctx, dlSeq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			delete(x.refused, r.msgID)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading dead letter %d: %w", dlSeq, err)
		}
		var dl api.DeadLetter
		if json.Unmarshal(old.Data, &dl) != nil {
			dl = api.DeadLetter{Received: old.Time, Publisher: "ecm-broker"}
		}
		dl.Seq, dl.Headers = 0, map[string]string{}
		for k, v := range msg.Header {
			dl.Headers[k] = strings.Join(v, ", ")
		}
		dl.Body, dl.BodyText, dl.BodyBase64, dl.Size, dl.Truncated = json.RawMessage(msg.Data), "", "", len(msg.Data), false
		dl.Resolved = &api.DeadLetterResolution{At: time.Now().UTC().Format(time.RFC3339Nano), Operation: x.op, ID: x.res.ID,
			Operator: x.operator, DeliverySeq: r.deliverySeq}
		body, err := json.Marshal(dl)
		if err != nil {
			return err
		}
		out := nats.NewMsg(old.Subject)
		out.Header.Set(jetstream.MsgIDHeader, wire.ResolvedMsgID(r.msgID))
		out.Data = body
		if _, err := x.js.PublishMsg(ctx, out); err != nil {
			return fmt.Errorf("marking dead letter %d resolved: %w", dlSeq, err)
		}
		if err := secureDelete(ctx, dls, dlSeq); err != nil {
			return fmt.Errorf("removing the refused copy %d, now resolved: %w", dlSeq, err)
		}
		delete(x.refused, r.msgID)
	}
	x.resolve = x.resolve[:0]
	return nil
}
