package httpapi

// The access log: every operator read of a child's data is an action in the
// hash-chained audit, on the child's own subject, so that it shows in the
// child's subject access export (who, what, which child by key, when). It is
// stored before the data is sent: a read whose record cannot be stored is
// answered 503 and shows nothing. A read that fails after it was recorded
// stays recorded, as an attempt.
//
//   - GET /v1/audit?child=: one record on the child's subject, when it has
//     records (a UIN the audit does not know reads nothing).
//   - POST /v1/decide: one record when the event names a child the broker
//     holds a record of (its state); a made-up UIN reads nothing.
//   - GET /v1/sar: the subject-access record ops.SubjectAccess writes;
//     POST /v1/sar/review: the subject-access-review record
//     ops.ReviewSubjectAccess writes.
//   - POST /v1/whatif: no child's data is read (the state is given), so
//     no read of a child; one what-if record on the _ops subject.
//   - GET /v1/deadletters: dead letters span children, so one record on
//     the _ops subject for the page (counts and sequence range), and one on
//     the subject of every child a dead letter in the page names (a valid
//     UIN anywhere in it, its body decoded), as subject access finds them.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// opsKey is the audit subject of actions that concern no single child.
const opsKey = "_ops"

// readRecord is the audit record of operator op reading, through route, the
// data of the child keyed key.
func (b *Server) readRecord(op, key, route string, counts map[string]int) api.AuditRecord {
	rev := ""
	if p := b.decider.Policy(); p != nil {
		rev = p.Revision
	}
	return api.AuditRecord{ChildKey: key, Type: "read", Publisher: "broker", DecidedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PolicyRevision: rev, Outcome: "read", Decisions: []api.Decision{},
		Action: &api.AuditAction{Kind: "read", ID: randomID(), By: op, Read: route, Counts: counts}}
}

// logRead stores the record of one read of one child's data; false when it
// could not be stored (the answer has been written: 503).
func (b *Server) logRead(w http.ResponseWriter, r *http.Request, op, key string, counts map[string]int) bool {
	rec := b.readRecord(op, key, r.Method+" "+r.URL.Path, counts)
	if err := b.audit.Action(r.Context(), rec, "read", rec.Action.ID); err != nil {
		b.log.Error("operator read not audited; not answered", zap.String("operator", op), zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "the read could not be recorded in the audit, so it is not answered; try again shortly")
		return false
	}
	return true
}

// logDecideRead records an explanation of an event about a child the broker
// holds a record of.
func (b *Server) logDecideRead(w http.ResponseWriter, r *http.Request, op, child string) bool {
	key := b.children.Key(child)
	_, rev, err := b.children.Get(r.Context(), key)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return false
	}
	if rev == 0 {
		return true // no record of the child: nothing of it is read
	}
	return b.logRead(w, r, op, key, nil)
}

// logDeadLetterRead records a page of dead letters: on _ops, and on every
// child named.
func (b *Server) logDeadLetterRead(w http.ResponseWriter, r *http.Request, op string, dls []api.DeadLetter) bool {
	if len(dls) == 0 {
		return true
	}
	route := r.Method + " " + r.URL.Path
	perChild := map[string]int{}
	for _, dl := range dls {
		for _, c := range uinsIn(dl) {
			perChild[b.children.Key(c)]++
		}
	}
	page := b.readRecord(op, opsKey, route, map[string]int{"deadletters": len(dls), "children": len(perChild),
		"from_seq": int(dls[0].Seq), "to_seq": int(dls[len(dls)-1].Seq)})
	var fs []jetstream.PubAckFuture
	f, err := b.audit.ActionAsync(page, "read", page.Action.ID)
	if err == nil {
		fs = append(fs, f)
		for key, n := range perChild {
			rec := b.readRecord(op, key, route, map[string]int{"deadletters": n})
			rec.Action.ID = page.Action.ID + "." + key
			if f, err = b.audit.ActionAsync(rec, "read", rec.Action.ID); err != nil {
				break
			}
			fs = append(fs, f)
		}
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		err = audit.Await(ctx, fs...)
		cancel()
	}
	if err != nil {
		b.log.Error("dead letter read not audited; not answered", zap.String("operator", op), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "the read could not be recorded in the audit, so it is not answered; try again shortly")
		return false
	}
	return true
}

// uinsIn finds the valid UINs a dead letter holds anywhere: ten digits
// between non-digits, with a good check digit, in its JSON and in its body
// decoded from base64 (as subject access finds a child's dead letters).
func uinsIn(dl api.DeadLetter) []string {
	seen := map[string]bool{}
	var out []string
	scan := func(b []byte) {
		for i := 0; i+10 <= len(b); i++ {
			if (i > 0 && isDigit(b[i-1])) || !isDigit(b[i]) {
				continue
			}
			j := i
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			if s := string(b[i:j]); j-i == 10 && uin.Check(s) == nil && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
			i = j
		}
	}
	scan(dl.Body)
	scan([]byte(dl.BodyText))
	for _, v := range dl.Headers {
		scan([]byte(v))
	}
	for _, v := range dl.Reasons {
		scan([]byte(v))
	}
	if dl.BodyBase64 != "" {
		if body, err := base64.StdEncoding.DecodeString(dl.BodyBase64); err == nil {
			scan(body)
		}
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func randomID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}
