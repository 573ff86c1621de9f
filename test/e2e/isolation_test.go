package e2e

// Tenant isolation on NATS (broker/isolation.go, docs/security.md), checked
// against the real embedded nats-server: every participant of the demo
// configuration and every operator tries every operation it must not do and
// is refused by the server; every path it is given works.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/adapters/pct"
	"github.com/ecm-broker/ecm-broker/adapters/run"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// isolated is a broker whose embedded NATS gives every identity its own
// account: the demo configuration, the York participants logging in with an
// NKey and the Leeds ones with id and token, plus an operator with an NKey.
type isolated struct {
	env  *testenv.Env
	url  string
	keys map[string]nkeys.KeyPair // York participants and the "auditor" operator
	opts []nats.Option            // for every client: TLS trust, when the port is TLS
}

func startIsolated(t *testing.T, embedded natsauth.EmbeddedOptions, clientOpts ...nats.Option) *isolated {
	t.Helper()
	cfg, keys := isolatedConfig(t)
	embedded.Isolation = true
	env := testenv.StartWith(t, broker.Options{Config: cfg, Embedded: embedded})
	return &isolated{env: env, url: env.Broker.NATSURL(), keys: keys, opts: clientOpts}
}

// isolatedConfig is the demo configuration with NKeys for the York
// participants and for an operator "auditor", and the key pairs.
func isolatedConfig(t *testing.T) (*config.Config, map[string]nkeys.KeyPair) {
	t.Helper()
	cfg := demo.Config()
	keys := map[string]nkeys.KeyPair{}
	newKey := func(who string) string {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		keys[who] = kp
		return pub
	}
	for i, p := range cfg.Participants {
		if p.Area == "york" {
			cfg.Participants[i].NKey = newKey(p.ID)
		}
	}
	cfg.Operators = append(cfg.Operators, config.Operator{Name: "auditor", Token: "auditor-token-not-used-by-nats", NKey: newKey("auditor")})
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	return cfg, keys
}

// client is one NATS connection and the asynchronous errors the server sent it.
type client struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

// connect logs in as a participant id or an operator name, with its NKey
// when it has one, else with its token.
func (iso *isolated) connect(t *testing.T, who string) *client {
	t.Helper()
	c, err := iso.dial(who)
	if err != nil {
		t.Fatalf("connecting as %s: %v", who, err)
	}
	t.Cleanup(c.nc.Close)
	return c
}

func (iso *isolated) dial(who string, extra ...nats.Option) (*client, error) {
	c := &client{errs: make(chan error, 64)}
	opts := append([]nats.Option{nats.Name(who), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.errs <- err }),
	}, iso.opts...)
	if kp, ok := iso.keys[who]; ok {
		pub, _ := kp.PublicKey()
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	} else {
		opts = append(opts, nats.UserInfo(who, iso.token(who)))
	}
	nc, err := nats.Connect(iso.url, append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	c.nc = nc
	c.js, err = jetstream.New(nc)
	return c, err
}

func (iso *isolated) token(who string) string {
	for _, p := range iso.env.Config.Participants {
		if p.ID == who {
			return p.Token
		}
	}
	for _, o := range iso.env.Config.Operators {
		if o.Name == who {
			return o.Token
		}
	}
	return ""
}

// denial is one operation an identity must not do: publish to a subject (a
// message, an ack or a JetStream API request, sent with a reply subject) or
// subscribe to one.
type denial struct {
	op, subject string // op "pub" or "sub"
}

// expect is the permissions violation the server sends for d.
func (d denial) expect() string {
	if d.op == "sub" {
		return fmt.Sprintf("Permissions Violation for Subscription to %q", d.subject)
	}
	return fmt.Sprintf("Permissions Violation for Publish to %q", d.subject)
}

