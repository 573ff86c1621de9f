package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/broker/config"
)

func TestHashToken(t *testing.T) {
	tests := []struct {
		name, in string
		args     []string
		want     string // the output, or a substring of the error
		ok       bool
	}{
		{"a token", "Zm9vYmFyYmF6cXV4LWtleQ==\n", nil, config.HashToken("Zm9vYmFyYmF6cXV4LWtleQ==") + "\n", true},
		{"no newline", "Zm9vYmFyYmF6cXV4LWtleQ==", nil, config.HashToken("Zm9vYmFyYmF6cXV4LWtleQ==") + "\n", true},
		{"CRLF", "Zm9vYmFyYmF6cXV4LWtleQ==\r\n", nil, config.HashToken("Zm9vYmFyYmF6cXV4LWtleQ==") + "\n", true},
		{"weak", "aaaaaaaaaaaaaaaa\n", nil, "uses 1 different characters", false},
		{"empty", "", nil, "no token", false},
		{"an argument", "x", []string{"secret"}, "takes no arguments", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := hashToken(tt.args, strings.NewReader(tt.in), &out)
			if tt.ok && (err != nil || out.String() != tt.want) {
				t.Fatalf("%q, %v; want %q", out.String(), err, tt.want)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.want) || out.Len() > 0) {
				t.Fatalf("%q, %v; want an error containing %q", out.String(), err, tt.want)
			}
		})
	}
	// The printed hash is what the configuration takes.
	var out bytes.Buffer
	if err := hashToken(nil, strings.NewReader("Zm9vYmFyYmF6cXV4LWtleQ==\n"), &out); err != nil {
		t.Fatal(err)
	}
	yaml := "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token_hash: \"" + strings.TrimSpace(out.String()) + "\"}\n"
	c, err := config.ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := config.NewRegistry(c).ByToken("Zm9vYmFyYmF6cXV4LWtleQ=="); !ok || p.ID != "leeds/pct" {
		t.Error("the printed hash does not find the token")
	}
}
