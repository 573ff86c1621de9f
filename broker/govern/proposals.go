package govern

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/policy"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Why a proposal or a verdict is refused; the HTTP API answers each with
// its status, the error's text saying why in words.
var (
	ErrInvalid      = errors.New("invalid proposal")                  // 400
	ErrTooLarge     = errors.New("proposal too large")                // 413
	ErrOwnProposal  = errors.New("four eyes")                         // 403: the author may not approve
	ErrNotOpen      = errors.New("proposal decided already")          // 409
	ErrChecksFailed = errors.New("the proposal's checks failed")      // 409
	ErrStale        = errors.New("the live policy changed meanwhile") // 409
)

// maxProposal bounds a proposal's files: the stored proposal must fit in
// one message.
const maxProposal = 768 << 10

// Propose stores a draft put forward by author, laid over the live
// revision, and checks it as the broker checks any policy before it serves
// (policies.CheckDraft, with the capabilities of a draft sent over HTTP),
// and that it keeps the live revision's tests and scenario tables. Its
// impact over recorded history is computed in the background.
func (g *Govern) Propose(ctx context.Context, author string, req api.ProposalRequest) (*api.Proposal, error) {
	if strings.TrimSpace(req.Title) == "" || strings.TrimSpace(req.Reason) == "" {
		return nil, fmt.Errorf("%w: a proposal needs a title and a reason (what changes, and why)", ErrInvalid)
	}
	if len(req.Files) == 0 && len(req.Delete) == 0 {
		return nil, fmt.Errorf("%w: the proposal changes no file (files: name → content; delete: names)", ErrInvalid)
	}
	size := 0
	for name, src := range req.Files {
		if err := fileName(name); err != nil {
			return nil, err
		}
		size += len(name) + len(src)
	}
	if size > maxProposal {
		return nil, fmt.Errorf("%w: the changed files hold %d bytes; at most %d", ErrTooLarge, size, maxProposal)
	}
	base, err := g.LiveRevision(ctx)
	if err != nil {
		return nil, err
	}
	draft := maps.Clone(base.Files)
	for _, name := range req.Delete {
		if _, ok := draft[name]; !ok {
			return nil, fmt.Errorf("%w: delete: %s is not a file of the live revision %s", ErrInvalid, name, base.Revision)
		}
		delete(draft, name)
	}
	maps.Copy(draft, req.Files)
	p := &api.Proposal{ID: "p-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:10], Title: strings.TrimSpace(req.Title),
		Reason: strings.TrimSpace(req.Reason), Author: author, Created: time.Now().UTC().Format(time.RFC3339),
		BaseRevision: base.Revision, DraftRevision: policy.RevisionOf(draft), State: api.ProposalOpen,
		Files: req.Files, Delete: req.Delete}
	sort.Strings(p.Delete)
	rep := policies.CheckDraft(ctx, draft, policy.Catalogue(), policy.DraftCapabilities())
	rep.KeepsTests(base.Files, draft)
	p.ChecksPassed = !rep.Refused()
	for _, c := range rep.Checks() {
		p.Checks = append(p.Checks, api.ProposalCheck{Name: c.Name, Passed: c.Passed, Summary: c.Summary, Problems: c.Problems})
	}
	p.Diff = policies.Diff(base.Revision, p.DraftRevision, base.Files, draft)
	p.ImpactState = "running"
	if rep.Data != nil || rep.Compile != nil && rep.Tests.Run == 0 {
		p.ImpactState = "failed: the draft does not compile, so its impact cannot be computed"
	}
	if err := g.putProposal(ctx, p, 0); err != nil {
		return nil, err
	}
	checks := "its checks pass"
	if !p.ChecksPassed {
		checks = "its checks fail: " + rep.Verdict()
	}
	if err := g.d.Audit.Action(ctx, actionRecord(base.Revision, &api.AuditAction{Kind: ActionProposed, ID: p.ID, By: author,
		Reason: fmt.Sprintf("%q: %s; %s", p.Title, p.Reason, checks), From: base.Revision, To: p.DraftRevision}), ActionProposed, p.ID); err != nil {
		return nil, fmt.Errorf("auditing the proposal: %w", err)
	}
	g.log.Info("policy proposed", zap.String("proposal", p.ID), zap.String("by", author), zap.String("base", base.Revision),
		zap.String("draft", p.DraftRevision), zap.Bool("checks_passed", p.ChecksPassed))
	if p.ImpactState == "running" {
		g.startImpact(p.ID, draft)
	}
	return p, nil
}

// fileName refuses a file a policy cannot hold.
func fileName(name string) error {
	switch {
	case name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || strings.Contains(name, "\\"):
		return fmt.Errorf("%w: files: %q is not a relative path within the policy", ErrInvalid, name)
	case strings.HasPrefix(name, policies.SchemaDir+"/"):
		return fmt.Errorf("%w: files: %s: the JSON Schemas of the matrix are part of the broker, not of a policy", ErrInvalid, name)
	case !policies.IsModule(name) && !policies.IsData(name) && !policies.IsTestFile(name):
		return fmt.Errorf("%w: files: %s is none of a policy's files (.rego, .yaml, .json, scenarios/*.csv)", ErrInvalid, name)
	}
	return nil
}

