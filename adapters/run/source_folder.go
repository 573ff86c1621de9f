package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// FolderOptions configure the drop folder source.
type FolderOptions struct {
	// Dir is the drop folder.
	Dir string
	// Poll is how often the folder is looked at; default 1s.
	Poll time.Duration
	// DryRun leaves files where they are, keeps no progress and writes
	// rejects to DryRunRejects instead of beside the files.
	DryRun        bool
	DryRunRejects io.Writer
	Logger        *zap.Logger
}

// DefaultPoll is how often a drop folder is looked at by default.
const DefaultPoll = time.Second

// Sub-folders of the drop folder.
const (
	doneDir    = "done"    // every record stored
	partialDir = "partial" // some records rejected, the others stored
	failedDir  = "failed"  // unreadable, or every record rejected
)

// folderSource takes files dropped in a folder. A file is taken once its size
// and modification time have not changed between two looks, so that one
// still being copied in is left alone; dotfiles and names ending .tmp, .part
// or .rejects are never taken. A finished file goes with its rejects to
// done/ when every record is stored, partial/ when some were rejected and
// the others stored, failed/ when it could not be read or every record in it
// was rejected; an interrupted one stays, and its progress says where to
// resume.
type folderSource struct {
	o    FolderOptions
	log  *zap.Logger
	mu   sync.Mutex
	seen map[string]fileStat // at the last look
	skip map[string]fileStat // not to take again while unchanged
}

type fileStat struct {
	size  int64
	mtime time.Time
}

// NewFolderSource returns the drop folder source.
func NewFolderSource(o FolderOptions) Source {
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &folderSource{o: o, log: o.Logger.With(zap.String("folder", o.Dir)),
		seen: map[string]fileStat{}, skip: map[string]fileStat{}}
}

func (s *folderSource) Connect(context.Context) error {
	st, err := os.Stat(s.o.Dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", s.o.Dir)
	}
	if !s.o.DryRun {
		for _, d := range []string{doneDir, partialDir, failedDir, progressDir} {
			if err := os.MkdirAll(filepath.Join(s.o.Dir, d), 0o700); err != nil {
				return err
			}
		}
	}
	_, err = s.look()
	return err
}

func (s *folderSource) Read(ctx context.Context) (*Export, AckFunc, error) {
	for {
		ready, err := s.look()
		if err != nil {
			s.log.Error("looking at the drop folder", zap.Error(err))
		}
		for _, name := range ready {
			exp, ack, err := s.open(name)
			if err != nil {
				s.log.Error("cannot open dropped file", zap.String("export", name), zap.Error(err))
				s.mu.Lock()
				s.skip[name] = s.seen[name]
				s.mu.Unlock()
				continue
			}
			return exp, ack, nil
		}
		if err := sleep(ctx, s.o.Poll); err != nil {
			return nil, nil, err
		}
	}
}

// ignored reports names never taken as exports.
func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") ||
		strings.HasSuffix(name, ".part") || strings.HasSuffix(name, rejectsExt)
}

// look lists the folder and returns the files ready to take, oldest first.
func (s *folderSource) look() ([]string, error) {
	entries, err := os.ReadDir(s.o.Dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := map[string]fileStat{}
	var ready []string
	for _, e := range entries {
		if !e.Type().IsRegular() || ignored(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		st := fileStat{info.Size(), info.ModTime()}
		now[e.Name()] = st
		if prev, ok := s.seen[e.Name()]; !ok || prev != st {
			continue // new or still being written
		}
		if skip, ok := s.skip[e.Name()]; ok && skip == st {
			continue
		}
		ready = append(ready, e.Name())
	}
	for name := range s.skip {
		if _, ok := now[name]; !ok {
			delete(s.skip, name)
		}
	}
	s.seen = now
	slices.SortFunc(ready, func(a, b string) int {
		if c := now[a].mtime.Compare(now[b].mtime); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return ready, nil
}

var dryRunMu sync.Mutex // one stderr

func (s *folderSource) open(name string) (*Export, AckFunc, error) {
	path := filepath.Join(s.o.Dir, name)
	var dry io.Writer
	if s.o.DryRun {
		dry = s.o.DryRunRejects
		if dry == nil {
			dry = io.Discard
		}
	}
	exp, fe, err := openFile(path, progressPath(s.o.Dir, name), dry, &dryRunMu)
	if err != nil {
		return nil, nil, err
	}
	ack := func(_ context.Context, res Result) error {
		err := fe.close()
		switch {
		case s.o.DryRun:
		case res.Incomplete != nil:
			return err // the file stays, with its progress
		default:
			if err = errors.Join(err, s.settle(name, res, fe)); err == nil {
				return nil
			}
		}
		// Not to be read again in this process while it is unchanged.
		s.mu.Lock()
		s.skip[name] = s.seen[name]
		s.mu.Unlock()
		return err
	}
	return exp, ack, nil
}

// settle moves a finished file with its rejects to done/, partial/ or
// failed/. Its progress goes first: a crash before the move reads the file
// again from the start, which the broker's deduplication makes harmless,
// whereas progress left behind could skip records of a new file of the same
// name.
func (s *folderSource) settle(name string, res Result, fe *fileExport) error {
	if err := fe.forget(); err != nil {
		return fmt.Errorf("removing progress of %s: %w", name, err)
	}
	dest := filepath.Join(s.o.Dir, doneDir)
	switch {
	case res.Failed():
		dest = filepath.Join(s.o.Dir, failedDir)
	case res.Rejected > 0:
		dest = filepath.Join(s.o.Dir, partialDir)
	}
	final := freeName(dest, name)
	src := filepath.Join(s.o.Dir, name)
	if err := os.Rename(src+rejectsExt, filepath.Join(dest, final+rejectsExt)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("moving rejects of %s: %w", name, err)
	}
	if err := os.Rename(src, filepath.Join(dest, final)); err != nil {
		return fmt.Errorf("moving %s: %w", name, err)
	}
	s.log.Info("export moved", zap.String("export", name), zap.String("to", filepath.Join(filepath.Base(dest), final)))
	return nil
}

// freeName is name, or name with a number before its extension when dir
// already has a file (or rejects) of that name: a second export of the same
// name does not overwrite the first.
func freeName(dir, name string) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		cand := name
		if i > 1 {
			cand = fmt.Sprintf("%s.%d%s", stem, i, ext)
		}
		if !exists(filepath.Join(dir, cand)) && !exists(filepath.Join(dir, cand+rejectsExt)) {
			return cand
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func (s *folderSource) Close(context.Context) error { return nil }

var _ Source = (*folderSource)(nil)
