package broker

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ChildState is what the broker holds about one child, in one KV entry so
// that an event's effect on it is one atomic write: the s.12(4) index record
// and the consent history. Nothing else may enter it (s.12(3)-(4), para 73):
// only index and consent events change it, field by field below.
type ChildState struct {
	Index   *api.IndexRecord `json:"index,omitempty"`
	Consent *api.Consent     `json:"consent,omitempty"`
	// LastSeq is the ingest stream sequence of the last event applied, so a
	// redelivered event (after a crash) is recognised and not applied twice.
	LastSeq uint64 `json:"last_seq"`
	// Events are the ingest sequences of every event about the child, so
	// its history is read without scanning the stream (replay, SAR).
	Events []uint64 `json:"events,omitempty"`
}

// Apply returns the state after event e (ingest sequence seq) and whether the
// index or consent changed. It never changes s.
func (s ChildState) Apply(e *event.Event, seq uint64) (ChildState, bool) {
	next := s.clone()
	next.LastSeq = seq
	next.Events = append(next.Events, seq)
	at := e.Time.UTC().Format(time.RFC3339)
	d := e.Data
	if e.Name == "consent.granted" || e.Name == "consent.withdrawn" {
		if next.Consent == nil {
			next.Consent = &api.Consent{}
		}
		entry := api.ConsentEntry{Seq: seq, At: at, By: e.Publisher, EventID: e.ID,
			Purposes: list(d["purposes"]), Agencies: list(d["agencies"])}
		if e.Name == "consent.granted" {
			entry.Kind, entry.GivenBy, entry.Expires = "granted", str(d["given_by"]), str(d["expires"])
		} else {
			entry.Kind = "withdrawn"
		}
		next.Consent.Entries = append(next.Consent.Entries, entry)
		return next, true
	}
	if len(e.Name) < 6 || e.Name[:6] != "index." {
		return next, false
	}
	if next.Index == nil {
		next.Index = &api.IndexRecord{UIN: e.Subject, Area: areaOf(e.Publisher)}
	}
	x := next.Index
	switch e.Name {
	case "index.child.registered":
		x.Name, x.DOB, x.Gender, x.Address = d["name"], str(d["dob"]), str(d["gender"]), d["address"]
		if a := str(d["area"]); a != "" && a != x.Area {
			x.PreviousArea, x.Area = x.Area, a
		}
	case "index.address.changed":
		x.Address = d["address"]
		if a := str(d["area"]); a != "" && a != x.Area {
			x.PreviousArea, x.Area = x.Area, a
		}
	case "index.carer.recorded":
		x.Carers = replaceBy(x.Carers, d, "name")
	case "index.education.recorded":
		x.Education = d
	case "index.gp.recorded":
		x.GP = d
	case "index.practitioner.involved":
		p, _ := d["practitioner"].(map[string]any)
		inv := api.Involvement{Participant: e.Publisher, Practitioner: p, Service: str(d["service"]), Active: true, Since: at}
		for i, old := range x.Involvements {
			if old.Participant == e.Publisher && samePerson(old.Practitioner, p) {
				x.Involvements = append(x.Involvements[:i:i], x.Involvements[i+1:]...)
				break
			}
		}
		x.Involvements = append(x.Involvements, inv)
	case "index.practitioner.ended":
		p, _ := d["practitioner"].(map[string]any)
		for i := range x.Involvements {
			if inv := &x.Involvements[i]; inv.Participant == e.Publisher && inv.Active && samePerson(inv.Practitioner, p) {
				inv.Active, inv.Ended = false, at
			}
		}
	case "index.concern.flagged":
		p, _ := d["practitioner"].(map[string]any)
		for i := range x.Concerns {
			if c := &x.Concerns[i]; c.Participant == e.Publisher && c.Active && samePerson(c.Practitioner, p) {
				c.Active, c.Withdrawn = false, at // superseded by the new flag below
			}
		}
		x.Concerns = append(x.Concerns, api.Concern{Participant: e.Publisher, Practitioner: p, FlaggedAt: at, Active: true})
	case "index.concern.withdrawn":
		p, _ := d["practitioner"].(map[string]any)
		for i := range x.Concerns {
			if c := &x.Concerns[i]; c.Participant == e.Publisher && c.Active && samePerson(c.Practitioner, p) {
				c.Active, c.Withdrawn = false, at
			}
		}
	case "index.flags.set":
		if v, ok := d["shielded"].(bool); ok {
			x.Flags.Shielded = v
		}
		if v, ok := d["care_leaver"].(bool); ok {
			x.Flags.CareLeaver = v
		}
		if v, ok := d["learning_difficulty"].(bool); ok {
			x.Flags.LearningDifficulty = v
		}
	}
	return next, true
}

