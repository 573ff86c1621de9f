package broker

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
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"
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
	chainSlots    = 16
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

// trustedKeys are the public keys whose checkpoints verification accepts:
// the signing key's and audit_verify_keys (earlier keys, after a rotation).
func (b *Broker) trustedKeys() map[string]bool {
	keys := map[string]bool{}
	if b.chain != nil {
		keys[base64.StdEncoding.EncodeToString(b.chain.key.Public().(ed25519.PublicKey))] = true
	}
	for _, k := range b.cfg.AuditVerifyKeys {
		keys[strings.TrimSpace(k)] = true
	}
	return keys
}

// Checkpoint writes a checkpoint now (tests, and operators who want the
// newest records covered before a copy is taken).
func (b *Broker) Checkpoint(ctx context.Context) error { return b.chain.checkpoint(ctx) }

// AuditPublicKey is the base64 Ed25519 public key checkpoints are signed with.
func (b *Broker) AuditPublicKey() string {
	return base64.StdEncoding.EncodeToString(b.chain.key.Public().(ed25519.PublicKey))
}

// ---- wiring (called from New, Start and routes) ----

// initOps prepares the operator features once the streams exist: the chain
// of audit records with its signing key, and the streams' retention.
func (b *Broker) initOps(ctx context.Context) error {
	key, err := signingKey(ctx, b.js, b.cfg)
	if err != nil {
		return err
	}
	if b.cfg.AuditSigningKey == "" {
		b.log.Warn("audit checkpoints are signed with a key kept in the broker's own state; set audit_signing_key " +
			"so that someone who can change the store cannot sign for the broker")
	}
	b.chain = newChainer(b.js, b.log, key, b.auditFailing)
	b.log.Info("audit checkpoints signed", zap.String("public_key", encodePublic(b.chain)), zap.String("instance", b.chain.instance))
	return store.ApplyRetention(ctx, b.js, b.cfg)
}

// startOps runs the audit chains, their checkpoints and the retention sweep
// until ctx ends.
func (b *Broker) startOps(ctx context.Context) {
	b.chain.running.Store(true) // records submitted before the goroutines run are queued
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.chain.run(ctx, b.cfg.AuditCheckpointEvery) }()
	go func() { defer b.wg.Done(); b.runRetention(ctx) }()
}

// opsRoutes registers the operator and IG-lead endpoints.
func (b *Broker) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/audit/verify", b.handleVerify)
	mux.HandleFunc("POST /v1/replay", b.handleReplay)
	mux.HandleFunc("POST /v1/impact", b.handleImpact)
	mux.HandleFunc("GET /v1/sar", b.handleSubjectAccess)
	mux.HandleFunc("GET /v1/disclosures", b.handleDisclosures)
	mux.HandleFunc("POST /v1/erase", b.handleErase)
}

// ---- verification ----

// StoredMsg is one message of an audit stream as verification reads it.
type StoredMsg struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
}

// chainLink is what verification reads of a record.
type chainLink struct {
	Chain      string `json:"chain"`
	ChainIndex uint64 `json:"chain_index"`
	PrevHash   string `json:"prev_hash"`
}

type chainState struct {
	index, seq, firstSeq uint64
	hash                 string
	covered              uint64
	recent               map[uint64]string // index → hash of the newest records
	order                []uint64
}

const verifyRecent = 1 << 14

// ChainVerifier walks an audit stream in stream order. Feed it every message
// with Add, then call Report.
type ChainVerifier struct {
	keys    map[string]bool
	rep     api.VerifyReport
	chains  map[string]*chainState
	cps     map[string][]uint64            // instance → seqs of its checkpoints
	cpSeen  map[string]map[uint64][]string // instance → n → hashes of checkpoints seen
	chained bool
}

// NewChainVerifier trusts checkpoints signed by the given base64 public keys.
func NewChainVerifier(stream string, keys map[string]bool) *ChainVerifier {
	return &ChainVerifier{keys: keys, rep: api.VerifyReport{Stream: stream}, chains: map[string]*chainState{},
		cps: map[string][]uint64{}, cpSeen: map[string]map[uint64][]string{}}
}

