package ops

import (
	"fmt"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/nats-io/nats.go"
)

// A report about a child answers with what the store still returns and
// names, in words, what it should hold but cannot show, rather than waiting
// for a message the store lost (docs/operations.md, "A damaged audit").

// gaps are what a subject access report about a child cannot show.
func (b *Ops) gaps(st child.State, recs []api.AuditRecord, lost uint64, found childMessages) []string {
	out := []string{}
	// Every event applied to the child's record was decided, and its
	// decision record stored before the record was written.
	decided := map[uint64]bool{}
	for _, r := range recs {
		if r.Action == nil && r.CausedBy == "" && r.Outcome != "copies" { // the decision, not the record of its copies
			decided[r.IngestSeq] = true
		}
	}
	held := map[uint64]string{}
	for _, m := range found.ingest {
		held[m.Seq] = describeHeld(m)
	}
	for _, seq := range st.Events {
		if decided[seq] {
			continue
		}
		what := "the event at ingest sequence " + fmt.Sprint(seq)
		if d := held[seq]; d != "" {
			what = d + " (ingest sequence " + fmt.Sprint(seq) + ")"
		}
		out = append(out, fmt.Sprintf("%s was decided and applied to the child's record, but its decision record is missing from the audit: "+
			"who received it, and on what basis, cannot be shown", what))
	}
	if found.lostIngest > 0 {
		out = append(out, fmt.Sprintf("%d stored event(s) of the ingest partition that holds this child's events could not be read (a damaged block): "+
			"some may be about this child and are not listed", found.lostIngest))
	}
	if found.lostDeadLetters > 0 {
		out = append(out, fmt.Sprintf("%d dead letter(s) could not be read (a damaged block): refused inputs naming this child may be missing", found.lostDeadLetters))
	}
	return append(out, b.auditGaps(lost)...)
}

// auditGaps are what any report built from a child's audit records cannot
// show: records the store counts for the child but lost, and a chain the
// last verification found broken.
func (b *Ops) auditGaps(lost uint64) []string {
	out := []string{}
	if lost > 0 {
		out = append(out, fmt.Sprintf("%d audit record(s) about this child are counted by the store but could not be read: "+
			"they were lost from a damaged block of the audit stream, and what they recorded (decisions, disclosures, actions) is not shown", lost))
	}
	if b.auditMon != nil {
		if s := b.auditMon.Status(); s.State == audit.ChainBroken {
			g := fmt.Sprintf("the audit's last verification (%s) found it not as written: %d problem(s)", s.CheckedAt, s.BreakCount)
			if s.FirstBreak != nil {
				g += fmt.Sprintf(", the first at audit sequence %d: %s", s.FirstBreak.Seq, s.FirstBreak.Problem)
			}
			out = append(out, g+"; records about this child may be missing or changed")
		}
	}
	return out
}

// describeHeld names a stored event by its id and type, as its publisher
// would know it.
func describeHeld(m store.Msg) string {
	raw, err := cenats.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	if err != nil {
		return ""
	}
	id, _ := raw.String("id")
	typ, _ := raw.String("type")
	return fmt.Sprintf("event %s (%s)", id, typ)
}
