package schemas

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"none", `{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, nil},
		{"top level", `{"a":1,"b":2,"a":3}`, []string{"data.a"}},
		{"nested", `{"practice":{"name":"A","code":"B86001","name":"B"}}`, []string{"data.practice.name"}},
		{"in an array", `{"needs":[{"outcome":"x"},{"outcome":"x","outcome":"y"}]}`, []string{"data.needs[1].outcome"}},
		{"escaped spelling of the same key", `{"name":1,"n\u0061me":2}`, []string{"data.name"}},
		{"three times", `{"a":1,"a":2,"a":3}`, []string{"data.a", "data.a"}},
		{"a key that is data is not named", `{"Zebedee":1,"Zebedee":2}`, []string{"data." + NameWithheld}},
		{"same key in sibling objects", `{"x":{"a":1},"y":{"a":1}}`, nil},
		{"arrays of arrays", `[[{"a":1}],[{"a":1,"b":[1,{"a":1,"a":2}]}]]`, []string{"data[1][0].b[1].a"}},
		{"after a nested object", `{"a":{"b":{"c":1}},"a":2}`, []string{"data.a"}},
		{"scalar", `"a"`, nil},
		{"not JSON", `{"a":1,"a"`, []string{"data.a"}},
		{"empty", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := duplicateKeys([]byte(tt.data)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The broker refuses an event whose data holds a key twice: Go would keep
// the last value, and the stored bytes both.
func TestValidateRefusesDuplicateKeys(t *testing.T) {
	data := `{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"},"code":"B86002"}}`
	got := Validate("uk.gov.ecm.index.gp.recorded.v1", []byte(data), fixtureNow)
	want := []string{"data.practice.code: is given more than once in the same object: the broker cannot tell which value is meant; send each key once"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzDuplicateKeys checks duplicateKeys against encoding/json: on valid
// JSON it finds a duplicate exactly when decoding into maps loses keys,
// and it never panics on anything.
func FuzzDuplicateKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":1}]`, `{"n\u0061me":1,"name":2}`,
		`{"a":[1,2,{"c":{"d":[]}}],"b":"x"}`, `{"a":1,"a"`, `[[[[{}]]]]`, `{"":1,"":2}`, `{"a":1e999999,"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		found := duplicateKeys(data)
		if !json.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return // valid JSON too deep for the decoder
		}
		lost := keyTokens(data) - keysKept(v)
		// A lost key's value may hold keys too, so compare only whether.
		if (len(found) > 0) != (lost > 0) {
			t.Fatalf("%d duplicates found %q, but decoding loses %d keys: %s", len(found), found, lost, data)
		}
		for _, p := range found {
			if !strings.HasPrefix(p, "data") {
				t.Fatalf("path %q", p)
			}
		}
	})
}

// keyTokens counts the keys written in valid JSON.
func keyTokens(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n := 0
	type frame struct{ obj, key bool }
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		if len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].key {
			if _, ok := tok.(string); ok {
				n++
				stack[len(stack)-1].key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
}

// keysKept counts the keys of every map in a decoded value.
func keysKept(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := len(x)
		for _, e := range x {
			n += keysKept(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += keysKept(e)
		}
		return n
	}
	return 0
}
