package audit

// Tamper-evident audit (docs/operations.md, "The audit chain").
//
// Every audit record an instance writes is linked into a hash chain: the
// record carries its chain's id, its index in the chain and the SHA-256 of
// the stored bytes of the record before it, so its own hash is the SHA-256 of
// its stored bytes. Changing, removing or moving a record breaks the link of
// the record after it. The newest records have no record after them; a signed
// checkpoint (Ed25519) of every chain's head, written every minute and at
// shutdown, covers them, and each checkpoint names the one before it.
//
// Chains are per writer so that no global lock is needed: each instance has
// chainSlots chains, a child's records always go to the same one (by child
// key), and each chain has one goroutine that publishes a record, waits for
// JetStream's acknowledgement and only then links the next one. So a link
// always names a record that is stored: a record JetStream drops as a
// duplicate (an event redelivered after a crash) is not linked to, and after
// a publish error (which may or may not have stored the record) the chain is
// closed and a new one begun, so a chain never forks.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

const (
	// chainSlots: 64 chains per instance. Each chain writes one record after
	// another (publish, wait, link), and since a batch also writes a record
	// of its copies, more chains in parallel pay: 16 → 64 gave 5-25% more
	// events/s in the pipeline benchmark (docs/operations.md).
	chainSlots    = 64
	chainQueue    = 4096
	chainPubWait  = 10 * time.Second
	metaSignerKey = "audit-signing-key"
)

// errChainStopped is returned for an audit record submitted while the
// instance is not running its chains (before Start or after Close).
var errChainStopped = errors.New("audit chain not running")

// chainer links one instance's audit records into its chains and writes its
// checkpoints.
type chainer struct {
	js       jetstream.JetStream
	log      *zap.Logger
	failing  func(error) // Broker.auditFailing: /readyz reports audit not writable
	instance string
	key      ed25519.PrivateKey
	slots    [chainSlots]*chainSlot
	running  atomic.Bool
	done     chan struct{}

	cpMu  sync.Mutex
	cpN   uint64
	cpPre string
	cpAt  map[string]uint64 // chain → index in the last checkpoint
}

type chainSlot struct {
	reqs chan *chainReq

	mu     sync.Mutex
	n      int
	epoch  int
	id     string
	head   api.ChainHead
	closed []api.ChainHead // final heads of this slot's earlier chains
}

type chainReq struct {
	rec api.AuditRecord
	id  string
	fut *auditFuture
}

func newChainer(js jetstream.JetStream, log *zap.Logger, key ed25519.PrivateKey, failing func(error)) *chainer {
	c := &chainer{js: js, log: log, failing: failing, key: key, instance: randomHex(4),
		done: make(chan struct{}), cpAt: map[string]uint64{}}
	for i := range c.slots {
		s := &chainSlot{reqs: make(chan *chainReq, chainQueue), n: i}
		s.id = c.chainID(i, 0)
		s.head.Chain = s.id
		c.slots[i] = s
	}
	return c
}

func (c *chainer) chainID(slot, epoch int) string {
	return fmt.Sprintf("%s.%02d.%d", c.instance, slot, epoch)
}

// submit queues a record for its chain; the future resolves once JetStream
// has stored it (or dropped it as a duplicate of one stored before).
func (c *chainer) submit(rec api.AuditRecord, msgID string) (jetstream.PubAckFuture, error) {
	if !c.running.Load() {
		return nil, errChainStopped
	}
	f := &auditFuture{msg: nats.NewMsg(wire.AuditSubject(rec.ChildKey)), ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	f.msg.Header.Set(jetstream.MsgIDHeader, msgID)
	h := fnv.New32a()
	h.Write([]byte(rec.ChildKey))
	select {
	case c.slots[h.Sum32()%chainSlots].reqs <- &chainReq{rec: rec, id: msgID, fut: f}:
		return f, nil
	case <-c.done:
		return nil, errChainStopped
	}
}

// run writes records until ctx ends, then writes a last checkpoint.
func (c *chainer) run(ctx context.Context, every time.Duration) {
	c.running.Store(true)
	var wg sync.WaitGroup
	for _, s := range c.slots {
		wg.Add(1)
		go func() { defer wg.Done(); c.serve(ctx, s) }()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-t.C:
			if err := c.checkpoint(ctx); err != nil {
				c.log.Warn("audit checkpoint not written; trying again at the next one", zap.Error(err))
			}
		}
	}
	c.running.Store(false)
	close(c.done)
	wg.Wait()
	final, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.checkpoint(final); err != nil {
		c.log.Warn("final audit checkpoint not written", zap.Error(err))
	}
}

