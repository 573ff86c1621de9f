package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/uin"
	"go.uber.org/zap"
)

// handlerFunc is a handler that returns what went wrong instead of writing
// it: serve writes every error the same way, in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// apiError is an answer other than success: its status, and a message a
// person can act on. Handlers return it; serve writes it.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

// errorf is an apiError with a message.
func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// codes name each status for programs (api.Error.Code); people read the
// message.
var codes = map[int]string{
	http.StatusBadRequest: "bad_request", http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden",
	http.StatusNotFound: "not_found", http.StatusConflict: "conflict", http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnprocessableEntity: "unprocessable", http.StatusTooManyRequests: "throttled",
	http.StatusInternalServerError: "internal", http.StatusServiceUnavailable: "unavailable",
}

// serve adapts a handlerFunc: an apiError is written with its status; any
// other error is the broker's own fault, logged and answered 500 without
// its text (which may name internals).
func (b *Server) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ae *apiError
		if errors.As(err, &ae) {
			writeError(w, ae.status, ae.msg)
			return
		}
		b.log.Error("http handler failed", zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "the broker failed on this request; it is logged")
	}
}

// writeError is the one way an error reaches a client: {"error": message,
// "code": code}. The message is for a person; the code, from the status, for
// a program. ("error" stays a string, as every client has read it.)
func writeError(w http.ResponseWriter, status int, msg string) {
	code := codes[status]
	if code == "" {
		code = "error"
	}
	writeJSON(w, status, api.Error{Error: msg, Code: code})
}

// childParam is the child a request names (?child=UIN), or a 400 saying why
// it is not a UIN.
func childParam(r *http.Request) (string, error) {
	child := r.URL.Query().Get("child")
	if err := uin.Check(child); err != nil {
		return "", errorf(http.StatusBadRequest, "child: %v", err)
	}
	return child, nil
}
