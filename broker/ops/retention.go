package ops

// Retention (docs/operations.md, "Retention"): how long personal data is
// kept, and the sweep that removes it when that time is up. Streams hold
// messages of mixed kinds (an index record and a referral about the same
// child in one ingest subject), so JetStream's per-stream MaxAge applies only
// where one age fits every message (dead letters; deliveries through
// delivery_limits.max_age); the rest is a periodic sweep:
//
//   - case events (everything but index and consent events) are deleted from
//     ECM_INGEST once older than retention.case_events;
//   - a child's index record, consent history and every remaining event are
//     erased, as by ecmctl erase, once the child reaches
//     retention.index_until_age (18 plus 6 years by default), or, for a child
//     whose date of birth the broker never learnt, once the record has not
//     changed for retention.case_events.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

const (
	metaSweepCursor = "retention-case-cursor" // last ingest sequence the case sweep has passed
	metaSweepClaim  = "retention-sweep"       // when the last sweep began, so one instance sweeps at a time
)

var errStopScan = errors.New("stop")

// SweepRetention removes what the retention rules say is due at now.
func (b *Ops) SweepRetention(ctx context.Context, now time.Time) (api.SweepResult, error) {
	var res api.SweepResult
	meta, err := b.js.KeyValue(ctx, wire.BucketMeta)
	if err != nil {
		return res, err
	}
	// Case events, from where the last sweep stopped to the cutoff.
	cutoff := now.Add(-time.Duration(b.cfg.Retention.CaseEvents))
	var cursor uint64
	cursorRev := uint64(0)
	if e, err := meta.Get(ctx, metaSweepCursor); err == nil {
		cursor, _ = strconv.ParseUint(string(e.Value()), 10, 64)
		cursorRev = e.Revision()
	}
	ingest, err := b.js.Stream(ctx, wire.StreamIngest)
	if err != nil {
		return res, err
	}
	last := cursor
	err = store.Scan(ctx, b.js, wire.StreamIngest, store.ScanOpts{StartSeq: cursor + 1}, func(m store.Msg) error {
		if !m.Time.Before(cutoff) {
			return errStopScan
		}
		last = m.Seq
		raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		if err != nil {
			return nil // rejected input: its dead letter expires on its own; the event stays with the child
		}
		typ, _ := raw.String("type")
		name := strings.TrimSuffix(strings.TrimPrefix(typ, schemas.TypePrefix), schemas.TypeSuffix)
		if strings.HasPrefix(name, "index.") || strings.HasPrefix(name, "consent.") {
			return nil // the child's record is rebuilt from these: kept until the child's erasure
		}
		if err := ingest.DeleteMsg(ctx, m.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
		res.CaseEvents++
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return res, fmt.Errorf("sweeping case events: %w", err)
	}
	if last > cursor {
		v := []byte(strconv.FormatUint(last, 10))
		if cursorRev == 0 {
			_, err = meta.Create(ctx, metaSweepCursor, v)
		} else {
			_, err = meta.Update(ctx, metaSweepCursor, v, cursorRev)
		}
		if err != nil {
			return res, fmt.Errorf("storing the sweep cursor: %w", err)
		}
	}
	// Children who have reached the age, or whose undated record is stale.
	keys, err := b.children.KV().ListKeys(ctx)
	if err != nil {
		return res, err
	}
	var due []string
	for key := range keys.Keys() {
		due = append(due, key)
	}
	for _, key := range due {
		e, err := b.children.KV().Get(ctx, key)
		if err != nil {
			continue
		}
		st, _, err := b.children.Get(ctx, key)
		if err != nil || !b.retentionDue(st, e.Created(), now) {
			continue
		}
		child := ""
		if st.Index != nil {
			child = st.Index.UIN
		}
		if child == "" {
			hist, err := b.childHistory(ctx, key)
			if err != nil {
				continue
			}
			if len(hist) == 0 {
				if st.Index == nil && st.Consent == nil {
					_ = b.children.Delete(ctx, key) // only a sequence number left: nothing personal to record
				}
				continue
			}
			child = hist[0].Event.Subject
		}
		if _, err := b.Erase(ctx, "retention", child, fmt.Sprintf("retention: index kept until age %d (retention.index_until_age)", b.cfg.Retention.IndexUntilAge)); err != nil {
			return res, err
		}
		res.Children++
	}
	return res, nil
}

// retentionDue reports whether a child's data is due for erasure at now.
func (b *Ops) retentionDue(st child.State, changed, now time.Time) bool {
	if st.Index != nil && st.Index.DOB != "" {
		dob, err := time.Parse("2006-01-02", st.Index.DOB)
		if err == nil {
			return !now.Before(dob.AddDate(b.cfg.Retention.IndexUntilAge, 0, 0))
		}
	}
	return now.Sub(changed) > time.Duration(b.cfg.Retention.CaseEvents)
}

// RunRetention sweeps every retention.sweep_every, one instance at a time,
// until ctx ends.
func (b *Ops) RunRetention(ctx context.Context) {
	every := time.Duration(b.cfg.Retention.SweepEvery)
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(every)
		if !b.claimSweep(ctx, every) {
			continue
		}
		res, err := b.SweepRetention(ctx, time.Now())
		if err != nil {
			b.log.Error("retention sweep incomplete; it continues at the next one", zap.Error(err))
			continue
		}
		b.log.Info("retention sweep", zap.Int("case_events_deleted", res.CaseEvents), zap.Int("children_erased", res.Children))
	}
}

// claimSweep records this instance's sweep in the meta bucket unless
// another instance swept less than every ago.
func (b *Ops) claimSweep(ctx context.Context, every time.Duration) bool {
	kv, err := b.js.KeyValue(ctx, wire.BucketMeta)
	if err != nil {
		return false
	}
	now := []byte(time.Now().UTC().Format(time.RFC3339))
	e, err := kv.Get(ctx, metaSweepClaim)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		_, err = kv.Create(ctx, metaSweepClaim, now)
		return err == nil
	}
	if err != nil {
		return false
	}
	if last, perr := time.Parse(time.RFC3339, string(e.Value())); perr == nil && time.Since(last) < every*9/10 {
		return false
	}
	_, err = kv.Update(ctx, metaSweepClaim, now, e.Revision())
	return err == nil
}

// decodeKey reads a base64 key.
