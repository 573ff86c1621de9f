package e2e

// No participant can make another's events disappear, nor learn another's
// activity from its own publishes (issue 11, section 5): each participant's
// events are stored first in its own stream (wire.IngestStream), so message
// ids, sequences and the Nats-Expected-* checks mean something only among its
// own events. Checked over the real embedded server with isolation on, each
// participant logged in as itself.

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// eventMsg is ev as a participant's adapter publishes it: structured, on
// from's subject for the child, under the id <source>#<id>.
func eventMsg(from string, ev map[string]any) *nats.Msg {
	b, _ := json.Marshal(ev)
	m := nats.NewMsg(wire.IngestSubject(from, ev["subject"].(string)))
	m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
	m.Header.Set(jetstream.MsgIDHeader, cenats.MsgID(ev["source"].(string), ev["id"].(string)))
	m.Data = b
	return m
}

// york/pct, over its own NATS identity, publishes junk on its own subject
// under the message ids leeds/police's next two events will have (an
// adapter's ids are predictable: UUIDv5 of the record). Then leeds/police
// publishes the real events, one over NATS and one over HTTP: neither is
// taken for a duplicate, both are stored and decided, and each reaches
// exactly the participants its decision allowed. The junk is dead-lettered
// as york/pct's. Before each participant had its own stream, ECM_INGEST's
// duplicate detection answered leeds/police's NATS publish "duplicate" and
// dropped it, and its HTTP publish 409.
func TestIsolationForeignMsgID(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	ctx := t.Context()
	york := iso.connect(t, "york/pct")       // NKey
	police := iso.connect(t, "leeds/police") // id and token
	leedsPCT := iso.connect(t, "leeds/pct")  // registers the child
	dana := child(11)
	if _, err := leedsPCT.js.PublishMsg(ctx, eventMsg("leeds/pct", testenv.Event("leeds/pct", "index.child.registered", dana, map[string]any{
		"name": map[string]any{"given": "Dana", "family": "Doe"}, "dob": time.Now().AddDate(-12, 0, 0).Format("2006-01-02"),
		"gender": "female", "address": map[string]any{"lines": []any{"1 High Street", "Leeds"}, "postcode": "LS1 1AA"}, "area": "leeds"}))); err != nil {
		t.Fatal(err)
	}
	iso.env.WaitIdle()

	referral := map[string]any{"category": "neglect", "summary": "Found alone at night.", "significant_harm": true}
	overNATS := testenv.Event("leeds/police", "safeguarding.referral", dana, referral)
	overHTTP := testenv.Event("leeds/police", "safeguarding.referral", dana, referral)
	for _, ev := range []map[string]any{overNATS, overHTTP} {
		junk := nats.NewMsg(wire.IngestSubject("york/pct", dana))
		junk.Header.Set(jetstream.MsgIDHeader, cenats.MsgID("/leeds/police", ev["id"].(string)))
		junk.Data = []byte("junk taking leeds/police's next id")
		ack, err := york.js.PublishMsg(ctx, junk)
		if err != nil {
			t.Fatalf("york/pct publishing on its own subject: %v", err)
		}
		if ack.Duplicate {
			t.Fatalf("york/pct's junk: ack %+v", ack)
		}
	}

	ack, err := police.js.PublishMsg(ctx, eventMsg("leeds/police", overNATS))
	if err != nil {
		t.Fatalf("leeds/police over NATS: %v", err)
	}
	if ack.Duplicate {
		t.Errorf("leeds/police's event over NATS was taken for a duplicate of york/pct's junk (ack %+v): it would be dropped", ack)
	}
	b, _ := json.Marshal(overHTTP)
	r := iso.env.Do("POST", "/v1/events", demo.Token("leeds/police"), cenats.ContentTypeStructured, b)
	var res api.IngestResult
	r.JSON(t, &res)
	if r.Code != http.StatusAccepted || res.Outcome != "accepted" {
		t.Errorf("leeds/police's event over HTTP: %d %s, want 202 accepted", r.Code, r.Body)
	}
	iso.env.WaitIdle()

	recs := iso.env.Decisions(dana)
	for _, ev := range []map[string]any{overNATS, overHTTP} {
		id := ev["id"].(string)
		var rec *api.AuditRecord
		for i := range recs {
			if recs[i].EventID == id && recs[i].Source == "/leeds/police" {
				rec = &recs[i]
			}
		}
		if rec == nil {
			t.Errorf("leeds/police's event %s was never decided", id)
			continue
		}
		allowed := 0
		for _, d := range rec.Decisions {
			got := false
			for _, c := range iso.env.Deliveries(d.Participant) {
				got = got || c.Event["id"] == id
			}
			if got != d.Allow {
				t.Errorf("event %s: decision for %s allows %v, delivered %v", id, d.Participant, d.Allow, got)
			}
			if d.Allow {
				allowed++
			}
		}
		if allowed == 0 {
			t.Errorf("event %s: the policy allowed nobody, the test proves nothing: %+v", id, rec.Decisions)
		}
	}
	junk := 0
	for _, dl := range iso.env.DeadLetters() {
		if dl.Publisher == "york/pct" && strings.Contains(dl.BodyText, "junk") {
			junk++
		}
	}
	if junk != 2 {
		t.Errorf("york/pct's junk: %d dead letters, want 2", junk)
	}
}

