package main

import (
	"errors"
	"fmt"
)

// Sentinels for how a command ended, for errors.Is; every error ends ecmctl
// with status 1, its message written as one line.
var (
	// errUsage is a command line that cannot be run as given (see usagef).
	errUsage = errors.New("usage")
	// errNotAccepted is a publish where the broker refused at least one event.
	errNotAccepted = errors.New("not accepted")
	// errNotReady is a health check that found the broker not live or not ready.
	errNotReady = errors.New("not ready")
	// errNoToken is a command that needs a token run without one.
	errNoToken = errors.New("no token: give --token or set ECM_TOKEN")
)

// usagef is a usage error whose message does not repeat "usage".
func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }
