package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// table prints aligned columns, two spaces apart. Widths only grow, so the
// pages of --follow, each flushed as it comes, stay aligned as far as they
// can; Widen fits columns to rows known in advance.
type table struct {
	w      io.Writer
	indent string
	header []string
	headed bool
	widths []int
	rows   [][]string
}

func newTable(w io.Writer, indent string, header ...string) *table {
	t := &table{w: w, indent: indent, header: header, headed: len(header) == 0}
	t.Widen(header...)
	return t
}

// Row adds a row. Cells are made safe for a terminal: text that came from
// another agency's event cannot move the cursor or hide a line.
func (t *table) Row(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = printable(c)
	}
	t.rows = append(t.rows, row)
}

// Widen makes the columns at least as wide as cells.
func (t *table) Widen(cells ...string) {
	for i, c := range cells {
		n := utf8.RuneCountInString(printable(c))
		if i >= len(t.widths) {
			t.widths = append(t.widths, 0)
		}
		t.widths[i] = max(t.widths[i], n)
	}
}

// Flush prints the header, the first time, and the rows added since the
// last Flush.
func (t *table) Flush() error {
	for _, r := range t.rows {
		t.Widen(r...)
	}
	var b strings.Builder
	if !t.headed {
		t.line(&b, t.header)
		t.headed = true
	}
	for _, r := range t.rows {
		t.line(&b, r)
	}
	t.rows = nil
	_, err := io.WriteString(t.w, b.String())
	return err
}

func (t *table) line(b *strings.Builder, cells []string) {
	var l strings.Builder
	l.WriteString(t.indent)
	for i, c := range cells {
		l.WriteString(c)
		if i < len(cells)-1 {
			l.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(c)+2))
		}
	}
	b.WriteString(strings.TrimRight(l.String(), " "))
	b.WriteByte('\n')
}

// printable replaces control characters, including newlines and escape
// sequences, so that one cell stays one cell.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// orDash shows an absent value.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