// startImpact computes a draft's impact in the background and stores it on
// the proposal.
func (g *Govern) startImpact(id string, draft map[string]string) {
	if g.d.Impact == nil {
		return
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		rep, err := g.impactOf(g.bg, draft)
		state := "done"
		if err != nil {
			state = "failed: " + err.Error()
			if g.bg.Err() != nil {
				state = "running" // the broker is stopping: computed again at the next start (Run)
			}
		}
		err = g.updateProposal(context.Background(), id, func(p *api.Proposal) {
			p.Impact, p.ImpactState = rep, state
		})
		if err != nil {
			g.log.Warn("the impact of a proposal was not stored", zap.String("proposal", id), zap.Error(err))
		}
	}()
}

func (g *Govern) impactOf(ctx context.Context, draft map[string]string) (*api.ImpactReport, error) {
	main := map[string]string{}
	for n, s := range draft {
		if !policies.IsTestFile(n) {
			main[n] = s
		}
	}
	pol, err := policy.CompileDraft(ctx, main)
	if err != nil {
		return nil, fmt.Errorf("the draft does not compile: %w", err)
	}
	return g.d.Impact(ctx, pol)
}

// resumeImpacts computes again the impact of open proposals whose analysis
// a stop interrupted.
func (g *Govern) resumeImpacts(ctx context.Context) {
	ps, err := g.Proposals(ctx)
	if err != nil {
		return
	}
	for _, p := range ps {
		if p.State != api.ProposalOpen || p.ImpactState != "running" {
			continue
		}
		full, err := g.Proposal(ctx, p.ID)
		if err != nil {
			continue
		}
		base, err := g.Revision(ctx, full.BaseRevision)
		if err != nil {
			continue
		}
		draft := maps.Clone(base.Files)
		for _, n := range full.Delete {
			delete(draft, n)
		}
		maps.Copy(draft, full.Files)
		g.startImpact(p.ID, draft)
	}
}

