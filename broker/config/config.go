package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ecm-broker/ecm-broker/wire"
	"gopkg.in/yaml.v3"
)

// Agency kinds of the domain spec.
var agencyKinds = map[string]bool{
	"la-social-care": true, "lea": true, "pct": true, "connexions": true, "yot": true, "police": true,
}

var areaSlug = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)

// Participant is one agency system in one area.
type Participant struct {
	ID     string `yaml:"id" json:"id"`
	Agency string `yaml:"agency" json:"agency"`
	Area   string `yaml:"area" json:"area"`
	// Name, when set, is what people read for the participant: "Leeds PCT
	// (health visiting)" rather than leeds/pct (DisplayName).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Token is the HTTP bearer token; TokenHash (sha256:HEX, from
	// ecm-broker hash-token) keeps only its hash in the file. One of the two.
	Token     string `yaml:"token,omitempty" json:"-"`
	TokenHash string `yaml:"token_hash,omitempty" json:"-"`
	// NATSPassword is the NATS password (plain or bcrypt), a secret apart
	// from the HTTP token. Without it (and without NKey) the HTTP token is
	// also the NATS password, which the broker warns about (tokens.go).
	NATSPassword string `yaml:"nats_password,omitempty" json:"-"`
	// NKey, when set, is the public key (U…) the participant logs in to NATS
	// with instead of user id and token (docs/security.md).
	NKey string `yaml:"nkey,omitempty" json:"-"`
	// Push, when set, is the participant's webhook: the broker POSTs each of
	// its copies there (push.go, docs/push.md).
	Push *Push `yaml:"push,omitempty" json:"-"`
}

// DisplayName is the participant's name for people: its Name, or its id.
func (p Participant) DisplayName() string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

