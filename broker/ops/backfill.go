package ops

// Backfill (docs/operations.md, "Backfill"): send history under the policy
// now serving, which may disclose what was never disclosed: events decided
// before a participant existed, or refused to it by an earlier policy. Unlike
// a replay it does not stop at the decision recorded at the time, so it is a
// separate operation: it shows its impact first (a dry run lists each copy
// it would send, marking those that disclose what the recorded decision did
// not, and fingerprints them), it sends only when confirmed with the dry
// run's id and only when what it would send is still exactly what the dry
// run showed, and the audit names it a backfill. Each copy is decided as the
// replays before it were: by today's policy with the child's state as of the
// event and with its state now, both allowing, every field either removes
// removed (so a child shielded since, a consent withdrawn since, still
// stops it).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
)

// dryRunValid is how long a backfill dry run can be confirmed.
const dryRunValid = 24 * time.Hour

// Backfill runs a backfill: a dry run unless req.Confirm names one, then
// the backfill that dry run showed (see the top of this file).
func (b *Ops) Backfill(ctx context.Context, operator string, req api.BackfillRequest, progress func(any)) (*api.ReplayResult, error) {
	dry, err := b.CheckBackfill(ctx, req)
	if err != nil {
		return nil, err
	}
	sel := req.ReplaySelection
	sel.DryRun = dry == nil
	return b.resend(ctx, operator, opBackfill, sel, dry, progress)
}

// CheckBackfill checks a backfill request before anything runs: the
// selection (an error as CheckSelection's) and, when it confirms a dry run,
// that the dry run was of this selection, ran to the end and is recent (an
// error wrapping ErrNoDryRun). It returns the dry run's audit action (nil
// for a dry run).
func (b *Ops) CheckBackfill(ctx context.Context, req api.BackfillRequest) (*api.AuditAction, error) {
	if req.DryRun && req.Confirm != "" {
		return nil, fmt.Errorf("dry_run: a confirmation is not a dry run; leave out confirm for a dry run")
	}
	s, err := b.CheckSelection(req.ReplaySelection)
	if err != nil {
		return nil, err
	}
	if req.Confirm == "" {
		return nil, nil
	}
	var found *api.AuditAction
	err = store.Scan(ctx, b.js, wire.StreamAudit, store.ScanOpts{Filter: []string{wire.AuditSubject("_ops")}, StartTime: time.Now().Add(-dryRunValid)},
		func(m store.Msg) error {
			var rec api.AuditRecord
			if json.Unmarshal(m.Data, &rec) == nil && rec.Action != nil && rec.Action.Kind == opBackfill+"-dry-run" && rec.Action.ID == req.Confirm {
				a := *rec.Action
				found = &a
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: confirm: no backfill dry run %q in the last %s; run the backfill without confirm first", ErrNoDryRun, req.Confirm, dryRunValid)
	}
	if found.Error != "" {
		return nil, fmt.Errorf("%w: confirm: dry run %s did not finish (%s); run another", ErrNoDryRun, found.ID, found.Error)
	}
	want := req.ReplaySelection
	want.Child, want.DryRun = "", true
	reason := ""
	if s.key != "" {
		reason = "one child: child key " + s.key
	}
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(found.Selection)
	if string(w) != string(g) || found.Reason != reason {
		return nil, fmt.Errorf("%w: confirm: dry run %s was of another selection (%s); confirm with the same selection", ErrNoDryRun, found.ID, g)
	}
	return found, nil
}

// checkImpact fingerprints the copies a backfill sends (each copy's
// message id, basis and removed fields) and, when the backfill confirms a
// dry run, refuses to go on unless they are the dry run's.
func (b *Ops) checkImpact(res *api.ReplayResult, dry *api.AuditAction, plan []planned) error {
	if res.Operation != opBackfill {
		return nil
	}
	lines := make([]string, 0, len(plan))
	for _, pl := range plan {
		rm := append([]string{}, pl.d.Remove...)
		sort.Strings(rm)
		lines = append(lines, wire.DeliveryMsgID(pl.c.ev.Source, pl.c.ev.ID, res.Selection.Participant)+" "+pl.d.Basis+" "+strings.Join(rm, ","))
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	res.Impact = hex.EncodeToString(sum[:16])
	if dry != nil && dry.Impact != res.Impact {
		return fmt.Errorf("%w: the backfill would now send other copies than dry run %s showed (%d copies, %d newly disclosed); "+
			"nothing was sent: run a new dry run", ErrImpactChanged, dry.ID, len(plan), res.NewlyDisclosed)
	}
	return nil
}

// Errors of a backfill's confirmation (HTTP 409).
var (
	ErrNoDryRun      = errors.New("no such dry run")
	ErrImpactChanged = errors.New("impact changed since the dry run")
)
