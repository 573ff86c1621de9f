package natsauth_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

func userKey(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}

// The generated configuration is what nats-server reads: one account per
// participant with one user, the operators' account, the broker's account
// with JetStream; passwords are bcrypt hashes of the tokens; NKeys replace
// passwords where configured.
func TestIsolationNATSAuthConfig(t *testing.T) {
	cfg := demo.Config()
	cfg.Participants[0].NKey = userKey(t)
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
	if got, want := len(o.Accounts), len(cfg.Participants)+2; got != want {
		t.Errorf("%d accounts, want %d", got, want)
	}
	users := map[string]*server.User{}
	for _, u := range o.Users {
		users[u.Username] = u
	}
	for i, p := range cfg.Participants {
		if i == 0 {
			if _, ok := users[p.ID]; ok {
				t.Errorf("%s has an NKey and a password", p.ID)
			}
			if len(o.Nkeys) != 1 || o.Nkeys[0].Nkey != p.NKey || o.Nkeys[0].Account.Name != wire.ParticipantAccount(p.ID) {
				t.Errorf("NKey users: %+v", o.Nkeys)
			}
			continue
		}
		u := users[p.ID]
		if u == nil {
			t.Fatalf("no user %s", p.ID)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(p.Token)) != nil {
			t.Errorf("%s: password is not the bcrypt hash of its token", p.ID)
		}
		if u.Account.Name != wire.ParticipantAccount(p.ID) {
			t.Errorf("%s in account %s", p.ID, u.Account.Name)
		}
		if !slices.Equal(u.Permissions.Subscribe.Allow, []string{"_INBOX.>"}) || slices.Contains(u.Permissions.Publish.Allow, "$JS.API.INFO") {
			t.Errorf("%s: permissions %+v %+v", p.ID, u.Permissions.Publish, u.Permissions.Subscribe)
		}
	}
	b := users[wire.BrokerUser]
	if b == nil || b.Account.Name != natsauth.AccountBroker || b.Permissions != nil {
		t.Fatalf("broker user: %+v", b)
	}
	if users["ops"] == nil || users["ops"].Account.Name != natsauth.AccountOperators {
		t.Errorf("operator: %+v", users["ops"])
	}
	if strings.Contains(text, cfg.Participants[1].Token) || strings.Contains(text, "broker-password-0123456789") {
		t.Errorf("a password in clear:\n%s", text)
	}
}

