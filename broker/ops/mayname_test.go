package ops

import (
	"testing"

	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/nats-io/nats.go"
)

// The subject access scan skips only events that cannot be about the
// child: every way a stored event can name it is decoded.
func TestMayName(t *testing.T) {
	const child = "9434765919"
	tests := []struct {
		name string
		msg  store.Msg
		want bool
	}{
		{"structured, the child", store.Msg{Data: []byte(`{"subject":"9434765919","data":{}}`)}, true},
		{"structured, escaped", store.Msg{Data: []byte(`{"subject":"\u00394347659` + `19","data":{}}`)}, true},
		{"binary, in a header", store.Msg{Header: nats.Header{"Ce-Subject": {"9434765919"}}, Data: []byte(`{}`)}, true},
		{"binary, lower case", store.Msg{Header: nats.Header{"ce-subject": {"%39434765919"}}, Data: []byte(`{}`)}, true},
		{"another child", store.Msg{Header: nats.Header{"Content-Type": {"application/cloudevents+json"}}, Data: []byte(`{"subject":"9434765870"}`)}, false},
	}
	for _, tt := range tests {
		if got := mayName(tt.msg, []byte(child)); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
}
