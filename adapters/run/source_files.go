package run

import (
	"context"
	"io"
	"path/filepath"
	"sync"
)

// filesSource reads the files named on the command line, each once, then
// reports ErrEndOfInput. Files stay where they are; rejects go beside each
// (<file>.rejects) and progress to <dir>/.progress/<file>.offset, removed
// when the file is read to its end.
type filesSource struct {
	paths  []string
	next   int
	dryRun io.Writer
	mu     sync.Mutex
}

// NewFilesSource reads paths once. dryRun, if set, gets the rejects instead
// of the files beside the exports, and no progress is kept.
func NewFilesSource(paths []string, dryRun io.Writer) Source {
	return &filesSource{paths: paths, dryRun: dryRun}
}

func (s *filesSource) Connect(context.Context) error { return nil }

func (s *filesSource) Read(ctx context.Context) (*Export, AckFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if s.next >= len(s.paths) {
		return nil, nil, ErrEndOfInput
	}
	path := s.paths[s.next]
	s.next++
	exp, fe, err := openFile(path, progressPath(filepath.Dir(path), filepath.Base(path)), s.dryRun, &s.mu)
	if err != nil {
		return nil, nil, err
	}
	ack := func(_ context.Context, res Result) error {
		err := fe.close()
		if res.Incomplete == nil {
			if ferr := fe.forget(); ferr != nil && err == nil {
				err = ferr
			}
		}
		return err
	}
	return exp, ack, nil
}

func (s *filesSource) Close(context.Context) error { return nil }

var _ Source = (*filesSource)(nil)
