package adapters

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Table reads a CSV export whose first row names its columns, so that
// columns may come in any order and extra ones are ignored.
type Table struct {
	r    *csv.Reader
	cols map[string]int
}

// Row is one data row; Line is where it starts in the export.
type Row struct {
	Line int
	vals []string
	cols map[string]int
}

// OpenTable reads the header row and checks the required columns are there.
func OpenTable(r io.Reader, required ...string) (*Table, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header row: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("header row lacks column %s", strings.Join(missing, ", "))
	}
	return &Table{r: cr, cols: cols}, nil
}

// Next returns the next row; a row the CSV syntax rejects is a RecordError.
func (t *Table) Next() (Row, error) {
	vals, err := t.r.Read()
	if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
		return Row{}, Rejectf(pe.StartLine, "CSV: %v", pe.Err)
	}
	if err != nil {
		return Row{}, err
	}
	line, _ := t.r.FieldPos(0)
	return Row{Line: line, vals: vals, cols: t.cols}, nil
}

// Get is the trimmed value of a column.
func (r Row) Get(col string) string {
	i, ok := r.cols[col]
	if !ok || i >= len(r.vals) {
		return ""
	}
	return strings.TrimSpace(r.vals[i])
}
