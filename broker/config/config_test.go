package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDisplayName(t *testing.T) {
	c, err := ParseConfig([]byte("participants:\n - {id: leeds/pct, agency: pct, area: leeds, name: Leeds PCT (health visiting), token: q7Vx2mRt9LpZ4wKs}\n - {id: leeds/lea, agency: lea, area: leeds, token: h3NdY8cJ5uBf6TgE}\n"))
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
	// Not "0123456789abcdef": a counting run, which CheckTokenStrength refuses.
	const tok = "k3Tq9vXw2pLm7RzY"
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

		// Weak tokens refuse to start, naming the field.
		{"repeated characters", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: aaaaaaaaaaaaaaaa}\n", "participants[0].token: uses 1 different characters"},
		{"weak operator token", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "}\noperators:\n - {name: ops, token: abcdefghijklmnopq}\n", "operators[0].token: has 17 characters in a row"},
		{"weak nats password", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + ", nats_password: passwordpassword}\n", "participants[0].nats_password"},

		// Hashed tokens, and NATS passwords apart from them.
		{"token hash", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token_hash: \"" + HashToken(tok) + "\"}\n", ""},
		{"token and hash", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + ", token_hash: \"" + HashToken(tok) + "\"}\n", "participants[0].token_hash: give token or token_hash"},
		{"no token", "participants:\n - {id: leeds/pct, agency: pct, area: leeds}\n", "participants[0].token: is required"},
		{"bad hash", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token_hash: \"md5:00\"}\n", "participants[0].token_hash: must be sha256:"},
		{"hash shared with a token", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "}\noperators:\n - {name: ops, token_hash: \"" + HashToken(tok) + "\"}\n", "operators[0].token_hash: is the same as leeds/pct's"},
		{"nats password", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + ", nats_password: Gq8-wPz2_Lr5nVx0}\n", ""},
		{"nats password is the token", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + ", nats_password: " + tok + "}\n", "participants[0].nats_password: is the HTTP token"},
		{"nats password bcrypt", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + ", nats_password: \"$2a$11$abcdefghijklmnopqrstuu\"}\n", ""},

		// Roles.
		{"roles", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "1}\noperators:\n - {name: ops, token: " + tok + "2, roles: [read, replay, policy, erase]}\n", ""},
		{"unknown role", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "1}\noperators:\n - {name: ops, token: " + tok + "2, roles: [admin]}\n", "operators[0].roles[0]: \"admin\" is not one of read, replay, policy, erase"},
		{"role twice", "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "1}\noperators:\n - {name: ops, token: " + tok + "2, roles: [erase, erase]}\n", "operators[0].roles[1]"},
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

func TestTokenStrength(t *testing.T) {
	tests := []struct {
		token string
		want  string // substring of the error; "" means strong enough
	}{
		{"aaaaaaaaaaaaaaaa", "1 different characters"},
		{"short-token", "at least 16 characters"},
		{"has a space in it!", "printable ASCII without spaces"},
		{"abcdabcdabcdabcd", "4 different characters"},
		{"0123456789abcdef", "10 characters in a row"},
		{"zyxwvutsrqponmlk", "16 characters in a row"},
		{"a1b2c3d4e5f6g7h8a1b2c3d4e5f6g7h8", "repeats a block of 16"},
		{"9182736450918273", "too short for its characters"}, // digits only: 53 bits
		{"Zm9vYmFyYmF6cXV4", ""},
		{"qK7_vR2-xP9.mL4~", ""},
		// Every token the repository's configurations and tests use.
		{"demo-token-york-yot", ""}, {"demo-operator-token-ops", ""}, {"cluster-demo-operator", ""},
		{"bench-token-york-lea", ""}, {"ops-test-token-york-lea", ""}, {"auditor-token-not-used-by-nats", ""},
		{"another-operator-token", ""}, {"at-least-16-characters", ""}, {"another-secret-token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			err := CheckTokenStrength(tt.token)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("CheckTokenStrength(%q) = %v, want %q", tt.token, err, tt.want)
			}
		})
	}
}

// A token stored as its hash is found by the token, compared with every
// identity's digest; a wrong one finds nothing.
func TestRegistryTokenHash(t *testing.T) {
	const ptok, otok = "Zm9vYmFyYmF6cXV4-leeds", "qK7_vR2-xP9.mL4~ops"
	c, err := ParseConfig([]byte("participants:\n - {id: leeds/pct, agency: pct, area: leeds, token_hash: \"" + HashToken(ptok) + "\"}\n" +
		"operators:\n - {name: ops, token: \"" + otok + "\", roles: [erase]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(c)
	if p, ok := r.ByToken(ptok); !ok || p.ID != "leeds/pct" {
		t.Errorf("ByToken(participant) = %v %v", p.ID, ok)
	}
	if _, ok := r.ByToken(otok); ok {
		t.Error("an operator token found a participant")
	}
	if o, ok := r.Operator(otok); !ok || o.Name != "ops" || !o.Has(RoleErase) || !o.Has(RoleRead) || o.Has(RoleReplay) {
		t.Errorf("Operator = %+v %v", o, ok)
	}
	for _, bad := range []string{"", HashToken(ptok), ptok + "x", "Bearer " + ptok} {
		if r.Known(bad) {
			t.Errorf("Known(%q)", bad)
		}
	}
}
