package httpapi

// What the console (broker/console) needs of the API: it signs an operator
// in with the same registry and failed-login throttle as a bearer token,
// then calls the API's own handler in the same process with the operator
// put in the request's context (AsOperator). The context key is unexported
// and a context never crosses the wire, so no request from a client can
// claim an identity this way: a request off the listener authenticates by
// its token only.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"go.uber.org/zap"
)

type inProcessKey struct{}

// AsOperator returns ctx carrying the name of the operator on whose behalf
// the console calls the API in-process. operatorOnly and the other
// authentication helpers honour it as they would the operator's token; an
// operator the configuration does not know is refused (401).
func AsOperator(ctx context.Context, operator string) context.Context {
	return context.WithValue(ctx, inProcessKey{}, operator)
}

// Sign-in refusals (SignIn), each said so that the person signing in can act.
var (
	ErrSignInRefused     = errors.New("the operator name and token do not match an operator of the configuration")
	ErrParticipantSignIn = errors.New("this is an agency's token: only operators of the broker sign in to the console")
)

// ThrottledError is SignIn's answer to a client address that failed too
// often: no token is looked at until Wait has passed.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	secs := int(e.Wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return fmt.Sprintf("too many failed sign-ins from this address; try again in %d s", secs)
}

// SignIn checks an operator's name and token for the console, throttled
// per client address as a bearer token is (a wrong token or a name that is
// not the token's counts as a failure). A participant's token is refused
// without counting: it guesses nothing.
func (b *Server) SignIn(r *http.Request, name, token string) (config.Operator, error) {
	addr := clientAddr(r)
	if wait := b.throttle.wait(addr); wait > 0 {
		b.authFailures.WithLabelValues("throttled").Inc()
		return config.Operator{}, &ThrottledError{Wait: wait}
	}
	if o, ok := b.registry.Operator(token); ok && o.Name == name {
		b.log.Info("console sign-in", zap.String("operator", o.Name), zap.String("client", addr))
		return o, nil
	}
	if _, ok := b.registry.ByToken(token); ok {
		b.log.Warn("console sign-in with a participant's token refused", zap.String("client", addr))
		return config.Operator{}, ErrParticipantSignIn
	}
	blocked := b.throttle.fail(addr)
	b.authFailures.WithLabelValues("refused").Inc()
	b.log.Warn("console sign-in failed", zap.String("client", addr), zap.Int("token_length", len(token)))
	if blocked > 0 {
		b.authFailures.WithLabelValues("throttled").Inc()
		return config.Operator{}, &ThrottledError{Wait: blocked}
	}
	return config.Operator{}, ErrSignInRefused
}

// Operator returns the configured operator named name: the console reads
// an operator's roles from it on every request, so a role taken away in
// the configuration is gone at once.
func (b *Server) Operator(name string) (config.Operator, bool) {
	for _, o := range b.cfg.Operators {
		if o.Name == name {
			return o, true
		}
	}
	return config.Operator{}, false
}

// inProcessCaller is the operator AsOperator put in r's context, if any.
// ok is false without one; known is false when it names nobody.
func (b *Server) inProcessCaller(r *http.Request) (c caller, ok, known bool) {
	name, ok := r.Context().Value(inProcessKey{}).(string)
	if !ok {
		return caller{}, false, false
	}
	o, known := b.Operator(name)
	if !known {
		return caller{}, true, false
	}
	return caller{operator: &o}, true, true
}
