package policies

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// MoveRow is the row of the matrix for an index.address.changed that moves
// the child to another area (moves.rego); every other row is an event type.
const MoveRow = "index.address.changed (to another area)"

// Columns are the relationships a row has cells for, in the order a
// decision looks at them (legend.yaml, relationships).
var Columns = []string{"area", "involved", "related", "named", "otherwise"}

// sends reports whether a column's cells send the event (all but otherwise).
func sends(column string) bool { return column != "otherwise" }

// Matrix is matrix.yaml.
type Matrix struct {
	Revision int            `json:"revision"`
	Events   map[string]Row `json:"events"`
}

// Row is one row: the cells by column and agency kind (or "any"), or
// SameAs another row.
type Row struct {
	SameAs  string
	Columns map[string]map[string]Cell
}

// Cell is one cell of the matrix.
type Cell struct {
	When   string   `json:"when,omitempty"`
	Basis  string   `json:"basis"`
	Remove []string `json:"remove,omitempty"`
	Reason string   `json:"reason"`
	Source string   `json:"source"`
	// Agreement is the data sharing agreement (agreements.yaml) the cell
	// relies on, when it names one.
	Agreement string `json:"agreement,omitempty"`
}

// UnmarshalJSON reads a row: same_as, or columns of cells.
func (r *Row) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.Columns = map[string]map[string]Cell{}
	for k, v := range raw {
		if k == "same_as" {
			if err := json.Unmarshal(v, &r.SameAs); err != nil {
				return err
			}
			continue
		}
		var col map[string]Cell
		if err := json.Unmarshal(v, &col); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		r.Columns[k] = col
	}
	return nil
}

// Matrix returns the data's matrix, or false when it has none.
func (d *Data) Matrix() (*Matrix, bool, error) {
	raw, ok := d.Doc["matrix"]
	if !ok {
		return nil, false, nil
	}
	var m Matrix
	if err := roundTrip(raw, &m); err != nil {
		return nil, true, fmt.Errorf("matrix: %w", err)
	}
	return &m, true, nil
}

