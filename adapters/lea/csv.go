package lea

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ecm-broker/ecm-broker/adapters"
)

// table reads a CSV export whose first row names its columns, so that
// columns may come in any order and extra ones are ignored.
type table struct {
	r    *csv.Reader
	cols map[string]int
}

// row is one data row; line is where it starts in the export.
type row struct {
	line int
	vals []string
	cols map[string]int
}

func openTable(r io.Reader, required ...string) (*table, error) {
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
	return &table{r: cr, cols: cols}, nil
}

// next returns the next row; a row the CSV syntax rejects is a RecordError.
func (t *table) next() (row, error) {
	vals, err := t.r.Read()
	if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
		return row{}, adapters.Rejectf(pe.StartLine, "CSV: %v", pe.Err)
	}
	if err != nil {
		return row{}, err
	}
	line, _ := t.r.FieldPos(0)
	return row{line: line, vals: vals, cols: t.cols}, nil
}

// get is the trimmed value of a column.
func (r row) get(col string) string {
	i, ok := r.cols[col]
	if !ok || i >= len(r.vals) {
		return ""
	}
	return strings.TrimSpace(r.vals[i])
}
