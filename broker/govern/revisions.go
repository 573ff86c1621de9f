package govern

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Origins of a revision: how it went live.
const (
	OriginStart    = "start"    // deployed: the broker's --policies or built-in policy at start
	OriginReload   = "reload"   // a reload of the deployed source (--policy-watch, POST /v1/policy/reload)
	OriginProposal = "proposal" // a proposal approved by a second operator
)

// ErrNotFound marks a revision or proposal the broker does not hold.
var ErrNotFound = errors.New("not found")

// ImpactFunc is a draft's effect over recorded history against the live
// policy (ops.Impact, one analysis at a time); the broker provides it.
type ImpactFunc func(ctx context.Context, draft *policy.Policy) (*api.ImpactReport, error)

// Deps are what governing the policy works with; the broker builds them.
type Deps struct {
	JS       jetstream.JetStream
	Config   *config.Config
	Audit    *audit.Writer
	Decider  *policy.Decider // set by Serve, once the policy Boot chose serves
	Reloader *policy.Reloader
	Impact   ImpactFunc
	Log      *zap.Logger
}

// Govern keeps the policy's revisions and proposals for one broker
// instance (the records are shared by every instance through the bucket).
type Govern struct {
	kv  jetstream.KeyValue
	d   Deps
	log *zap.Logger

	mu      sync.Mutex // one change of the live revision at a time on this instance
	pending []api.AuditRecord
	bg      context.Context // the background impact analyses: ended by Run's end
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// New opens the policy bucket. Boot then chooses the policy to serve; Serve
// hands over the Decider that serves it.
func New(ctx context.Context, d Deps) (*Govern, error) {
	kv, err := d.JS.KeyValue(ctx, wire.BucketPolicy)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", wire.BucketPolicy, err)
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	g := &Govern{kv: kv, d: d, log: d.Log}
	g.bg, g.stop = context.WithCancel(context.Background())
	return g, nil
}

// Serve gives the Decider serving the policy Boot chose, the reloader
// whose swaps are recorded, and the impact analysis of proposals.
func (g *Govern) Serve(d *policy.Decider, r *policy.Reloader, impact ImpactFunc) {
	g.d.Decider, g.d.Reloader, g.d.Impact = d, r, impact
	if r != nil {
		r.OnSwap = g.reloaded
	}
}

// liveRecord is what PolicyLiveKey holds: which revision is live, and the
// deployed source as it was when a revision was last recorded (Boot).
type liveRecord struct {
	N        int    `json:"n"` // PolicyRevisionKey(N) is the live revision's record
	Revision string `json:"revision"`
	Deployed string `json:"deployed"` // digest of the deployed source's files, tests included
}

// Boot chooses the policy to serve at start and records it. deployed are
// the files of the deployed source (the --policies directory or bundle, or
// the built-in policy), tests included.
//
// What wins: the revision recorded as live, unless the deployed source
// changed since it was recorded. A proposal approved, or a reload, stays
// live across restarts of the same deployment; deploying a changed policy
// (a new directory, a new build) makes that the live revision again, with
// origin start, as any deployment does. A recorded revision that no longer
// loads (a broker whose catalogue changed under it) gives way to the
// deployed policy, with an error logged.
func (g *Govern) Boot(ctx context.Context, deployed map[string]string) (*policy.Policy, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	digest := digestOf(deployed)
	live, kvRev, err := g.readLive(ctx)
	if err != nil {
		return nil, err
	}
	if live != nil && live.Deployed == digest {
		rev, err := g.entry(ctx, live.N)
		if err == nil {
			p, verr := policy.Verify(ctx, rev.Files)
			if verr == nil {
				g.log.Info("policy: the recorded live revision serves (the deployed policy is unchanged since it was recorded)",
					zap.String("revision", p.Revision), zap.String("origin", rev.Origin), zap.String("proposal", rev.Proposal))
				return p, nil
			}
			err = verr
		}
		g.log.Error("policy: the recorded live revision does not load; the deployed policy serves instead",
			zap.String("revision", live.Revision), zap.Error(err))
	}
	p, err := policy.Verify(ctx, deployed)
	if err != nil {
		return nil, err
	}
	if live != nil && live.Revision == p.Revision {
		live.Deployed = digest // tests changed only: the same revision stays live
		return p, g.putLive(ctx, live, kvRev)
	}
	from := ""
	if live != nil {
		from = live.Revision
	}
	rec := api.PolicyRevision{Revision: p.Revision, Origin: OriginStart, Title: "the deployed policy at start", Files: deployed}
	n, err := g.record(ctx, rec, digest, live, kvRev)
	if err != nil {
		return nil, err
	}
	g.pending = append(g.pending, actionRecord(p.Revision, &api.AuditAction{Kind: ActionActivated, ID: wire.PolicyRevisionKey(n), By: "broker",
		Reason: "the deployed policy went live at start", From: from, To: p.Revision}))
	return p, nil
}

// reloaded records a revision a reload swapped in (policy.Reloader.OnSwap)
// and audits it.
func (g *Govern) reloaded(ctx context.Context, p *policy.Policy, files map[string]string, old, by string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	live, kvRev, err := g.readLive(ctx)
	if err == nil {
		title := "reloaded from the watched policy directory"
		if by != "" {
			title = "reloaded from the deployed policy by " + by
		}
		var n int
		n, err = g.record(ctx, api.PolicyRevision{Revision: p.Revision, Origin: OriginReload, Title: title, ApprovedBy: by, Files: files},
			digestOf(files), live, kvRev)
		if err == nil {
			who := by
			if who == "" {
				who = "broker"
			}
			err = g.d.Audit.Action(ctx, actionRecord(p.Revision, &api.AuditAction{Kind: ActionActivated, ID: wire.PolicyRevisionKey(n), By: who,
				Reason: title, From: old, To: p.Revision}), ActionActivated, wire.PolicyRevisionKey(n))
		}
	}
	if err != nil {
		g.log.Error("policy reloaded but its revision was not recorded", zap.String("revision", p.Revision), zap.Error(err))
	}
}

// Run writes the audit records of Boot once the audit runs, follows the
// live revision other instances record (an approval there swaps it in here
// too), and waits for the background impact analyses when ctx ends.
func (g *Govern) Run(ctx context.Context) {
	defer func() { g.stop(); g.wg.Wait() }()
	for _, rec := range g.pending {
		for try := 0; ; try++ { // the audit's chains start beside this
			err := g.d.Audit.Action(ctx, rec, rec.Action.Kind, rec.Action.ID)
			if err == nil || ctx.Err() != nil {
				break
			}
			if try == 50 {
				g.log.Error("the policy's activation at start was not audited", zap.Error(err))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	g.pending = nil
	g.resumeImpacts(ctx)
	w, err := g.kv.Watch(ctx, wire.PolicyLiveKey, jetstream.UpdatesOnly())
	if err != nil {
		g.log.Error("not following the live policy revision of other instances", zap.Error(err))
		<-ctx.Done()
		return
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				g.follow(ctx, e.Value())
			}
		}
	}
}

// follow swaps in the live revision another instance recorded.
func (g *Govern) follow(ctx context.Context, raw []byte) {
	var live liveRecord
	if json.Unmarshal(raw, &live) != nil || g.d.Decider == nil || live.Revision == g.d.Decider.Policy().Revision {
		return
	}
	rev, err := g.entry(ctx, live.N)
	if err == nil {
		var p *policy.Policy
		if p, err = policy.Verify(ctx, rev.Files); err == nil {
			g.d.Decider.Swap(p)
			g.log.Info("policy: another instance made a revision live; it serves here too", zap.String("revision", p.Revision))
			return
		}
	}
	g.log.Error("policy: the live revision recorded by another instance does not load here", zap.String("revision", live.Revision), zap.Error(err))
}

// record stores rec as the next revision to go live and makes it the live
// one; the revision it replaces is marked live until now. kvRev is the
// bucket revision of the live record read (0: none yet): another
// instance's change in between fails the update.
func (g *Govern) record(ctx context.Context, rec api.PolicyRevision, deployed string, live *liveRecord, kvRev uint64) (int, error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	n := 1
	if live != nil {
		n = live.N + 1
	}
	rec.LiveFrom, rec.LiveUntil = now, ""
	rec.FileDigests = map[string]string{}
	for name, src := range rec.Files {
		sum := sha256.Sum256([]byte(src))
		rec.FileDigests[name] = hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	if _, err := g.kv.Create(ctx, wire.PolicyRevisionKey(n), b); err != nil {
		return 0, fmt.Errorf("recording policy revision %s: %w", rec.Revision, err)
	}
	next := &liveRecord{N: n, Revision: rec.Revision, Deployed: deployed}
	if err := g.putLive(ctx, next, kvRev); err != nil {
		_ = g.kv.Delete(ctx, wire.PolicyRevisionKey(n))
		return 0, err
	}
	if live != nil {
		if prev, err := g.entry(ctx, live.N); err == nil {
			prev.LiveUntil = now
			if b, err := json.Marshal(prev); err == nil {
				_, err = g.kv.Put(ctx, wire.PolicyRevisionKey(live.N), b)
				if err != nil {
					g.log.Warn("policy revision not marked as no longer live", zap.Int("n", live.N), zap.Error(err))
				}
			}
		}
	}
	return n, nil
}

func (g *Govern) putLive(ctx context.Context, live *liveRecord, kvRev uint64) error {
	b, err := json.Marshal(live)
	if err != nil {
		return err
	}
	if kvRev == 0 {
		_, err = g.kv.Create(ctx, wire.PolicyLiveKey, b)
	} else {
		_, err = g.kv.Update(ctx, wire.PolicyLiveKey, b, kvRev)
	}
	if err != nil {
		return fmt.Errorf("the live policy revision changed meanwhile (another instance): %w", err)
	}
	return nil
}

func (g *Govern) readLive(ctx context.Context) (*liveRecord, uint64, error) {
	e, err := g.kv.Get(ctx, wire.PolicyLiveKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading the live policy revision: %w", err)
	}
	var live liveRecord
	if err := json.Unmarshal(e.Value(), &live); err != nil {
		return nil, 0, fmt.Errorf("reading the live policy revision: %w", err)
	}
	return &live, e.Revision(), nil
}

// entry reads the n-th revision to go live, with its files.
func (g *Govern) entry(ctx context.Context, n int) (*api.PolicyRevision, error) {
	e, err := g.kv.Get(ctx, wire.PolicyRevisionKey(n))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("policy revision record %d: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var rec api.PolicyRevision
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, fmt.Errorf("policy revision record %d: %w", n, err)
	}
	return &rec, nil
}

// LiveRevision is the revision live now, with its files.
func (g *Govern) LiveRevision(ctx context.Context) (*api.PolicyRevision, error) {
	live, _, err := g.readLive(ctx)
	if err != nil {
		return nil, err
	}
	if live == nil {
		return nil, fmt.Errorf("no live policy revision is recorded: %w", ErrNotFound)
	}
	return g.entry(ctx, live.N)
}

// Revisions lists every revision that was live, newest first, without
// their files.
func (g *Govern) Revisions(ctx context.Context) ([]api.PolicyRevision, error) {
	ns, err := g.entryNumbers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.PolicyRevision, 0, len(ns))
	for i := len(ns) - 1; i >= 0; i-- {
		rec, err := g.entry(ctx, ns[i])
		if err != nil {
			return nil, err
		}
		rec.Files = nil
		out = append(out, *rec)
	}
	return out, nil
}

// Revision is a revision with its files: "live", a revision id (its most
// recent time live), or a record's number ("3": the third to go live).
func (g *Govern) Revision(ctx context.Context, rev string) (*api.PolicyRevision, error) {
	if rev == "live" {
		return g.LiveRevision(ctx)
	}
	ns, err := g.entryNumbers(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(ns) - 1; i >= 0; i-- {
		rec, err := g.entry(ctx, ns[i])
		if err != nil {
			return nil, err
		}
		if rec.Revision == rev {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("policy revision %q: %w", rev, ErrNotFound)
}

func (g *Govern) entryNumbers(ctx context.Context) ([]int, error) {
	l, err := g.kv.ListKeysFiltered(ctx, wire.PolicyRevisionFilter)
	if err != nil {
		return nil, fmt.Errorf("listing policy revisions: %w", err)
	}
	var ns []int
	for k := range l.Keys() {
		if n, ok := wire.ParsePolicyRevisionKey(k); ok {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	return ns, nil
}

// digestOf names a policy's files, tests included: whether the deployed
// source changed since it was recorded.
func digestOf(files map[string]string) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