// Approve makes a proposal the live revision. The approver must not be its
// author, its checks must have passed and the revision it was drafted
// against must still be live (else it is stale: propose again).
func (g *Govern) Approve(ctx context.Context, id, by string, v api.ProposalVerdict) (*api.Proposal, error) {
	if strings.TrimSpace(v.Reason) == "" {
		return nil, fmt.Errorf("%w: an approval needs a reason (what was reviewed)", ErrInvalid)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p, _, err := g.readProposal(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case p.State != api.ProposalOpen:
		return nil, fmt.Errorf("%w: proposal %s is %s; only an open proposal can be approved", ErrNotOpen, id, p.State)
	case p.Author == by:
		return nil, fmt.Errorf("%w: %s proposed %s and cannot approve it too: a second operator with the policy role must approve it", ErrOwnProposal, by, id)
	case !p.ChecksPassed:
		var failed []string
		for _, c := range p.Checks {
			if !c.Passed {
				failed = append(failed, c.Name+" ("+c.Summary+")")
			}
		}
		return nil, fmt.Errorf("%w: proposal %s cannot be approved: %s; propose a corrected draft", ErrChecksFailed, id, strings.Join(failed, "; "))
	}
	live, kvRev, err := g.readLive(ctx)
	if err != nil {
		return nil, err
	}
	if live == nil || live.Revision != p.BaseRevision {
		now := "none"
		if live != nil {
			now = live.Revision
		}
		_ = g.updateProposal(ctx, id, func(p *api.Proposal) { p.State = api.ProposalStale })
		return nil, fmt.Errorf("%w: proposal %s was drafted against revision %s, but %s is live now; propose the draft again over the live revision",
			ErrStale, id, p.BaseRevision, now)
	}
	base, err := g.entry(ctx, live.N)
	if err != nil {
		return nil, err
	}
	draft := maps.Clone(base.Files)
	for _, n := range p.Delete {
		delete(draft, n)
	}
	maps.Copy(draft, p.Files)
	pol, err := policy.Verify(ctx, draft)
	if err != nil {
		return nil, fmt.Errorf("%w: proposal %s does not load: %v", ErrChecksFailed, id, err)
	}
	n, err := g.record(ctx, api.PolicyRevision{Revision: pol.Revision, Origin: OriginProposal, Proposal: id, ProposedBy: p.Author,
		ApprovedBy: by, Title: p.Title, Files: draft}, live.Deployed, live, kvRev)
	if err != nil {
		return nil, err
	}
	g.d.Decider.Swap(pol)
	at := time.Now().UTC().Format(time.RFC3339)
	var out *api.Proposal
	err = g.updateProposal(ctx, id, func(q *api.Proposal) {
		q.State = api.ProposalApproved
		q.Verdict = &api.ProposalVerdict{Reason: strings.TrimSpace(v.Reason), By: by, At: at, Verdict: api.ProposalApproved}
		out = q
	})
	if err != nil {
		g.log.Error("proposal approved and live, but its state not stored", zap.String("proposal", id), zap.Error(err))
		out = p
	}
	impact := impactSummary(out.Impact)
	if impact == "" {
		impact = "impact " + out.ImpactState
	}
	errA := g.d.Audit.Action(ctx, actionRecord(pol.Revision, &api.AuditAction{Kind: ActionApproved, ID: id, By: by, Reason: strings.TrimSpace(v.Reason),
		From: p.BaseRevision, To: pol.Revision, Impact: impact, Counts: impactCounts(out.Impact)}), ActionApproved, id)
	errB := g.d.Audit.Action(ctx, actionRecord(pol.Revision, &api.AuditAction{Kind: ActionActivated, ID: wire.PolicyRevisionKey(n), By: by,
		Reason: fmt.Sprintf("proposal %s (%q), proposed by %s, approved by %s", id, p.Title, p.Author, by), From: p.BaseRevision, To: pol.Revision}),
		ActionActivated, wire.PolicyRevisionKey(n))
	g.log.Info("policy proposal approved: a new revision is live", zap.String("proposal", id), zap.String("by", by),
		zap.String("from", p.BaseRevision), zap.String("revision", pol.Revision))
	if err := errors.Join(errA, errB); err != nil {
		return out, fmt.Errorf("the revision is live but its approval was not audited: %w", err)
	}
	return out, nil
}

// Refuse closes a proposal without making it live.
func (g *Govern) Refuse(ctx context.Context, id, by string, v api.ProposalVerdict) (*api.Proposal, error) {
	if strings.TrimSpace(v.Reason) == "" {
		return nil, fmt.Errorf("%w: a refusal needs a reason the author can act on", ErrInvalid)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out *api.Proposal
	var was string
	err := g.updateProposal(ctx, id, func(p *api.Proposal) {
		was = p.State
		if p.State != api.ProposalOpen && p.State != api.ProposalStale {
			return
		}
		p.State = api.ProposalRefused
		p.Verdict = &api.ProposalVerdict{Reason: strings.TrimSpace(v.Reason), By: by, At: time.Now().UTC().Format(time.RFC3339), Verdict: api.ProposalRefused}
		out = p
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("%w: proposal %s is %s already", ErrNotOpen, id, was)
	}
	live := ""
	if g.d.Decider != nil {
		live = g.d.Decider.Policy().Revision
	}
	if err := g.d.Audit.Action(ctx, actionRecord(live, &api.AuditAction{Kind: ActionRefused, ID: id, By: by, Reason: out.Verdict.Reason,
		From: out.BaseRevision, To: out.DraftRevision, Impact: impactSummary(out.Impact)}), ActionRefused, id); err != nil {
		return out, fmt.Errorf("the proposal is refused but the refusal was not audited: %w", err)
	}
	g.log.Info("policy proposal refused", zap.String("proposal", id), zap.String("by", by))
	return out, nil
}

// Proposal is one proposal with its files, diff, checks and impact.
func (g *Govern) Proposal(ctx context.Context, id string) (*api.Proposal, error) {
	p, _, err := g.readProposal(ctx, id)
	return p, err
}

// Proposals lists every proposal, newest first, without files or diff.
func (g *Govern) Proposals(ctx context.Context) ([]api.Proposal, error) {
	l, err := g.kv.ListKeysFiltered(ctx, wire.PolicyProposalFilter)
	if err != nil {
		return nil, fmt.Errorf("listing proposals: %w", err)
	}
	out := []api.Proposal{}
	for k := range l.Keys() {
		e, err := g.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var p api.Proposal
		if json.Unmarshal(e.Value(), &p) != nil {
			continue
		}
		p.Files, p.Diff = nil, ""
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created > out[j].Created
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

func (g *Govern) readProposal(ctx context.Context, id string) (*api.Proposal, uint64, error) {
	if id == "" || strings.ContainsAny(id, ".*> ") {
		return nil, 0, fmt.Errorf("proposal %q: %w", id, ErrNotFound)
	}
	e, err := g.kv.Get(ctx, wire.PolicyProposalKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("proposal %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	var p api.Proposal
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return nil, 0, fmt.Errorf("proposal %s: %w", id, err)
	}
	return &p, e.Revision(), nil
}

func (g *Govern) putProposal(ctx context.Context, p *api.Proposal, kvRev uint64) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if kvRev == 0 {
		_, err = g.kv.Create(ctx, wire.PolicyProposalKey(p.ID), b)
	} else {
		_, err = g.kv.Update(ctx, wire.PolicyProposalKey(p.ID), b, kvRev)
	}
	if err != nil {
		return fmt.Errorf("storing proposal %s: %w", p.ID, err)
	}
	return nil
}

// updateProposal reads, changes and stores a proposal, again when another
// writer (the impact analysis) came in between.
func (g *Govern) updateProposal(ctx context.Context, id string, change func(*api.Proposal)) error {
	for try := 0; ; try++ {
		p, rev, err := g.readProposal(ctx, id)
		if err != nil {
			return err
		}
		change(p)
		if err = g.putProposal(ctx, p, rev); err == nil || try == 10 {
			return err
		}
	}
}