// try does d and waits for the server's refusal.
func (c *client) try(d denial) error {
	switch d.op {
	case "pub":
		if err := c.nc.PublishRequest(d.subject, c.nc.NewInbox(), []byte(`{}`)); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
	case "sub":
		sub, err := c.nc.SubscribeSync(d.subject)
		if err != nil {
			return fmt.Errorf("subscribing: %w", err)
		}
		defer sub.Unsubscribe() //nolint:errcheck
	}
	if err := c.nc.Flush(); err != nil {
		return err
	}
	select {
	case err := <-c.errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.HasSuffix(err.Error(), d.expect()) {
			return fmt.Errorf("server answered %v, want %s", err, d.expect())
		}
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("not refused: no permissions violation within 5s")
	}
}

// participantDenials is everything participant p must not do, given every
// participant of the configuration.
func participantDenials(p config.Participant, all []config.Participant) []denial {
	own, cons := dots(p.ID), wire.DeliveryConsumer(p.ID)
	pub := func(s ...string) (ds []denial) {
		for _, x := range s {
			ds = append(ds, denial{"pub", x})
		}
		return ds
	}
	sub := func(s ...string) (ds []denial) {
		for _, x := range s {
			ds = append(ds, denial{"sub", x})
		}
		return ds
	}
	var ds []denial
	for _, o := range all {
		if o.ID == p.ID {
			continue
		}
		oc := wire.DeliveryConsumer(o.ID)
		ds = append(ds, pub(
			"ecm.ingest."+dots(o.ID), // publishing as another participant
			"ecm.ingest."+dots(o.ID)+".00",
			"$JS.API.CONSUMER.MSG.NEXT.ECM_DELIVERY."+oc, // reading its deliveries
			"$JS.API.CONSUMER.INFO.ECM_DELIVERY."+oc,
			"$JS.ACK.ECM_DELIVERY."+oc+".1.1.1.1.0", // acknowledging them
		)...)
		ds = append(ds, sub("ecm.deliver."+dots(o.ID), "ecm.ingest."+dots(o.ID)+".>")...)
	}
	// Its own ingest stream is reached only by publishing to its subjects;
	// another's not at all.
	streams := []string{"ECM_INGEST", "ECM_DELIVERY", "ECM_AUDIT", "ECM_DEADLETTER", "KV_ECM_CHILDREN", "KV_ECM_META", "KV_ECM_PUSH",
		"KV_" + wire.BucketTriage, "KV_" + wire.BucketPolicy, wire.IngestStream(p.ID), wire.IngestStream(otherThan(p.ID, all))}
	for _, s := range streams {
		ds = append(ds, pub("$JS.API.STREAM.INFO."+s, "$JS.API.STREAM.MSG.GET."+s, "$JS.API.DIRECT.GET."+s,
			"$JS.API.STREAM.PURGE."+s, "$JS.API.STREAM.DELETE."+s, "$JS.API.STREAM.UPDATE."+s,
			"$JS.API.STREAM.MSG.DELETE."+s, "$JS.API.CONSUMER.CREATE."+s, "$JS.API.CONSUMER.NAMES."+s,
			"$JS.API.CONSUMER.LIST."+s)...)
	}
	ds = append(ds, pub(
		// Its own subjects, other than as given.
		"ecm.ingest."+own+".16", // no such partition: nothing would ever read it
		"ecm.ingest."+own+".00.x",
		"ecm.deliver."+own, // forging a delivery, an audit record, a dead letter
		"ecm.audit.x", "ecm.deadletter."+own,
		// Taking its copies from the broker's push consumer (they would
		// never reach its webhook), or changing what the pusher recorded.
		"$JS.API.CONSUMER.MSG.NEXT.ECM_DELIVERY."+wire.PushConsumer(p.ID),
		"$JS.ACK.ECM_DELIVERY."+wire.PushConsumer(p.ID)+".1.1.1.1.0",
		"$KV.ECM_PUSH."+wire.ParticipantAccount(p.ID)+".delivered",
		// Its own consumer, other than info, next and ack.
		"$JS.API.CONSUMER.CREATE.ECM_DELIVERY."+cons+".ecm.deliver.>", // widening its filter
		"$JS.API.CONSUMER.DURABLE.CREATE.ECM_DELIVERY."+cons,
		"$JS.API.CONSUMER.DELETE.ECM_DELIVERY."+cons,
		"$JS.API.CONSUMER.PAUSE.ECM_DELIVERY."+cons,
		"$JS.API.CONSUMER.RESET.ECM_DELIVERY."+cons,
		"$JS.API.CONSUMER.LEADER.STEPDOWN.ECM_DELIVERY."+cons,
		"$JS.API.DIRECT.GET.ECM_DELIVERY.ecm.deliver."+own, // its deliveries, around the consumer
		"$JS.FC.ECM_DELIVERY."+cons+".x",
		// The broker's work, the child index and the broker's secret.
		"$JS.API.CONSUMER.MSG.NEXT.ECM_INGEST."+wire.ConsumerPrefix+"00",
		"$JS.API.CONSUMER.MSG.NEXT.ECM_INGEST."+wire.ConsumerUnrouted,
		"$JS.API.CONSUMER.INFO.ECM_INGEST."+wire.ConsumerPrefix+"00",
		"$JS.API.CONSUMER.UNPIN.ECM_INGEST."+wire.ConsumerPrefix+"00",
		"$JS.API.CONSUMER.CREATE.ECM_INGEST.steal.ecm.ingest.>",
		"$JS.ACK.ECM_INGEST."+wire.ConsumerPrefix+"00.1.1.1.1.0",
		"$KV.ECM_CHILDREN.x", "$KV.ECM_META.child-key-secret",
		"$JS.API.DIRECT.GET.KV_ECM_CHILDREN.$KV.ECM_CHILDREN.x",
		"$JS.API.DIRECT.GET.KV_ECM_META.$KV.ECM_META.child-key-secret",
		// The account and the server.
		"$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST",
		"$JS.API.STREAM.CREATE.STEAL", // a stream of its own on ecm.deliver.> would copy everyone's
		"$JS.API.STREAM.SNAPSHOT.ECM_DELIVERY", "$JS.API.ACCOUNT.PURGE.ECM", "$JS.API.META.LEADER.STEPDOWN",
		"$SYS.REQ.SERVER.PING", "_INBOX.x", "anything",
	)...)
	ds = append(ds, sub(">", "ecm.>", "ecm.ingest.>", "ecm.ingest."+own+".>", "ecm.deliver.>", "ecm.deliver."+own,
		"ecm.audit.>", "ecm.deadletter.>", "$KV.>", "$KV.ECM_CHILDREN.>", "$JS.>", "$JS.API.>", "$JS.ACK.>",
		"$JS.EVENT.>", "$SYS.>", "_R_.>")...)
	return ds
}

