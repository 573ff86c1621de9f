package cenats

import (
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestDecodeStructuredReportsDuplicates(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
		subject    string // the value Attrs keeps: the last
	}{
		{"none", `{"specversion":"1.0","subject":"9434765919","data":{"a":1,"a":2}}`, nil, "9434765919"},
		{"subject twice", `{"specversion":"1.0","subject":"9434765919","data":{},"subject":"9434765870"}`, []string{"subject"}, "9434765870"},
		{"escaped spelling", `{"subject":"9434765919","subj\u0065ct":"9434765870"}`, []string{"subject"}, "9434765870"},
		{"data twice", `{"data":{"a":1},"subject":"9434765919","data":{"a":2}}`, []string{"data"}, "9434765919"},
		{"three times", `{"subject":"1","subject":"2","subject":"9434765919"}`, []string{"subject", "subject"}, "9434765919"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeStructured([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Duplicates, tt.want) {
				t.Errorf("duplicates %q, want %q", r.Duplicates, tt.want)
			}
			if s, _ := r.String("subject"); s != tt.subject {
				t.Errorf("subject %q, want %q", s, tt.subject)
			}
		})
	}
	// In mode detection too: a NATS message without headers.
	r, err := Decode(&nats.Msg{Data: []byte(`{"id":"a","id":"b"}`)})
	if err != nil || !slices.Equal(r.Duplicates, []string{"id"}) {
		t.Errorf("Decode: %q %v", r.Duplicates, err)
	}
}

// Decoding errors are stored as reasons: they never repeat the input.
func TestDecodeErrorsRepeatNoValue(t *testing.T) {
	const marker = "Featherstonehaugh"
	bodies := []string{
		`"Featherstonehaugh LS7 3QB"`, `["Featherstonehaugh"]`, `12345678901234567890`, `{"subject":"Featherstonehaugh`,
		`{"subject":Featherstonehaugh}`, `Featherstonehaugh`, `{"data_base64":"Featherstonehaugh"}`, `{"time":1234567e400}`,
		`{"Featherstonehaugh":1e400}`,
	}
	for _, b := range bodies {
		if _, err := DecodeStructured([]byte(b)); err == nil || strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "1234567") {
			t.Errorf("%s: %v", b, err)
		}
	}
	for _, h := range []nats.Header{
		{"ce-id": {"%ZZFeatherstonehaugh"}},
		{"ce-featherstonehaugh_x": {"a"}, "Ce-featherstonehaugh_x": {"b"}},
		{"ce-Featherstonehaugh LS7": {"a"}, "Ce-Featherstonehaugh LS7": {"b"}},
	} {
		if _, err := Decode(&nats.Msg{Header: h, Data: []byte(`{}`)}); err == nil || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(marker)) {
			t.Errorf("%v: %v", h, err)
		}
	}
}
