package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ErrNoWebhook is returned for a participant without a webhook.
var ErrNoWebhook = errors.New("no webhook")

// giveUp keeps the copy in the dead letters, with why and every attempt's
// status, then acknowledges it so the next copy goes. The dead letter holds
// the copy as stored (never more than the participant was allowed) under an
// id made of its delivery sequence, so a give-up retried after a failure is
// stored once.
func (p *Pusher) giveUp(ctx context.Context, part config.Participant, msg jetstream.Msg, seq uint64, age time.Duration, id string, st state) error {
	reasons := []string{fmt.Sprintf("gave up pushing this copy to %s: it was stored %s ago, longer than push.give_up_after (%s), and all %d attempts failed; "+
		"ecmctl push retry --participant %s sends it again", part.Push.Endpoint(), age.Round(time.Second), p.cfg.Push.GiveUpAfter, st.Count, part.ID)}
	for i, a := range st.Attempts {
		n := i + 1
		if i >= stateAttemptsFirst {
			n = st.Count - (len(st.Attempts) - 1 - i)
		}
		if i == stateAttemptsFirst && st.Count > len(st.Attempts) {
			reasons = append(reasons, fmt.Sprintf("… attempts %d to %d not listed", stateAttemptsFirst+1, n-1))
		}
		reasons = append(reasons, fmt.Sprintf("attempt %d at %s: %s", n, a.At.Format(time.RFC3339), a.Result))
	}
	dl := api.DeadLetter{Received: time.Now().UTC(), Publisher: "ecm-broker", Reasons: reasons, Headers: map[string]string{"webhook-id": id},
		Body: json.RawMessage(msg.Data()), Size: len(msg.Data())}
	for k, v := range msg.Headers() {
		dl.Headers[k] = strings.Join(v, ", ")
	}
	body, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	out := nats.NewMsg(wire.PushDeadLetterSubject(part.ID))
	out.Header.Set(jetstream.MsgIDHeader, wire.PushGaveUpMsgID(seq))
	out.Data = body
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := p.js.PublishMsg(pctx, out); err != nil {
		return fmt.Errorf("storing the dead letter: %w", err)
	}
	p.markDone(part.ID, seq)
	if err := msg.DoubleAck(pctx); err != nil {
		// Kept in the dead letters and pending: pushed again (same
		// webhook-id) and, if it fails, dead-lettered again under the same
		// id, which JetStream drops.
		p.log.Warn("push: dead-lettered but not acknowledged", zap.String("participant", part.ID), zap.Uint64("seq", seq), zap.Error(err))
	}
	p.clearState(part.ID, seq)
	p.metrics.deadLettered.WithLabelValues(part.ID).Inc()
	p.log.Warn("push: gave up a copy; it is in the dead letters", zap.String("participant", part.ID), zap.Uint64("seq", seq),
		zap.Int("attempts", st.Count), zap.String("last", st.Attempts[len(st.Attempts)-1].Result))
	return nil
}

// webhookOf is the participant's configuration when it has a webhook.
func (p *Pusher) webhookOf(participant string) (config.Participant, error) {
	for _, part := range p.participants() {
		if part.ID == participant {
			return part, nil
		}
	}
	return config.Participant{}, fmt.Errorf("%w: %q has no push webhook in the configuration, so nothing is pushed to it or dead-lettered for it", ErrNoWebhook, participant)
}

// deadLettered lists the participant's push dead letters not re-queued
// since: their sequence in ECM_DEADLETTER → the copy's delivery sequence.
func (p *Pusher) deadLettered(ctx context.Context, participant string, headersOnly bool, fn func(store.Msg, uint64) error) error {
	return store.Scan(ctx, p.js, wire.StreamDeadLetter, store.ScanOpts{Filter: []string{wire.PushDeadLetterSubject(participant)}, HeadersOnly: headersOnly},
		func(m store.Msg) error {
			seq, requeued, ok := wire.ParsePushDeadLetterMsgID(m.Header.Get(jetstream.MsgIDHeader))
			if !ok || requeued {
				return nil
			}
			return fn(m, seq)
		})
}

