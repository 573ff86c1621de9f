package child

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Store is the per-child state store in JetStream KV, keyed by the child's
// keyed hash so that no UIN appears in a subject. Reads are served from a
// bounded in-memory cache; every instance watches the bucket and drops
// entries another instance has changed, and writes are compare-and-set on
// the revision read, so a stale entry can never overwrite newer state.
type Store struct {
	kv     jetstream.KeyValue
	secret []byte

	mu    sync.Mutex
	cache map[string]cachedChild
	max   int
}

type cachedChild struct {
	state []byte // JSON, decoded per read so callers never share maps
	rev   uint64
}

// NewStore opens the store with a cache of up to max children.
func NewStore(kv jetstream.KeyValue, secret []byte, max int) *Store {
	return &Store{kv: kv, secret: secret, cache: map[string]cachedChild{}, max: max}
}

// Watch drops cached entries that changed elsewhere, until ctx ends.
func (c *Store) Watch(ctx context.Context) error {
	w, err := c.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watching %s: %w", wire.BucketChildren, err)
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			continue
		}
		c.mu.Lock()
		if cc, ok := c.cache[e.Key()]; ok && cc.rev < e.Revision() {
			delete(c.cache, e.Key())
		}
		c.mu.Unlock()
	}
	return nil
}

func (c *Store) remember(key string, state []byte, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.cache[key]; ok && cc.rev > rev {
		return
	}
	if len(c.cache) >= c.max {
		for k := range c.cache { // evict an arbitrary entry: map order is random
			delete(c.cache, k)
			break
		}
	}
	c.cache[key] = cachedChild{state, rev}
}

func (c *Store) forget(key string) {
	c.mu.Lock()
	delete(c.cache, key)
	c.mu.Unlock()
}

// Key is the keyed hash that names a child in subjects and KV keys.
func (c *Store) Key(uin string) string { return Key(c.secret, uin) }

func Key(secret []byte, uin string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(uin))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Get returns a child's state and its KV revision (0 when none is held).
func (c *Store) Get(ctx context.Context, key string) (State, uint64, error) {
	c.mu.Lock()
	cc, ok := c.cache[key]
	c.mu.Unlock()
	if !ok {
		e, err := c.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return State{}, 0, nil
		case err != nil:
			return State{}, 0, fmt.Errorf("reading child state: %w", err)
		}
		cc = cachedChild{e.Value(), e.Revision()}
		c.remember(key, cc.state, cc.rev)
	}
	var s State
	if err := json.Unmarshal(cc.state, &s); err != nil {
		return State{}, 0, fmt.Errorf("decoding child state: %w", err)
	}
	return s, cc.rev, nil
}

// Put stores a child's state if it is still at revision rev (0: new), so
// two broker instances never overwrite each other's changes unseen.
func (c *Store) Put(ctx context.Context, key string, s State, rev uint64) (uint64, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return 0, err
	}
	var next uint64
	if rev == 0 {
		next, err = c.kv.Create(ctx, key, b)
	} else {
		next, err = c.kv.Update(ctx, key, b, rev)
	}
	if err != nil {
		c.forget(key)
		return 0, err
	}
	c.remember(key, b, next)
	return next, nil
}

// PutAsync stores a child's state if it is still at revision rev (0: new)
// without waiting: the KV write is a publish to the bucket's subject with
// the expected last revision, so one batch's writes travel together. wait
// returns the new revision once JetStream has it, and caches it.
func (c *Store) PutAsync(js jetstream.JetStream, key string, s State, rev uint64) (wait func(context.Context) error, err error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg("$KV." + wire.BucketChildren + "." + key)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rev, 10))
	m.Data = b
	f, err := js.PublishMsgAsync(m)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		select {
		case ack := <-f.Ok():
			c.remember(key, b, ack.Sequence)
			return nil
		case err := <-f.Err():
			c.forget(key)
			return fmt.Errorf("writing child state: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// Delete removes a child's state (erasure).
func (c *Store) Delete(ctx context.Context, key string) error {
	c.forget(key)
	return c.kv.Purge(ctx, key)
}

// KV is the bucket itself, for the operations that read entries' metadata
// (retention) or list every child.
func (c *Store) KV() jetstream.KeyValue { return c.kv }
