package policy

import (
	"encoding/json"
	"testing"
)

// Equal inputs make equal keys; inputs that differ anywhere, in a value, a
// kind or where a string ends, make different ones.
func TestCacheKey(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"event": map[string]any{"name": "caf.completed", "data": map[string]any{"significant_harm": true}},
			"child":      map[string]any{"dob": "2014-05-02", "flags": map[string]any{"shielded": false}},
			"consent":    map[string]any{"entries": []any{map[string]any{"seq": float64(41), "purposes": []string{"caf"}, "agencies": []any{"lea", "pct"}}}},
			"candidates": []any{map[string]any{"id": "leeds/pct"}}, "n": json.Number("1")}
	}
	k0, ok := cacheKey("r1", base())
	if !ok {
		t.Fatal("no key")
	}
	if k, _ := cacheKey("r1", base()); k != k0 {
		t.Error("equal inputs, different keys")
	}
	tests := []struct {
		name string
		edit func(m map[string]any)
	}{
		{"a value", func(m map[string]any) { m["child"].(map[string]any)["dob"] = "2014-05-03" }},
		{"a bool", func(m map[string]any) {
			m["event"].(map[string]any)["data"].(map[string]any)["significant_harm"] = false
		}},
		{"a number", func(m map[string]any) {
			m["consent"].(map[string]any)["entries"].([]any)[0].(map[string]any)["seq"] = float64(42)
		}},
		{"a kind", func(m map[string]any) {
			m["consent"].(map[string]any)["entries"].([]any)[0].(map[string]any)["seq"] = "41"
		}},
		{"a list's order", func(m map[string]any) {
			m["consent"].(map[string]any)["entries"].([]any)[0].(map[string]any)["agencies"] = []any{"pct", "lea"}
		}},
		{"strings split elsewhere", func(m map[string]any) {
			m["consent"].(map[string]any)["entries"].([]any)[0].(map[string]any)["agencies"] = []any{"leap", "ct"}
		}},
		{"null for an object", func(m map[string]any) { m["child"] = nil }},
		{"a key more", func(m map[string]any) { m["event"].(map[string]any)["override"] = "x" }},
		{"a JSON number", func(m map[string]any) { m["n"] = json.Number("2") }},
	}
	for _, tt := range tests {
		in := base()
		tt.edit(in)
		if k, _ := cacheKey("r1", in); k == k0 {
			t.Errorf("%s: the same key", tt.name)
		}
	}
	if k, _ := cacheKey("r2", base()); k == k0 {
		t.Error("another revision, the same key")
	}
}