// otherThan is the first participant of all that is not id.
func otherThan(id string, all []config.Participant) string {
	for _, o := range all {
		if o.ID != id {
			return o.ID
		}
	}
	return id
}

// operatorDenials is everything an operator must not do: write anything,
// read anything other than audit, dead letters and metadata.
func operatorDenials(all []config.Participant) []denial {
	var ds []denial
	pub := func(s ...string) {
		for _, x := range s {
			ds = append(ds, denial{"pub", x})
		}
	}
	for _, p := range all {
		pub("ecm.ingest."+dots(p.ID)+".00", "ecm.deliver."+dots(p.ID),
			"$JS.API.CONSUMER.MSG.NEXT.ECM_DELIVERY."+wire.DeliveryConsumer(p.ID))
	}
	in := wire.IngestStream(all[0].ID) // a participant's own ingest stream
	for _, s := range []string{"ECM_INGEST", "ECM_DELIVERY", "ECM_AUDIT", "ECM_DEADLETTER", "KV_ECM_CHILDREN", "KV_ECM_META", "KV_" + wire.BucketTriage, in} {
		pub("$JS.API.STREAM.PURGE."+s, "$JS.API.STREAM.DELETE."+s, "$JS.API.STREAM.UPDATE."+s,
			"$JS.API.STREAM.MSG.DELETE."+s, "$JS.API.CONSUMER.CREATE."+s, "$JS.API.CONSUMER.CREATE."+s+".x.>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+s+".x", "$JS.API.CONSUMER.DELETE."+s+".x")
	}
	for _, s := range []string{"ECM_INGEST", "ECM_DELIVERY", "KV_ECM_CHILDREN", "KV_ECM_META", in} {
		pub("$JS.API.STREAM.MSG.GET."+s, "$JS.API.DIRECT.GET."+s, "$JS.API.DIRECT.GET."+s+".x")
	}
	pub("ecm.audit.x", "ecm.deadletter.x", "$KV.ECM_CHILDREN.x", "$KV.ECM_META.child-key-secret", "$KV."+wire.BucketTriage+".1",
		"$JS.API.CONSUMER.MSG.NEXT.ECM_INGEST."+wire.ConsumerPrefix+"00",
		"$JS.ACK.ECM_INGEST."+wire.ConsumerPrefix+"00.1.1.1.1.0",
		"$JS.API.STREAM.CREATE.STEAL", "$JS.API.ACCOUNT.PURGE.ECM", "$SYS.REQ.SERVER.PING", "_INBOX.x")
	for _, s := range []string{">", "ecm.>", "ecm.ingest.>", "ecm.deliver.>", "ecm.audit.>", "ecm.deadletter.>",
		"$KV.>", "$JS.>", "$SYS.>"} {
		ds = append(ds, denial{"sub", s})
	}
	return ds
}

// Every participant × every forbidden operation, and every operator × every
// forbidden operation: each refused by the server with a permissions
// violation naming the subject.
func TestIsolationMatrix(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	all := iso.env.Config.Participants
	type run struct {
		who string
		ds  []denial
	}
	var runs []run
	for _, p := range all {
		runs = append(runs, run{p.ID, participantDenials(p, all)})
	}
	for _, o := range iso.env.Config.Operators {
		runs = append(runs, run{o.Name, operatorDenials(all)})
	}
	total, byParticipants := 0, 0
	for i, r := range runs {
		total += len(r.ds)
		if i < len(all) {
			byParticipants += len(r.ds)
		}
	}
	t.Run("denied", func(t *testing.T) {
		for _, r := range runs {
			t.Run(r.who, func(t *testing.T) {
				t.Parallel()
				c := iso.connect(t, r.who)
				for _, d := range r.ds {
					if err := c.try(d); err != nil {
						t.Errorf("%s %s as %s: %v", d.op, d.subject, r.who, err)
					}
				}
				if !c.nc.IsConnected() {
					t.Errorf("%s was disconnected", r.who)
				}
			})
		}
	})
	t.Logf("isolation matrix: %d forbidden operations refused by the server: %d by %d participants, %d by %d operators",
		total, byParticipants, len(all), total-byParticipants, len(runs)-len(all))
}

// A reply subject is not a way out: nats-server sends an answer wherever the
// requester asks, unchecked, but a participant's requests cross into the
// broker's account only through the services it imports, and their answers
// come back into the participant's own account. Each participant asks for a
// JetStream acknowledgement, its consumer's info and its next delivery with a
// reply subject that streams of the broker's account capture: none of them
// lands there.
func TestIsolationReplyInjection(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	js := iso.env.Broker.JetStream()
	ctx := t.Context()
	type target struct{ stream, subject string }
	var targets []target
	cases := 0
	for _, p := range iso.env.Config.Participants {
		c := iso.connect(t, p.ID)
		tag := wire.ParticipantAccount(p.ID)
		steps := []struct {
			subject string
			target  target
		}{
			{"ecm.ingest." + dots(p.ID) + ".00", target{"ECM_AUDIT", "ecm.audit.injected-" + tag}},
			{"$JS.API.CONSUMER.INFO.ECM_DELIVERY." + wire.DeliveryConsumer(p.ID), target{"ECM_DELIVERY", "ecm.deliver.injected." + tag}},
			{"$JS.API.CONSUMER.MSG.NEXT.ECM_DELIVERY." + wire.DeliveryConsumer(p.ID), target{"KV_ECM_CHILDREN", "$KV.ECM_CHILDREN.injected-" + tag}},
		}
		for _, s := range steps {
			body := []byte(`{}`)
			if strings.Contains(s.subject, "MSG.NEXT") {
				body = []byte(`{"batch":1,"no_wait":true}`)
			}
			if err := c.nc.PublishRequest(s.subject, s.target.subject, body); err != nil {
				t.Fatal(err)
			}
			targets = append(targets, s.target)
			cases++
		}
		// The same requests with a reply inbox are answered: the server did
		// answer the ones above, in the participant's own account.
		if _, err := c.nc.Request("$JS.API.CONSUMER.INFO.ECM_DELIVERY."+wire.DeliveryConsumer(p.ID), nil, 5*time.Second); err != nil {
			t.Fatalf("%s: consumer info: %v", p.ID, err)
		}
		select {
		case err := <-c.errs:
			t.Fatalf("%s: %v", p.ID, err)
		default:
		}
	}
	iso.env.WaitIdle()
	time.Sleep(200 * time.Millisecond)
	for _, tg := range targets {
		s, err := js.Stream(ctx, tg.stream)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := s.GetLastMsgForSubject(ctx, tg.subject); err == nil {
			t.Errorf("a server answer was stored in %s as %s (seq %d)", tg.stream, tg.subject, m.Sequence)
		} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("%s in %s: %v", tg.subject, tg.stream, err)
		}
	}
	t.Logf("reply injection: %d requests with a reply subject in the broker's streams, none stored", cases)
}

