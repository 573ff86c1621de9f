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
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ChildState is what the broker holds about one child, in one KV entry so
// that an event's effect on it is one atomic write: the s.12(4) index record
// and the consent history. Nothing else may enter it (s.12(3)-(4), para 73):
// only index and consent events change it, field by field below.
type ChildState struct {
	Index   *IndexRecord `json:"index,omitempty"`
	Consent *Consent     `json:"consent,omitempty"`
	// LastSeq is the ingest stream sequence of the last event applied, so a
	// redelivered event (after a crash) is recognised and not applied twice.
	LastSeq uint64 `json:"last_seq"`
	// Events are the ingest sequences of every event about the child, so
	// its history is read without scanning the stream (replay, SAR).
	Events []uint64 `json:"events,omitempty"`
}

// IndexRecord is the s.12(4) basic data of one child (docs/policy-input.md).
type IndexRecord struct {
	UIN          string         `json:"uin"`
	Name         any            `json:"name,omitempty"`
	DOB          string         `json:"dob,omitempty"`
	Gender       string         `json:"gender,omitempty"`
	Address      any            `json:"address,omitempty"`
	Area         string         `json:"area"`
	PreviousArea string         `json:"previous_area,omitempty"`
	Carers       []any          `json:"carers,omitempty"`
	Education    map[string]any `json:"education,omitempty"`
	GP           map[string]any `json:"gp,omitempty"`
	Involvements []Involvement  `json:"involvements,omitempty"`
	Concerns     []Concern      `json:"concerns,omitempty"`
	Flags        Flags          `json:"flags"`
	// Times holds, per part of the record, the time (RFC 3339) of the event
	// that set it last, so that an older event arriving later does not undo
	// it (order.go). Absent in records stored before times were kept.
	Times map[string]string `json:"times,omitempty"`
}

// Involvement is a practitioner of a participant providing a service (s.12(4)(f)).
type Involvement struct {
	Participant  string         `json:"participant"`
	Practitioner map[string]any `json:"practitioner"`
	Service      string         `json:"service,omitempty"`
	Active       bool           `json:"active"`
	Since        string         `json:"since"`
	Ended        string         `json:"ended,omitempty"`
}

// Concern is the fact that a practitioner has a concern (s.12(4)(g)): who
// and how to reach them, never what the concern is.
type Concern struct {
	Participant  string         `json:"participant"`
	Practitioner map[string]any `json:"practitioner"`
	FlaggedAt    string         `json:"flagged_at"`
	Active       bool           `json:"active"`
	Withdrawn    string         `json:"withdrawn,omitempty"`
}

// Flags are the markers the sharing rules need, set by la-social-care only.
type Flags struct {
	Shielded           bool `json:"shielded"`
	CareLeaver         bool `json:"care_leaver"`
	LearningDifficulty bool `json:"learning_difficulty"`
}

// Consent is a child's consent history, by the events' time, oldest first
// (then in the order they arrived).
type Consent struct {
	Entries []ConsentEntry `json:"entries"`
}

// ConsentEntry is one grant or withdrawal.
type ConsentEntry struct {
	Seq      uint64 `json:"seq"`
	Kind     string `json:"kind"` // granted or withdrawn
	At       string `json:"at"`
	By       string `json:"by"`
	EventID  string `json:"event_id"`
	GivenBy  string `json:"given_by,omitempty"`
	Purposes []any  `json:"purposes"`
	Agencies []any  `json:"agencies"`
	Expires  string `json:"expires,omitempty"`
}