// What a participant sees of the ingest through its own publishes is its own
// events only: the sequences in its acknowledgements (NATS and HTTP) count
// its events and nothing else; Nats-Expected-Last-Sequence,
// Nats-Expected-Last-Subject-Sequence (on another participant's subject
// too) and Nats-Expected-Last-Msg-Id answer from its own events; a
// duplicate answer comes only for its own ids. Before, the acknowledgement
// carried ECM_INGEST's sequence, so the gap between two of york/pct's
// publishes counted leeds/police's events, and the expected-sequence and
// expected-id errors named leeds/police's sequence and message id.
func TestIsolationIngestSequencesOwn(t *testing.T) {
	iso := startIsolated(t, natsauth.EmbeddedOptions{})
	ctx := t.Context()
	york := iso.connect(t, "york/pct")
	police := iso.connect(t, "leeds/police")
	dana := child(12)
	referral := map[string]any{"category": "neglect", "summary": "Found alone at night.", "significant_harm": false}

	var yorkSeqs []uint64
	for i := 0; i < 3; i++ {
		ack, err := york.js.PublishMsg(ctx, eventMsg("york/pct", testenv.Event("york/pct", "safeguarding.referral", dana, referral)))
		if err != nil {
			t.Fatal(err)
		}
		yorkSeqs = append(yorkSeqs, ack.Sequence)
		for j := 0; j < 2; j++ { // leeds/police's activity in between
			ev := testenv.Event("leeds/police", "safeguarding.referral", dana, referral)
			if _, err := police.js.PublishMsg(ctx, eventMsg("leeds/police", ev)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Over HTTP, on york/pct's behalf: the next of its own.
	b, _ := json.Marshal(testenv.Event("york/pct", "safeguarding.referral", dana, referral))
	r := iso.env.Do("POST", "/v1/events", demo.Token("york/pct"), cenats.ContentTypeStructured, b)
	var res api.IngestResult
	r.JSON(t, &res)
	if r.Code != http.StatusAccepted {
		t.Fatalf("york/pct over HTTP: %d %s", r.Code, r.Body)
	}
	yorkSeqs = append(yorkSeqs, res.Seq)
	for i, seq := range yorkSeqs {
		if seq != uint64(i+1) {
			t.Errorf("york/pct's acknowledgements carry sequences %v, want 1 2 3 4: the gaps count others' events", yorkSeqs)
			break
		}
	}

	// expectErr publishes a York event with the given headers and returns
	// the server's refusal.
	expectErr := func(name string, headers ...string) string {
		t.Helper()
		m := eventMsg("york/pct", testenv.Event("york/pct", "safeguarding.referral", dana, referral))
		for i := 0; i+1 < len(headers); i += 2 {
			m.Header.Set(headers[i], headers[i+1])
		}
		_, err := york.js.PublishMsg(ctx, m)
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("%s: %v, want the server's refusal", name, err)
		}
		return apiErr.Description
	}
	// leeds/police publishes last, just before York's checks.
	lastPolice := testenv.Event("leeds/police", "safeguarding.referral", dana, referral)
	if _, err := police.js.PublishMsg(ctx, eventMsg("leeds/police", lastPolice)); err != nil {
		t.Fatal(err)
	}
	policeSubject := wire.IngestSubject("leeds/police", dana)
	policeStored := uint64(7)
	if d := expectErr("expected last sequence", jetstream.ExpectedLastSeqHeader, "1000"); !strings.HasSuffix(d, ": 4") {
		t.Errorf("Nats-Expected-Last-Sequence: %q, want york/pct's own last sequence, 4", d)
	}
	policeID := cenats.MsgID("/leeds/police", lastPolice["id"].(string))
	if d := expectErr("expected last msg id", jetstream.ExpectedLastMsgIDHeader, "none"); strings.Contains(d, "police") {
		t.Errorf("Nats-Expected-Last-Msg-Id: %q names leeds/police's message id", d)
	}
	// Another participant's subject, named for the check: nothing of its
	// there, as if it had never published.
	m := eventMsg("york/pct", testenv.Event("york/pct", "safeguarding.referral", dana, referral))
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, policeSubject)
	if ack, err := york.js.PublishMsg(ctx, m); err != nil {
		t.Errorf("expecting nothing on leeds/police's subject (it has published %d events there): %v", policeStored, err)
	} else if ack.Sequence != 5 {
		t.Errorf("york/pct's fifth event: sequence %d", ack.Sequence)
	}
	if d := expectErr("expected last subject sequence", jetstream.ExpectedLastSubjSeqHeader, "1000",
		jetstream.ExpectedLastSubjSeqSubjHeader, policeSubject); !strings.HasSuffix(d, ": 0") {
		t.Errorf("Nats-Expected-Last-Subject-Sequence on leeds/police's subject: %q, want 0", d)
	}
	// Nothing on its stream acts on other messages: roll-ups (a purge) and
	// per-message TTLs are refused.
	expectErr("roll-up", "Nats-Rollup", "sub")
	expectErr("TTL", "Nats-TTL", "1s")
	// leeds/police's id, published by york/pct on its own subject: stored
	// (and dead-lettered), not an answer saying whether leeds/police used it.
	probe := nats.NewMsg(wire.IngestSubject("york/pct", dana))
	probe.Header.Set(jetstream.MsgIDHeader, policeID)
	probe.Data = []byte("probe")
	if ack, err := york.js.PublishMsg(ctx, probe); err != nil || ack.Duplicate || ack.Sequence != 6 {
		t.Errorf("york/pct publishing leeds/police's last id: ack %+v, %v; want its own sixth, not a duplicate", ack, err)
	}
	iso.env.WaitIdle()
	// Meanwhile leeds/police's own events are all there, its sequences its own.
	ack, err := police.js.PublishMsg(ctx, eventMsg("leeds/police", lastPolice))
	if err != nil || !ack.Duplicate || ack.Sequence != policeStored {
		t.Errorf("leeds/police's retried last event: ack %+v, %v; want a duplicate of its own seventh", ack, err)
	}
}

// A store written before the participants had their own streams, where
// ECM_INGEST took the publishes itself: at start the broker turns it into
// the stream that sources theirs. The events it holds keep their sequences
// (child states name them) and are taken through the pipeline, new events
// follow them in sequence, and the broker sees when it has caught up.
func TestIngestUpgradeFromSingleStream(t *testing.T) {
	dir := t.TempDir()
	old := []map[string]any{}
	func() { // the old layout, as the previous version made it
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		defer s.Shutdown()
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		_, filters := wire.PartitionConsumers()
		if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: wire.StreamIngest,
			Subjects: append(filters, wire.IngestUnrouted), Duplicates: 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		referral := map[string]any{"category": "neglect", "summary": "Published before the upgrade.", "significant_harm": true}
		for i := 0; i < 3; i++ {
			ev := testenv.Event("leeds/police", "safeguarding.referral", child(21), referral)
			if _, err := js.PublishMsg(t.Context(), eventMsg("leeds/police", ev)); err != nil {
				t.Fatal(err)
			}
			old = append(old, ev)
		}
	}()

	env := testenv.Start(t, dir)
	js := env.Broker.JetStream()
	s, err := js.Stream(t.Context(), wire.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; len(cfg.Subjects) != 0 || len(cfg.Sources) != len(env.Config.Participants) || cfg.Duplicates != 0 {
		t.Fatalf("%s after the upgrade: subjects %v, %d sources, duplicate window %v", wire.StreamIngest, cfg.Subjects, len(cfg.Sources), cfg.Duplicates)
	}
	fresh := testenv.Event("leeds/police", "safeguarding.referral", child(21), map[string]any{"category": "neglect", "summary": "After.", "significant_harm": true})
	env.MustPublish("leeds/police", fresh)
	env.WaitIdle()
	seqs := map[string]uint64{}
	for _, r := range env.Audit(child(21)) {
		seqs[r.EventID] = r.IngestSeq
	}
	for i, ev := range old {
		if got := seqs[ev["id"].(string)]; got != uint64(i+1) {
			t.Errorf("event %d published before the upgrade: decided at ingest sequence %d, want %d", i+1, got, i+1)
		}
	}
	if got := seqs[fresh["id"].(string)]; got != 4 {
		t.Errorf("the first event after the upgrade: decided at ingest sequence %d, want 4", got)
	}
}

// While ECM_INGEST cannot take a participant's events, the participant's
// own stream has acknowledged them and ecm_ingest_unsourced counts them (they
// would expire unread after the duplicate window: an operator must see it);
// once ECM_INGEST can again, they are taken in and decided, in order.
func TestIngestUnsourcedIsVisible(t *testing.T) {
	env := testenv.Start(t, "")
	ctx := t.Context()
	js := env.Broker.JetStream()
	dana := child(31)
	referral := map[string]any{"category": "neglect", "summary": "Held back.", "significant_harm": true}
	first := testenv.Event("leeds/police", "safeguarding.referral", dana, referral)
	env.MustPublish("leeds/police", first)
	env.WaitIdle()
	s, err := js.Stream(ctx, wire.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	refusing := cfg
	refusing.MaxMsgs, refusing.Discard = 1, jetstream.DiscardNew // full: sourcing fails and is retried
	if _, err := js.UpdateStream(ctx, refusing); err != nil {
		t.Fatal(err)
	}
	ids := []string{first["id"].(string)}
	for i := 0; i < 3; i++ { // over NATS: acknowledged by leeds/police's own stream
		ev := testenv.Event("leeds/police", "safeguarding.referral", dana, referral)
		if _, err := js.PublishMsg(ctx, eventMsg("leeds/police", ev)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev["id"].(string))
	}
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, env, "ecm_ingest_unsourced") != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("ecm_ingest_unsourced = %v while ECM_INGEST refuses, want 3", metricValue(t, env, "ecm_ingest_unsourced"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	env.WaitIdle()
	if v := metricValue(t, env, "ecm_ingest_unsourced"); v != 0 {
		t.Errorf("ecm_ingest_unsourced = %v after ECM_INGEST takes events again", v)
	}
	var decided []string
	for _, r := range env.Decisions(dana) {
		decided = append(decided, r.EventID)
	}
	if strings.Join(decided, ",") != strings.Join(ids, ",") {
		t.Errorf("decided %v, want %v in order", decided, ids)
	}
}

// An HTTP answer orders the event before anything published after it,
// whoever publishes it: participants publishing one after another, each
// waiting for its answer, are taken into ECM_INGEST (and decided) in that
// order. Each participant's stream is taken in side by side with the
// others', so without the broker waiting for its event to be taken in
// before answering, events published right after the start (before the
// sources are set up) were taken in one participant at a time.
func TestIngestOrderAcrossPublishers(t *testing.T) {
	env := testenv.Start(t, "")
	dana := child(41)
	from := []string{"leeds/pct", "leeds/police", "leeds/lea", "york/pct"}
	referral := map[string]any{"category": "neglect", "summary": "In order.", "significant_harm": false}
	var want []string
	for i := 0; i < 24; i++ {
		p := from[i%len(from)]
		ev := testenv.Event(p, "safeguarding.referral", dana, referral)
		env.MustPublish(p, ev)
		want = append(want, ev["id"].(string))
	}
	env.WaitIdle()
	var got []string
	err := store.Scan(t.Context(), env.Broker.JetStream(), wire.StreamIngest, store.ScanOpts{}, func(m store.Msg) error {
		var ev map[string]any
		if json.Unmarshal(m.Data, &ev) == nil {
			got = append(got, ev["id"].(string))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ECM_INGEST took the events in as\n%v\nthey were answered as\n%v", got, want)
	}
}