// Each participant's given paths work: it publishes an event to its own
// ingest subject and gets JetStream's acknowledgement; after the broker has
// decided, it fetches from its own durable consumer exactly what the HTTP API
// says it was delivered, and acknowledges it. An event whose source is
// another participant, published on its own subject, is dead-lettered: nobody
// receives it.
func TestIsolationAllowed(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	runAllowed(t, iso)
}

func runAllowed(t *testing.T, iso *isolated) {
	t.Helper()
	ctx := t.Context()
	all := iso.env.Config.Participants
	clients := map[string]*client{}
	for _, p := range all {
		clients[p.ID] = iso.connect(t, p.ID)
	}
	children := map[string]string{"leeds": child(1), "york": child(2)}
	cases := 0
	publish := func(from string, ev map[string]any) {
		t.Helper()
		b, _ := json.Marshal(ev)
		m := nats.NewMsg(wire.IngestSubject(from, ev["subject"].(string)))
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID(ev["source"].(string), ev["id"].(string)))
		m.Data = b
		ack, err := clients[from].js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatalf("%s publishing %s: %v", from, m.Subject, err)
		}
		if ack.Stream != wire.IngestStream(from) || ack.Sequence == 0 {
			t.Fatalf("%s: ack %+v", from, ack)
		}
	}
	// Each area's child is registered (aged 15: every agency kind may hear
	// of it); then two rounds: in the first each participant becomes
	// involved with the child; in the second, each one's event reaches the
	// others.
	for _, area := range []string{"leeds", "york"} {
		from := area + "/pct"
		publish(from, testenv.Event(from, "index.child.registered", children[area], map[string]any{
			"name": map[string]any{"given": "Dana", "family": "Doe"}, "dob": time.Now().AddDate(-15, 0, 0).Format("2006-01-02"),
			"gender": "female", "address": map[string]any{"lines": []any{"1 High Street", area}, "postcode": "LS1 1AA"}, "area": area}))
	}
	iso.env.WaitIdle()
	for round := 1; round <= 2; round++ {
		for _, p := range all {
			publish(p.ID, testenv.Event(p.ID, "index.practitioner.involved", children[p.Area], map[string]any{
				"practitioner": map[string]any{"name": "Pat Practitioner", "role": p.Agency,
					"contact": map[string]any{"phone": "0113 496 0001"}},
				"service": fmt.Sprintf("%s service, round %d", p.Agency, round)}))
			if round == 1 {
				cases++ // publish and acknowledgement
			}
		}
		iso.env.WaitIdle()
	}
	// Publishing as another participant, on its own subject.
	spoof := testenv.Event("leeds/lea", "safeguarding.referral", children["leeds"],
		map[string]any{"category": "neglect", "summary": "Spoofed.", "significant_harm": true})
	publish("leeds/pct", spoof)
	iso.env.WaitIdle()
	found := false
	for _, dl := range iso.env.DeadLetters() {
		if strings.Contains(string(dl.Body), spoof["id"].(string)) {
			found = slices.ContainsFunc(dl.Reasons, func(r string) bool { return strings.HasPrefix(r, "source") })
		}
	}
	if !found {
		t.Errorf("the spoofed event is not dead-lettered for its source")
	}
	cases++

	for _, p := range all {
		want := map[string]bool{}
		for _, d := range iso.env.Deliveries(p.ID) {
			want[d.Event["id"].(string)] = true
			if d.Event["id"] == spoof["id"] {
				t.Errorf("%s received the spoofed event", p.ID)
			}
		}
		if len(want) == 0 {
			for _, dl := range iso.env.DeadLetters() {
				t.Logf("dead letter: %v", dl.Reasons)
			}
			t.Fatalf("%s has no deliveries to read", p.ID)
		}
		cons, err := clients[p.ID].js.Consumer(ctx, wire.StreamDelivery, wire.DeliveryConsumer(p.ID))
		if err != nil {
			t.Fatalf("%s: its consumer: %v", p.ID, err)
		}
		batch, err := cons.FetchNoWait(len(want) + 10)
		if err != nil {
			t.Fatalf("%s: fetch: %v", p.ID, err)
		}
		got := map[string]bool{}
		for m := range batch.Messages() {
			var ev map[string]any
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatalf("%s: %v", p.ID, err)
			}
			got[ev["id"].(string)] = true
			if m.Subject() != wire.DeliverySubject(p.ID) {
				t.Errorf("%s fetched a message of %s", p.ID, m.Subject())
			}
			if err := m.DoubleAck(ctx); err != nil {
				t.Errorf("%s: ack: %v", p.ID, err)
			}
		}
		if batch.Error() != nil {
			t.Errorf("%s: fetch: %v", p.ID, batch.Error())
		}
		if len(got) != len(want) {
			t.Errorf("%s fetched %d deliveries over NATS, the API lists %d", p.ID, len(got), len(want))
		}
		for id := range want {
			if !got[id] {
				t.Errorf("%s did not fetch %s", p.ID, id)
			}
		}
		info, err := cons.Info(ctx)
		if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
			t.Errorf("%s: consumer after reading: %+v %v", p.ID, info, err)
		}
		cases += 2 // fetch, acknowledge
		select {
		case err := <-clients[p.ID].errs:
			t.Errorf("%s: %v", p.ID, err)
		default:
		}
	}

	// Operators read audit, dead letters and metadata.
	for _, o := range iso.env.Config.Operators {
		c := iso.connect(t, o.Name)
		names := c.js.StreamNames(ctx)
		var streams []string
		for n := range names.Name() {
			streams = append(streams, n)
		}
		if names.Err() != nil || !slices.Contains(streams, wire.StreamAudit) {
			t.Errorf("%s: stream names %v %v", o.Name, streams, names.Err())
		}
		for _, s := range []string{wire.StreamAudit, wire.StreamDeadLetter} {
			st, err := c.js.Stream(ctx, s)
			if err != nil {
				t.Fatalf("%s: stream %s: %v", o.Name, s, err)
			}
			got, err := st.GetMsg(ctx, 1)
			if err != nil {
				t.Fatalf("%s: first message of %s: %v", o.Name, s, err)
			}
			bs, _ := iso.env.Broker.JetStream().Stream(ctx, s)
			if want, err := bs.GetMsg(ctx, 1); err != nil || string(want.Data) != string(got.Data) {
				t.Errorf("%s: first message of %s differs from the broker's: %v", o.Name, s, err)
			}
		}
		if _, err := c.js.Consumer(ctx, wire.StreamDelivery, wire.DeliveryConsumer("leeds/pct")); err != nil {
			t.Errorf("%s: consumer info: %v", o.Name, err)
		}
		cases += 4 // names, info, get audit, get dead letter
		select {
		case err := <-c.errs:
			t.Errorf("%s: %v", o.Name, err)
		default:
		}
	}
	t.Logf("allowed paths: %d, each working", cases)
}