// A participant may publish exactly its own ingest subjects (the valid
// partitions and the bare subject) and use its own consumer.
func TestIsolationParticipantPermissions(t *testing.T) {
	cfg := demo.Config()
	text, err := natsauth.AuthConfig(cfg, natsauth.BrokerIdentity{NKey: userKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	var o server.Options
	if err := o.ProcessConfigString(text); err != nil {
		t.Fatal(err)
	}
	var pub []string
	for _, u := range o.Users {
		if u.Username == "leeds/pct" {
			pub = u.Permissions.Publish.Allow
		}
	}
	want := []string{"ecm.ingest.leeds.pct"}
	for _, p := range []string{"00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15"} {
		want = append(want, "ecm.ingest.leeds.pct."+p)
	}
	want = append(want, "$JS.API.CONSUMER.INFO.ECM_DELIVERY.deliver-leeds-pct",
		"$JS.API.CONSUMER.MSG.NEXT.ECM_DELIVERY.deliver-leeds-pct", "$JS.ACK.ECM_DELIVERY.deliver-leeds-pct.>")
	if !slices.Equal(pub, want) {
		t.Errorf("leeds/pct may publish\n%q\nwant\n%q", pub, want)
	}
	if len(o.Nkeys) != 1 || o.Nkeys[0].Account.Name != natsauth.AccountBroker {
		t.Errorf("the broker's NKey: %+v", o.Nkeys)
	}
}

// NATS passwords are written so that nats-server reads them back unchanged,
// whatever they hold: quotes, backslashes, '$' (a variable when unquoted),
// '#'. (HTTP tokens may not hold spaces or other than ASCII: config.Check.)
func TestIsolationQuoting(t *testing.T) {
	cfg := demo.Config()
	tokens := []string{`with "quotes" inside`, `back\slash\\es-here`, `$NOT_A_VARIABLE-token`, `# not a comment, ünïcode`}
	for i, tok := range tokens {
		cfg.Participants[i].NATSPassword = tok
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	text, err := natsauth.AuthConfig(cfg, natsauth.BrokerIdentity{Password: `"$pw\`})
	if err != nil {
		t.Fatal(err)
	}
	var o server.Options
	if err := o.ProcessConfigString(text); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, u := range o.Users {
		for i, tok := range tokens {
			if u.Username == cfg.Participants[i].ID && bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(tok)) != nil {
				t.Errorf("%s: token %q not read back", u.Username, tok)
			}
		}
	}
}

func TestIsolationNeedsBrokerIdentity(t *testing.T) {
	_, err := natsauth.AuthConfig(demo.Config(), natsauth.BrokerIdentity{})
	if !errors.Is(err, config.ErrConfig) {
		t.Errorf("no broker identity: %v", err)
	}
	_, err = natsauth.AuthConfig(demo.Config(), natsauth.BrokerIdentity{NKey: "UNOTAKEY"})
	if !errors.Is(err, config.ErrConfig) {
		t.Errorf("bad broker nkey: %v", err)
	}
}

// NKeys and names in the configuration: each mistake names its field.
func TestConfigNATSIdentities(t *testing.T) {
	key, key2 := userKey(t), userKey(t)
	seed, _ := nkeys.CreateUser()
	seedText, _ := seed.Seed()
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		field  string // "" when valid
	}{
		{"participant nkey", func(c *config.Config) { c.Participants[0].NKey = key }, ""},
		{"operator nkey", func(c *config.Config) { c.Operators[0].NKey = key }, ""},
		{"both, different", func(c *config.Config) { c.Participants[0].NKey, c.Operators[0].NKey = key, key2 }, ""},
		{"not a key", func(c *config.Config) { c.Participants[1].NKey = "UABC" }, "participants[1].nkey"},
		{"a seed, not a public key", func(c *config.Config) { c.Participants[1].NKey = string(seedText) }, "participants[1].nkey"},
		{"an account key", func(c *config.Config) {
			kp, _ := nkeys.CreateAccount()
			c.Participants[1].NKey, _ = kp.PublicKey()
		}, "participants[1].nkey"},
		{"shared nkey", func(c *config.Config) { c.Participants[0].NKey, c.Participants[2].NKey = key, key }, "participants[2].nkey"},
		{"operator with a participant's nkey", func(c *config.Config) { c.Participants[0].NKey, c.Operators[0].NKey = key, key }, "operators[0].nkey"},
		{"operator named as the broker", func(c *config.Config) { c.Operators[0].Name = wire.BrokerUser }, "operators[0].name"},
		{"operator named as a participant", func(c *config.Config) { c.Operators[0].Name = "leeds/pct" }, "operators[0].name"},
		{"operator twice", func(c *config.Config) {
			c.Operators = append(c.Operators, config.Operator{Name: c.Operators[0].Name, Token: "another-operator-token"})
		}, fmt.Sprintf("operators[%d].name", len(demo.Config().Operators))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := demo.Config()
			tc.change(c)
			err := c.Check()
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.field != "" && (!errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), tc.field+":")):
				t.Errorf("got %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

// TLS options that cannot work stop the embedded server before it starts.
func TestTLSEmbeddedOptions(t *testing.T) {
	for _, o := range []natsauth.EmbeddedOptions{
		{TLSCA: "ca.pem"},
		{TLSCert: "cert.pem"},
		{TLSCert: "missing.pem", TLSKey: "missing-key.pem"},
	} {
		o.Listen, o.StoreDir = "127.0.0.1:0", t.TempDir()
		if s, _, err := natsauth.StartEmbedded(o, demo.Config()); err == nil {
			s.Shutdown()
			t.Errorf("%+v: started", o)
		}
	}
}