// displayName reports whether s can be a participant's name: empty, or at
// most 100 printable characters (no control or line-breaking characters).
func displayName(s string) bool {
	if utf8.RuneCountInString(s) > 100 || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Operator is a person or tool that runs the broker.
type Operator struct {
	Name string `yaml:"name"`
	// Token or TokenHash, and NATSPassword: as for a participant.
	Token        string `yaml:"token,omitempty"`
	TokenHash    string `yaml:"token_hash,omitempty"`
	NATSPassword string `yaml:"nats_password,omitempty"`
	// Roles beyond reading (roles.go): replay, policy, erase. None: read only.
	Roles []Role `yaml:"roles,omitempty"`
	// NKey, when set, is the public key the operator logs in to NATS with
	// instead of name and token.
	NKey string `yaml:"nkey,omitempty"`
}

// Config is the broker's configuration file.
type Config struct {
	Participants []Participant `yaml:"participants"`
	Operators    []Operator    `yaml:"operators"`
	// ChildKeySecret keys the hash that names a child in subjects and KV keys
	// (never the raw UIN). When empty, the broker keeps one in its state.
	ChildKeySecret string `yaml:"child_key_secret"`
	// Duplicates is how long JetStream remembers message ids, so a retried
	// publish or a redelivery after a crash is stored once. Default 24h.
	Duplicates time.Duration `yaml:"duplicates"`
	// Replicas of every stream and bucket (1 on a single server, 3 on a cluster).
	Replicas int `yaml:"replicas"`
	// DeliveryLimits bound what ECM_DELIVERY holds for each participant
	// (limits.go, docs/durability.md).
	DeliveryLimits DeliveryLimits `yaml:"delivery_limits"`

	// --- operations (chain.go, retention.go, docs/operations.md) ---
	// AuditSigningKey signs the audit checkpoints: a base64 Ed25519 seed.
	// When empty, the broker keeps one in its state (weaker: see the docs).
	AuditSigningKey string `yaml:"audit_signing_key"`
	// AuditVerifyKeys are earlier signing keys' public keys (base64), still
	// trusted when verifying checkpoints written before a key rotation.
	AuditVerifyKeys []string `yaml:"audit_verify_keys"`
	// AuditCheckpointEvery is how often each instance signs its chain heads.
	// Default 1m.
	AuditCheckpointEvery time.Duration `yaml:"audit_checkpoint_every"`
	// AuditVerifyEvery is how often each instance verifies what was added
	// to the audit since its last check (the whole audit at start and once
	// a day): /readyz and ecm_audit_chain_broken report a broken chain.
	// Default 5m.
	AuditVerifyEvery time.Duration `yaml:"audit_verify_every"`
	// Retention says how long personal data is kept.
	Retention Retention `yaml:"retention"`
	// --- end operations ---

	// Push says how copies are pushed to the participants' webhooks:
	// timeout, backoff, when to give up, the circuit breaker (push.go).
	Push PushSettings `yaml:"push"`
}

// DeliveryLimits bound the copies the broker holds for one participant, so
// that one that never reads cannot fill the store the others share. Reading
// does not remove a copy: a copy stays until MaxAge, read or not.
type DeliveryLimits struct {
	// MaxAge is how long a copy is kept, read or not; 0 keeps it until an
	// operator removes it. At least the duplicates window.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxPerParticipant is the most copies held for one participant; 0 is
	// no limit. A copy beyond it is refused by ECM_DELIVERY, never an older
	// one dropped: the refused copy goes to the dead letters
	// (ecm.deadletter.undelivered.<area>.<agency>) and is counted in
	// ecm_delivery_refused_total, and the other participants are unaffected.
	MaxPerParticipant int64 `yaml:"max_per_participant"`
}

// ErrConfig marks configuration problems; the message names the field.
var ErrConfig = errors.New("config")

// LoadConfig reads and checks a YAML configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses and checks a YAML configuration.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports the first problem with the configuration, naming the field.
func (c *Config) Check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if len(c.Participants) == 0 {
		return bad("participants", "at least one participant is required")
	}
	ids := map[string]bool{}
	tokens := map[[32]byte]string{} // token digest → who (tokens.go)
	nkeyOwners := map[string]string{}
	for i, p := range c.Participants {
		f := fmt.Sprintf("participants[%d]", i)
		switch {
		case !agencyKinds[p.Agency]:
			return bad(f+".agency", "%q is not one of la-social-care, lea, pct, connexions, yot, police", p.Agency)
		case !areaSlug.MatchString(p.Area):
			return bad(f+".area", "%q is not an area slug (lower-case letters, digits, '-')", p.Area)
		case p.ID != p.Area+"/"+p.Agency:
			return bad(f+".id", "%q must be <area>/<agency>, here %q", p.ID, p.Area+"/"+p.Agency)
		case ids[p.ID]:
			return bad(f+".id", "%q is given twice", p.ID)
		case !displayName(p.Name):
			return bad(f+".name", "must be at most 100 printable characters on one line")
		}
		ids[p.ID] = true
		if err := checkSecret(f, p.ID, p.Token, p.TokenHash, p.NATSPassword, tokens); err != nil {
			return err
		}
		if err := checkIdentity(f, p.NKey, p.ID, nkeyOwners); err != nil { // NATS identity (isolation.go)
			return err
		}
		if err := checkPush(f, p.Push); err != nil { // webhook (push.go)
			return err
		}
	}
	for i, o := range c.Operators {
		f := fmt.Sprintf("operators[%d]", i)
		switch {
		case o.Name == "":
			return bad(f+".name", "is required")
		}
		if err := checkSecret(f, "operator "+o.Name, o.Token, o.TokenHash, o.NATSPassword, tokens); err != nil {
			return err
		}
		if err := checkRoles(f, o.Roles); err != nil {
			return err
		}
		// NATS identity (isolation.go): one user name space for participants, operators and the broker.
		if ids[o.Name] || o.Name == wire.BrokerUser {
			return bad(f+".name", "%q is already the name of a participant, another operator or the broker", o.Name)
		}
		ids[o.Name] = true
		if err := checkIdentity(f, o.NKey, "operator "+o.Name, nkeyOwners); err != nil {
			return err
		}
	}
	if c.Duplicates == 0 {
		c.Duplicates = 24 * time.Hour
	}
	// Hours in production (a retried export, a redelivery after a crash);
	// the tests of re-sends after the window use a second.
	if c.Duplicates < time.Second {
		return bad("duplicates", "must be at least 1s (24h is the default; keep it in hours in production)")
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return bad("replicas", "must be between 1 and 5")
	}
	switch l := c.DeliveryLimits; {
	case l.MaxAge < 0 || (l.MaxAge > 0 && l.MaxAge < c.Duplicates):
		return bad("delivery_limits.max_age", "must be 0 (keep) or at least duplicates (%s)", c.Duplicates)
	case l.MaxPerParticipant < 0:
		return bad("delivery_limits.max_per_participant", "must be 0 (no limit) or more")
	}
	if err := c.checkPushSettings(); err != nil { // push.go
		return err
	}
	return c.checkOps() // operations: audit signing and retention (retention.go)
}
