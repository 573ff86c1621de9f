package natsauth

// NATS isolation. Every participant gets a NATS account of its own with one
// user in it (user = participant id, password = its nats_password or else its
// HTTP token, or its NKey; a token_hash alone gives no NATS user); the
// operators share the OPS account; the broker and the streams live in the
// ECM account. The ECM account exports to each participant exactly what it
// may use, under the same subjects, and nothing else crosses accounts:
//
//   - publish its own ingest subjects (ecm.ingest.<area>.<agency>[.<partition>]),
//     which only its own stream ECM_IN_<area>_<agency> holds, with the
//     JetStream acknowledgement coming back (its own sequences and duplicates
//     only: wire.IngestStream);
//   - its own durable pull consumer on ECM_DELIVERY (deliver-<area>-<agency>,
//     filtered to ecm.deliver.<area>.<agency>): info, next, ack.
//
// Separate accounts, not only user permissions, because nats-server sends the
// answer to a request to whatever reply subject the requester names, without
// checking it against the requester's permissions: a user of the ECM account
// allowed to ask for its next delivery could have the server publish that
// delivery (or any JetStream API answer) onto another participant's ingest
// subject, the audit stream or the child index. Across accounts the reply is
// mapped back into the requester's own account, where no stream listens.
// User permissions are kept as well, so that anything else is refused by the
// server with a permissions violation. docs/security.md lists every grant.

import (
	"fmt"
	"strings"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/wire"
	"golang.org/x/crypto/bcrypt"
)

// Accounts and the broker's user in the generated NATS configuration.
const (
	AccountBroker    = "ECM" // the broker, every stream and bucket
	AccountOperators = "OPS" // operators: read-only on audit, dead letters and stream info
)

// grant is a service the ECM account exports to one account, imported there
// under the same subject.
type grant struct {
	subject string
	stream  bool // the answer is a stream of messages (a pull request, a batched get)
}

// participantGrants is everything participant id may reach in the ECM
// account. The ingest export takes any partition token; the user's
// permissions (participantPublish) narrow it to the valid ones.
func participantGrants(id string) []grant {
	c := consumerSubjects(id)
	return []grant{
		{subject: wire.IngestSpace(id)},
		{subject: wire.IngestSpace(id) + ".*"},
		{subject: c.info},
		{subject: c.next, stream: true},
		{subject: c.ack},
		jsShadow,
	}
}

// jsShadow is imported into every account of the configuration that has no
// JetStream of its own. Without an import of $JS.API.INFO, nats-server
// answers that account's whole JetStream API itself ("JetStream not enabled
// for account"), before the imported consumer info or stream info could; with
// it, the account's JetStream API is only what it imports from the ECM
// account. Participants may not publish it (their permissions leave it out):
// it would tell them the size of everything the broker holds.
var jsShadow = grant{subject: "$JS.API.INFO"}

// consumerSubjects are the subjects of participant id's consumer that it may
// publish: info, next and acknowledgements (v1 ack subjects, the server's
// default).
func consumerSubjects(id string) (c struct{ info, next, ack string }) {
	name := wire.DeliveryConsumer(id)
	c.info = "$JS.API.CONSUMER.INFO." + wire.StreamDelivery + "." + name
	c.next = "$JS.API.CONSUMER.MSG.NEXT." + wire.StreamDelivery + "." + name
	c.ack = "$JS.ACK." + wire.StreamDelivery + "." + name + ".>"
	return c
}

// participantPublish is what a participant's user may publish in its own
// account: the ingest subjects of its valid partitions (and the bare one, so
// that a publisher that forgets the partition gets a dead letter saying so),
// its consumer's info and next, and acknowledgements of what it was given.
func participantPublish(id string) []string {
	subs := wire.ParticipantIngestSubjects(id)
	c := consumerSubjects(id)
	return append(subs, c.info, c.next, c.ack)
}

