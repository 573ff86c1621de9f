package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Push is a participant's webhook (docs/push.md): the broker POSTs each of
// its copies to URL, signed with Secret per the Standard Webhooks spec, for
// systems that cannot run a NATS client.
type Push struct {
	// URL is https://, or http:// to a loopback address (tests, a relay on
	// the same host).
	URL string `yaml:"url"`
	// Secret is "whsec_" and the base64 of 24 to 64 random bytes; the
	// decoded bytes key the HMAC-SHA256 signature.
	Secret string `yaml:"secret"`
}

// Key is the decoded signing key of the secret (checked by Check).
func (p Push) Key() []byte {
	k, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.Secret, pushSecretPrefix))
	return k
}

// Endpoint is the URL without credentials, query or fragment: what status
// pages and logs show, and what the circuit breaker is kept for.
func (p Push) Endpoint() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// PushSettings are how the broker pushes to every webhook (config key push).
type PushSettings struct {
	// Timeout is how long one attempt may take. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	Backoff struct {
		// Initial is the wait after the first failed attempt, doubled after
		// each further one up to Max, with jitter. Defaults 5s and 1h.
		Initial time.Duration `yaml:"initial"`
		Max     time.Duration `yaml:"max"`
	} `yaml:"backoff"`
	// GiveUpAfter is how long after it was stored a copy is still retried;
	// a copy older than this whose latest attempt failed goes to the dead
	// letters. Default 72h.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
	Breaker     struct {
		// Failures in a row at one endpoint open its circuit breaker;
		// Cooldown later one attempt is let through to test it. Defaults 5
		// and 1m.
		Failures int           `yaml:"failures"`
		Cooldown time.Duration `yaml:"cooldown"`
	} `yaml:"breaker"`
}

const pushSecretPrefix = "whsec_"

// checkPush checks participant field f's webhook, when it has one.
func checkPush(f string, p *Push) error {
	if p == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s.push.%s: %s", ErrConfig, f, field, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(p.URL)
	switch {
	case p.URL == "":
		return bad("url", "is required: the https:// address the broker posts this participant's copies to")
	case err != nil || u.Host == "" || u.Opaque != "":
		return bad("url", "%q is not an absolute URL such as https://engine.example.nhs.uk/ecm", p.URL)
	case u.Fragment != "":
		return bad("url", "must not have a #fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return bad("url", "%q is plain http to a host that is not this machine: copies about children must travel over https (http is allowed to 127.0.0.1, ::1 or localhost only)", p.URL)
	default:
		return bad("url", "%q: the scheme must be https (or http to a loopback address)", p.URL)
	}
	rest, ok := strings.CutPrefix(p.Secret, pushSecretPrefix)
	if !ok {
		return bad("secret", "must be a Standard Webhooks secret: \"whsec_\" followed by the base64 of 24 to 64 random bytes (for example: echo whsec_$(openssl rand -base64 32))")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return bad("secret", "the part after \"whsec_\" is not standard base64 (A-Z a-z 0-9 + /, padded with =): %v", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return bad("secret", "decodes to %d bytes; a Standard Webhooks key is 24 to 64 bytes (32 is usual)", len(key))
	}
	return nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkPushSettings fills in the defaults and checks the push settings.
func (c *Config) checkPushSettings() error {
	s := &c.Push
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: push.%s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&s.Timeout, 10*time.Second)
	def(&s.Backoff.Initial, 5*time.Second)
	def(&s.Backoff.Max, time.Hour)
	def(&s.GiveUpAfter, 72*time.Hour)
	def(&s.Breaker.Cooldown, time.Minute)
	if s.Breaker.Failures == 0 {
		s.Breaker.Failures = 5
	}
	switch {
	case s.Timeout < 0 || s.Timeout > 5*time.Minute:
		return bad("timeout", "must be more than 0 and at most 5m (10s is the default)")
	case s.Backoff.Initial < 0:
		return bad("backoff.initial", "must be more than 0 (5s is the default)")
	case s.Backoff.Max < s.Backoff.Initial:
		return bad("backoff.max", "must be at least backoff.initial (%s)", s.Backoff.Initial)
	case s.GiveUpAfter < 0:
		return bad("give_up_after", "must be more than 0 (72h is the default)")
	case s.Breaker.Failures < 0:
		return bad("breaker.failures", "must be 1 or more (5 is the default)")
	case s.Breaker.Cooldown < 0:
		return bad("breaker.cooldown", "must be more than 0 (1m is the default)")
	}
	return nil
}