func (v *ChainVerifier) broken(seq uint64, chain string, index uint64, format string, args ...any) {
	b := api.ChainBreak{Seq: seq, Chain: chain, Index: index, Problem: fmt.Sprintf(format, args...)}
	if v.rep.FirstBreak == nil {
		v.rep.FirstBreak = &b
	}
	if len(v.rep.Breaks) < 100 {
		v.rep.Breaks = append(v.rep.Breaks, b)
	}
	v.rep.BreakCount++
}

// Add checks one message against everything before it.
func (v *ChainVerifier) Add(m StoredMsg) {
	if m.Header.Get(wire.HeaderSignature) != "" || strings.HasSuffix(m.Subject, "._checkpoint") {
		v.checkpoint(m)
		return
	}
	v.rep.Records++
	var l chainLink
	if err := json.Unmarshal(m.Data, &l); err != nil {
		v.broken(m.Seq, "", 0, "record is not valid JSON: %v", err)
		return
	}
	if l.Chain == "" {
		if v.chained {
			v.broken(m.Seq, "", 0, "record carries no chain link although records before it do (removed link, or a record inserted)")
		}
		v.rep.Unchained++
		return
	}
	v.chained = true
	sum := sha256.Sum256(m.Data)
	h := hex.EncodeToString(sum[:])
	c := v.chains[l.Chain]
	if c == nil {
		c = &chainState{firstSeq: m.Seq, recent: map[uint64]string{}}
		v.chains[l.Chain] = c
		if l.ChainIndex != 1 {
			v.broken(m.Seq, l.Chain, l.ChainIndex, "chain %s begins at index %d: records 1 to %d are missing", l.Chain, l.ChainIndex, l.ChainIndex-1)
		} else if l.PrevHash != "" {
			v.broken(m.Seq, l.Chain, 1, "first record of chain %s names a predecessor", l.Chain)
		}
	} else {
		switch {
		case l.ChainIndex == c.index+1 && l.PrevHash != c.hash:
			v.broken(m.Seq, l.Chain, l.ChainIndex, "record does not link to the record before it (seq %d, index %d): that record was changed or replaced", c.seq, c.index)
		case l.ChainIndex > c.index+1:
			v.broken(m.Seq, l.Chain, l.ChainIndex, "index %d follows index %d: %d record(s) missing or moved", l.ChainIndex, c.index, l.ChainIndex-c.index-1)
		case l.ChainIndex <= c.index:
			v.broken(m.Seq, l.Chain, l.ChainIndex, "index %d comes after index %d: a record was moved or copied", l.ChainIndex, c.index)
		}
	}
	c.index, c.seq, c.hash = l.ChainIndex, m.Seq, h
	c.recent[l.ChainIndex] = h
	c.order = append(c.order, l.ChainIndex)
	if len(c.order) > verifyRecent {
		delete(c.recent, c.order[0])
		c.order = c.order[1:]
	}
}

