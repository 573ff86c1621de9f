package e2e

// The operator and IG-lead features end to end, through ecmctl against a
// running broker: audit verification of the stream and of tampered copies,
// replay after an outage, impact analysis of a policy change with a known
// effect, subject access, and erasure.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/natsauth"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/policies"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	ecmctlOnce sync.Once
	ecmctlBin  string
	ecmctlErr  error
)

// ecmctlBinary builds ecmctl once for the tests of this file.
func ecmctlBinary(t *testing.T) string {
	t.Helper()
	ecmctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ecmctl-ops")
		if err != nil {
			ecmctlErr = err
			return
		}
		ecmctlBin = filepath.Join(dir, "ecmctl")
		if out, err := exec.Command("go", "build", "-o", ecmctlBin, "../../cmd/ecmctl").CombinedOutput(); err != nil {
			ecmctlErr = &buildError{err, string(out)}
		}
	})
	if ecmctlErr != nil {
		t.Fatalf("building ecmctl: %v", ecmctlErr)
	}
	return ecmctlBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// cli runs ecmctl against env and returns its stdout, stderr and exit code.
func cli(t *testing.T, env *testenv.Env, token string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(ecmctlBinary(t), append([]string{"--server", env.Base, "--token", token}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// auditMsgs reads every message of the audit stream, as messages to publish
// elsewhere (subject kept, message id left out).
func auditMsgs(t *testing.T, js jetstream.JetStream) []*nats.Msg {
	t.Helper()
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, wire.StreamAudit, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := js.Stream(ctx, wire.StreamAudit)
	var out []*nats.Msg
	for n := info.CachedInfo().State.Msgs; n > 0; n-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		c := nats.NewMsg(m.Subject())
		for k, v := range m.Headers() {
			if k != jetstream.MsgIDHeader {
				c.Header[k] = v
			}
		}
		c.Data = append([]byte(nil), m.Data()...)
		out = append(out, c)
	}
	return out
}

// copyAudit writes msgs to a new stream, a copy of the audit (subjects
// under copy.<name>.).
func copyAudit(t *testing.T, js jetstream.JetStream, name string, msgs []*nats.Msg) {
	t.Helper()
	ctx := context.Background()
	prefix := "copy." + strings.ToLower(name)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		c := nats.NewMsg(prefix + "." + m.Subject)
		c.Header, c.Data = m.Header, m.Data
		if _, err := js.PublishMsg(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}

// chainRecords are the positions of the records of one chain in msgs.
func chainRecords(msgs []*nats.Msg) []int {
	// The longest chain: the first record of the audit may be the policy's
	// activation at start, alone on its chain.
	byChain := map[string][]int{}
	var order []string
	for i, m := range msgs {
		var l struct {
			Chain string `json:"chain"`
		}
		_ = json.Unmarshal(m.Data, &l)
		if l.Chain == "" {
			continue
		}
		if _, ok := byChain[l.Chain]; !ok {
			order = append(order, l.Chain)
		}
		byChain[l.Chain] = append(byChain[l.Chain], i)
	}
	var out []int
	for _, c := range order {
		if len(byChain[c]) > len(out) {
			out = byChain[c]
		}
	}
	return out
}

// The audit of the demo verifies; copies of it with a record edited,
// removed or moved do not, and ecmctl says where and exits 1.
func TestOpsAuditVerifyAndTamper(t *testing.T) {
	env := runDemo(t)
	if err := env.Broker.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cli(t, env, demo.OperatorToken, "audit", "verify")
	if code != 0 || !strings.Contains(out, "OK: every link holds") {
		t.Fatalf("audit verify: %d\n%s%s", code, out, errOut)
	}
	js := env.Broker.JetStream()
	msgs := auditMsgs(t, js)
	recs := chainRecords(msgs)
	if len(recs) < 3 {
		t.Fatalf("chain of %d records", len(recs))
	}
	copyAudit(t, js, "ECM_AUDIT_COPY", msgs)
	edited := append([]*nats.Msg(nil), msgs...)
	e := *msgs[recs[1]]
	// Back-date the record's decision: every record has decided_at.
	e.Data = bytes.Replace(e.Data, []byte(`"decided_at":"2`), []byte(`"decided_at":"1`), 1)
	if bytes.Equal(e.Data, msgs[recs[1]].Data) {
		t.Fatalf("the edit changed nothing in %s", msgs[recs[1]].Data)
	}
	edited[recs[1]] = &e
	copyAudit(t, js, "ECM_AUDIT_EDITED", edited)
	deleted := append(append([]*nats.Msg(nil), msgs[:recs[1]]...), msgs[recs[1]+1:]...)
	copyAudit(t, js, "ECM_AUDIT_DELETED", deleted)
	reordered := append([]*nats.Msg(nil), msgs...)
	reordered[recs[1]], reordered[recs[2]] = reordered[recs[2]], reordered[recs[1]]
	copyAudit(t, js, "ECM_AUDIT_REORDERED", reordered)
	pub := env.Broker.AuditPublicKey()
	if out, errOut, code := cli(t, env, demo.OperatorToken, "audit", "verify", "--stream", "ECM_AUDIT_COPY", "--public-key", pub); code != 0 {
		t.Errorf("an exact copy: %d\n%s%s", code, out, errOut)
	}
	for stream, want := range map[string]string{
		"ECM_AUDIT_EDITED":    "that record was changed or replaced",
		"ECM_AUDIT_DELETED":   "missing or moved",
		"ECM_AUDIT_REORDERED": "missing or moved",
	} {
		out, errOut, code := cli(t, env, demo.OperatorToken, "audit", "verify", "--stream", stream)
		if code != 1 || !strings.Contains(errOut, "first broken link at sequence") || !strings.Contains(errOut, want) || !strings.Contains(out, "BROKEN") {
			t.Errorf("%s: exit %d\nstdout %s\nstderr %s", stream, code, out, errOut)
		}
	}
}

// A participant that was not configured while the demo ran has no decision
// recorded for it, so a replay sends it nothing: that would disclose what
// was never decided (issue 11). A backfill does it, in two steps: the dry
// run shows York's school the transfer of the child who moved there as newly
// disclosed and sends nothing; confirmed with the dry run's id, it sends
// that, once, and nothing else.
func TestOpsReplayAfterOutage(t *testing.T) {
	dir := t.TempDir()
	without := demo.Config()
	var keep []config.Participant
	for _, p := range without.Participants {
		if p.ID != "york/lea" {
			keep = append(keep, p)
		}
	}
	without.Participants = keep
	env := testenv.StartWith(t, broker.Options{Config: without, Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
	for _, s := range demo.Steps() {
		ev := testenv.Event(s.From, s.Name, demo.Children[s.Child], s.Data)
		if s.Override != "" {
			ev["override"] = s.Override
		}
		env.MustPublish(s.From, ev)
	}
	env.WaitIdle()
	env.Broker.Close()

	env = testenv.StartWith(t, broker.Options{Embedded: natsauth.EmbeddedOptions{StoreDir: dir}})
	if n := len(env.Deliveries("york/lea")); n != 0 {
		t.Fatalf("york/lea holds %d copies before the replay", n)
	}
	out, errOut, code := cli(t, env, demo.OperatorToken, "replay", "--participant", "york/lea")
	if code != 0 || !strings.Contains(out, "0 delivered, 0 already held") || !strings.Contains(out, "no-recorded-decision") ||
		!strings.Contains(errOut, "history: ") || len(env.Deliveries("york/lea")) != 0 {
		t.Fatalf("replay: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, env, demo.OperatorToken, "backfill", "--participant", "york/lea")
	if code != 0 || !strings.Contains(out, "1 would be sent, 1 of them newly disclosed") || len(env.Deliveries("york/lea")) != 0 {
		t.Fatalf("backfill dry run: %d\n%s%s", code, out, errOut)
	}
	_, id, _ := strings.Cut(out, "--confirm ")
	id, _, _ = strings.Cut(id, " ")
	out, errOut, code = cli(t, env, demo.OperatorToken, "backfill", "--participant", "york/lea", "--confirm", id)
	if code != 0 || !strings.Contains(out, "1 sent, 1 of them newly disclosed") {
		t.Fatalf("backfill --confirm %s: %d\n%s%s", id, code, out, errOut)
	}
	got := env.Deliveries("york/lea")
	if len(got) != 1 || got[0].Event["type"] != "uk.gov.ecm.index.transferred.v1" || got[0].Basis != "s12-move" ||
		got[0].Event["subject"] != demo.Children["Amy (4)"] {
		t.Fatalf("york/lea holds %+v", got)
	}
	out, _, code = cli(t, env, demo.OperatorToken, "backfill", "--participant", "york/lea")
	if code != 0 || !strings.Contains(out, "0 would be sent, 0 of them newly disclosed; 1 already held") || len(env.Deliveries("york/lea")) != 1 {
		t.Errorf("second backfill: %s", out)
	}
}

// writeDraft writes the built-in policy (modules, tests and data files) to
// a directory with edits, each a pair of texts: old, new.
func writeDraft(t *testing.T, module string, edits ...string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := policies.Read(policies.FS, true)
	if err != nil {
		t.Fatal(err)
	}
	for p, src := range files {
		b := []byte(src)
		if p == module {
			for i := 0; i+1 < len(edits); i += 2 {
				if !bytes.Contains(b, []byte(edits[i])) {
					t.Fatalf("%s no longer holds %q: update the test's draft", module, edits[i])
				}
				b = bytes.Replace(b, []byte(edits[i]), []byte(edits[i+1]), 1)
			}
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// policeCells are the cells of matrix.yaml that tell education and health
// of domestic abuse the child was present at (rule 7).
const policeCells = `        lea:
          when: child-present-at-domestic-abuse
          basis: police-notification
          remove: [data.summary]
          reason: "the child was present at domestic abuse: education is told, without the police summary (s.11)"
          source: CA 2004 s.11; EA 2002 s.175 via s.11(3)
          agreement: operation-encompass
        pct:
          when: child-under-5-present-at-domestic-abuse
          basis: police-notification
          remove: [data.summary]
          reason: "a child under 5 was present at domestic abuse: the PCT is told, without the police summary (s.11)"
          source: CA 2004 s.11 (health visiting)
          agreement: operation-encompass
`

// Dropping the police-notification rule (education and health are no
// longer told of a young child present at domestic abuse) changes exactly
// two decisions of the demo: Amy's incident to Leeds's school and PCT.
func TestOpsImpactOfDroppingPoliceNotification(t *testing.T) {
	env := runDemo(t)
	draft := writeDraft(t, "matrix.yaml", policeCells, "", "      involved:\n"+policeCells, "")
	out, errOut, code := cli(t, env, demo.OperatorToken, "impact", "--policy", draft, "--json")
	if code != 0 {
		t.Fatalf("impact: %d %s", code, errOut)
	}
	var rep struct {
		ChangedDecisions int      `json:"changed_decisions"`
		ChangedEvents    int      `json:"changed_events"`
		AffectedTypes    []string `json:"affected_types"`
		Participants     []struct {
			Participant  string `json:"participant"`
			EventsLost   int    `json:"events_lost"`
			EventsGained int    `json:"events_gained"`
		} `json:"participants"`
		Samples []struct {
			Participant string `json:"participant"`
			Type        string `json:"type"`
			Current     struct {
				Allow bool   `json:"allow"`
				Basis string `json:"basis"`
			} `json:"current"`
			Draft struct {
				Allow bool   `json:"allow"`
				Basis string `json:"basis"`
			} `json:"draft"`
		} `json:"samples"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var changed []string
	for _, s := range rep.Samples {
		changed = append(changed, s.Participant+" "+s.Type+" "+s.Current.Basis+"→"+s.Draft.Basis)
	}
	sort.Strings(changed)
	want := []string{"leeds/lea uk.gov.ecm.police.incident.v1 police-notification→no-rule", "leeds/pct uk.gov.ecm.police.incident.v1 police-notification→no-rule"}
	if rep.ChangedDecisions != 2 || rep.ChangedEvents != 1 || strings.Join(changed, "|") != strings.Join(want, "|") {
		t.Errorf("changed %d decisions in %d events: %v", rep.ChangedDecisions, rep.ChangedEvents, changed)
	}
	for _, p := range rep.Participants {
		if p.EventsLost != 1 || p.EventsGained != 0 || (p.Participant != "leeds/lea" && p.Participant != "leeds/pct") {
			t.Errorf("participant %+v", p)
		}
	}
	out, _, _ = cli(t, env, demo.OperatorToken, "impact", "--policy", draft)
	if !strings.Contains(out, "Changed: 2 decisions in 1 event") || !strings.Contains(out, "leeds/lea") {
		t.Errorf("table:\n%s", out)
	}
}

// The subject access export of a demo child is its history exactly; after
// the child's erasure no stream holds its data, and the audit verifies.
func TestOpsSubjectAccessThenErasure(t *testing.T) {
	env := runDemo(t)
	ben := demo.Children["Ben (14)"]
	out, errOut, code := cli(t, env, demo.OperatorToken, "sar", "--child", ben, "--json")
	if code != 0 {
		t.Fatalf("sar: %d %s", code, errOut)
	}
	var sa api.SubjectAccess
	if err := json.Unmarshal([]byte(out), &sa); err != nil {
		t.Fatal(err)
	}
	var events, disclosures []string
	for _, e := range sa.Events {
		var ev map[string]any
		_ = json.Unmarshal(e.Event, &ev)
		events = append(events, strings.TrimSuffix(strings.TrimPrefix(ev["type"].(string), "uk.gov.ecm."), ".v1"))
	}
	for _, d := range sa.Disclosures {
		disclosures = append(disclosures, strings.TrimSuffix(strings.TrimPrefix(d.Type, "uk.gov.ecm."), ".v1")+" "+d.Participant+" "+d.Basis)
	}
	var steps []string
	for _, s := range demo.Steps() {
		if s.Child == "Ben (14)" {
			steps = append(steps, s.Name)
		}
	}
	decided := 0
	for _, r := range sa.Decisions {
		if r.Outcome == "decided" {
			decided++
		}
	}
	if strings.Join(events, ",") != strings.Join(steps, ",") || decided != len(steps) {
		t.Errorf("events %v, want %v; %d decisions", events, steps, decided)
	}
	if sa.Index == nil || sa.Index.DOB != "2012-06-01" || sa.Consent == nil || len(sa.Consent.Entries) != 2 ||
		sa.Consent.Entries[0].Kind != "granted" || sa.Consent.Entries[1].Kind != "withdrawn" {
		t.Errorf("index %+v consent %+v", sa.Index, sa.Consent)
	}
	wantDisclosures := []string{
		"index.child.registered leeds/la-social-care s12-index",
		"consent.granted leeds/la-social-care consent",
		"consent.granted leeds/pct consent",
		"caf.completed leeds/la-social-care consent",
		"caf.completed leeds/pct consent",
		"consent.withdrawn leeds/pct consent",
		"caf.completed leeds/la-social-care consent",
	}
	if strings.Join(disclosures, "\n") != strings.Join(wantDisclosures, "\n") {
		t.Errorf("disclosures:\n%s\nwant:\n%s", strings.Join(disclosures, "\n"), strings.Join(wantDisclosures, "\n"))
	}
	report, _, _ := cli(t, env, demo.OperatorToken, "sar", "--child", ben)
	for _, want := range []string{"SUBJECT ACCESS: child " + ben, "6. Disclosures (7)", `family: "Brown"`} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Its publisher asks who received its events about Ben.
	out, _, code = cli(t, env, demo.Token("leeds/lea"), "disclosures", "--child", ben)
	if code != 0 || !strings.Contains(out, "Events of leeds/lea about child ******5870: 6") {
		t.Errorf("disclosures:\n%s", out)
	}

	out, errOut, code = cli(t, env, demo.OperatorToken, "erase", "--child", ben, "--reason", "e2e: subject asked for erasure", "--yes")
	if code != 0 || !strings.Contains(out, "6 events, 7 delivered copies") {
		t.Fatalf("erase: %d\n%s%s", code, out, errOut)
	}
	js := env.Broker.JetStream()
	ctx := context.Background()
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := js.Stream(ctx, name)
		for n := s.CachedInfo().State.Msgs; n > 0; n-- {
			m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			hdr, _ := json.Marshal(m.Headers())
			for _, needle := range []string{ben, "Brown", "Falling behind in maths", "Asthma not well managed"} {
				if bytes.Contains(m.Data(), []byte(needle)) || bytes.Contains(hdr, []byte(needle)) {
					t.Errorf("%s still holds %q (%s)", name, needle, m.Subject())
				}
			}
		}
	}
	if err := env.Broker.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = cli(t, env, demo.OperatorToken, "audit", "verify")
	if code != 0 {
		t.Errorf("audit verify after the erasure: %d\n%s%s", code, out, errOut)
	}
	out, _, _ = cli(t, env, demo.OperatorToken, "audit", "--child", ben)
	if !strings.Contains(out, "erased") {
		t.Errorf("the erasure is not in the child's audit:\n%s", out)
	}
}
