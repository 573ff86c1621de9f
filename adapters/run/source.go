package run

import (
	"context"
	"io"
)

// Source yields exports to read, in the shape of a benthos input. The runner
// calls Connect once, then Read until it returns ErrEndOfInput or the
// runner's context ends, then Close.
type Source interface {
	// Connect prepares the source: creates folders, starts listening.
	Connect(ctx context.Context) error
	// Read blocks until an export is ready and returns it with the AckFunc
	// that the runner calls once it is done with the export. It returns
	// ErrEndOfInput when there is nothing more, ctx's error when ctx ends.
	Read(ctx context.Context) (*Export, AckFunc, error)
	// Close stops the source; exports not yet acknowledged stay where they
	// are to be read again.
	Close(ctx context.Context) error
}

// AckFunc tells a source what became of an export. When res.Incomplete is
// nil every record is in the broker or in the rejects and the source may
// forget the export; otherwise it must keep it to be read again.
type AckFunc func(ctx context.Context, res Result) error

// Export is one native export: a dropped file, stdin, an HTTP body.
type Export struct {
	// Name identifies the export in logs: a file name, "stdin", "http".
	Name string
	// Hint is given to Agency.Open: the file name or a --format.
	Hint string
	// Body is the export.
	Body io.Reader
	// Resume is the line of the last record already stored: records up to
	// it are skipped.
	Resume int
	// Rejects receives one "line N: reason" line per rejected record (or its name: adapters.Where), and
	// an "export: reason" line if the export cannot be read.
	Rejects io.Writer
	// Checkpoint, if set, is called with the line of the last record of
	// each batch once the batch is stored and its rejects written, so that
	// a restart can resume after it.
	Checkpoint func(line int) error

	// ctx, if set, ends the export early: an HTTP client that went away.
	ctx context.Context
	// interrupt, if set, makes a Read of Body blocked on its input return;
	// the runner then waits for its reader to stop before it acknowledges
	// the export (an HTTP body must not be read after the handler returns).
	interrupt func()
}

// concurrentSource is a Source whose exports are independent of one another
// and each awaited by its own client (an MLLP connection waiting for its
// ACK): the runner processes up to Concurrency of them at once instead of
// one after another, so that one slow export holds up no other client.
type concurrentSource interface {
	Source
	Concurrency() int
}
