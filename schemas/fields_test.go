package schemas

import "testing"

func TestHasField(t *testing.T) {
	tests := []struct {
		name, path string
		want       bool
	}{
		{"police.incident", "data.summary", true},
		{"police.incident", "data.address", false},
		{"index.child.registered", "data.address", true},
		{"index.transferred", "data.education.setting", true}, // through $ref to defs
		{"index.transferred", "data.gp.practice", true},
		{"index.transferred", "data.gp.practice.code", true},
		{"index.transferred", "data.gp.surgery", false},
		{"index.education.recorded", "data.setting", true},
		{"index.flags.set", "data.shielded", true},
		{"police.incident", "summary", false}, // not from the event's root
		{"police.incident", "data.", false},
		{"no.such.event", "data.summary", false},
	}
	for _, tt := range tests {
		if got := HasField(tt.name, tt.path); got != tt.want {
			t.Errorf("HasField(%s, %s) = %v, want %v", tt.name, tt.path, got, tt.want)
		}
	}
}