// ActiveConcerns lists the active concern flags, oldest first.
func ActiveConcerns(x *api.IndexRecord) []api.Concern {
	if x == nil {
		return nil
	}
	var out []api.Concern
	for _, c := range x.Concerns {
		if c.Active {
			out = append(out, c)
		}
	}
	return out
}

// involvedWith reports whether participant has an active involvement.
func involvedWith(x *api.IndexRecord, participant string) bool {
	if x == nil {
		return false
	}
	for _, inv := range x.Involvements {
		if inv.Active && inv.Participant == participant {
			return true
		}
	}
	return false
}

// clone copies what Apply changes in place (the lists); the maps inside
// are only ever replaced whole, so they may be shared.
func (s ChildState) clone() ChildState {
	c := s
	c.Events = slices.Clone(s.Events)
	if s.Index != nil {
		x := *s.Index
		x.Carers, x.Involvements, x.Concerns = slices.Clone(x.Carers), slices.Clone(x.Involvements), slices.Clone(x.Concerns)
		c.Index = &x
	}
	if s.Consent != nil {
		k := api.Consent{Entries: slices.Clone(s.Consent.Entries)}
		c.Consent = &k
	}
	return c
}

func samePerson(a, b map[string]any) bool { return a != nil && b != nil && a["name"] == b["name"] }

func replaceBy(items []any, item map[string]any, key string) []any {
	for i, old := range items {
		if m, ok := old.(map[string]any); ok && m[key] == item[key] {
			items[i] = item
			return items
		}
	}
	return append(items, item)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func areaOf(participant string) string {
	for i := 0; i < len(participant); i++ {
		if participant[i] == '/' {
			return participant[:i]
		}
	}
	return participant
}

// Children is the per-child state store in JetStream KV, keyed by the child's
// keyed hash so that no UIN appears in a subject. Reads are served from a
// bounded in-memory cache; every instance watches the bucket and drops
// entries another instance has changed, and writes are compare-and-set on
// the revision read, so a stale entry can never overwrite newer state.
type Children struct {
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

// newChildren opens the store with a cache of up to max children.
func newChildren(kv jetstream.KeyValue, secret []byte, max int) *Children {
	return &Children{kv: kv, secret: secret, cache: map[string]cachedChild{}, max: max}
}

// watch drops cached entries that changed elsewhere, until ctx ends.
func (c *Children) watch(ctx context.Context) error {
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

func (c *Children) remember(key string, state []byte, rev uint64) {
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

func (c *Children) forget(key string) {
	c.mu.Lock()
	delete(c.cache, key)
	c.mu.Unlock()
}

// Key is the keyed hash that names a child in subjects and KV keys.
func (c *Children) Key(uin string) string { return childKey(c.secret, uin) }

func childKey(secret []byte, uin string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(uin))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Get returns a child's state and its KV revision (0 when none is held).
func (c *Children) Get(ctx context.Context, key string) (ChildState, uint64, error) {
	c.mu.Lock()
	cc, ok := c.cache[key]
	c.mu.Unlock()
	if !ok {
		e, err := c.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return ChildState{}, 0, nil
		case err != nil:
			return ChildState{}, 0, fmt.Errorf("reading child state: %w", err)
		}
		cc = cachedChild{e.Value(), e.Revision()}
		c.remember(key, cc.state, cc.rev)
	}
	var s ChildState
	if err := json.Unmarshal(cc.state, &s); err != nil {
		return ChildState{}, 0, fmt.Errorf("decoding child state: %w", err)
	}
	return s, cc.rev, nil
}

// Put stores a child's state if it is still at revision rev (0: new), so
// two broker instances never overwrite each other's changes unseen.
func (c *Children) Put(ctx context.Context, key string, s ChildState, rev uint64) (uint64, error) {
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
func (c *Children) PutAsync(js jetstream.JetStream, key string, s ChildState, rev uint64) (wait func(context.Context) error, err error) {
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
func (c *Children) Delete(ctx context.Context, key string) error {
	c.forget(key)
	return c.kv.Purge(ctx, key)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
