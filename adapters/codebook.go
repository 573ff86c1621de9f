package adapters

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// CodeBook maps an agency's native codes (a police force's incident
// categories, Connexions CCIS activity codes, youth court order names) to
// the catalogue's values. It is data, not code: each agency ships its
// default book as a CSV file beside its package (codes/*.csv, embedded in
// the binary), and an agency that uses other codes replaces it with its own
// file (ecm-adapter --codes FILE). A code the book does not list is
// rejected, naming the code and the book, rather than guessed.
//
// The file is CSV with a header row naming at least the columns code and
// maps_to; a description column, if any, is for people. Codes are compared
// upper-cased with _, - and runs of spaces read as one space, so "Referral
// Order", "REFERRAL_ORDER" and "referral-order" are one code. A code of
// digits and X (5XX) stands for every code of that length with those digits
// where it has them; a code listed in full wins over a pattern.
type CodeBook struct {
	name     string
	exact    map[string]string
	patterns []codePattern // in file order
	values   []string      // what a code may map to
}

type codePattern struct {
	pattern, value string
}

var patternRE = regexp.MustCompile(`^[0-9X]*X[0-9X]*$`)

// ParseCodeBook reads a code book named name (its file name, for reasons)
// whose codes may map to the values given.
func ParseCodeBook(name string, r io.Reader, values ...string) (*CodeBook, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("code book %s: reading the header row: %w", name, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	codeCol, ok1 := cols["code"]
	valueCol, ok2 := cols["maps_to"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("code book %s: the header row must name the columns code and maps_to", name)
	}
	b := &CodeBook{name: name, exact: map[string]string{}, values: values}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("code book %s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		get := func(i int) string {
			if i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		code, value := NormaliseCode(get(codeCol)), get(valueCol)
		switch {
		case code == "" && value == "":
			continue
		case code == "":
			return nil, fmt.Errorf("code book %s line %d: the code is empty", name, line)
		case !slices.Contains(values, value):
			return nil, fmt.Errorf("code book %s line %d: code %s maps to %q, which is not one of %s", name, line, code, value, strings.Join(values, ", "))
		}
		if patternRE.MatchString(code) {
			for _, p := range b.patterns {
				if p.pattern == code {
					return nil, fmt.Errorf("code book %s line %d: code %s is listed twice", name, line, code)
				}
			}
			b.patterns = append(b.patterns, codePattern{code, value})
			continue
		}
		if _, dup := b.exact[code]; dup {
			return nil, fmt.Errorf("code book %s line %d: code %s is listed twice", name, line, code)
		}
		b.exact[code] = value
	}
	if len(b.exact)+len(b.patterns) == 0 {
		return nil, fmt.Errorf("code book %s lists no code", name)
	}
	return b, nil
}

// LoadCodeBook reads the code book in the file at path.
func LoadCodeBook(path string, values ...string) (*CodeBook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseCodeBook(path, f, values...)
}

// MustParseCodeBook is ParseCodeBook for the books shipped in the binary.
func MustParseCodeBook(name string, data []byte, values ...string) *CodeBook {
	b, err := ParseCodeBook(name, strings.NewReader(string(data)), values...)
	if err != nil {
		panic(err)
	}
	return b
}

// Lookup returns what code maps to.
func (b *CodeBook) Lookup(code string) (string, bool) {
	c := NormaliseCode(code)
	if v, ok := b.exact[c]; ok {
		return v, true
	}
	for _, p := range b.patterns {
		if matchPattern(p.pattern, c) {
			return p.value, true
		}
	}
	return "", false
}

// Unknown is the reason for a code the book does not list, for a reject:
// what names the field ("kind", "order 1 type").
func (b *CodeBook) Unknown(what, code string) error {
	return fmt.Errorf("%s %q is not in the code book %s: add it there, mapped to one of %s",
		what, Clip(strings.TrimSpace(code)), b.name, strings.Join(b.values, ", "))
}

// Name is the book's file name.
func (b *CodeBook) Name() string { return b.name }

// Len is how many codes and patterns the book lists.
func (b *CodeBook) Len() int { return len(b.exact) + len(b.patterns) }

func matchPattern(pattern, code string) bool {
	if len(pattern) != len(code) {
		return false
	}
	for i := 0; i < len(code); i++ {
		p, c := pattern[i], code[i]
		if p == 'X' && (c < '0' || c > '9') || p != 'X' && p != c {
			return false
		}
	}
	return true
}

// NormaliseCode upper-cases a code and makes _, - and runs of spaces one
// space.
func NormaliseCode(s string) string {
	s = strings.NewReplacer("_", " ", "-", " ").Replace(strings.ToUpper(s))
	return strings.Join(strings.Fields(s), " ")
}
