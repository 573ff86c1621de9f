package pct

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Practices is the NHS ODS GP practice file, epraccur.csv, as NHS England
// publishes it: CSV without a header row, one practice a row, the ODS code
// in column 1, the name in column 2, the status in column 13 (A active, C
// closed, D dormant, P proposed) and the phone number in column 18. Other
// columns are not read, and rows whose first column is not a practice code
// are skipped.
//
// HL7 v2 has no place for a practice's phone number (PD1-3 is an XON, which
// has no telecom component), so the adapter looks it up here by the code a
// message gives. The file is read again when its size or modification time
// changes, looked at no more than once a second; a reload that fails keeps
// the practices last read. Replace the file by writing the new one beside it
// and renaming it over the old, so that a half-written file is never read.
type Practices struct {
	path  string
	every time.Duration // how often the file is looked at

	mu        sync.Mutex
	byCode    map[string]odsPractice
	size      int64
	mtime     time.Time
	looked    time.Time
	reloadErr error // why the last reload failed; nil after a good one
}

// odsPractice is what the adapter reads of one practice.
type odsPractice struct {
	name, status, phone string
}

// Columns of epraccur.csv, 0-based.
const (
	odsCode   = 0
	odsName   = 1
	odsStatus = 12
	odsPhone  = 17
)

// LoadPractices reads the practice file at path. A file that cannot be read,
// is not CSV or holds no practice is an error.
func LoadPractices(path string) (*Practices, error) {
	p := &Practices{path: path, every: time.Second}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("practice file: %w", err)
	}
	byCode, err := readPractices(path)
	if err != nil {
		return nil, err
	}
	p.byCode, p.size, p.mtime, p.looked = byCode, st.Size(), st.ModTime(), time.Now()
	return p, nil
}

// Len is how many practices the file holds.
func (p *Practices) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byCode)
}

// Path is the file's path.
func (p *Practices) Path() string { return p.path }

// lookup returns the practice with the given code, reading the file again
// first if it has changed. reloadErr says why the last reload failed.
func (p *Practices) lookup(code string) (pr odsPractice, ok bool, reloadErr error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.looked) >= p.every {
		p.looked = now
		p.reload()
	}
	pr, ok = p.byCode[code]
	return pr, ok, p.reloadErr
}

// reload reads the file again if it changed. Called with mu held.
func (p *Practices) reload() {
	st, err := os.Stat(p.path)
	if err != nil {
		p.reloadErr = err
		return
	}
	if st.Size() == p.size && st.ModTime().Equal(p.mtime) {
		return
	}
	byCode, err := readPractices(p.path)
	if err != nil {
		p.reloadErr = err
		return
	}
	p.byCode, p.size, p.mtime, p.reloadErr = byCode, st.Size(), st.ModTime(), nil
}

func readPractices(path string) (map[string]odsPractice, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("practice file: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	out := map[string]odsPractice{}
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("practice file %s: %w", path, err)
		}
		code := strings.TrimSpace(strings.TrimPrefix(row[odsCode], "\ufeff"))
		if !odsRE.MatchString(code) {
			continue
		}
		out[code] = odsPractice{name: column(row, odsName), status: column(row, odsStatus), phone: column(row, odsPhone)}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("practice file %s holds no practice (want epraccur.csv: code in column 1, name in 2, phone in 18)", path)
	}
	return out, nil
}

func column(row []string, i int) string {
	if i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

// notInFile says why the practice file could not help with code.
func notInFile(code string, practices *Practices, reloadErr error) string {
	switch {
	case practices == nil:
		return "no practice file was given (--practices epraccur.csv)"
	case reloadErr != nil:
		return fmt.Sprintf("%s is not in the practice file as last read (reading it again failed: %v)", code, reloadErr)
	}
	return code + " is not in the practice file"
}
