package config

// Secrets: HTTP bearer tokens (plain or stored as a SHA-256 hash) and the
// separate NATS credentials of participants and operators.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
)

// TokenHashPrefix starts a token_hash: "sha256:" and 64 hex digits.
//
// A fast hash is the right one here, unlike for passwords: a token is a
// random secret of at least 16 characters that passes CheckTokenStrength
// (ecm-broker hash-token refuses others), so guessing a token from its hash
// costs as much as guessing the token, and the broker hashes the presented
// token on every request, which a slow hash (bcrypt) would make a
// denial-of-service lever.
const TokenHashPrefix = "sha256:"

// HashToken is the token_hash of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return TokenHashPrefix + hex.EncodeToString(sum[:])
}

// TokenDigest is the SHA-256 of a presented token, compared (in constant
// time) with the digests the Registry holds.
func TokenDigest(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// parseTokenHash reads a token_hash.
func parseTokenHash(s string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(strings.TrimSpace(s), TokenHashPrefix)
	b, err := hex.DecodeString(hexPart)
	if !ok || err != nil || len(b) != sha256.Size {
		return d, fmt.Errorf("must be %s followed by 64 hex digits (ecm-broker hash-token prints one)", TokenHashPrefix)
	}
	copy(d[:], b)
	return d, nil
}

// Token strength. A token is a random secret that a machine sends; these
// rules refuse what a person typed or a pattern: fewer than 16 printable
// characters (or any space), fewer than 8 different characters, a run of 5
// that repeat or count up or down ("aaaaa", "12345", "edcba"), one block
// repeated ("abcabcabc..."), and fewer than 64 bits as a random string of the
// character classes it uses would have (16 digits: 53). They cannot tell a
// random token from one made of words (the demo's tokens pass): generate
// tokens randomly; ecm-broker hash-token and the docs suggest 32 random bytes.
const (
	minTokenLen      = 16
	minTokenDistinct = 8
	maxTokenRun      = 4
	minTokenBits     = 64
)

// CheckTokenStrength says why token is too weak to be an HTTP bearer token,
// or nil.
func CheckTokenStrength(token string) error {
	for _, c := range []byte(token) {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("must be printable ASCII without spaces (it is sent in an HTTP header)")
		}
	}
	return checkStrength(token)
}

// checkStrength applies the rules above but the character set (a NATS
// password may hold any character).
func checkStrength(token string) error {
	if len(token) < minTokenLen {
		return fmt.Errorf("must be at least %d characters", minTokenLen)
	}
	distinct := map[byte]bool{}
	for _, c := range []byte(token) {
		distinct[c] = true
	}
	if len(distinct) < minTokenDistinct {
		return fmt.Errorf("uses %d different characters, at least %d are required: use a random token", len(distinct), minTokenDistinct)
	}
	if run := longestRun(token); run > maxTokenRun {
		return fmt.Errorf("has %d characters in a row that repeat or count up or down (like aaaaa or 12345): use a random token", run)
	}
	if p := period(token); p > 0 {
		return fmt.Errorf("repeats a block of %d characters: use a random token", p)
	}
	if bits := classBits(token); bits < minTokenBits {
		return fmt.Errorf("is too short for its characters (about %.0f bits, at least %d): use a longer random token, such as head -c 32 /dev/urandom | base64", bits, minTokenBits)
	}
	return nil
}

// longestRun is the longest stretch of characters each equal to, one more
// than, or one less than the one before (in the same direction).
func longestRun(s string) int {
	best, run, step := 1, 1, 0
	for i := 1; i < len(s); i++ {
		d := int(s[i]) - int(s[i-1])
		switch {
		case d >= -1 && d <= 1 && (run == 1 || d == step):
			run++
		case d >= -1 && d <= 1:
			run = 2
		default:
			run = 1
		}
		step = d
		best = max(best, run)
	}
	return best
}

// period is the length of the block s repeats ("abcabcabc": 3), or 0.
func period(s string) int {
	for p := 1; p <= len(s)/2; p++ {
		if strings.Repeat(s[:p], len(s)/p+1)[:len(s)] == s {
			return p
		}
	}
	return 0
}

// classBits is the entropy of a random string as long as s drawn from the
// character classes s uses (digits 10, lower 26, upper 26, symbols 32).
func classBits(s string) float64 {
	var digit, lower, upper, other bool
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			other = true
		}
	}
	pool := 0
	for _, k := range []struct {
		in bool
		n  int
	}{{digit, 10}, {lower, 26}, {upper, 26}, {other, 32}} {
		if k.in {
			pool += k.n
		}
	}
	return float64(len(s)) * math.Log2(float64(pool))
}

// checkSecret checks the HTTP token (field f.token or f.token_hash) and the
// NATS password of one identity and records its digest in seen (digest →
// who), so that no two identities share a token.
func checkSecret(f, who, token, tokenHash, natsPassword string, seen map[[sha256.Size]byte]string) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s.%s: %s", ErrConfig, f, field, fmt.Sprintf(format, args...))
	}
	var d [sha256.Size]byte
	switch {
	case token != "" && tokenHash != "":
		return bad("token_hash", "give token or token_hash, not both")
	case token == "" && tokenHash == "":
		return bad("token", "is required (or token_hash)")
	case token != "":
		if err := CheckTokenStrength(token); err != nil {
			return bad("token", "%v", err)
		}
		d = TokenDigest(token)
	default:
		var err error
		if d, err = parseTokenHash(tokenHash); err != nil {
			return bad("token_hash", "%v", err)
		}
	}
	field := "token"
	if tokenHash != "" {
		field = "token_hash"
	}
	if seen[d] != "" {
		return bad(field, "is the same as %s's", seen[d])
	}
	seen[d] = who
	if natsPassword == "" || isBcrypt(natsPassword) {
		return nil
	}
	if err := checkStrength(natsPassword); err != nil {
		return bad("nats_password", "%v", err)
	}
	if TokenDigest(natsPassword) == d {
		return bad("nats_password", "is the HTTP token: the two must be separate secrets")
	}
	return nil
}

// isBcrypt reports whether a NATS password is already a bcrypt hash, which
// nats-server compares itself.
func isBcrypt(pw string) bool { return strings.HasPrefix(pw, "$2") }

// NATSSecret is the password the participant logs in to NATS with: its
// nats_password; without one, its HTTP token (a shared secret the broker warns
// about at start, see TokenIsNATSPassword); "" when it has neither (an
// identity with only a token_hash has no NATS password; it needs an nkey).
func (p Participant) NATSSecret() string { return natsSecret(p.Token, p.NATSPassword) }

// NATSSecret is the operator's NATS password, as for a participant.
func (o Operator) NATSSecret() string { return natsSecret(o.Token, o.NATSPassword) }

func natsSecret(token, natsPassword string) string {
	if natsPassword != "" {
		return natsPassword
	}
	return token
}

// SharedSecrets lists the identities whose HTTP token is also their NATS
// password (no nats_password, no nkey), for the broker to warn about.
func (c *Config) SharedSecrets() []string {
	var out []string
	for _, p := range c.Participants {
		if p.Token != "" && p.NATSPassword == "" && p.NKey == "" {
			out = append(out, p.ID)
		}
	}
	for _, o := range c.Operators {
		if o.Token != "" && o.NATSPassword == "" && o.NKey == "" {
			out = append(out, "operator "+o.Name)
		}
	}
	return out
}
