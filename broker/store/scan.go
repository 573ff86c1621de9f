package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one stored message as the broker reads it back, whichever way it
// was read (a scan, a page of one subject, a get by sequence).
type Msg struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
	Time    time.Time // when JetStream stored it
}

// ScanOpts select what Scan reads.
type ScanOpts struct {
	Filter      []string
	StartSeq    uint64
	StartTime   time.Time
	LastSeq     uint64 // stop after this sequence; 0: the stream's last when the scan began
	HeadersOnly bool
	Progress    func(done, total uint64)
}

// Scan calls fn for each message of stream that o selects, in
// sequence order, up to the stream's last message when it began. It reads
// through an ephemeral consumer, so JetStream skips to the selected subjects
// through its subject index. A message the index counts but the store cannot
// return (a damaged block, see ScanCounting) is skipped, not waited for.
func Scan(ctx context.Context, js jetstream.JetStream, stream string, o ScanOpts, fn func(Msg) error) error {
	_, err := ScanCounting(ctx, js, stream, o, fn)
	return err
}

// ScanCounting is Scan, and says how many of the messages the stream's
// index counted for the selection could not be read. After a damaged block
// is recovered JetStream drops the damaged messages but may still count
// them; a reader that waited for them would wait for ever, so the scan
// ends as soon as the consumer has nothing more to give and reports the
// shortfall instead: a caller that must be complete says so (the subject
// access report names the gap).
func ScanCounting(ctx context.Context, js jetstream.JetStream, stream string, o ScanOpts, fn func(Msg) error) (unreadable uint64, err error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("opening stream %s: %w", stream, err)
	}
	last := s.CachedInfo().State.LastSeq
	if o.LastSeq > 0 && o.LastSeq < last {
		last = o.LastSeq
	}
	if s.CachedInfo().State.Msgs == 0 || last == 0 || o.StartSeq > last {
		return 0, nil
	}
	cfg := jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy, FilterSubjects: o.Filter, HeadersOnly: o.HeadersOnly,
		InactiveThreshold: time.Minute, MemoryStorage: true, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch {
	case o.StartSeq > 1:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.StartSeq
	case !o.StartTime.IsZero():
		t := o.StartTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.CreateConsumer(ctx, stream, cfg)
	if err != nil {
		return 0, fmt.Errorf("reading stream %s: %w", stream, err)
	}
	defer func() {
		// Not waited for: an unused consumer goes away by itself after
		// InactiveThreshold anyway.
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
			cancel()
		}()
	}()
	total := cons.CachedInfo().NumPending
	if total == 0 {
		return 0, nil
	}
	var done uint64
	finished := false
	handle := func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Stream > last {
			finished = true
			return nil
		}
		if err := fn(Msg{Seq: meta.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Time: meta.Timestamp}); err != nil {
			return err
		}
		done++
		finished = meta.NumPending == 0 || meta.Sequence.Stream >= last
		return nil
	}
	if total <= 1024 {
		// A few messages (one child's subject): fetches, no streaming pull.
		for done < total && !finished {
			n, err := fetch(ctx, cons, int(total-done), handle)
			if err != nil {
				return 0, fmt.Errorf("reading stream %s: %w", stream, err)
			}
			if n == 0 {
				if exhausted(ctx, cons) {
					return total - done, nil
				}
				return 0, fmt.Errorf("reading stream %s: no message for %s at %d of %d", stream, fetchWait, done, total)
			}
		}
		return 0, nil
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return 0, fmt.Errorf("reading stream %s: %w", stream, err)
	}
	defer iter.Stop()
	tick := time.Now()
	progress := func() {
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	for !finished {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		m, err := iter.Next(jetstream.NextMaxWait(fetchWait))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				if exhausted(ctx, cons) {
					progress()
					return total - done, nil
				}
				return 0, fmt.Errorf("reading stream %s: no message for %s at %d of %d", stream, fetchWait, done, total)
			}
			return 0, fmt.Errorf("reading stream %s: %w", stream, err)
		}
		if err := handle(m); err != nil {
			return 0, err
		}
		if time.Since(tick) > 500*time.Millisecond {
			tick = time.Now()
			progress()
		}
	}
	progress()
	return 0, nil
}

// fetchWait is how long a read waits for a message the stream says it holds
// before it gives up (the consumer still counting it) with an error.
const fetchWait = 10 * time.Second

// fetch takes up to n messages from cons and hands each to fn: first what
// the consumer has at once (no wait), and only when that is nothing, a
// fetch that waits up to fetchWait. It returns how many it handed over.
func fetch(ctx context.Context, cons jetstream.Consumer, n int, fn func(jetstream.Msg) error) (int, error) {
	got := 0
	take := func(batch jetstream.MessageBatch, err error) error {
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			got++
			if err := fn(m); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
		return nil
	}
	if err := take(cons.FetchNoWait(n)); err != nil || got > 0 {
		return got, err
	}
	if exhausted(ctx, cons) {
		return 0, nil
	}
	err := take(cons.Fetch(n, jetstream.FetchMaxWait(fetchWait)))
	return got, err
}

// exhausted reports whether the consumer has delivered everything its
// stream holds for it: what it still counts then is lost from the store.
func exhausted(ctx context.Context, cons jetstream.Consumer) bool {
	info, err := cons.Info(ctx)
	return err == nil && info.NumPending == 0
}

// ReadSubject reads up to limit messages on subject with a stream sequence
// above after, with an ordered consumer that starts at after+1 (JetStream
// skips to the subject through its per-subject index). The consumer says how
// many messages match, so the fetch asks for exactly those; one the index
// counts but the store lost is not waited for (see ScanCounting).
func ReadSubject(ctx context.Context, js jetstream.JetStream, stream, subject string, after uint64, limit int) ([]Msg, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	var cons jetstream.Consumer
	var err error
	for try := 0; ; try++ { // a cluster that is electing a leader answers "no responders" for a moment
		if cons, err = js.OrderedConsumer(ctx, stream, cfg); err == nil || try == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	want := int(min(uint64(limit), info.NumPending))
	out := make([]Msg, 0, want)
	for len(out) < want {
		n, err := fetch(ctx, cons, min(want-len(out), 1000), func(m jetstream.Msg) error {
			if meta, err := m.Metadata(); err == nil {
				out = append(out, Msg{Seq: meta.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Time: meta.Timestamp})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

// BySeq reads messages of stream by sequence, a few at a time; a message
// erased or expired is nil.
func BySeq(ctx context.Context, js jetstream.JetStream, name string, seqs []uint64) ([]*Msg, error) {
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	msgs := make([]*Msg, len(seqs))
	errs := make([]error, len(seqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, seq := range seqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m, err := stream.GetMsg(ctx, seq)
			if err == nil {
				msgs[i] = &Msg{Seq: m.Sequence, Subject: m.Subject, Header: m.Header, Data: m.Data, Time: m.Time}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			msgs[i] = nil
		} else if err != nil {
			return nil, fmt.Errorf("reading event %d: %w", seqs[i], err)
		}
	}
	return msgs, nil
}