// Rows returns the row keys: the catalogue's order of names given, then any
// other, sorted.
func (m *Matrix) Rows() []string {
	keys := make([]string, 0, len(m.Events))
	for k := range m.Events {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Resolve returns the row whose cells apply to key (following same_as once)
// and that row's own key.
func (m *Matrix) Resolve(key string) (Row, string) {
	r := m.Events[key]
	if r.SameAs != "" {
		return m.Events[r.SameAs], r.SameAs
	}
	return r, key
}

// EventOf is the event type of a row (the move row is an address change).
func EventOf(row string) string {
	if row == MoveRow {
		return "index.address.changed"
	}
	return row
}

// Kinds returns the agency kinds of a column, "any" last.
func Kinds(col map[string]Cell) []string {
	out := make([]string, 0, len(col))
	for k := range col {
		if k != "any" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if _, ok := col["any"]; ok {
		out = append(out, "any")
	}
	return out
}

// Catalogue is what the contract check needs of the event catalogue; the
// schemas package provides it (schemas.Names, schemas.HasField), which this
// package, on the same layer, may not import.
type Catalogue struct {
	Names    []string
	HasField func(name, path string) bool
}

// Check is the contract of the data files: every event type of the catalogue
// has a row; a same_as names a row with cells of its own; every cell's basis
// is in the legend, allowing in the columns that send and refusing in
// otherwise, never the broker's own; its conditions are in the legend, and
// per-agency ones are not on the single cells of involved or otherwise; the
// fields it removes exist in the schema of every event type the row serves;
// and every reason of the legend refuses. Each problem names the cell and
// its line. A policy without a matrix or legend (a Rego-only policy) has
// nothing to check.
func (d *Data) Check(cat Catalogue) Problems {
	l, hasLegend, err := d.Legend()
	if err != nil {
		return Problems{{File: "legend.yaml", Msg: err.Error()}}
	}
	m, hasMatrix, err := d.Matrix()
	if err != nil {
		return Problems{{File: "matrix.yaml", Msg: err.Error()}}
	}
	reg, _, err := d.Agreements()
	if err != nil {
		return Problems{{File: "agreements.yaml", Msg: err.Error()}}
	}
	var ps Problems
	add := func(at []string, format string, args ...any) {
		file, line := d.Line(at...)
		if file == "" {
			file = at[0] + ".yaml"
		}
		ps = append(ps, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case !hasMatrix && !hasLegend:
		return nil
	case !hasLegend:
		add([]string{"legend"}, "the matrix needs a legend (legend.yaml) to say what its codes mean")
		return ps
	}
	for _, id := range Codes(reg) {
		for i, p := range reg[id].Parties {
			if _, ok := l.Agencies[p]; !ok {
				add([]string{"agreements", id, "parties", fmt.Sprint(i)}, "agreement %s: party %q is not an agency kind of the legend", id, p)
			}
		}
		if a := reg[id]; a.Ends != "" && a.Ends < a.Signed {
			add([]string{"agreements", id, "ends"}, "agreement %s: ends (%s) before it was signed (%s)", id, a.Ends, a.Signed)
		}
	}
	for _, id := range Codes(l.Reasons) {
		r := l.Reasons[id]
		if b, ok := l.Bases[r.Basis]; !ok || b.Allow {
			add([]string{"legend", "reasons", id, "basis"}, "reason %s: basis %q is not a refusing basis of the legend", id, r.Basis)
		}
	}
	if !hasMatrix {
		return ps.sorted()
	}
	for _, name := range append(slices.Clone(cat.Names), MoveRow) {
		if _, ok := m.Events[name]; !ok {
			add([]string{"matrix", "events"}, "%s has no row: every event type of the catalogue needs one", name)
		}
	}
	for _, key := range m.Rows() {
		row := m.Events[key]
		if row.SameAs != "" {
			target, ok := m.Events[row.SameAs]
			switch {
			case !ok:
				add([]string{"matrix", "events", key, "same_as"}, "%s: same_as %s, which has no row", key, row.SameAs)
			case target.SameAs != "":
				add([]string{"matrix", "events", key, "same_as"}, "%s: same_as %s, which is itself the same as %s: name a row with cells", key, row.SameAs, target.SameAs)
			}
			continue
		}
		for _, col := range Columns {
			for _, kind := range Kinds(row.Columns[col]) {
				c := row.Columns[col][kind]
				d.checkCell(l, cat, m, key, col, kind, c, add)
				if c.Agreement != "" {
					checkAgreement(reg, key+" / "+col+" / "+kind, kind, c.Agreement, []string{"matrix", "events", key, col, kind}, add)
				}
			}
		}
	}
	return ps.sorted()
}

func (d *Data) checkCell(l *Legend, cat Catalogue, m *Matrix, key, col, kind string, c Cell, add func([]string, string, ...any)) {
	at := []string{"matrix", "events", key, col, kind}
	cell := key + " / " + col + " / " + kind
	b, ok := l.Bases[c.Basis]
	switch {
	case !ok:
		add(append(at, "basis"), "%s: basis %q is not in the legend (legend.yaml, bases)", cell, c.Basis)
	case b.By != "":
		add(append(at, "basis"), "%s: basis %q is the %s's own; the policies never give it", cell, c.Basis, b.By)
	case sends(col) && !b.Allow:
		add(append(at, "basis"), "%s: basis %q refuses, but the %s column sends the event (a refusal goes under otherwise)", cell, c.Basis, col)
	case !sends(col) && b.Allow:
		add(append(at, "basis"), "%s: basis %q allows, but otherwise is the refusal", cell, c.Basis)
	}
	if c.When != "" {
		cond, ok := l.Conditions[c.When]
		switch {
		case !ok:
			add(append(at, "when"), "%s: condition %q is not in the legend (legend.yaml, conditions)", cell, c.When)
		case cond.PerAgency && (kind != "any" || (col != "area" && col != "related")):
			add(append(at, "when"), "%s: condition %q holds per agency kind: it goes on the any cell of the area or related column, which then stands for those kinds", cell, c.When)
		}
	}
	if cat.HasField == nil {
		return
	}
	for i, p := range c.Remove {
		for _, ev := range m.servedBy(key) {
			if !cat.HasField(EventOf(ev), p) {
				add(append(at, "remove", fmt.Sprint(i)), "%s: removes %s, which %s events do not have", cell, p, EventOf(ev))
			}
		}
	}
}

// servedBy lists the rows whose cells are key's: key and those the same as it.
func (m *Matrix) servedBy(key string) []string {
	out := []string{key}
	for _, k := range m.Rows() {
		if m.Events[k].SameAs == key {
			out = append(out, k)
		}
	}
	return out
}

// Describe writes a cell as one line: basis, removals and conditions.
func (c Cell) Describe() string {
	s := c.Basis
	if len(c.Remove) > 0 {
		s += " without " + strings.Join(c.Remove, ", ")
	}
	if c.When != "" {
		s += " when " + c.When
	}
	return s
}
