package console

import (
	"encoding/json"
	"sort"

	"github.com/ecm-broker/ecm-broker/api"
)

// entry is one line of a child's timeline: an event held (with the
// decision about it and the copies it led to), an event the broker
// generated, or an input refused.
type entry struct {
	When     string // the event's time (RFC 3339)
	Kind     string // "event", "generated", "rejected"
	Type     string
	From     string
	EventID  string
	Seq      uint64 // ingest or dead-letter sequence
	Recorded string
	Decision *api.AuditRecord
	Copies   []api.Disclosure
	Refused  []api.Disclosure
	Reasons  []string
	Withheld bool // not in the copy released after review
}

func jsonHead(raw json.RawMessage, v any) bool {
	return len(raw) > 0 && json.Unmarshal(raw, v) == nil
}

func jsonValid(s string) bool {
	var v map[string]any
	return json.Unmarshal([]byte(s), &v) == nil
}

// timeline orders what a subject-access report holds by when it happened;
// operators' actions on the record (reads, exports, replays) are listed
// apart.
func timeline(sa *api.SubjectAccess) ([]entry, []api.AuditRecord) {
	decided := map[string]*api.AuditRecord{}
	var actions []api.AuditRecord
	for i := range sa.Decisions {
		rec := &sa.Decisions[i]
		switch {
		case rec.Action != nil:
			actions = append(actions, *rec)
		case rec.Outcome == "copies":
		default:
			decided[rec.EventID] = rec
		}
	}
	copies, refused := map[string][]api.Disclosure{}, map[string][]api.Disclosure{}
	for _, d := range sa.Disclosures {
		copies[d.EventID] = append(copies[d.EventID], d)
	}
	for _, d := range sa.Refused {
		refused[d.EventID] = append(refused[d.EventID], d)
	}
	var out []entry
	held := map[string]bool{}
	for _, h := range sa.Events {
		var ev struct {
			ID, Type, Time, Source string
		}
		_ = json.Unmarshal(h.Event, &ev)
		held[ev.ID] = true
		out = append(out, entry{When: ev.Time, Kind: "event", Type: ev.Type, From: h.Publisher, EventID: ev.ID, Seq: h.Seq,
			Recorded: h.Recorded, Decision: decided[ev.ID], Copies: copies[ev.ID], Refused: refused[ev.ID]})
	}
	for id, rec := range decided {
		if held[id] {
			continue
		}
		kind := "generated"
		if rec.CausedBy == "" {
			kind = "event" // decided, no longer held (expired or erased)
		}
		out = append(out, entry{When: rec.EventTime, Kind: kind, Type: rec.Type, From: rec.Publisher, EventID: id,
			Seq: rec.IngestSeq, Recorded: rec.DecidedAt, Decision: rec, Copies: copies[id], Refused: refused[id]})
	}
	for _, rj := range sa.Rejected {
		l := describe(rj.DeadLetter)
		out = append(out, entry{When: rj.DeadLetter.Received.UTC().Format("2006-01-02T15:04:05Z07:00"), Kind: "rejected",
			Type: l.Type, From: rj.DeadLetter.Publisher, EventID: l.EventID, Seq: rj.Seq, Reasons: rj.DeadLetter.Reasons})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].When != out[j].When {
			return out[i].When < out[j].When
		}
		return out[i].Seq < out[j].Seq
	})
	return out, actions
}
