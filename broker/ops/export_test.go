package ops

import (
	"context"

	"github.com/ecm-broker/ecm-broker/api"
)

// What the tests of this package (package ops_test) reach inside.

// SetImpactEvaluateAll makes every impact analysis decide every event again,
// each one, so a test can check that what the scope analysis and the
// decision cache skip changes nothing.
func SetImpactEvaluateAll(v bool) { impactEvaluateAll = v }

// RecordedEvent is a child's event as the history fold reads it.
type RecordedEvent = recordedEvent

// ChildHistory is the history fold's read of a child's events.
func ChildHistory(o *Ops, ctx context.Context, key string) ([]RecordedEvent, error) {
	return o.childHistory(ctx, key)
}

// HistoryFrom reads the events an audit names.
func HistoryFrom(o *Ops, ctx context.Context, recs []api.AuditRecord) ([]RecordedEvent, error) {
	return o.historyFrom(ctx, recs)
}

// SetReplayAuditReads makes replays read children's audit records in one
// pass over the audit above bySubject children, batch children at a time.
func SetReplayAuditReads(bySubject, batch int) { replayBySubject, replayAuditBatch = bySubject, batch }
