package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDisplayName(t *testing.T) {
	c, err := ParseConfig([]byte("participants:\n - {id: leeds/pct, agency: pct, area: leeds, name: Leeds PCT (health visiting), token: 0123456789abcdef1}\n - {id: leeds/lea, agency: lea, area: leeds, token: 0123456789abcdef2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Participants[0].DisplayName(); got != "Leeds PCT (health visiting)" {
		t.Errorf("named: %q", got)
	}
	if got := c.Participants[1].DisplayName(); got != "leeds/lea" {
		t.Errorf("unnamed: %q", got)
	}
}

func TestParseConfig(t *testing.T) {
	const tok = "0123456789abcdef"
	tests := []struct {
		name string
		yaml string
		want string // substring of the error; "" means valid
	}{
		{"valid", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "1}\noperators:\n - {name: ops, token: " + tok + "2}\n", ""},
		{"no participants", "operators: []\n", "participants: at least one"},
		{"bad agency", "participants:\n - {id: leeds/gp, agency: gp, area: leeds, token: " + tok + "}\n", "participants[0].agency"},
		{"id mismatch", "participants:\n - {id: york/pct, agency: pct, area: leeds, token: " + tok + "}\n", "participants[0].id"},
		{"bad area", "participants:\n - {id: Leeds/pct, agency: pct, area: Leeds, token: " + tok + "}\n", "participants[0].area"},
		{"short token", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: short}\n", "participants[0].token"},
		{"duplicate id", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "1}\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "2}\n", "participants[1].id"},
		{"shared token", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "}\noperators:\n - {name: ops, token: " + tok + "}\n", "operators[0].token"},
		{"display name", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, name: \"Leeds PCT (health visiting)\", token: " + tok + "}\n", ""},
		{"display name on two lines", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, name: \"Leeds PCT\\nhealth\", token: " + tok + "}\n", "participants[0].name"},
		{"display name too long", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, name: " + strings.Repeat("x", 101) + ", token: " + tok + "}\n", "participants[0].name"},
		{"unknown field", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + ", colour: red}\n", "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}
