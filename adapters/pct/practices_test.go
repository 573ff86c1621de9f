package pct

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// epraccurRow is one row of an epraccur.csv: code, name, status, phone in
// columns 1, 2, 13 and 18, the rest as NHS England fills them.
func epraccurRow(code, name, status, phone string) string {
	cols := make([]string, 27)
	cols[0], cols[1], cols[12], cols[17] = code, name, status, phone
	cols[2], cols[3], cols[9] = "Y63", "QWO", "LS1 1AA"
	for i, c := range cols {
		cols[i] = `"` + c + `"`
	}
	return strings.Join(cols, ",") + "\r\n"
}

func TestPracticesReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "epraccur.csv")
	replace := func(content string, mtime time.Time) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	replace(epraccurRow("B86001", "PARK LANE SURGERY", "A", "0113 496 0001")+"not,a,practice\n", t0)
	p, err := LoadPractices(path)
	if err != nil {
		t.Fatal(err)
	}
	p.every = 0 // look at the file on every lookup
	if p.Len() != 1 {
		t.Fatalf("Len() = %d, want 1 (the row without a practice code skipped)", p.Len())
	}
	if pr, ok, _ := p.lookup("B86001"); !ok || pr.phone != "0113 496 0001" || pr.name != "PARK LANE SURGERY" {
		t.Fatalf("lookup(B86001) = %+v, %v", pr, ok)
	}

	// A new month's file: a new phone number and a new practice.
	replace(epraccurRow("B86001", "PARK LANE SURGERY", "A", "0113 496 0101")+epraccurRow("B86002", "NEW SURGERY", "A", "0113 496 0002"), t0.Add(time.Minute))
	if pr, _, err := p.lookup("B86001"); pr.phone != "0113 496 0101" || err != nil {
		t.Errorf("after the change B86001 has phone %q (%v), want the new one", pr.phone, err)
	}
	if _, ok, _ := p.lookup("B86002"); !ok {
		t.Error("the new practice is not found")
	}

	// A broken file keeps the last good one and says why.
	replace("", t0.Add(2*time.Minute))
	pr, ok, err := p.lookup("B86002")
	if !ok || pr.name != "NEW SURGERY" {
		t.Errorf("after a bad reload lookup(B86002) = %+v, %v: want the last good file's", pr, ok)
	}
	if err == nil || !strings.Contains(err.Error(), "holds no practice") {
		t.Errorf("reload error = %v, want one saying the file holds no practice", err)
	}
	// And the GP part's reason names it.
	if why := notInFile("B86999", p, err); !strings.Contains(why, "reading it again failed") {
		t.Errorf("reason %q does not say the reload failed", why)
	}

	// Mended: read again.
	replace(epraccurRow("B86003", "MENDED SURGERY", "A", "0113 496 0003"), t0.Add(3*time.Minute))
	if _, ok, err := p.lookup("B86003"); !ok || err != nil {
		t.Errorf("after mending lookup(B86003) = %v, %v", ok, err)
	}
}

func TestLoadPracticesRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty.csv":   "",
		"header.csv":  "code,name\n",
		"not-csv.csv": "\"B86001,unterminated\n",
		"missing.csv": "",
	} {
		path := filepath.Join(dir, name)
		if name != "missing.csv" {
			os.WriteFile(path, []byte(content), 0o600)
		}
		if _, err := LoadPractices(path); err == nil {
			t.Errorf("LoadPractices(%s) = nil error", name)
		}
	}
}