// operatorGrants is what operators may reach in the ECM account: metadata of
// every stream and consumer, and the messages of the audit and dead-letter
// streams by direct or stored-message get (what GET /v1/audit and
// /v1/deadletters give them). Not consumer creation: a push consumer
// publishes to a deliver subject of the creator's choosing, unchecked, so
// creating one would let an operator copy the audit into a delivery or ingest
// subject. Nothing that writes.
func operatorGrants() []grant {
	gs := []grant{
		jsShadow,
		{subject: "$JS.API.STREAM.NAMES"},
		{subject: "$JS.API.STREAM.LIST"},
		{subject: "$JS.API.STREAM.INFO.*"},
		{subject: "$JS.API.CONSUMER.NAMES.*"},
		{subject: "$JS.API.CONSUMER.LIST.*"},
		{subject: "$JS.API.CONSUMER.INFO.*.*"},
	}
	for _, s := range []string{wire.StreamAudit, wire.StreamDeadLetter} {
		gs = append(gs,
			grant{subject: "$JS.API.DIRECT.GET." + s, stream: true},
			grant{subject: "$JS.API.DIRECT.GET." + s + ".>", stream: true},
			grant{subject: "$JS.API.STREAM.MSG.GET." + s})
	}
	return gs
}

func subjects(gs []grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.subject
	}
	return out
}

// natsUser is one user of the generated configuration.
type natsUser struct {
	comment  string
	user     string // empty when the user logs in with an NKey
	password string // as written: plain or a bcrypt hash
	nkey     string
	// publish and subscribe allow lists; both nil means every subject of
	// the user's own account (the broker's).
	publish, subscribe []string
}

// natsAccount is one account of the generated configuration.
type natsAccount struct {
	comment   string
	name      string
	jetstream bool
	users     []natsUser
	exports   []export
	imports   []grant
}

type export struct {
	grant
	to      string
	comment string
}

// BrokerIdentity is how the broker logs in to NATS: a password, or the
// public key of the NKey whose seed it holds.
type BrokerIdentity struct {
	User     string // default BrokerUser
	Password string
	NKey     string
}

// AuthConfig is the nats-server configuration that gives the broker, each
// participant and the operators their own NATS identities, for an external
// server or cluster: an `accounts` block to include in the server's
// configuration. Passwords (the participants' and operators' tokens, the
// broker's password) are written as bcrypt hashes.
func AuthConfig(c *config.Config, broker BrokerIdentity) (string, error) {
	if broker.Password == "" && broker.NKey == "" {
		return "", fmt.Errorf("%w: the broker needs a password or an nkey", config.ErrConfig)
	}
	if broker.NKey != "" {
		if err := config.CheckNKey(broker.NKey); err != nil {
			return "", fmt.Errorf("%w: broker nkey: %v", config.ErrConfig, err)
		}
	}
	hash := func(pw string) (string, error) {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 11)
		return string(h), err
	}
	return authConfig(c, broker, hash)
}

// embeddedAuthConfig is the same configuration for the embedded server, with
// plain passwords: it never leaves the process, and bcrypt would only make
// every connection slower.
func embeddedAuthConfig(c *config.Config, broker BrokerIdentity) (string, error) {
	return authConfig(c, broker, func(pw string) (string, error) { return pw, nil })
}

