package adaptertest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// FuzzArea is the area Fuzz reads exports as.
const FuzzArea = "leeds"

// Fuzz feeds random exports to a.Open(hint, ...) and reads each to its end:
// the adapter must not panic, must reach io.EOF (or stop with an error) and
// every event it yields must pass CheckEvent. Seeds are typically the
// adapter's samples of that format.
func Fuzz(f *testing.F, a adapters.Agency, hint string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, export []byte) {
		r, err := a.Open(hint, bytes.NewReader(export), FuzzArea)
		if err != nil {
			return
		}
		// Every record takes at least one byte of the export.
		for n := 0; n <= len(export)+1; n++ {
			rec, err := r.Next()
			var re *adapters.RecordError
			switch {
			case err == io.EOF:
				return
			case errors.As(err, &re):
				if re.Line < 1 {
					t.Errorf("reject at line %d: lines are 1-based", re.Line)
				}
				continue
			case err != nil:
				return
			}
			if rec.Line < 1 {
				t.Errorf("record at line %d: lines are 1-based", rec.Line)
			}
			for _, e := range rec.Events {
				for _, p := range CheckEvent(e, a.Name(), FuzzArea) {
					t.Errorf("line %d: event %s: %s", rec.Line, e.Type(), p)
				}
			}
		}
		t.Error("reader yields more records than the export has bytes: it does not reach io.EOF")
	})
}