// Retry re-queues the participant's dead-lettered copies: each is stored
// again in ECM_DELIVERY (wire.HeaderPushOf keeps its webhook-id) and pushed
// after the copies already waiting; its dead letter is replaced by one that
// says it was re-queued, by whom and where. The operator's action is
// audited, with the count, whatever happened.
func (p *Pusher) Retry(ctx context.Context, participant, operator string) (api.PushRetryResult, error) {
	res := api.PushRetryResult{ID: randomHex(8), Participant: participant, DeliverySeq: []uint64{}}
	if _, err := p.webhookOf(participant); err != nil {
		return res, err
	}
	runErr := p.requeue(ctx, participant, operator, &res)
	action := &api.AuditAction{Kind: "push-retry", ID: res.ID, By: operator, Participant: participant,
		Reason: "re-queue the copies given up pushing to the participant's webhook", Counts: map[string]int{"requeued": res.Requeued}}
	if runErr != nil {
		action.Error = runErr.Error()
	}
	rec := api.AuditRecord{ChildKey: "_ops", Type: "push-retry", Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		Outcome: "push-retry", Decisions: []api.Decision{}, Action: action}
	if err := p.audit.Action(ctx, rec, "push-retry", res.ID); err != nil && runErr == nil {
		runErr = fmt.Errorf("auditing the push retry: %w", err)
	}
	p.log.Info("push retry", zap.String("id", res.ID), zap.String("operator", operator), zap.String("participant", participant),
		zap.Int("requeued", res.Requeued), zap.Error(runErr))
	return res, runErr
}

func (p *Pusher) requeue(ctx context.Context, participant, operator string, res *api.PushRetryResult) error {
	type found struct {
		dlSeq, copySeq uint64
		dl             api.DeadLetter
	}
	var all []found
	err := p.deadLettered(ctx, participant, false, func(m store.Msg, copySeq uint64) error {
		var dl api.DeadLetter
		if err := json.Unmarshal(m.Data, &dl); err != nil {
			return fmt.Errorf("reading dead letter %d: %w", m.Seq, err)
		}
		all = append(all, found{m.Seq, copySeq, dl})
		return nil
	})
	if err != nil {
		return err
	}
	dls, err := p.js.Stream(ctx, wire.StreamDeadLetter)
	if err != nil {
		return err
	}
	for _, f := range all {
		orig := f.dl.Headers[wire.HeaderPushOf]
		if orig == "" {
			orig = f.dl.Headers[jetstream.MsgIDHeader]
		}
		cp := nats.NewMsg(wire.DeliverySubject(participant))
		for _, h := range []string{"Content-Type", wire.HeaderBasis, wire.HeaderRevision, wire.HeaderReplay} {
			if v := f.dl.Headers[h]; v != "" {
				cp.Header.Set(h, v)
			}
		}
		cp.Header.Set(wire.HeaderPushOf, orig)
		cp.Header.Set(jetstream.MsgIDHeader, wire.PushRequeueMsgID(orig, f.copySeq))
		cp.Data = f.dl.Body
		ack, err := p.js.PublishMsg(ctx, cp)
		if err != nil {
			return fmt.Errorf("re-queuing the copy of dead letter %d: %w", f.dlSeq, err)
		}
		f.dl.Seq = 0
		f.dl.Resolved = &api.DeadLetterResolution{At: time.Now().UTC().Format(time.RFC3339Nano), Operation: "push-retry", ID: res.ID,
			Operator: operator, DeliverySeq: ack.Sequence}
		body, err := json.Marshal(f.dl)
		if err != nil {
			return err
		}
		out := nats.NewMsg(wire.PushDeadLetterSubject(participant))
		out.Header.Set(jetstream.MsgIDHeader, wire.PushRequeuedMsgID(f.copySeq))
		out.Data = body
		if _, err := p.js.PublishMsg(ctx, out); err != nil {
			return fmt.Errorf("marking dead letter %d re-queued: %w", f.dlSeq, err)
		}
		if err := dls.DeleteMsg(ctx, f.dlSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("removing dead letter %d, re-queued: %w", f.dlSeq, err)
		}
		res.Requeued++
		res.DeliverySeq = append(res.DeliverySeq, ack.Sequence)
		p.metrics.requeued.WithLabelValues(participant).Inc()
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
