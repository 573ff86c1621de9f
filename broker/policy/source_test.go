package policy

import (
	"context"
	"errors"
	"testing"
)

const (
	tinyPolicy = `package ecm

decision[c.id] := {"allow": false, "basis": "no-rule", "remove": [], "reason": "tiny"} if some c in input.candidates
`
	tinyTest = `package ecm_test

import data.ecm

test_denies if {
	ecm.decision["leeds/pct"].allow == false with input as {"candidates": [{"id": "leeds/pct"}]}
}
`
	failingTest = `package ecm_test

import data.ecm

test_allows if {
	ecm.decision["leeds/pct"].allow with input as {"candidates": [{"id": "leeds/pct"}]}
}
`
)

func TestVerifyPolicy(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		modules map[string]string
		wantErr error
	}{
		{"passing tests", map[string]string{"ecm.rego": tinyPolicy, "ecm_test.rego": tinyTest}, nil},
		{"failing test", map[string]string{"ecm.rego": tinyPolicy, "ecm_test.rego": failingTest}, ErrPolicyTests},
		{"no tests", map[string]string{"ecm.rego": tinyPolicy}, ErrPolicyTests},
		{"does not compile", map[string]string{"ecm.rego": "package ecm\n\ndecision := {", "ecm_test.rego": tinyTest}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Verify(ctx, tt.modules)
			switch {
			case tt.name == "does not compile":
				if err == nil {
					t.Fatal("a policy that does not compile was accepted")
				}
			case tt.wantErr == nil && (err != nil || p == nil):
				t.Fatalf("refused: %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}