func (v *ChainVerifier) checkpoint(m StoredMsg) {
	v.rep.Checkpoints++
	var cp api.Checkpoint
	if err := json.Unmarshal(m.Data, &cp); err != nil || cp.Instance == "" {
		v.broken(m.Seq, "", 0, "checkpoint is not valid")
		return
	}
	sig, err := base64.StdEncoding.DecodeString(m.Header.Get(wire.HeaderSignature))
	pub, perr := base64.StdEncoding.DecodeString(cp.Key)
	switch {
	case !v.keys[cp.Key]:
		v.broken(m.Seq, "", 0, "checkpoint %s/%d is signed with a key that is not trusted (%s)", cp.Instance, cp.N, cp.Key)
		return
	case err != nil || perr != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, m.Data, sig):
		v.broken(m.Seq, "", 0, "checkpoint %s/%d: the signature does not match its content", cp.Instance, cp.N)
		return
	}
	sum := sha256.Sum256(m.Data)
	seen := v.cpSeen[cp.Instance]
	if seen == nil {
		seen = map[uint64][]string{}
		v.cpSeen[cp.Instance] = seen
	}
	if cp.N == 1 && cp.Prev != "" || cp.N > 1 && !contains(seen[cp.N-1], cp.Prev) {
		v.broken(m.Seq, "", 0, "checkpoint %s/%d does not follow checkpoint %d: a checkpoint is missing or changed", cp.Instance, cp.N, cp.N-1)
	}
	seen[cp.N] = append(seen[cp.N], hex.EncodeToString(sum[:]))
	v.cps[cp.Instance] = append(v.cps[cp.Instance], m.Seq)
	v.rep.LastSigned = cp.At
	for _, h := range cp.Chains {
		c := v.chains[h.Chain]
		switch {
		case c == nil:
			v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d names chain %s up to index %d, but no record of it is stored", cp.Instance, cp.N, h.Chain, h.Index)
		case h.Index > c.index:
			v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d says chain %s reached index %d, the stream holds it only to index %d: records removed", cp.Instance, cp.N, h.Chain, h.Index, c.index)
		default:
			got, ok := c.recent[h.Index]
			if !ok {
				continue // older than the window kept; checked by the links
			}
			if got != h.Hash {
				v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d: record %d of chain %s is not the record signed (changed)", cp.Instance, cp.N, h.Index, h.Chain)
			}
			c.covered = max(c.covered, h.Index)
		}
	}
}

// Report finishes the walk: a chain that two later checkpoints of its
// instance never mention was not written by that instance.
func (v *ChainVerifier) Report() api.VerifyReport {
	names := make([]string, 0, len(v.chains))
	for n := range v.chains {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := v.chains[n]
		v.rep.Covered += int(c.covered)
		if c.covered > 0 {
			continue
		}
		instance, _, _ := strings.Cut(n, ".")
		later := 0
		for _, s := range v.cps[instance] {
			if s > c.firstSeq {
				later++
			}
		}
		if later >= 2 {
			v.broken(c.firstSeq, n, 1, "chain %s is in no checkpoint of its instance although %d were written after it began: inserted", n, later)
		}
	}
	v.rep.Chains = len(v.chains)
	v.rep.OK = v.rep.BreakCount == 0
	return v.rep
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// VerifyAudit walks an audit stream (ECM_AUDIT, or a copy of it) and reports
// the first broken link. progress, when given, is called now and then with
// the records read so far.
func (b *Broker) VerifyAudit(ctx context.Context, stream string, keys map[string]bool, progress func(done, total uint64)) (api.VerifyReport, error) {
	v := NewChainVerifier(stream, keys)
	err := store.Scan(ctx, b.js, stream, store.ScanOpts{Progress: progress}, func(m store.Msg) error {
		v.Add(StoredMsg{Seq: m.Seq, Subject: m.Subject, Header: m.Header, Data: m.Data})
		return nil
	})
	if err != nil {
		return api.VerifyReport{}, err
	}
	return v.Report(), nil
}

// handleVerify is GET /v1/audit/verify[?stream=NAME][&public_key=B64]
// (operators): NDJSON progress lines, then the report.
func (b *Broker) handleVerify(w http.ResponseWriter, r *http.Request) {
	op, ok := b.operatorName(w, r)
	if !ok {
		return
	}
	stream := r.URL.Query().Get("stream")
	if stream == "" {
		stream = wire.StreamAudit
	}
	if !strings.HasPrefix(stream, wire.StreamAudit) {
		writeError(w, http.StatusBadRequest, "stream: only "+wire.StreamAudit+" or a copy named "+wire.StreamAudit+"_... can be verified")
		return
	}
	keys := b.trustedKeys()
	if k := r.URL.Query().Get("public_key"); k != "" {
		keys = map[string]bool{k: true}
	}
	out := newProgressWriter(w)
	b.log.Info("audit verification", zap.String("operator", op), zap.String("stream", stream))
	rep, err := b.VerifyAudit(r.Context(), stream, keys, func(done, total uint64) {
		out.progress(map[string]any{"phase": "verify", "done": done, "total": total})
	})
	if err != nil {
		out.fail(err)
		return
	}
	out.result(rep)
}
