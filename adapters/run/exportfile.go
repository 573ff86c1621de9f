package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// Progress and rejects of file exports. A file's progress is the line of its
// last stored batch, in <dir>/.progress/<file>.offset. It only saves work on
// restart (sending events again is safe), so it is written without fsync.

const (
	progressDir = ".progress"
	progressExt = ".offset"
	rejectsExt  = ".rejects"
)

func progressPath(dir, name string) string {
	return filepath.Join(dir, progressDir, name+progressExt)
}

// A progress file holds "<line> <size> <mtime>": the line, and the size and
// modification time (Unix nanoseconds) of the file it belongs to, so that a
// different file dropped under the same name is read from its start. A bare
// "<line>" is trusted as it is.

// readProgress returns the line stored at path for the file described by
// st, 0 when there is none or it belongs to another file.
func readProgress(path string, st fs.FileInfo) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, nil
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("progress file %s does not hold a line number", path)
	}
	if len(fields) >= 3 && (fields[1] != strconv.FormatInt(st.Size(), 10) ||
		fields[2] != strconv.FormatInt(st.ModTime().UnixNano(), 10)) {
		return 0, nil
	}
	return n, nil
}

// writeProgress replaces the line stored at path.
func writeProgress(path string, line int, st fs.FileInfo) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	content := fmt.Sprintf("%d %d %d\n", line, st.Size(), st.ModTime().UnixNano())
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// prepareRejects readies a file's rejects for a read resuming after line
// resume: the rejects of records up to it stay, later ones (written before
// a crash, before their batch was checkpointed) go, as they will be written
// again. Starting afresh (resume 0) removes the file.
func prepareRejects(path string, resume int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	if resume > 0 {
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Buffer(make([]byte, 64*1024), 16<<20)
		for s.Scan() {
			if n, ok := rejectLine(s.Text()); ok && n <= resume {
				kept.WriteString(s.Text() + "\n")
			}
		}
	}
	if kept.Len() == 0 {
		return os.Remove(path)
	}
	return os.WriteFile(path, kept.Bytes(), 0o600)
}

// rejectLine reads N from "line N: reason", or from a record's name
// ("incident N (ID): reason": adapters.Record.Name).
func rejectLine(s string) (int, bool) { return adapters.WhereLine(s) }

// lazyFile is a rejects file created on its first line, so that an export
// without rejects leaves none.
type lazyFile struct {
	path  string
	trunc bool // start the file afresh rather than append to it
	f     *os.File
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if l.f == nil {
		flag := os.O_CREATE | os.O_APPEND | os.O_WRONLY
		if l.trunc {
			flag |= os.O_TRUNC
			l.trunc = false
		}
		f, err := os.OpenFile(l.path, flag, 0o600)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(p)
}

func (l *lazyFile) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// prefixWriter writes each line it is given after a prefix: --dry-run's
// rejects on stderr, named by export.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

// fileExport is an export read from a file, its rejects beside it.
type fileExport struct {
	file     *os.File
	rejects  *lazyFile
	progress string // "" in dry runs
}

// openFile opens path as an export; progress is kept in progress (no
// progress, rejects to dryRun when dryRun is set).
func openFile(path, progress string, dryRun io.Writer, dryRunMu *sync.Mutex) (*Export, *fileExport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	name := filepath.Base(path)
	exp := &Export{Name: name, Hint: name, Body: f}
	fe := &fileExport{file: f}
	if dryRun != nil {
		exp.Rejects = prefixWriter{mu: dryRunMu, w: dryRun, prefix: name + ": "}
		return exp, fe, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	resume, err := readProgress(progress, st)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	rejects := path + rejectsExt
	if err := prepareRejects(rejects, resume); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("preparing %s: %w", rejects, err)
	}
	fe.rejects = &lazyFile{path: rejects}
	fe.progress = progress
	exp.Resume = resume
	exp.Rejects = fe.rejects
	exp.Checkpoint = func(line int) error { return writeProgress(progress, line, st) }
	return exp, fe, nil
}

// close closes the file and its rejects.
func (fe *fileExport) close() error {
	err := fe.file.Close()
	if fe.rejects != nil {
		err = errors.Join(err, fe.rejects.Close())
	}
	return err
}

// forget removes the progress of a file that was read to its end.
func (fe *fileExport) forget() error {
	if fe.progress == "" {
		return nil
	}
	if err := os.Remove(fe.progress); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
