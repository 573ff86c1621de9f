package natsauth_test

import (
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
)

// The HTTP token and the NATS password are separate secrets: with
// nats_password the NATS user's password is that, not the token; with only a
// token_hash there is no NATS password to give, so no NATS user (an nkey
// would be one); neither secret appears in clear.
func TestIsolationSeparateNATSPassword(t *testing.T) {
	cfg := demo.Config()
	const natsPW = "nats-only-Qm7v2KxP9w"
	cfg.Participants[0].NATSPassword = natsPW
	cfg.Participants[1].TokenHash, cfg.Participants[1].Token = config.HashToken(cfg.Participants[1].Token), ""
	cfg.Operators[0].NATSPassword = "ops-nats-Zr5tLq8Wx1"
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	text, err := natsauth.AuthConfig(cfg, natsauth.BrokerIdentity{Password: "broker-password-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	var o server.Options
	if err := o.ProcessConfigString(text); err != nil {
		t.Fatalf("nats-server refuses the generated configuration: %v\n%s", err, text)
	}
	users := map[string]*server.User{}
	for _, u := range o.Users {
		users[u.Username] = u
	}
	p0 := cfg.Participants[0]
	if u := users[p0.ID]; u == nil || bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(natsPW)) != nil ||
		bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(p0.Token)) == nil {
		t.Errorf("%s: the NATS password is not nats_password alone", p0.ID)
	}
	if u := users[cfg.Participants[1].ID]; u != nil {
		t.Errorf("%s has only a token_hash but a NATS user", cfg.Participants[1].ID)
	}
	if u := users["ops"]; u == nil || bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(cfg.Operators[0].NATSPassword)) != nil {
		t.Errorf("operator: not its nats_password")
	}
	for _, secret := range []string{natsPW, p0.Token, cfg.Operators[0].NATSPassword, cfg.Operators[0].Token} {
		if strings.Contains(text, secret) {
			t.Errorf("%q in clear", secret)
		}
	}
}