// Apply returns the state after event e (ingest sequence seq) and what it
// made of e: whether the index or consent changed, and what e did not change
// because an event with a later time had set it (order.go). It never
// changes s.
func (s ChildState) Apply(e *Event, seq uint64) (ChildState, Applied) {
	next := s.clone()
	next.LastSeq = seq
	next.Events = append(next.Events, seq)
	at := e.Time.UTC().Format(time.RFC3339)
	d := e.Data
	var res Applied
	if e.Name == "consent.granted" || e.Name == "consent.withdrawn" {
		if next.Consent == nil {
			next.Consent = &Consent{}
		}
		entry := ConsentEntry{Seq: seq, At: at, By: e.Publisher, EventID: e.ID,
			Purposes: list(d["purposes"]), Agencies: list(d["agencies"])}
		if e.Name == "consent.granted" {
			entry.Kind, entry.GivenBy, entry.Expires = "granted", str(d["given_by"]), str(d["expires"])
		} else {
			entry.Kind = "withdrawn"
		}
		next.Consent.insert(entry, &res)
		res.Changed = true
		return next, res
	}
	if len(e.Name) < 6 || e.Name[:6] != "index." {
		return next, res
	}
	res.Changed = true
	fresh := next.Index == nil
	if fresh {
		next.Index = &IndexRecord{UIN: e.Subject, Area: areaOf(e.Publisher)}
	}
	x := next.Index
	switch e.Name {
	case "index.child.registered":
		if x.take("name", "name", e, &res) {
			x.Name = d["name"]
		}
		if x.take("dob", "date of birth", e, &res) {
			x.DOB = str(d["dob"])
		}
		if x.take("gender", "gender", e, &res) {
			x.Gender = str(d["gender"])
		}
		x.setResidence(e, fresh, &res)
	case "index.address.changed":
		x.setResidence(e, fresh, &res)
	case "index.carer.recorded":
		if x.take(carerKey(d), "carer", e, &res) {
			x.Carers = replaceBy(x.Carers, d, "name")
		}
	case "index.education.recorded":
		if x.take("education", "education", e, &res) {
			x.Education = d
		}
	case "index.gp.recorded":
		if x.take("gp", "GP practice", e, &res) {
			x.GP = d
		}
	case "index.practitioner.involved":
		p, _ := d["practitioner"].(map[string]any)
		if !x.take(practitionerKey("involvement", e.Publisher, p), "involvement", e, &res) {
			break
		}
		inv := Involvement{Participant: e.Publisher, Practitioner: p, Service: str(d["service"]), Active: true, Since: at}
		for i, old := range x.Involvements {
			if old.Participant == e.Publisher && samePerson(old.Practitioner, p) {
				x.Involvements = append(x.Involvements[:i:i], x.Involvements[i+1:]...)
				break
			}
		}
		x.Involvements = append(x.Involvements, inv)
	case "index.practitioner.ended":
		p, _ := d["practitioner"].(map[string]any)
		if !x.take(practitionerKey("involvement", e.Publisher, p), "involvement", e, &res) {
			break
		}
		for i := range x.Involvements {
			if inv := &x.Involvements[i]; inv.Participant == e.Publisher && inv.Active && samePerson(inv.Practitioner, p) {
				inv.Active, inv.Ended = false, at
			}
		}
	case "index.concern.flagged":
		p, _ := d["practitioner"].(map[string]any)
		if !x.take(practitionerKey("concern", e.Publisher, p), "concern flag", e, &res) {
			break
		}
		for i := range x.Concerns {
			if c := &x.Concerns[i]; c.Participant == e.Publisher && c.Active && samePerson(c.Practitioner, p) {
				c.Active, c.Withdrawn = false, at // superseded by the new flag below
			}
		}
		x.Concerns = append(x.Concerns, Concern{Participant: e.Publisher, Practitioner: p, FlaggedAt: at, Active: true})
	case "index.concern.withdrawn":
		p, _ := d["practitioner"].(map[string]any)
		if !x.take(practitionerKey("concern", e.Publisher, p), "concern flag", e, &res) {
			break
		}
		for i := range x.Concerns {
			if c := &x.Concerns[i]; c.Participant == e.Publisher && c.Active && samePerson(c.Practitioner, p) {
				c.Active, c.Withdrawn = false, at
			}
		}
	case "index.flags.set":
		if v, ok := d["shielded"].(bool); ok && x.take("flags.shielded", "shielded flag", e, &res) {
			x.Flags.Shielded = v
		}
		if v, ok := d["care_leaver"].(bool); ok && x.take("flags.care_leaver", "care leaver flag", e, &res) {
			x.Flags.CareLeaver = v
		}
		if v, ok := d["learning_difficulty"].(bool); ok && x.take("flags.learning_difficulty", "learning difficulty flag", e, &res) {
			x.Flags.LearningDifficulty = v
		}
	}
	return next, res
}

// ActiveConcerns lists the active concern flags, oldest first.
func (x *IndexRecord) ActiveConcerns() []Concern {
	if x == nil {
		return nil
	}
	var out []Concern
	for _, c := range x.Concerns {
		if c.Active {
			out = append(out, c)
		}
	}
	return out
}

// involvedWith reports whether participant has an active involvement.
func (x *IndexRecord) involvedWith(participant string) bool {
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

// clone copies what Apply changes in place (the lists and the times); the
// other maps inside are only ever replaced whole, so they may be shared.
func (s ChildState) clone() ChildState {
	c := s
	c.Events = slices.Clone(s.Events)
	if s.Index != nil {
		x := *s.Index
		x.Carers, x.Involvements, x.Concerns = slices.Clone(x.Carers), slices.Clone(x.Involvements), slices.Clone(x.Concerns)
		x.Times = maps.Clone(x.Times)
		c.Index = &x
	}
	if s.Consent != nil {
		k := Consent{Entries: slices.Clone(s.Consent.Entries)}
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
		return fmt.Errorf("watching %s: %w", BucketChildren, err)
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
	m := nats.NewMsg("$KV." + BucketChildren + "." + key)
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
