package adapters

import "testing"

// A reject names its record, and the runner reads the record's place back
// from the rejects file to resume a file after a restart.
func TestWhere(t *testing.T) {
	tests := []struct {
		name   string
		line   int
		record string
		reject string // what the reject starts with
	}{
		{"a line", 7, "", "line 7"},
		{"a police incident", 3, "incident 3 (WY-2026-000201)", "incident 3 (WY-2026-000201)"},
		{"an incident without a reference", 5, "incident 5", "incident 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &RecordError{Line: tt.line, Name: tt.record, Reason: "kind is missing"}
			if got := e.Error(); got != tt.reject+": kind is missing" {
				t.Fatalf("reject %q", got)
			}
			if n, ok := WhereLine(e.Error()); !ok || n != tt.line {
				t.Errorf("read back %d %v, want %d", n, ok, tt.line)
			}
		})
	}
	for _, s := range []string{"export: unreadable after line 2: x", "", "line x: y", "incident (A): y", "line 12"} {
		if n, ok := WhereLine(s); ok {
			t.Errorf("%q read as record %d", s, n)
		}
	}
}