func authConfig(c *config.Config, broker BrokerIdentity, hash func(string) (string, error)) (string, error) {
	if broker.User == "" {
		broker.User = wire.BrokerUser
	}
	user := func(comment, name, secret, nkey string, pub, sub []string) (natsUser, error) {
		u := natsUser{comment: comment, nkey: nkey, publish: pub, subscribe: sub}
		if nkey == "" {
			pw, err := secret, error(nil)
			if !strings.HasPrefix(secret, "$2") { // a nats_password given as a bcrypt hash is written as is
				pw, err = hash(secret)
			}
			if err != nil {
				return u, fmt.Errorf("hashing the password of %s: %w", comment, err)
			}
			u.user, u.password = name, pw
		}
		return u, nil
	}
	ecm := natsAccount{name: AccountBroker, jetstream: true,
		comment: "The broker: every stream, bucket and consumer. Nobody else logs in here."}
	bu, err := user("the broker", broker.User, broker.Password, broker.NKey, nil, nil)
	if err != nil {
		return "", err
	}
	ecm.users = []natsUser{bu}
	accounts := []natsAccount{}
	for _, p := range c.Participants {
		acc := natsAccount{name: wire.ParticipantAccount(p.ID), imports: participantGrants(p.ID),
			comment: "Participant " + p.ID + ": publishes its own ingest subjects, reads its own consumer."}
		u, err := user(p.ID, p.ID, p.NATSSecret(), p.NKey, participantPublish(p.ID), []string{"_INBOX.>"})
		if err != nil {
			return "", err
		}
		if p.NATSSecret() != "" || p.NKey != "" { // a token_hash alone gives no NATS login
			acc.users = []natsUser{u}
		}
		for i, g := range acc.imports {
			e := export{grant: g, to: acc.name}
			if i == 0 {
				e.comment = p.ID
			}
			ecm.exports = append(ecm.exports, e)
		}
		accounts = append(accounts, acc)
	}
	if len(c.Operators) > 0 {
		ops := natsAccount{name: AccountOperators, imports: operatorGrants(),
			comment: "Operators: stream and consumer info, audit and dead letters; read-only."}
		for _, o := range c.Operators {
			u, err := user("operator "+o.Name, o.Name, o.NATSSecret(), o.NKey, subjects(operatorGrants()), []string{"_INBOX.>"})
			if err != nil {
				return "", err
			}
			if o.NATSSecret() != "" || o.NKey != "" {
				ops.users = append(ops.users, u)
			}
		}
		for i, g := range ops.imports {
			e := export{grant: g, to: ops.name}
			if i == 0 {
				e.comment = "operators"
			}
			ecm.exports = append(ecm.exports, e)
		}
		accounts = append(accounts, ops)
	}
	accounts = append([]natsAccount{ecm}, accounts...)

	var w strings.Builder
	w.WriteString("# NATS identities of ecm-broker, generated from its configuration\n" +
		"# (ecm-broker nats-config). Include it in the nats-server configuration;\n" +
		"# generate it again whenever participants or operators change.\n" +
		"# See docs/security.md.\n")
	w.WriteString("accounts {\n")
	for _, a := range accounts {
		fmt.Fprintf(&w, "  # %s\n  %s {\n", a.comment, quote(a.name))
		if a.jetstream {
			w.WriteString("    jetstream: enabled\n")
		}
		w.WriteString("    users: [\n")
		for _, u := range a.users {
			fmt.Fprintf(&w, "      # %s\n      {%s}\n", u.comment, u.render())
		}
		w.WriteString("    ]\n")
		if len(a.exports) > 0 {
			w.WriteString("    exports: [\n")
			for _, e := range a.exports {
				if e.comment != "" {
					fmt.Fprintf(&w, "      # %s\n", e.comment)
				}
				resp := ""
				if e.stream {
					resp = ", response_type: stream"
				}
				fmt.Fprintf(&w, "      {service: %s%s, accounts: [%s]}\n", quote(e.subject), resp, quote(e.to))
			}
			w.WriteString("    ]\n")
		}
		if len(a.imports) > 0 {
			w.WriteString("    imports: [\n")
			for _, g := range a.imports {
				fmt.Fprintf(&w, "      {service: {account: %s, subject: %s}}\n", quote(AccountBroker), quote(g.subject))
			}
			w.WriteString("    ]\n")
		}
		w.WriteString("  }\n")
	}
	w.WriteString("}\n")
	return w.String(), nil
}

func (u natsUser) render() string {
	var b strings.Builder
	if u.nkey != "" {
		b.WriteString("nkey: " + quote(u.nkey))
	} else {
		b.WriteString("user: " + quote(u.user) + ", password: " + quote(u.password))
	}
	if u.publish != nil || u.subscribe != nil {
		fmt.Fprintf(&b, ", permissions: {publish: {allow: %s}, subscribe: {allow: %s}}", quoteList(u.publish), quoteList(u.subscribe))
	}
	return b.String()
}

// quote writes s as a double-quoted string of the NATS configuration format,
// where '$' is literal (no variable) and only \\, \", \t, \n, \r and \xXX
// are escapes.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