// The same identities on an external server, configured with the output of
// `ecm-broker nats-config` (bcrypt passwords): the broker logs in as its
// account's user, every participant's and operator's paths work, and a
// participant's forbidden operations are refused.
func TestIsolationExternalServer(t *testing.T) {
	cfg, keys := isolatedConfig(t)
	const password = "external-broker-password"
	text, err := natsauth.AuthConfig(cfg, natsauth.BrokerIdentity{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigString(text); err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.JetStream, opts.StoreDir, opts.NoSigs = "127.0.0.1", -1, true, t.TempDir(), true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	env := testenv.StartWith(t, broker.Options{Config: cfg, NATSURL: s.ClientURL(),
		NATSOpts: []nats.Option{nats.UserInfo(wire.BrokerUser, password)}})
	iso := &isolated{env: env, url: s.ClientURL(), keys: keys}
	runAllowed(t, iso)
	p := cfg.Participants[0]
	c := iso.connect(t, p.ID)
	ds := participantDenials(p, cfg.Participants)
	for _, d := range ds {
		if err := c.try(d); err != nil {
			t.Errorf("%s %s as %s: %v", d.op, d.subject, p.ID, err)
		}
	}
	t.Logf("external server: %d forbidden operations of %s refused", len(ds), p.ID)
}

// The PCT adapter, as shipped, logs in as its participant with id and token
// and feeds the broker under isolation: nothing else is needed on the
// adapter's side (its inboxes are in its own account).
func TestIsolationAdapter(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	dir := t.TempDir()
	var files []string
	err := fs.WalkDir(pct.Samples, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, ".golden.") {
			return err
		}
		b, err := fs.ReadFile(pct.Samples, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.Join(dir, filepath.Base(path)))
		return os.WriteFile(files[len(files)-1], b, 0o600)
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("samples: %v", err)
	}
	err = run.Main(t.Context(), run.Config{Agency: pct.Agency{}, Area: "leeds", Files: files, Server: iso.url,
		User: "leeds/pct", Password: demo.Token("leeds/pct"), Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatalf("adapter: %v", err)
	}
	iso.env.WaitIdle()
	st, err := iso.env.Broker.JetStream().Stream(t.Context(), wire.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n == 0 {
		t.Fatal("nothing ingested")
	}
	if dls := iso.env.DeadLetters(); len(dls) != 0 {
		t.Errorf("dead letters: %v", dls[0].Reasons)
	}
}

// Logging in: without an identity, with another's token, with a token where
// an NKey is configured, with a wrong NKey — all refused.
func TestIsolationAuthentication(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	refused := func(name string, opts ...nats.Option) {
		t.Helper()
		nc, err := nats.Connect(iso.url, append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
			return
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}
	refused("anonymous")
	refused("another's token", nats.UserInfo("leeds/lea", demo.Token("leeds/pct")))
	refused("operator token as participant", nats.UserInfo("leeds/pct", demo.OperatorToken))
	refused("token where an NKey is configured", nats.UserInfo("york/pct", demo.Token("york/pct")))
	refused("the broker without its password", nats.UserInfo(wire.BrokerUser, ""))
	other, _ := nkeys.CreateUser()
	otherPub, _ := other.PublicKey()
	refused("an unknown NKey", nats.Nkey(otherPub, other.Sign))
	yorkPub, _ := iso.keys["york/pct"].PublicKey()
	refused("another's NKey, signed with the wrong seed", nats.Nkey(yorkPub, other.Sign))
	if c, err := iso.dial("leeds/pct"); err != nil {
		t.Errorf("leeds/pct with its token: %v", err)
	} else {
		c.nc.Close()
	}
}

// TLS on the client port, with a throwaway CA: a client trusting the CA
// logs in and works; one that does not trust it, or speaks plain text, is
// refused; the broker's own connection trusts the CA it was given.
func TestTLSClientPort(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	ca.issue(t, dir, "server")
	other := newCA(t, dir, "other")
	iso := startIsolated(t, natsauth.EmbeddedOptions{
		TLSCert: filepath.Join(dir, "server.pem"), TLSKey: filepath.Join(dir, "server-key.pem"), TLSCA: filepath.Join(dir, "ca.pem"),
	}, nats.RootCAs(filepath.Join(dir, "ca.pem")))
	if !strings.HasPrefix(iso.url, "tls://") {
		t.Fatalf("broker connected to %s", iso.url)
	}
	runAllowed(t, iso) // the broker's connection and the participants', over TLS

	creds := nats.UserInfo("leeds/pct", demo.Token("leeds/pct"))
	for name, opts := range map[string][]nats.Option{
		"no CA":      nil,
		"another CA": {nats.RootCAs(filepath.Join(dir, other.name+".pem"))},
	} {
		nc, err := nats.Connect(iso.url, append(opts, creds, nats.MaxReconnects(0), nats.Timeout(2*time.Second))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("%s: %v, want an unknown authority", name, err)
		}
	}
	if err := plainConnect(strings.TrimPrefix(iso.url, "tls://")); err == nil {
		t.Errorf("plain text: connected")
	} else {
		t.Logf("plain text: %v", err)
	}
}

// plainConnect speaks the NATS protocol without TLS and reports the server's
// refusal: it announces tls_required, and a CONNECT in plain text is refused.
func plainConnect(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !strings.Contains(string(buf[:n]), `"tls_required":true`) {
		return nil
	}
	connect := fmt.Sprintf(`CONNECT {"user":"leeds/pct","pass":%q,"verbose":false}`+"\r\nPING\r\n", demo.Token("leeds/pct"))
	if _, err := conn.Write([]byte(connect)); err != nil {
		return err
	}
	n, err = conn.Read(buf)
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	if strings.HasPrefix(string(buf[:n]), "PONG") {
		return nil
	}
	return fmt.Errorf("refused: %s", buf[:n])
}

// ca is a throwaway certificate authority written to a test's directory.
type ca struct {
	name string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, dir, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ecm-broker test CA " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	return &ca{name: name, cert: cert, key: key}
}

// issue writes a server certificate for 127.0.0.1 and localhost signed by c.
func (c *ca) issue(t *testing.T, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+"-key.pem"), "EC PRIVATE KEY", kder)
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func dots(id string) string { return strings.ReplaceAll(id, "/", ".") }

// child is the n-th test UIN of this file.
func child(n int) string {
	for k := 0; ; k++ {
		if u, ok := uin.WithCheckDigit(fmt.Sprintf("7%06d%02d", n, k)); ok {
			return u
		}
	}
}
