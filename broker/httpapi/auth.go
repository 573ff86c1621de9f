package httpapi

// Who may call each route (docs/security.md, "Who can do what over HTTP").
// Routes are wrapped in routes.go: participantOnly for a participant's own
// data, operatorOnly(role) for the operators' endpoints. The wrapper
// authenticates the bearer token (throttled per client address:
// throttle.go), checks the role and puts the caller in the request's
// context, where participantFor, operatorName and operatorFor find it. A
// handler registered without a wrapper still authenticates through those
// helpers (any operator, any participant).

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"go.uber.org/zap"
)

// caller is who a request's bearer token names: a participant or an
// operator.
type caller struct {
	participant *config.Participant
	operator    *config.Operator
}

type callerKey struct{}

func withCaller(r *http.Request, c caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}

func callerOf(r *http.Request) (caller, bool) {
	c, ok := r.Context().Value(callerKey{}).(caller)
	return c, ok
}

// bearer is the token of an "Authorization: Bearer <token>" header; the
// scheme is case-insensitive (RFC 9110 section 11.1), so "bearer" and
// "BEARER" are read too.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// participantOnly serves h to participants only.
func (b *Server) participantOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := b.authenticate(w, r)
		if !ok {
			return
		}
		if c.participant == nil {
			unauthorized(w, "a participant token is required (Authorization: Bearer <token>)")
			return
		}
		h(w, withCaller(r, c))
	}
}

// operatorOnly serves h to operators that have role (every operator reads).
func (b *Server) operatorOnly(role config.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := b.authenticate(w, r)
		if !ok {
			return
		}
		if c.operator == nil {
			unauthorized(w, "an operator token is required (Authorization: Bearer <token>)")
			return
		}
		if !c.operator.Has(role) {
			b.log.Warn("operator without the role", zap.String("operator", c.operator.Name), zap.String("role", string(role)),
				zap.String("method", r.Method), zap.String("path", r.URL.Path))
			writeError(w, http.StatusForbidden, fmt.Sprintf("operator %s does not have the %s role (roles: in the configuration)", c.operator.Name, role))
			return
		}
		h(w, withCaller(r, c))
	}
}

// authenticate finds the identity of the request's token. A client address
// that has failed too often is answered 429 before its token is looked at;
// a token that names nobody is a failure, logged (never the token) and
// counted. A missing token is answered 401 but is not a failure: it guesses
// nothing. The console's in-process calls name their operator in the
// context instead (AsOperator, console.go).
func (b *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	if c, ok, known := b.inProcessCaller(r); ok { // the console, in-process (console.go)
		if !known {
			unauthorized(w, "the console's operator is no longer in the configuration: sign in again")
			return caller{}, false
		}
		return c, true
	}
	addr := clientAddr(r)
	if wait := b.throttle.wait(addr); wait > 0 {
		b.authThrottled(w, wait)
		return caller{}, false
	}
	tok := bearer(r)
	if tok == "" {
		unauthorized(w, "a token is required (Authorization: Bearer <token>)")
		return caller{}, false
	}
	if p, ok := b.registry.ByToken(tok); ok {
		return caller{participant: &p}, true
	}
	if o, ok := b.registry.Operator(tok); ok {
		return caller{operator: &o}, true
	}
	blocked := b.throttle.fail(addr)
	b.authFailures.WithLabelValues("refused").Inc()
	fields := []zap.Field{zap.String("client", addr), zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.Int("token_length", len(tok))}
	if blocked > 0 {
		b.log.Warn("authentication failed; client throttled", append(fields, zap.Duration("retry_after", blocked))...)
		b.authThrottled(w, blocked)
		return caller{}, false
	}
	b.log.Warn("authentication failed", fields...)
	unauthorized(w, "the token is not valid")
	return caller{}, false
}

func (b *Server) authThrottled(w http.ResponseWriter, wait time.Duration) {
	b.authFailures.WithLabelValues("throttled").Inc()
	secs := int(wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed authentications from this address; try again in %d s", secs))
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="ecm-broker"`)
	writeError(w, http.StatusUnauthorized, msg)
}

// participantFor is the participant calling: the one participantOnly found,
// or, for a handler registered without it, the one the token names. When
// false it has written the answer.
func (b *Server) participantFor(w http.ResponseWriter, r *http.Request) (config.Participant, bool) {
	if c, ok := callerOf(r); ok && c.participant != nil {
		return *c.participant, true
	}
	c, ok := b.authenticate(w, r)
	if ok && c.participant == nil {
		unauthorized(w, "a participant token is required (Authorization: Bearer <token>)")
		ok = false
	}
	if !ok {
		return config.Participant{}, false
	}
	return *c.participant, true
}

// operatorName is the name of the operator calling, as participantFor (any
// operator, when the route has no operatorOnly wrapper).
func (b *Server) operatorName(w http.ResponseWriter, r *http.Request) (string, bool) {
	if c, ok := callerOf(r); ok && c.operator != nil {
		return c.operator.Name, true
	}
	c, ok := b.authenticate(w, r)
	if ok && c.operator == nil {
		unauthorized(w, "an operator token is required (Authorization: Bearer <token>)")
		ok = false
	}
	if !ok {
		return "", false
	}
	return c.operator.Name, true
}

// operatorFor reports whether an operator is calling, as operatorName.
func (b *Server) operatorFor(w http.ResponseWriter, r *http.Request) bool {
	_, ok := b.operatorName(w, r)
	return ok
}
