package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// redactMarkers are values no problem may repeat: the example (a
// surname, a postcode, a date of birth), an impossible date, a UIN and a
// key that is a name. Each is checked as a substring of every problem.
var redactMarkers = []string{"Featherstonehaugh", "LS7 3QB", "2013-07-21", "2031-02-30", "9434765919", "Zebedee"}

// redactValues are what each string (and, for type errors, each value) of
// valid data is replaced with, one at a time.
var redactValues = []string{
	"Featherstonehaugh LS7 3QB 2013-07-21", // wrong enum, bad date, bad postcode, bad area...
	"2031-02-30",                           // a date that does not exist
	"9434765919",                           // a UIN where a name or code goes
	strings.Repeat("Featherstonehaugh LS7 3QB 2013-07-21 ", 120), // too long for any field
	"Featherstonehaugh\u0000 LS7 3QB",                            // a control character
	"Featherstonehaugh\u202e LS7 3QB",                            // a bidirectional override
	"Featherstonehaugh\tLS7 3QB",                                 // a tab in a short field
	"Featherstonehaugh@@LS7 3QB",                                 // a bad email address
}

// TestProblemsNeverRepeatValues puts marker values in every place of every
// valid fixture where data can go wrong (each string, each value, unknown
// fields and keys that are data, duplicate keys) and checks that no
// problem repeats a marker: problems are kept in the audit, which erasure
// cannot reach.
func TestProblemsNeverRepeatValues(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	cases, refused := 0, 0
	for _, f := range files {
		name, _ := fixtureName(t, filepath.Base(f))
		typ := TypePrefix + name + TypeSuffix
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, data []byte) {
			t.Helper()
			cases++
			probs := Validate(typ, data, fixtureNow)
			if len(probs) > 0 {
				refused++
			}
			for _, p := range probs {
				for _, m := range redactMarkers {
					if strings.Contains(p, m) {
						t.Errorf("%s, %s: problem repeats %q: %s", filepath.Base(f), what, m, p)
					}
				}
			}
		}
		for _, pos := range redactPlaces(t, b) {
			for _, v := range redactValues {
				if _, isString := pos.get().(string); isString || v == redactValues[0] {
					check(pos.path+" = "+strings.TrimSpace(v[:min(len(v), 40)]), redactMarshal(t, pos.set(v)))
				}
			}
			if _, isObj := pos.get().(map[string]any); isObj {
				for _, key := range []string{"notes", "Zebedee", "Zebedee Featherstonehaugh", "9434765919", "LS7 3QB", "zebedee\u0000"} {
					check(pos.path+" with key "+key, redactMarshal(t, pos.set(redactWith(pos.get(), key, "Featherstonehaugh LS7 3QB 2013-07-21"))))
				}
			}
		}
		// A key given twice, the second time with a marker.
		var obj map[string]any
		_ = json.Unmarshal(b, &obj)
		for k := range obj {
			dup := bytes.Replace(bytes.TrimSpace(b), []byte("{"), []byte(`{"`+k+`":"Featherstonehaugh LS7 3QB 2013-07-21",`), 1)
			check("duplicate key "+k, dup)
		}
	}
	if cases < 500 || refused < cases/2 {
		t.Errorf("%d cases, %d refused: the mutations do not exercise the checks", cases, refused)
	}
}

// redactPlace is one value in a document: where it is, how to read it and
// how to get a copy of the document with it replaced.
type redactPlace struct {
	path string
	get  func() any
	set  func(v any) any
}

// redactPlaces lists every value in a JSON document, the root included.
func redactPlaces(t *testing.T, doc []byte) []redactPlace {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	var out []redactPlace
	var visit func(path string, v any, set func(any) any)
	visit = func(path string, v any, set func(any) any) {
		out = append(out, redactPlace{path: path, get: func() any { return v }, set: set})
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				visit(path+"."+k, e, func(nv any) any {
					c := redactCopy(x)
					c.(map[string]any)[k] = nv
					return set(c)
				})
			}
		case []any:
			for i, e := range x {
				visit(path+"[]", e, func(nv any) any {
					c := redactCopy(x)
					c.([]any)[i] = nv
					return set(c)
				})
			}
		}
	}
	visit("data", root, func(nv any) any { return nv })
	return out
}

func redactCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = e
		}
		return c
	case []any:
		return append([]any{}, x...)
	}
	return v
}

func redactWith(obj any, key string, v any) any {
	c := redactCopy(obj).(map[string]any)
	c[key] = v
	return c
}

func redactMarshal(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestShowName(t *testing.T) {
	for _, tt := range []struct {
		name string
		show bool
	}{
		{"notes", true}, {"case_notes", true}, {"f0", true}, {"significant_harm", true},
		{"Notes", false}, {"Zebedee", false}, {"LS73QB", false}, {"9434765919", false}, {"case-notes", false},
		{"no space", false}, {"", false}, {"_x", false}, {strings.Repeat("a", 41), false}, {"caf\u00e9", false},
	} {
		if got := ShowName(tt.name); got != tt.show {
			t.Errorf("ShowName(%q) = %v, want %v", tt.name, got, tt.show)
		}
	}
}
