package run

import (
	"context"
	"io"
	"sync"
)

// stdinSource reads one export from stdin, then reports ErrEndOfInput.
// Stdin has no name, so the format comes from --format; it cannot be read
// again, so there is no progress, and its rejects go to a file of their own.
type stdinSource struct {
	r       io.Reader
	hint    string
	rejects io.Writer
	lazy    *lazyFile
	done    bool
}

// NewStdinSource reads r as an export in format hint, writing rejects to
// the file rejectsPath or, if dryRun is set, to dryRun.
func NewStdinSource(r io.Reader, hint, rejectsPath string, dryRun io.Writer) Source {
	s := &stdinSource{r: r, hint: hint}
	if dryRun != nil {
		s.rejects = prefixWriter{mu: new(sync.Mutex), w: dryRun, prefix: "stdin: "}
	} else {
		s.lazy = &lazyFile{path: rejectsPath, trunc: true}
		s.rejects = s.lazy
	}
	return s
}

func (s *stdinSource) Connect(context.Context) error { return nil }

func (s *stdinSource) Read(ctx context.Context) (*Export, AckFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if s.done {
		return nil, nil, ErrEndOfInput
	}
	s.done = true
	exp := &Export{Name: "stdin", Hint: s.hint, Body: s.r, Rejects: s.rejects}
	return exp, func(context.Context, Result) error {
		if s.lazy != nil {
			return s.lazy.Close()
		}
		return nil
	}, nil
}

func (s *stdinSource) Close(context.Context) error { return nil }

var _ Source = (*stdinSource)(nil)