func (c *chainer) serve(ctx context.Context, s *chainSlot) {
	for {
		select {
		case r := <-s.reqs:
			c.write(ctx, s, r)
		case <-ctx.Done():
			for {
				select {
				case r := <-s.reqs:
					r.fut.err <- errChainStopped
				default:
					return
				}
			}
		}
	}
}

// write publishes one record linked to its slot's head and waits for the
// acknowledgement before the next record is linked.
func (c *chainer) write(ctx context.Context, s *chainSlot, r *chainReq) {
	s.mu.Lock()
	rec := r.rec
	rec.Chain, rec.ChainIndex, rec.PrevHash = s.id, s.head.Index+1, s.head.Hash
	s.mu.Unlock()
	body, err := json.Marshal(rec)
	if err != nil {
		r.fut.err <- fmt.Errorf("encoding audit record: %w", err)
		return
	}
	m := nats.NewMsg(wire.AuditSubject(rec.ChildKey))
	m.Header.Set(jetstream.MsgIDHeader, r.id)
	m.Data = body
	pctx, cancel := context.WithTimeout(ctx, chainPubWait)
	ack, err := c.js.PublishMsg(pctx, m)
	cancel()
	s.mu.Lock()
	switch {
	case err != nil:
		// The record may or may not be stored: close this chain, begin another.
		if s.head.Index > 0 {
			s.closed = append(s.closed, s.head)
		}
		s.epoch++
		s.id = c.chainID(s.n, s.epoch)
		s.head = api.ChainHead{Chain: s.id}
	case !ack.Duplicate:
		sum := sha256.Sum256(body)
		s.head = api.ChainHead{Chain: s.id, Index: rec.ChainIndex, Hash: hex.EncodeToString(sum[:]), Seq: ack.Sequence}
	}
	s.mu.Unlock()
	if err != nil {
		c.failing(err)
		r.fut.err <- err
		return
	}
	r.fut.ok <- ack
}

// heads returns every chain head not yet covered by a checkpoint.
func (c *chainer) heads() []api.ChainHead {
	var out []api.ChainHead
	for _, s := range c.slots {
		s.mu.Lock()
		for _, h := range append(append([]api.ChainHead(nil), s.closed...), s.head) {
			if h.Index > 0 && c.cpAt[h.Chain] != h.Index {
				out = append(out, h)
			}
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Chain < out[j].Chain })
	return out
}

// checkpoint signs and stores the heads that moved since the last one.
func (c *chainer) checkpoint(ctx context.Context) error {
	c.cpMu.Lock()
	defer c.cpMu.Unlock()
	heads := c.heads()
	if len(heads) == 0 {
		return nil
	}
	cp := api.Checkpoint{Instance: c.instance, N: c.cpN + 1, Prev: c.cpPre, At: time.Now().UTC().Format(time.RFC3339Nano),
		Key: encodePublic(c), Chains: heads}
	body, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	m := nats.NewMsg(wire.AuditCheckpointSubject)
	// The id names the content: a retry after an unanswered publish with
	// other heads is a second checkpoint n, which verification accepts.
	m.Header.Set(jetstream.MsgIDHeader, "checkpoint:"+c.instance+":"+strconv.FormatUint(cp.N, 10)+":"+hex.EncodeToString(sum[:8]))
	m.Header.Set(wire.HeaderSignature, signBody(c, body))
	m.Data = body
	if _, err := c.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	c.cpN, c.cpPre = cp.N, hex.EncodeToString(sum[:])
	for _, h := range heads {
		c.cpAt[h.Chain] = h.Index
	}
	return nil
}

func encodePublic(c *chainer) string {
	return base64.StdEncoding.EncodeToString(c.key.Public().(ed25519.PublicKey))
}

func signBody(c *chainer, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(c.key, body))
}

// auditFuture is the jetstream.PubAckFuture of a chained audit record.
type auditFuture struct {
	msg *nats.Msg
	ok  chan *jetstream.PubAck
	err chan error
}

func (f *auditFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *auditFuture) Err() <-chan error            { return f.err }
func (f *auditFuture) Msg() *nats.Msg               { return f.msg }

var _ jetstream.PubAckFuture = (*auditFuture)(nil)

// signingKey returns the configured checkpoint key, or the one kept in the
// meta bucket (created by the first instance to start without one).
func signingKey(ctx context.Context, js jetstream.JetStream, c *config.Config) (ed25519.PrivateKey, error) {
	if c.AuditSigningKey != "" {
		return config.ParseSigningKey(c.AuditSigningKey)
	}
	kv, err := js.KeyValue(ctx, wire.BucketMeta)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", wire.BucketMeta, err)
	}
	_, fresh, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	seed := base64.StdEncoding.EncodeToString(fresh.Seed())
	v, err := store.CreateOrRead(ctx, kv, metaSignerKey, []byte(seed))
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	return config.ParseSigningKey(string(v))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
