package run

import (
	"errors"
	"fmt"
)

var (
	// ErrEndOfInput is returned by Source.Read when the source has nothing
	// more to give: stdin was read, the files given were processed.
	ErrEndOfInput = errors.New("end of input")

	// ErrUnauthorized is returned by Publisher.Publish when the broker
	// refuses the adapter's credentials. Retrying does not help: the runner
	// stops, and the export stays with its source to be read again.
	ErrUnauthorized = errors.New("the broker refused the adapter's credentials")
)

// RejectedError is returned by Publisher.Publish when the broker refused some
// events for good (invalid, not this publisher's to send, an id already used
// for a different event). Every other event of the call is stored.
type RejectedError struct {
	// Reasons holds, by index in the published slice, why the broker
	// refused each event, for the rejects file.
	Reasons map[int]string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("the broker refused %d event(s)", len(e.Reasons))
}
