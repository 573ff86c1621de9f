package httpapi

// The endpoints the IG console and ecmctl share beside the operations of
// ops.go (shapes and routes: api/govern.go): what-if decisions, dead-letter
// triage, the reviewed subject-access report and the operations overview.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/child"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/event"
	"github.com/ecm-broker/ecm-broker/broker/ops"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// consoleRoutes registers the console's endpoints (api/govern.go).
func (b *Server) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/whatif", b.operatorOnly(config.RoleRead, b.serve(b.handleWhatIf)))
	mux.HandleFunc("POST /v1/deadletters/{seq}/resolve", b.operatorOnly(config.RoleReplay, b.serve(b.handleResolve)))
	mux.HandleFunc("POST /v1/deadletters/{seq}/resubmit", b.operatorOnly(config.RoleReplay, b.serve(b.handleResubmit)))
	mux.HandleFunc("POST /v1/sar/review", b.operatorOnly(config.RoleRead, b.serve(b.handleSARReview)))
	mux.HandleFunc("GET /v1/operations", b.operatorOnly(config.RoleRead, b.serve(b.handleOperations)))
}

// handleWhatIf is POST /v1/whatif (operators): what the live policy would
// decide for an event about a hypothetical child (api.WhatIfRequest). It
// reads no real child's state and stores, publishes and changes nothing, so
// it is not a read of a child; the access log records it on the _ops subject
// (the operator, the route, how many decisions), never the state given.
func (b *Server) handleWhatIf(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.WhatIfRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2*event.MaxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"event\": a structured CloudEvent, \"child\": an index record, \"consent\": {\"entries\": [...]}}: "+err.Error())
	}
	if len(req.Event) == 0 {
		return errorf(http.StatusBadRequest, "event: the structured CloudEvent to decide is required")
	}
	raw, err := cenats.DecodeStructured(req.Event)
	if err != nil {
		return errorf(http.StatusBadRequest, "event: %v", err)
	}
	source, _ := raw.String("source")
	publisher := strings.TrimPrefix(source, "/")
	if _, ok := b.registry.Participant(publisher); !ok {
		return errorf(http.StatusBadRequest, "source %q is not a registered participant", source)
	}
	ev, probs := event.Validate(raw, publisher, time.Now().Add(time.Minute))
	if len(probs) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid event", "problems": probs})
		return nil
	}
	if req.Child != nil {
		if req.Child.UIN == "" {
			req.Child.UIN = ev.Subject
		}
		if req.Child.UIN != ev.Subject {
			return errorf(http.StatusBadRequest, "child.uin: must be the event's subject, the child the event is about")
		}
		if req.Child.Area == "" {
			return errorf(http.StatusBadRequest, "child.area: the area whose index holds the child (e.g. \"leeds\") is required")
		}
	}
	out := b.ops.ExplainState(r.Context(), ev, child.State{Index: req.Child, Consent: req.Consent})
	rec := b.readRecord(op, opsKey, r.Method+" "+r.URL.Path, map[string]int{"decisions": len(out.Decisions), "generated": len(out.Generated)})
	rec.Type, rec.Outcome, rec.Action.Kind = "what-if", "what-if", "what-if"
	if err := b.audit.Action(r.Context(), rec, "what-if", rec.Action.ID); err != nil {
		b.log.Error("what-if not audited; not answered", zap.String("operator", op), zap.Error(err))
		return errorf(http.StatusServiceUnavailable, "the what-if could not be recorded in the audit, so it is not answered; try again shortly")
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// seqParam is the dead letter a triage route names, or a 400.
func seqParam(r *http.Request) (uint64, error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return 0, errorf(http.StatusBadRequest, "seq: the dead letter's sequence, a whole number from 1 (as GET /v1/deadletters lists it)")
	}
	return seq, nil
}

// openDeadLetter reads the dead letter a triage route names and refuses one
// that was dealt with already (409) or does not exist (404).
func (b *Server) openDeadLetter(ctx context.Context, seq uint64) (api.DeadLetter, error) {
	dl, err := b.ops.DeadLetter(ctx, seq)
	switch {
	case errors.Is(err, ops.ErrNoDeadLetter):
		return dl, errorf(http.StatusNotFound, "%v", err)
	case err != nil:
		return dl, errorf(http.StatusServiceUnavailable, "%v", err)
	case dl.Triage != nil:
		return dl, errorf(http.StatusConflict, "dead letter %d was already %s by %s at %s", seq, dl.Triage.Action, dl.Triage.By, dl.Triage.At)
	case dl.Resolved != nil:
		return dl, errorf(http.StatusConflict, "dead letter %d, a refused copy, was already delivered by %s %s", seq, dl.Resolved.Operation, dl.Resolved.ID)
	}
	return dl, nil
}

// triageError answers a failure to store a triage.
func triageError(err error) error {
	if errors.Is(err, ops.ErrAlreadyTriage) {
		return errorf(http.StatusConflict, "%v by another operator meanwhile", err)
	}
	return errorf(http.StatusServiceUnavailable, "%v", err)
}

// handleResolve is POST /v1/deadletters/{seq}/resolve (operators with the
// replay role): mark a dead letter as dealt with, with a note.
func (b *Server) handleResolve(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	seq, err := seqParam(r)
	if err != nil {
		return err
	}
	var req api.DeadLetterResolve
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"note\": what was done about it}: "+err.Error())
	}
	if err := ops.CheckNote(req.Note); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if _, err := b.openDeadLetter(r.Context(), seq); err != nil {
		return err
	}
	t, err := b.ops.RecordTriage(r.Context(), op, api.DeadLetterTriage{Seq: seq, Action: ops.TriageResolved, Note: strings.TrimSpace(req.Note)})
	if err != nil {
		return triageError(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// handleResubmit is POST /v1/deadletters/{seq}/resubmit (operators with the
// replay role): publish a corrected body on the dead letter's publisher's
// behalf, through the same ingest and checks as POST /v1/events. A body
// still wrong is answered 422 with its problems, Accepted false, and nothing
// is published, dead-lettered or stored as the triage (the dead letter stays
// open); the attempt is audited all the same.
func (b *Server) handleResubmit(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	seq, err := seqParam(r)
	if err != nil {
		return err
	}
	var req api.DeadLetterResubmit
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2*event.MaxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"event\": the corrected structured CloudEvent, \"note\": what was corrected}: "+err.Error())
	}
	if err := ops.CheckNote(req.Note); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if len(req.Event) == 0 {
		return errorf(http.StatusBadRequest, "event: the corrected structured CloudEvent is required")
	}
	if len(req.Event) > event.MaxBytes {
		return errorf(http.StatusBadRequest, "event: at most %d bytes", event.MaxBytes)
	}
	dl, err := b.openDeadLetter(r.Context(), seq)
	if err != nil {
		return err
	}
	p, known := b.registry.Participant(dl.Publisher)
	if !known {
		why := fmt.Sprintf("dead letter %d was not sent by a participant (%q), so there is no one to publish on behalf of; mark it resolved instead", seq, dl.Publisher)
		if dl.Publisher == "ecm-broker" {
			why = fmt.Sprintf("dead letter %d is a copy refused by a delivery limit: a replay delivers it (ecmctl replay), not a resubmission", seq)
		}
		return errorf(http.StatusConflict, "%s", why)
	}
	t := api.DeadLetterTriage{Seq: seq, Action: ops.TriageResubmitted, Note: strings.TrimSpace(req.Note)}
	msg := nats.NewMsg("")
	msg.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
	msg.Data = req.Event
	if probs := b.pipe.Check(p, msg); len(probs) > 0 {
		return b.resubmitRefused(w, r, op, t, probs, "")
	}
	raw, _ := cenats.Decode(msg)
	t.EventID, _ = raw.String("id")
	res := b.pipe.Ingest(r.Context(), p, msg)
	if res.Outcome != "accepted" && res.Outcome != "duplicate" {
		return b.resubmitRefused(w, r, op, t, res.Problems, res.Error)
	}
	t.Accepted = true
	t, err = b.ops.RecordTriage(r.Context(), op, t)
	if err != nil {
		// Published on the publisher's behalf all the same (another operator
		// dealt with the dead letter meanwhile, or the bucket failed): the
		// audit must still say who did it.
		if aerr := b.ops.AuditTriage(r.Context(), op, t); aerr != nil {
			b.log.Error("resubmission not audited", zap.Uint64("seq", seq), zap.Error(aerr))
		}
		b.log.Error("resubmitted event accepted, triage not stored", zap.Uint64("seq", seq), zap.Error(err))
		return triageError(fmt.Errorf("the corrected event %s was accepted, but: %w", t.EventID, err))
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// resubmitRefused answers a resubmission the ingest refused, audited.
func (b *Server) resubmitRefused(w http.ResponseWriter, r *http.Request, op string, t api.DeadLetterTriage, probs []api.Problem, why string) error {
	if len(probs) == 0 {
		probs = []api.Problem{{Field: "event", Reason: "not accepted: " + why}}
	}
	t.Problems, t.By, t.At = probs, op, time.Now().UTC().Format(time.RFC3339Nano)
	if err := b.ops.AuditTriage(r.Context(), op, t); err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	writeJSON(w, http.StatusUnprocessableEntity, t)
	return nil
}

// deadLetterPage reads a page of dead letters after a sequence with what
// operators did about each; open leaves out those dealt with (a triage, or
// a refused copy a replay delivered), reading on until the page is full or
// the stream ends.
func (b *Server) deadLetterPage(ctx context.Context, after uint64, limit int, open bool) (api.DeadLetterPage, error) {
	out := api.DeadLetterPage{DeadLetters: []api.DeadLetter{}, Next: after}
	triaged, err := b.ops.Triaged(ctx)
	if err != nil {
		return out, err
	}
	for {
		msgs, err := store.ReadSubject(ctx, b.js, wire.StreamDeadLetter, wire.DeadLetterFilter, out.Next, limit)
		if err != nil {
			return out, err
		}
		for _, m := range msgs {
			out.Next = m.Seq
			var dl api.DeadLetter
			if err := json.Unmarshal(m.Data, &dl); err != nil {
				continue
			}
			dl.Seq = m.Seq
			if triaged[m.Seq] {
				if dl.Triage, err = b.ops.Triage(ctx, m.Seq); err != nil {
					return out, err
				}
			}
			if open && (dl.Triage != nil || dl.Resolved != nil) {
				continue
			}
			out.DeadLetters = append(out.DeadLetters, dl)
			if len(out.DeadLetters) == limit {
				return out, nil
			}
		}
		if !open || len(msgs) < limit {
			return out, nil
		}
	}
}

// handleSARReview is POST /v1/sar/review (operators): the subject-access
// report with the items an IG lead withholds taken out and listed with
// their grounds. Like GET /v1/sar it is an access to the child's data,
// recorded on the child's audit subject (kind subject-access-review) before
// the report is given.
func (b *Server) handleSARReview(w http.ResponseWriter, r *http.Request) error {
	op, ok := b.operatorName(w, r)
	if !ok {
		return nil
	}
	var req api.SARReviewRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return errorf(http.StatusBadRequest, "%s", "body: {\"child\": UIN, \"withhold\": [{\"kind\", \"seq\"|\"id\"|\"event_id\"+\"participant\", \"ground\", \"reason\"}]}: "+err.Error())
	}
	if err := uin.Check(req.Child); err != nil {
		return errorf(http.StatusBadRequest, "child: %v", err)
	}
	out, err := b.ops.ReviewSubjectAccess(r.Context(), op, req)
	switch {
	case errors.Is(err, ops.ErrBadReview):
		return errorf(http.StatusBadRequest, "%v", err)
	case err != nil:
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// maxRecentReplays is how many replays and backfills the overview lists.
const maxRecentReplays = 20

// handleOperations is GET /v1/operations (operators): readiness, the
// audit's verification, the policy, who is not reading, what is waiting.
// It names participants, never a child.
func (b *Server) handleOperations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ready, _, checks := b.readiness()
	out := api.Operations{Ready: ready, Checks: checks, AuditChain: b.auditMon.Status(), Reload: "off",
		Participants: []api.ParticipantBacklog{}, Replays: []api.AuditRecord{}}
	if p := b.decider.Policy(); p != nil {
		out.Policy = p.Revision
	}
	if dir := b.reloader.Watched(); dir != "" {
		out.Reload = "watching " + dir
	}
	if why := b.reloader.Refused(); why != "" {
		out.Reload = "refused: " + why
	}
	pushing := map[string]string{} // participant -> its push state in words
	if ps, err := b.push.Status(ctx); err == nil {
		for _, p := range ps.Participants {
			pushing[p.Participant] = pushWords(p)
		}
	}
	for _, p := range b.registry.All() {
		pb := api.ParticipantBacklog{Participant: p.ID, Name: p.DisplayName(), Push: pushing[p.ID]}
		var last time.Time
		cons, err := b.js.Consumer(ctx, wire.StreamDelivery, wire.DeliveryConsumer(p.ID))
		if err == nil {
			info, err := cons.Info(ctx)
			if err != nil {
				return errorf(http.StatusServiceUnavailable, "reading consumer %s: %v", wire.DeliveryConsumer(p.ID), err)
			}
			pb.Waiting = info.NumPending + uint64(info.NumAckPending)
			if info.Delivered.Last != nil {
				last = *info.Delivered.Last
			}
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return errorf(http.StatusServiceUnavailable, "reading consumer %s: %v", wire.DeliveryConsumer(p.ID), err)
		}
		if t, ok := b.metrics.LastRead(p.ID); ok && t.After(last) {
			last = t
		}
		if !last.IsZero() {
			pb.LastRead = last.UTC().Format(time.RFC3339)
		}
		out.Participants = append(out.Participants, pb)
	}
	sort.Slice(out.Participants, func(i, j int) bool {
		a, c := out.Participants[i], out.Participants[j]
		return a.Waiting > c.Waiting || a.Waiting == c.Waiting && a.Participant < c.Participant
	})
	triaged, err := b.ops.Triaged(ctx)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	err = store.Scan(ctx, b.js, wire.StreamDeadLetter, store.ScanOpts{}, func(m store.Msg) error {
		var dl struct {
			Resolved *api.DeadLetterResolution `json:"resolved"`
		}
		_ = json.Unmarshal(m.Data, &dl)
		if dl.Resolved != nil || triaged[m.Seq] {
			return nil
		}
		out.DeadLetters++
		if ops.IsRefusedCopy(m.Subject) {
			out.RefusedCopies++
		}
		return nil
	})
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "reading the dead letters: %v", err)
	}
	if out.Replays, err = b.recentReplays(ctx); err != nil {
		return errorf(http.StatusServiceUnavailable, "reading the audit: %v", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// recentOps keeps the newest replays and backfills of the audit's _ops
// subject and how far it has read, so that each overview reads only the
// records written since the last (the subject also holds every dead-letter
// page read and what-if, and grows without limit).
type recentOps struct {
	mu      sync.Mutex
	readTo  uint64 // the last ECM_AUDIT sequence read
	replays []api.AuditRecord
}

// recentReplays are the newest maxRecentReplays replays and backfills (dry
// runs included), newest first.
func (b *Server) recentReplays(ctx context.Context) ([]api.AuditRecord, error) {
	c := &b.recent
	c.mu.Lock()
	defer c.mu.Unlock()
	err := store.Scan(ctx, b.js, wire.StreamAudit, store.ScanOpts{Filter: []string{wire.AuditSubject(opsKey)}, StartSeq: c.readTo + 1},
		func(m store.Msg) error {
			c.readTo = m.Seq
			var rec api.AuditRecord
			if json.Unmarshal(m.Data, &rec) != nil || rec.Action == nil {
				return nil
			}
			if k := rec.Action.Kind; strings.HasPrefix(k, "replay") || strings.HasPrefix(k, "backfill") {
				c.replays = append(c.replays, rec)
				if len(c.replays) > maxRecentReplays {
					c.replays = c.replays[1:]
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	out := make([]api.AuditRecord, 0, len(c.replays))
	for i := len(c.replays) - 1; i >= 0; i-- {
		out = append(out, c.replays[i])
	}
	return out, nil
}

// pushWords says where pushing a participant's copies stands, for the
// overview: "pushing: 3 pending, breaker closed", with the failures and
// the copies given up when there are any.
func pushWords(p api.PushParticipant) string {
	s := fmt.Sprintf("pushing: %d pending, breaker %s", p.Pending, p.Breaker)
	if p.Failures > 0 {
		s += fmt.Sprintf(", %d failed attempts at the current copy", p.Failures)
	}
	if p.DeadLettered > 0 {
		s += fmt.Sprintf(", %d given up (ecmctl push retry)", p.DeadLettered)
	}
	return s
}
