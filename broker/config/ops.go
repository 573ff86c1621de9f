package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Retention configures how long personal data is kept.
type Retention struct {
	// IndexUntilAge is the child's age in years at which its index record,
	// consent and events are erased. Default 24 (18 plus 6).
	IndexUntilAge int `yaml:"index_until_age"`
	// CaseEvents is how long a case event is kept in ECM_INGEST. Default 6y.
	CaseEvents Span `yaml:"case_events"`
	// DeadLetters is how long a rejected input is kept. Default 90d.
	DeadLetters Span `yaml:"dead_letters"`
	// SweepEvery is how often the sweep runs (one instance at a time).
	// Default 24h.
	SweepEvery Span `yaml:"sweep_every"`
}

// Span is a duration written as Go does (90m, 24h) or in days and years
// (90d, 6y; a year is 365 days).
type Span time.Duration

var spanUnits = regexp.MustCompile(`^(\d+)([dy])$`)

// ParseSpan reads a Span.
func ParseSpan(s string) (Span, error) {
	s = strings.TrimSpace(s)
	if m := spanUnits.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		day := 24 * time.Hour
		if m[2] == "y" {
			return Span(time.Duration(n) * 365 * day), nil
		}
		return Span(time.Duration(n) * day), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (90m, 24h, 90d, 6y)", s)
	}
	return Span(d), nil
}

// MarshalYAML writes a Span as ParseSpan reads it back.
func (s Span) MarshalYAML() (any, error) { return time.Duration(s).String(), nil }

// UnmarshalYAML reads a Span from a YAML string.
func (s *Span) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSpan(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func (s Span) String() string { return time.Duration(s).String() }

// checkOps checks and defaults the configuration of the operator features:
// the audit signing key and checkpoints (chain.go) and retention. Called
// from Config.Check.
func (c *Config) checkOps() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.AuditSigningKey != "" {
		if _, err := ParseSigningKey(c.AuditSigningKey); err != nil {
			return err
		}
	}
	for i, k := range c.AuditVerifyKeys {
		if b, err := decodeKey(k); err != nil || len(b) != 32 {
			return bad(fmt.Sprintf("audit_verify_keys[%d]", i), "must be a base64 Ed25519 public key (32 bytes)")
		}
	}
	if c.AuditCheckpointEvery == 0 {
		c.AuditCheckpointEvery = time.Minute
	}
	if c.AuditCheckpointEvery < time.Second {
		return bad("audit_checkpoint_every", "must be at least 1s")
	}
	if c.AuditVerifyEvery == 0 {
		c.AuditVerifyEvery = 5 * time.Minute
	}
	if c.AuditVerifyEvery < time.Second {
		return bad("audit_verify_every", "must be at least 1s")
	}
	r := &c.Retention
	if r.IndexUntilAge == 0 {
		r.IndexUntilAge = 24
	}
	if r.IndexUntilAge < 18 || r.IndexUntilAge > 120 {
		return bad("retention.index_until_age", "must be between 18 and 120 years")
	}
	if r.CaseEvents == 0 {
		r.CaseEvents = Span(6 * 365 * 24 * time.Hour)
	}
	if r.DeadLetters == 0 {
		r.DeadLetters = Span(90 * 24 * time.Hour)
	}
	if r.SweepEvery == 0 {
		r.SweepEvery = Span(24 * time.Hour)
	}
	for f, v := range map[string]Span{"retention.case_events": r.CaseEvents, "retention.dead_letters": r.DeadLetters, "retention.sweep_every": r.SweepEvery} {
		if v < Span(time.Minute) {
			return bad(f, "must be at least 1m")
		}
	}
	return nil
}

// ParseSigningKey reads a base64 Ed25519 seed (32 bytes) or private key (64).
func ParseSigningKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: audit_signing_key: not base64: %v", ErrConfig, err)
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("%w: audit_signing_key: %d bytes, want a 32-byte Ed25519 seed (or a 64-byte private key)", ErrConfig, len(b))
}

func decodeKey(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}
