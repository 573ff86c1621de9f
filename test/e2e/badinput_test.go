package e2e

// The bad-input corpus: test/testdata/bad holds several hundred inputs a
// hostile or broken publisher could send, each listed in MANIFEST.tsv with
// what the broker must answer. TestBadInputCorpus sends them all to one
// running broker, over HTTP (structured, binary, batch) and over NATS, and
// then checks that the broker is still serving and that every refusal is in
// the dead letters with its reason. TestGenerateBadCorpus (with -generate)
// rewrites the corpus from the tables below; see test/testdata/bad/README.md
// for the file formats.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/cenats"
	"github.com/ecm-broker/ecm-broker/demo"
	"github.com/ecm-broker/ecm-broker/test/testenv"
	"github.com/ecm-broker/ecm-broker/uin"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var (
	generateCorpus = flag.Bool("generate", false, "rewrite test/testdata/bad from TestGenerateBadCorpus's tables")
	badSkip        = flag.String("badinput.skip", "", "regexp: corpus files TestBadInputCorpus leaves out (e.g. a crasher while it is being fixed)")
)

const (
	badDir = "../testdata/bad"
	badCal = "4010232137" // a third child, in a partition of its own

	badAmyNeighbour = "9434765021" // another child in amy's partition
)

// ---------------------------------------------------------------------------
// The runner.

// badEntry is one line of MANIFEST.tsv.
type badEntry struct {
	file, mode, publisher, status, expect, prime, note string
}

func badReadManifest(t *testing.T) []badEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(badDir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []badEntry
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			t.Fatalf("MANIFEST.tsv line %d: %d columns, want 7", i+1, len(f))
		}
		e := badEntry{f[0], f[1], f[2], f[3], f[4], f[5], f[6]}
		if seen[e.file] {
			t.Fatalf("MANIFEST.tsv line %d: %s listed twice", i+1, e.file)
		}
		seen[e.file] = true
		out = append(out, e)
	}
	// Every corpus file is listed: a file nobody checks is no test.
	files, _ := os.ReadDir(badDir)
	for _, f := range files {
		if !f.IsDir() && f.Name() != "MANIFEST.tsv" && f.Name() != "README.md" && !seen[f.Name()] {
			t.Errorf("%s is not in MANIFEST.tsv", f.Name())
		}
	}
	return out
}

// badWantDL is a dead letter an input must have left. An HTTP input's
// dead letters are written before it is answered, so they are the ones
// between the dead-letter stream's last sequence before and after it (from,
// to]; a NATS input's are written later and are found by what they say.
type badWantDL struct {
	input, publisher, expect string
	size                     int
	n                        int    // dead letters expected (a batch's refused events)
	from, to                 uint64 // HTTP only
}

// badRun is the state of one walk through the corpus.
type badRun struct {
	t        *testing.T
	env      *testenv.Env
	client   *http.Client
	want     []badWantDL
	rejected int // inputs (or batch events) the broker refused
	beats    []string
	dlLast   uint64 // the dead-letter stream's last sequence after the previous input
	unready  bool   // /readyz did not answer 200 after the previous input
}

func TestBadInputCorpus(t *testing.T) {
	entries := badReadManifest(t)
	if len(entries) < 200 {
		t.Fatalf("the corpus has %d inputs, want at least 200", len(entries))
	}
	var skip *regexp.Regexp
	if *badSkip != "" {
		skip = regexp.MustCompile(*badSkip)
	}

	// A handler panic is recovered by net/http and only logged: capture the
	// standard logger to see it. The broker's own errors go to an observer.
	var logBuf badLogBuffer
	log.SetOutput(io.MultiWriter(&logBuf, os.Stderr))
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	core, logs := observer.New(zapcore.WarnLevel)
	env := testenv.StartWith(t, broker.Options{Logger: zap.New(core)})

	r := &badRun{t: t, env: env, client: &http.Client{Timeout: 60 * time.Second}}
	start := time.Now()
	for i, e := range entries {
		if skip != nil && skip.MatchString(e.file) {
			t.Logf("%s: skipped (-badinput.skip)", e.file)
			continue
		}
		r.one(e)
		if i%25 == 24 {
			r.heartbeat(amy)
		}
	}
	t.Logf("%d corpus inputs sent in %v", len(entries), time.Since(start).Round(time.Millisecond))

	// Still serving: a valid referral is accepted and reaches children's
	// social care, as did every heartbeat sent between the bad inputs; so
	// does one about the child the NATS inputs that end the corpus are
	// about (a poison message must not block its partition).
	r.heartbeat(amy)
	r.heartbeat(ben)
	if !badWaitIdle(env, 20*time.Second) {
		t.Errorf("the ingest consumers did not become idle within 20s: an input is being redelivered (poison message?)")
	}
	got := map[string]bool{}
	for _, d := range env.Deliveries("leeds/la-social-care") {
		id, _ := d.Event["id"].(string)
		got[id] = true
	}
	for _, id := range r.beats {
		if !got[id] {
			t.Errorf("valid referral %s (sent between bad inputs) was not delivered to leeds/la-social-care", id)
		}
	}
	if resp := env.Do("GET", "/readyz", "", "", nil); resp.Code != http.StatusOK {
		t.Errorf("/readyz after the corpus: %d %s", resp.Code, resp.Body)
	}

	r.checkDeadLetters()

	if s := logBuf.String(); strings.Contains(s, "panic") {
		t.Errorf("a handler panicked (net/http recovered it):\n%s", s)
	}
	for _, l := range logs.All() {
		if l.Level >= zapcore.ErrorLevel {
			t.Errorf("broker logged an error: %s %v", l.Message, l.ContextMap())
		}
	}
}

// heartbeat publishes a valid event between bad inputs: the broker must
// keep accepting ordinary traffic.
func (r *badRun) heartbeat(child string) {
	r.t.Helper()
	ev := testenv.Event("leeds/lea", "safeguarding.referral", child, map[string]any{
		"category": "neglect", "summary": "Arrived hungry again; says there is no food at home.", "significant_harm": false})
	body, _ := json.Marshal(ev)
	code, resp, err := r.post(demo.Token("leeds/lea"), cenats.ContentTypeStructured, body)
	if err != nil || code != http.StatusAccepted {
		r.t.Errorf("valid referral about %s after %d refusals: %d %s %v", child, r.rejected, code, resp, err)
		return
	}
	r.beats = append(r.beats, ev["id"].(string))
}

func (r *badRun) one(e badEntry) {
	t := r.t
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(badDir, e.file))
	if err != nil {
		t.Errorf("%s: %v", e.file, err)
		return
	}
	name := e.file
	if strings.HasSuffix(name, ".gen") {
		if raw, err = badRender(raw); err != nil {
			t.Errorf("%s: %v", e.file, err)
			return
		}
		name = strings.TrimSuffix(name, ".gen")
	}
	if e.prime != "-" {
		r.prime(e)
	}
	switch e.mode {
	case "structured":
		r.http(e, cenats.ContentTypeStructured, raw)
	case "batch":
		r.http(e, cenats.ContentTypeBatch, raw)
	case "binary":
		if !strings.HasSuffix(name, ".http") {
			t.Errorf("%s: binary inputs are .http files", e.file)
			return
		}
		r.binary(e, raw)
	case "nats":
		r.nats(e, name, raw)
	default:
		t.Errorf("%s: unknown mode %q", e.file, e.mode)
	}
	// One bad input must not make the broker look unfit to serve.
	resp := r.env.Do("GET", "/readyz", "", "", nil)
	switch ready := resp.Code == http.StatusOK; {
	case !ready && !r.unready:
		t.Errorf("%s: /readyz answers %d after it: %s", e.file, resp.Code, resp.Body)
	case ready && r.unready:
		t.Logf("%s: /readyz answers 200 again", e.file)
	}
	r.unready = resp.Code != http.StatusOK
}

// prime publishes the valid event an input reuses the id of.
func (r *badRun) prime(e badEntry) {
	b, err := os.ReadFile(filepath.Join(badDir, "prime", e.prime))
	if err != nil {
		r.t.Errorf("%s: prime: %v", e.file, err)
		return
	}
	code, resp, err := r.post(demo.Token(e.publisher), cenats.ContentTypeStructured, b)
	if err != nil || code != http.StatusAccepted {
		r.t.Errorf("%s: prime %s: %d %s %v", e.file, e.prime, code, resp, err)
	}
}

func (r *badRun) post(token, ct string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest("POST", r.env.Base+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (r *badRun) http(e badEntry, ct string, body []byte) {
	code, resp, err := r.post(demo.Token(e.publisher), ct, body)
	if err != nil {
		r.t.Errorf("%s: no answer (did the handler panic?): %v", e.file, err)
		return
	}
	r.answer(e, code, resp, body)
}

// binary sends a .http input as written: its header lines go on the wire
// byte for byte, so that CR, LF and NUL injections reach the server.
func (r *badRun) binary(e badEntry, raw []byte) {
	lines, body := badParseHTTPFile(raw)
	var req bytes.Buffer
	host := strings.TrimPrefix(r.env.Base, "http://")
	fmt.Fprintf(&req, "POST /v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n", host, demo.Token(e.publisher))
	framed := false
	for _, l := range lines {
		lower := strings.ToLower(l)
		framed = framed || strings.HasPrefix(lower, "content-length:") || strings.HasPrefix(lower, "transfer-encoding:")
		req.WriteString(l + "\r\n")
	}
	if !framed {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.Write(body)

	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	go func() { _, _ = conn.Write(req.Bytes()) }() // the server may answer before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		r.t.Errorf("%s: no answer (did the handler panic?): %v", e.file, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.answer(e, resp.StatusCode, b, body)
}

// answer checks an HTTP answer against the manifest and notes the dead
// letters it implies.
func (r *badRun) answer(e badEntry, code int, resp, body []byte) {
	t := r.t
	if sub, ok := strings.CutPrefix(e.expect, "http:"); ok {
		// Refused by net/http before the broker saw it: nothing to
		// dead-letter, but refused all the same.
		if strconv.Itoa(code) != e.status || !bytes.Contains(resp, []byte(sub)) {
			t.Errorf("%s (%s): %d %s, want %s with %q from the HTTP server", e.file, e.note, code, badTrunc(resp), e.status, sub)
		}
		return
	}
	if whole, items, ok := strings.Cut(e.status, ":"); ok {
		r.batchAnswer(e, whole, items, code, resp, body)
		return
	}
	var res api.IngestResult
	if err := json.Unmarshal(resp, &res); err != nil {
		t.Errorf("%s: answer is not an ingest result: %d %s", e.file, code, badTrunc(resp))
		return
	}
	if strconv.Itoa(code) != e.status || res.Status != code {
		t.Errorf("%s (%s): status %d (result %d), want %s: %s", e.file, e.note, code, res.Status, e.status, badTrunc(resp))
	}
	if code < 400 {
		return
	}
	r.rejected++
	if res.Error == "" || !badHasReason(res.Problems, e.expect) {
		t.Errorf("%s (%s): no problem mentions %q: %s", e.file, e.note, e.expect, badTrunc(resp))
	}
	r.wantHTTP(badWantDL{input: e.file, publisher: e.publisher, expect: e.expect, size: len(body), n: 1})
}

// wantHTTP notes the dead letters an HTTP input has just left.
func (r *badRun) wantHTTP(w badWantDL) {
	s, err := r.env.Broker.JetStream().Stream(context.Background(), wire.StreamDeadLetter)
	if err != nil {
		r.t.Fatal(err)
	}
	w.from, w.to = r.dlLast, s.CachedInfo().State.LastSeq
	r.dlLast = w.to
	r.want = append(r.want, w)
}

// batchAnswer checks a batch answered per event: status "200:202,409" lists
// each event's status, "200:400*" says every event's.
func (r *badRun) batchAnswer(e badEntry, whole, items string, code int, resp, body []byte) {
	t := r.t
	var res struct{ Results []api.IngestResult }
	if err := json.Unmarshal(resp, &res); err != nil || strconv.Itoa(code) != whole {
		t.Errorf("%s (%s): %d %s, want %s with a result per event", e.file, e.note, code, badTrunc(resp), whole)
		return
	}
	var raws []json.RawMessage
	_ = json.Unmarshal(body, &raws)
	var want []string
	if all, ok := strings.CutSuffix(items, "*"); ok {
		for range res.Results {
			want = append(want, all)
		}
		if len(res.Results) == 0 {
			t.Errorf("%s: no results", e.file)
		}
	} else {
		want = strings.Split(items, ",")
	}
	if len(res.Results) != len(want) || len(raws) != len(want) {
		t.Errorf("%s (%s): %d results for %d events, want %d", e.file, e.note, len(res.Results), len(raws), len(want))
		return
	}
	refused := 0
	for i, got := range res.Results {
		if strconv.Itoa(got.Status) != want[i] || got.Index != i {
			t.Errorf("%s: event %d: status %d index %d, want %s: %+v", e.file, i, got.Status, got.Index, want[i], got)
		}
		if got.Status < 400 {
			continue
		}
		refused++
		if got.Error == "" || !badHasReason(got.Problems, e.expect) {
			t.Errorf("%s: event %d: no problem mentions %q: %+v", e.file, i, e.expect, got.Problems)
		}
	}
	r.rejected += refused
	r.wantHTTP(badWantDL{input: e.file, publisher: e.publisher, expect: e.expect, n: refused})
}

// nats publishes an input straight to the ingest stream, as an adapter
// does. The publisher column is a participant (its subject for the event's
// child) or a whole subject.
func (r *badRun) nats(e badEntry, name string, raw []byte) {
	m := nats.NewMsg("")
	if strings.HasSuffix(name, ".http") {
		lines, body := badParseHTTPFile(raw)
		for _, l := range lines {
			k, v, _ := strings.Cut(l, ":")
			m.Header[k] = append(m.Header[k], strings.TrimPrefix(v, " "))
		}
		m.Data = body
	} else {
		m.Header.Set(cenats.HeaderContentType, cenats.ContentTypeStructured)
		m.Data = raw
	}
	child := amy
	if s := badSubjectOf(m); uin.Valid(s) {
		child = s
	}
	m.Subject = e.publisher
	if !strings.HasPrefix(e.publisher, "ecm.") {
		m.Subject = wire.IngestSubject(e.publisher, child)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := r.env.Broker.JetStream().PublishMsg(ctx, m)
	if sub, ok := strings.CutPrefix(e.expect, "publish:"); ok {
		if err == nil || !strings.Contains(err.Error(), sub) {
			r.t.Errorf("%s (%s): publish error %v, want one saying %q", e.file, e.note, err, sub)
		}
		return
	}
	if err != nil {
		r.t.Errorf("%s: publishing to %s: %v", e.file, m.Subject, err)
		return
	}
	r.rejected++
	r.want = append(r.want, badWantDL{input: e.file, publisher: badPublisherOf(m.Subject), expect: e.expect, size: len(m.Data), n: 1})
}

// checkDeadLetters finds every refused input's dead letters: from its
// publisher, with a reason that mentions the manifest's substring.
func (r *badRun) checkDeadLetters() {
	t := r.t
	dls, unreadable := badReadDeadLetters(r.env)
	for _, u := range unreadable {
		t.Errorf("dead letter %d %s", u.seq, u.why)
	}
	if n := len(dls) + len(unreadable); n < r.rejected {
		t.Errorf("%d dead letters for %d refused inputs and batch events", n, r.rejected)
	}
	bySeq := map[uint64]int{}
	for i, dl := range dls {
		bySeq[dl.Seq] = i
		if len(dl.Reasons) == 0 || slices.Contains(dl.Reasons, "") {
			t.Errorf("dead letter %d (%s) has no reason: %v", dl.Seq, dl.Publisher, dl.Reasons)
		}
	}
	unreadableSeq := map[uint64]bool{}
	for _, u := range unreadable {
		unreadableSeq[u.seq] = true
	}
	used := make([]bool, len(dls))
	var async []badWantDL
	for _, w := range r.want {
		if w.to == 0 {
			async = append(async, w)
			continue
		}
		got := 0
		for seq := w.from + 1; seq <= w.to; seq++ {
			if unreadableSeq[seq] {
				got++ // reported above
				continue
			}
			i, ok := bySeq[seq]
			if !ok || dls[i].Publisher != w.publisher {
				continue // a NATS input's, written meanwhile
			}
			used[i] = true
			got++
			if !badReasonsMention(dls[i].Reasons, w.expect) {
				t.Errorf("%s: dead letter %d does not mention %q: %.300q", w.input, seq, w.expect, dls[i].Reasons)
			}
		}
		if got != w.n {
			t.Errorf("%s: %d dead letters, want %d", w.input, got, w.n)
		}
	}
	// NATS inputs: a letter keeps the message's size.
	found := make([]bool, len(async))
	for wi, w := range async {
		for i, dl := range dls {
			if !found[wi] && !used[i] && dl.Publisher == w.publisher && dl.Size == w.size && badReasonsMention(dl.Reasons, w.expect) {
				used[i], found[wi] = true, true
			}
		}
	}
	for wi, w := range async {
		if !found[wi] {
			t.Errorf("%s: no dead letter from %s with a reason mentioning %q", w.input, w.publisher, w.expect)
		}
	}
	for i, dl := range dls {
		if !used[i] {
			t.Errorf("dead letter %d matches no input: %s %d bytes %.200q", dl.Seq, dl.Publisher, dl.Size, dl.Reasons)
		}
	}
	t.Logf("%d inputs or batch events refused, %d dead letters (%d unreadable)", r.rejected, len(dls)+len(unreadable), len(unreadable))
}

// badReadDeadLetters pages through GET /v1/deadletters up to the dead-letter
// stream's last sequence. After a page this client cannot decode it reads
// one letter at a time; letters it cannot decode, or that the API leaves
// out, are reported.
type badUnreadable struct {
	seq uint64
	why string
}

func badReadDeadLetters(env *testenv.Env) (all []api.DeadLetter, unreadable []badUnreadable) {
	type page struct {
		DeadLetters []api.DeadLetter `json:"deadletters"`
		Next        uint64           `json:"next"`
	}
	read := func(after uint64, limit int) (page, error) {
		r := env.Do("GET", fmt.Sprintf("/v1/deadletters?after=%d&limit=%d", after, limit), demo.OperatorToken, "", nil)
		var p page
		if r.Code != http.StatusOK {
			return p, fmt.Errorf("status %d: %s", r.Code, badTrunc(r.Body))
		}
		return p, json.Unmarshal(r.Body, &p)
	}
	s, err := env.Broker.JetStream().Stream(context.Background(), wire.StreamDeadLetter)
	if err != nil {
		env.T.Fatal(err)
	}
	last := s.CachedInfo().State.LastSeq
	after, slow := uint64(0), uint64(0)
	for after < last {
		limit := 500
		if after < slow {
			limit = 1
		}
		p, err := read(after, limit)
		if err != nil && limit > 1 {
			slow = after + 500
			continue
		}
		switch {
		case err != nil:
			unreadable = append(unreadable, badUnreadable{after + 1, "cannot be decoded from GET /v1/deadletters: " + err.Error()})
			after++
		case len(p.DeadLetters) == 0:
			// The API skips a letter it cannot decode itself; a page of
			// only such letters is empty, as at the end of the stream.
			unreadable = append(unreadable, badUnreadable{after + 1, fmt.Sprintf("is in %s but GET /v1/deadletters?after=%d answers an empty page", wire.StreamDeadLetter, after)})
			after++
		default:
			for _, dl := range p.DeadLetters {
				for seq := after + 1; seq < dl.Seq; seq++ {
					unreadable = append(unreadable, badUnreadable{seq, "is left out of GET /v1/deadletters"})
				}
				after = dl.Seq
			}
			all = append(all, p.DeadLetters...)
		}
	}
	return all, unreadable
}

func badWaitIdle(env *testenv.Env, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	badJSON := env.Broker.JetStream()
	for ctx.Err() == nil {
		n, err := store.IngestPending(ctx, badJSON) // also what is not yet sourced from the publishers' streams
		idle := err == nil && n == 0
		for _, name := range wire.IngestConsumers() {
			if !idle {
				break
			}
			c, err := badJSON.Consumer(ctx, wire.StreamIngest, name)
			if err != nil {
				idle = false
				break
			}
			// A message nak'ed with a delay is in neither count while it
			// waits: the ack floor tells.
			info, err := c.Info(ctx)
			if err != nil || info.NumPending != 0 || info.NumAckPending != 0 || info.AckFloor.Stream != info.Delivered.Stream {
				idle = false
				break
			}
		}
		if idle {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// badParseHTTPFile splits a .http input into header lines (escapes \r \n \t
// \\ and \xHH decoded, lines starting with # left out) and the body, which
// follows the first empty line byte for byte.
func badParseHTTPFile(raw []byte) (lines []string, body []byte) {
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	for _, l := range strings.Split(string(head), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, badUnescapeHeader(l))
	}
	return lines, body
}

func badUnescapeHeader(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'x':
			if v, err := strconv.ParseUint(s[i+1:min(i+3, len(s))], 16, 8); err == nil && i+3 <= len(s) {
				b.WriteByte(byte(v))
				i += 2
			} else {
				b.WriteString(`\x`)
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// badRender expands a .gen input: a text/template with repeat, seq, date
// (days from today, UTC) and now (minutes from now, RFC 3339).
func badRender(tmpl []byte) ([]byte, error) {
	funcs := template.FuncMap{
		"repeat": strings.Repeat,
		"seq": func(n int) []int {
			s := make([]int, n)
			for i := range s {
				s[i] = i
			}
			return s
		},
		"date": func(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format(time.DateOnly) },
		"now": func(minutes int) string {
			return time.Now().UTC().Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339)
		},
	}
	tp, err := template.New("gen").Funcs(funcs).Parse(string(tmpl))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tp.Execute(&out, nil); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// badSubjectOf reads the subject attribute of a message, when it has one.
func badSubjectOf(m *nats.Msg) string {
	raw, err := cenats.Decode(m)
	if err != nil {
		return ""
	}
	s, _ := raw.String("subject")
	return s
}

// badPublisherOf is the participant an ingest subject names, as the broker
// reads it (ecm.ingest.<area>.<agency>[.<partition>]).
func badPublisherOf(subject string) string {
	parts := strings.Split(strings.TrimPrefix(subject, "ecm.ingest."), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "unknown"
	}
	return parts[0] + "/" + parts[1]
}

func badHasReason(probs []api.Problem, sub string) bool {
	for _, p := range probs {
		if p.Reason != "" && strings.Contains(p.String(), sub) {
			return true
		}
	}
	return false
}

func badReasonsMention(reasons []string, sub string) bool {
	for _, r := range reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

func badTrunc(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}

type badLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *badLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *badLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ---------------------------------------------------------------------------
// The generator: go test ./test/e2e -run TestGenerateBadCorpus -generate

type badObj = map[string]any

// badGen collects the corpus as it is built.
type badGen struct {
	cases  []badGenCase
	primes map[string][]byte
	count  map[string]int
}

type badGenCase struct {
	file, mode, publisher, status, expect, prime, note string
	body                                               []byte
}

// add files a case as <category>-NNN.<ext>.
func (g *badGen) add(cat, ext, mode, publisher, status, expect, note string, body []byte) *badGenCase {
	g.count[cat]++
	c := badGenCase{fmt.Sprintf("%s-%03d.%s", cat, g.count[cat], ext), mode, publisher, status, expect, "-", note, body}
	g.cases = append(g.cases, c)
	return &g.cases[len(g.cases)-1]
}

// next is the file name (without extension) the next case of cat gets:
// ids are the file names, so no two inputs share one by accident.
func (g *badGen) next(cat string) string { return fmt.Sprintf("%s-%03d", cat, g.count[cat]+1) }

// badValidData is valid data of each type the tables use.
func badValidData(name string) badObj {
	src := map[string]string{
		"index.gp.recorded":           `{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}}}`,
		"index.child.registered":      `{"name":{"given":"Amy","family":"Adams"},"dob":"2014-05-02","gender":"female","address":{"lines":["14 Park Row","Headingley"],"postcode":"LS6 3AA"},"area":"leeds"}`,
		"index.address.changed":       `{"address":{"lines":["3 Clifton Green"],"postcode":"LS6 3AB"},"area":"leeds"}`,
		"index.carer.recorded":        `{"name":"Joanne Adams","relationship":"mother","contact":{"phone":"07700 900123"}}`,
		"index.education.recorded":    `{"setting":{"name":"Brudenell Primary School","contact":{"phone":"0113 496 0456"}},"from":"2018-09-05"}`,
		"index.practitioner.involved": `{"practitioner":{"name":"Sarah Khan","role":"health visitor","contact":{"phone":"0113 496 0123"}},"service":"health visiting"}`,
		"index.practitioner.ended":    `{"practitioner":{"name":"Sarah Khan"}}`,
		"index.concern.flagged":       `{"practitioner":{"name":"Sarah Khan","contact":{"email":"sarah.khan@example.org"}}}`,
		"index.concern.withdrawn":     `{"practitioner":{"name":"Sarah Khan"}}`,
		"index.flags.set":             `{"shielded":true}`,
		"index.transferred":           `{"address":{"lines":["3 Clifton Green"],"postcode":"YO30 6LP"},"area":"york","previous_area":"leeds"}`,
		"index.concern.matched":       `{"concerns":[{"participant":"leeds/pct","practitioner":{"name":"Sarah Khan","contact":{"phone":"0113 496 0123"}},"flagged_at":"2026-03-10T09:15:00Z"}],"recipients":["leeds/pct"]}`,
		"index.concern.shared":        `{"concerns":[{"participant":"leeds/pct","practitioner":{"name":"Sarah Khan","contact":{"phone":"0113 496 0123"}},"flagged_at":"2026-03-10T09:15:00Z"}],"recipients":["york/lea"]}`,
		"caf.completed":               `{"needs":[{"outcome":"be_healthy","summary":"Missed two dental appointments."}],"lead_professional":{"name":"Mark Otieno","role":"learning mentor","contact":{"email":"mark.otieno@example.org"}}}`,
		"safeguarding.referral":       `{"category":"neglect","summary":"Arrived at school hungry on four mornings this week.","significant_harm":false}`,
		"education.missing":           `{"last_seen":"2026-04-17","setting":{"name":"Brudenell Primary School","contact":{"phone":"0113 496 0456"}}}`,
		"education.exclusion":         `{"kind":"fixed","days":3,"reason":"Persistent disruptive behaviour after a warning."}`,
		"connexions.neet":             `{"status":"neet","since":"2026-01-12"}`,
		"youthjustice.order":          `{"order":"referral order","start":"2026-02-02","end":"2026-11-02","worker":{"name":"Liam Doyle","contact":{"phone":"0113 496 0321"}}}`,
		"police.incident":             `{"kind":"domestic_abuse","occurred_at":"2026-05-01T23:10:00+01:00","child_present":true,"summary":"Officers attended a verbal argument between adults."}`,
		"consent.granted":             `{"given_by":"parent","purposes":["caf","education"],"agencies":["lea","pct"],"expires":"2027-05-01"}`,
		"consent.withdrawn":           `{"purposes":["caf"],"agencies":["lea"]}`,
	}[name]
	var o badObj
	if err := json.Unmarshal([]byte(src), &o); err != nil {
		panic(name + ": " + err.Error())
	}
	return o
}

// badPublisherFor is a participant that may publish a type.
func badPublisherFor(name string) string {
	switch name {
	case "education.missing", "education.exclusion":
		return "leeds/lea"
	case "police.incident":
		return "leeds/police"
	case "youthjustice.order":
		return "leeds/yot"
	case "connexions.neet":
		return "leeds/connexions"
	case "index.flags.set":
		return "leeds/la-social-care"
	}
	return "leeds/pct"
}

func badEvent(id, from, name string, data any) badObj {
	return badObj{"specversion": "1.0", "id": id, "source": "/" + from, "type": "uk.gov.ecm." + name + ".v1",
		"subject": amy, "time": "2026-01-05T10:00:00Z", "datacontenttype": "application/json", "data": data}
}

// badSet puts v at a dotted path ("data.name.given"), creating objects.
func badSet(o badObj, path string, v any) badObj {
	keys := strings.Split(path, ".")
	m := o
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(badObj)
		if !ok {
			next = badObj{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
	return o
}

func badDel(o badObj, path string) badObj {
	keys := strings.Split(path, ".")
	m := o
	for _, k := range keys[:len(keys)-1] {
		m = m[k].(badObj)
	}
	delete(m, keys[len(keys)-1])
	return o
}

// badJSON writes v as indented JSON, then replaces the byte placeholders
// (@FF@ and the like) that json cannot carry.
func badJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return badRawBytes(b.Bytes())
}

func badCompact(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return badRawBytes(bytes.TrimRight(b.Bytes(), "\n"))
}

var badPlaceholder = regexp.MustCompile(`@([0-9A-F]{2})@`)

func badRawBytes(b []byte) []byte {
	return badPlaceholder.ReplaceAllFunc(b, func(m []byte) []byte {
		v, _ := strconv.ParseUint(string(m[1:3]), 16, 8)
		return []byte{byte(v)}
	})
}

// badHTTPFile writes a binary-mode input: header lines, a blank line, the body.
func badHTTPFile(comment string, headers []string, body string) []byte {
	var b bytes.Buffer
	b.WriteString("# " + comment + "\n")
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n" + body)
	return badRawBytes(b.Bytes())
}

// badBinHeaders are the headers of a valid binary-mode index.gp.recorded
// from leeds/pct; change replaces (or, with an empty value, drops) one.
func badBinHeaders(id string, change ...string) []string {
	h := []string{"Content-Type: application/json", "Ce-Specversion: 1.0", "Ce-Id: " + id, "Ce-Source: /leeds/pct",
		"Ce-Type: uk.gov.ecm.index.gp.recorded.v1", "Ce-Subject: " + amy, "Ce-Time: 2026-01-05T10:00:00Z"}
	for i := 0; i+1 < len(change); i += 2 {
		name, value := change[i], change[i+1]
		found := false
		for j, l := range h {
			if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
				found = true
				h[j] = name + ": " + value
				if value == "" {
					h = append(h[:j], h[j+1:]...)
				}
				break
			}
		}
		if !found && value != "" {
			h = append(h, name+": "+value)
		}
	}
	return h
}

const badGPData = `{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}}}`

func TestGenerateBadCorpus(t *testing.T) {
	if !*generateCorpus {
		t.Skip("rewrites test/testdata/bad; run with -generate")
	}
	g := &badGen{primes: map[string][]byte{}, count: map[string]int{}}
	buildBadCorpus(g)

	// Start from an empty directory: a case removed from the tables goes.
	old, _ := filepath.Glob(filepath.Join(badDir, "*"))
	for _, f := range old {
		if filepath.Base(f) != "README.md" {
			if err := os.RemoveAll(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(badDir, "prime"), 0o755); err != nil {
		t.Fatal(err)
	}
	var m bytes.Buffer
	m.WriteString("# file\tmode\tpublisher\tstatus\texpect\tprime\tnote\n")
	m.WriteString("# generated by TestGenerateBadCorpus (test/e2e/badinput_test.go); see README.md\n")
	for _, c := range g.cases {
		if err := os.WriteFile(filepath.Join(badDir, c.file), c.body, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{c.mode, c.publisher, c.status, c.expect, c.prime, c.note} {
			if f == "" || strings.ContainsAny(f, "\t\n") {
				t.Fatalf("%s: bad manifest field %q", c.file, f)
			}
		}
		fmt.Fprintf(&m, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.file, c.mode, c.publisher, c.status, c.expect, c.prime, c.note)
	}
	for name, b := range g.primes {
		if err := os.WriteFile(filepath.Join(badDir, "prime", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(badDir, "MANIFEST.tsv"), m.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cats := map[string]int{}
	for _, c := range g.cases {
		cats[c.file[:strings.LastIndex(c.file, "-")]]++
	}
	t.Logf("%d inputs: %v", len(g.cases), cats)
}

// buildBadCorpus is the corpus, category by category.
func buildBadCorpus(g *badGen) {
	const pct = "leeds/pct"
	gp := func(id string) badObj {
		return badEvent(id, pct, "index.gp.recorded", badValidData("index.gp.recorded"))
	}
	typed := func(id, name string) badObj { return badEvent(id, badPublisherFor(name), name, badValidData(name)) }
	structured := func(cat, status, expect, note string, build func(id string) badObj) {
		id := g.next(cat)
		g.add(cat, "json", "structured", pct, status, expect, note, badJSON(build(id)))
	}

	// Malformed JSON: cut short, broken syntax, not JSON at all.
	{
		id := g.next("json-truncated")
		whole := badCompact(gp(id))
		for _, n := range []int{1, 2, 9, 25, 60, 100, 150, len(whole) - 30, len(whole) - 2, len(whole) - 1} {
			body := badCompact(gp(g.next("json-truncated")))[:n]
			g.add("json-truncated", "json", "structured", pct, "400", "not a JSON object", fmt.Sprintf("cut after %d bytes", n), body)
		}
	}
	syntax := []struct{ note, body string }{
		{"trailing comma in the object", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `,}`},
		{"single-quoted strings", `{'specversion':'1.0','id':'%s','source':'/leeds/pct','type':'uk.gov.ecm.index.gp.recorded.v1','subject':'9434765919','data':{}}`},
		{"unquoted keys", `{specversion:"1.0",id:"%s",source:"/leeds/pct",type:"uk.gov.ecm.index.gp.recorded.v1",subject:"9434765919",data:` + badGPData + `}`},
		{"a // comment", "{\"specversion\":\"1.0\", // CloudEvents\n\"id\":\"%s\",\"source\":\"/leeds/pct\",\"type\":\"uk.gov.ecm.index.gp.recorded.v1\",\"subject\":\"9434765919\",\"data\":" + badGPData + "}"},
		{"a /* */ comment", `{"specversion":"1.0",/* x */"id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}`},
		{"NaN as a value", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","x":NaN,"data":` + badGPData + `}`},
		{"Infinity as a value", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":Infinity,"reason":"x y"}}`},
		{"garbage after the object", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}garbage`},
		{"two objects back to back", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}{"specversion":"1.0"}`},
		{"UTF-8 byte order mark first", "@EF@@BB@@BF@" + `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}`},
		{"empty body", ``},
		{"whitespace only", " \n\t\r\n "},
		{"a JSON array", `[]`},
		{"a JSON string", `"%s"`},
		{"a JSON number", `42`},
		{"a JSON boolean", `true`},
		{"unterminated string", `{"specversion":"1.0","id":"%s`},
		{"invalid escape \\q", `{"specversion":"1.0","id":"%s\q","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}`},
		{"raw control byte 0x01 in a string", `{"specversion":"1.0","id":"%s@01@","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}`},
		{"raw line feed in a string", "{\"specversion\":\"1.0\",\"id\":\"%s\n\",\"source\":\"/leeds/pct\",\"type\":\"uk.gov.ecm.index.gp.recorded.v1\",\"subject\":\"9434765919\",\"data\":" + badGPData + "}"},
		{"hexadecimal number", `{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":0x03,"reason":"x y"}}`},
		{"number with a leading zero", `{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":03,"reason":"x y"}}`},
		{"number with a plus sign", `{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":+3,"reason":"x y"}}`},
		{"number starting with a dot", `{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":.5,"reason":"x y"}}`},
		{"missing colon", `{"specversion" "1.0","id":"%s"}`},
		{"one brace too many", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `}}`},
		{"NUL byte between tokens", `{"specversion":"1.0",@00@"id":"%s"}`},
		{"incomplete unicode escape", `{"specversion":"1.0","id":"%s\u00"}`},
		{"UTF-16LE with a byte order mark", "@FF@@FE@{@00@\"@00@i@00@d@00@\"@00@:@00@1@00@}@00@"},
	}
	for _, s := range syntax {
		body := s.body
		if strings.Contains(body, "%s") {
			body = fmt.Sprintf(body, g.next("json-syntax"))
		}
		g.add("json-syntax", "json", "structured", pct, "400", "not a JSON object", s.note, badRawBytes([]byte(body)))
	}
	notJSON := []struct{ note, body string }{
		{"an HL7 v2 ADT message", "MSH|^~\\&|PAS|LEEDS|ECM|BROKER|202601051000||ADT^A04|1|P|2.4\rPID|||9434765919^^^NHS||ADAMS^AMY||20140502|F\r"},
		{"a CSV line", "uin,given,family,dob\n9434765919,Amy,Adams,2014-05-02\n"},
		{"an XML document", `<?xml version="1.0"?><event><id>x</id><subject>9434765919</subject></event>`},
		{"an HTML form post", "specversion=1.0&id=x&source=%2Fleeds%2Fpct&subject=9434765919"},
		{"gzip magic bytes", "@1F@@8B@@08@@00@@00@@00@@00@@00@@00@@03@"},
		{"a PDF header", "%PDF-1.4\n%@E2@@E3@@CF@@D3@\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"},
		{"NUL bytes", "@00@@00@@00@@00@@00@@00@@00@@00@"},
	}
	for _, s := range notJSON {
		g.add("json-notjson", "json", "structured", pct, "400", "not a JSON object", s.note, badRawBytes([]byte(s.body)))
	}

	// Wrong JSON types for every string attribute.
	wrong := []struct {
		note string
		v    any
	}{{"a number", 42}, {"a boolean", true}, {"null", nil}, {"an array", []any{"1.0"}}, {"an object", badObj{"value": "x"}}}
	for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "override", "practitioner"} {
		cat := "wrongtype-" + attr
		for _, w := range wrong {
			structured(cat, "400", attr+": must be a string", attr+" as "+w.note, func(id string) badObj { e := gp(id); e[attr] = w.v; return e })
		}
	}

	// Wrong types and shapes inside data: numbers as strings and the like.
	dataTypes := []struct {
		name, path string
		v          any
		expect     string
	}{
		{"safeguarding.referral", "significant_harm", "true", "data.significant_harm: must be a boolean"},
		{"safeguarding.referral", "significant_harm", 1, "data.significant_harm: must be a boolean"},
		{"safeguarding.referral", "significant_harm", nil, "data.significant_harm: must be a boolean"},
		{"safeguarding.referral", "category", 1, "data.category"},
		{"safeguarding.referral", "category", "Neglect", "data.category: must be one of"},
		{"safeguarding.referral", "summary", []any{"a", "b"}, "data.summary: must be a string"},
		{"education.exclusion", "days", "3", "data.days: must be an integer"},
		{"education.exclusion", "days", 3.5, "data.days: must be an integer"},
		{"education.exclusion", "days", true, "data.days: must be an integer"},
		{"education.exclusion", "days", -1, "data.days: must be at least"},
		{"education.exclusion", "days", 46, "data.days: must be at most"},
		{"caf.completed", "needs", badObj{"outcome": "be_healthy", "summary": "x y"}, "data.needs: must be an array"},
		{"caf.completed", "needs", []any{"be_healthy"}, "data.needs[0]: must be an object"},
		{"caf.completed", "needs", []any{}, "data.needs: must have at least 1 item"},
		{"index.child.registered", "address.lines", "14 Park Row", "data.address.lines: must be an array"},
		{"index.child.registered", "address.postcode", 63, "data.address.postcode: must be a string"},
		{"index.child.registered", "address.postcode", "ls6 3aa", "data.address.postcode: must be a UK postcode"},
		{"index.child.registered", "dob", 20140502, "data.dob: must be a string"},
		{"index.child.registered", "dob", "02/05/2014", "data.dob: must be a date"},
		{"index.child.registered", "dob", "2014-02-30", "data.dob: must be a date"},
		{"index.child.registered", "gender", "F", "data.gender: must be one of"},
		{"index.child.registered", "area", "Leeds", "data.area: must be an area slug"},
		{"index.child.registered", "name", "Amy Adams", "data.name: must be an object"},
		{"index.carer.recorded", "contact", "07700 900123", "data.contact: must be an object"},
		{"index.carer.recorded", "contact", badObj{}, "data.contact: needs at least one of"},
		{"index.carer.recorded", "contact.email", "not an email", "data.contact.email: must be an email"},
		{"index.practitioner.involved", "practitioner", []any{"Sarah Khan"}, "data.practitioner: must be an object"},
		{"index.flags.set", "shielded", "true", "data.shielded: must be a boolean"},
		{"index.flags.set", "shielded", nil, "data.shielded: must be a boolean"},
		{"consent.granted", "purposes", "caf", "data.purposes: must be an array"},
		{"consent.granted", "purposes", []any{"caf", "caf"}, "data.purposes: items 0 and 1 are the same"},
		{"consent.granted", "agencies", []any{"social-services"}, "data.agencies[0]: must be one of"},
		{"police.incident", "child_present", "yes", "data.child_present: must be a boolean"},
		{"police.incident", "occurred_at", "2026-05-01 23:10", "data.occurred_at: must be a date and time"},
		{"youthjustice.order", "end", "2026-01-01", "data.end: must not be before data.start"},
		{"connexions.neet", "status", "NEET", "data.status: must be one of"},
	}
	for _, d := range dataTypes {
		id := g.next("datatype")
		e := typed(id, d.name)
		badSet(e["data"].(badObj), d.path, d.v)
		g.add("datatype", "json", "structured", badPublisherFor(d.name), "400", d.expect, fmt.Sprintf("%s data.%s = %v", d.name, d.path, d.v), badJSON(e))
	}
	for _, d := range []struct {
		note string
		v    any
	}{{"a string", "Park Lane Surgery"}, {"an array", []any{badGPData}}, {"a number", 1}, {"true", true}, {"an empty object", badObj{}}} {
		structured("datatype", "400", "data", "data as "+d.note, func(id string) badObj { e := gp(id); e["data"] = d.v; return e })
	}
	for _, d := range []struct{ note, body string }{
		{"data_base64 instead of data", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data_base64":"eyJwcmFjdGljZSI6e319"}`},
		{"data_base64 beside data", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":` + badGPData + `,"data_base64":"eyJ9"}`},
		{"data_base64 as a number", `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data_base64":12}`},
	} {
		g.add("data-base64", "json", "structured", pct, "400", "data_base64", d.note, []byte(fmt.Sprintf(d.body, g.next("data-base64"))))
	}

	// Each required attribute missing, and all of them.
	for _, attr := range []string{"specversion", "id", "source", "type", "subject"} {
		structured("missing", "400", attr+": required", "no "+attr, func(id string) badObj { return badDel(gp(id), attr) })
	}
	structured("missing", "400", "data: required", "no data", func(id string) badObj { return badDel(gp(id), "data") })
	structured("missing", "400", "data: required", "data: null", func(id string) badObj { e := gp(id); e["data"] = nil; return e })
	g.add("missing", "json", "structured", pct, "400", "specversion: required", "an empty object", []byte("{}\n"))
	g.add("missing", "json", "structured", pct, "400", "specversion: required", "JSON null", []byte("null\n"))

	// Attribute values of the right type but wrong.
	for _, v := range []string{"0.3", "1", "1.0.2", "", "v1.0", " 1.0"} {
		structured("specversion", "400", "specversion: must be", fmt.Sprintf("specversion %q", v), func(id string) badObj { e := gp(id); e["specversion"] = v; return e })
	}
	structured("id", "400", "id: must not be empty", "id \"\"", func(id string) badObj { e := gp(id); e["id"] = ""; return e })
	for _, v := range []string{"uk.gov.ecm.gossip.v1", "UK.GOV.ECM.INDEX.GP.RECORDED.V1", "uk.gov.ecm.index.gp.recorded.v2",
		"uk.gov.ecm.index.gp.recorded.v1 ", "index.gp.recorded", "uk.gov.ecm..v1", "uk.gov.ecm.index.gp.recorded.v1\u200b",
		"com.example.index.gp.recorded.v1", ""} {
		structured("type-unknown", "400", "type:", fmt.Sprintf("type %q", v), func(id string) badObj { e := gp(id); e["type"] = v; return e })
	}
	for _, name := range []string{"education.missing", "education.exclusion", "connexions.neet", "youthjustice.order", "police.incident",
		"index.flags.set", "index.transferred", "index.concern.matched", "index.concern.shared"} {
		structured("type-forbidden", "400", "type: "+name+" may not be published", "leeds/pct publishes "+name,
			func(id string) badObj { return badEvent(id, pct, name, badValidData(name)) })
	}
	// Wrong check digits: every other last digit, and nine digits whose
	// check digit would be 10 (no valid UIN).
	for d := '0'; d <= '9'; d++ {
		if s := amy[:9] + string(d); s != amy {
			structured("uin-checkdigit", "400", "subject: not a valid UIN: uin check digit", "subject "+s, func(id string) badObj { e := gp(id); e["subject"] = s; return e })
		}
	}
	for _, s := range []string{"9434765900", "1000000010"} {
		if !uin.Valid(s) {
			structured("uin-checkdigit", "400", "subject: not a valid UIN", "subject "+s+": no check digit fits", func(id string) badObj { e := gp(id); e["subject"] = s; return e })
		}
	}
	for _, s := range []string{"123", "", "94347659190", "943476591", "943476591X", "9434 76591", "+943476591", "９４３４７６５９１９",
		" 9434765919", "9434765919 ", "-943476591", "9.43476e9", "943-476-5919", "0x23456789"} {
		structured("uin-format", "400", "subject: not a valid UIN", fmt.Sprintf("subject %q", s), func(id string) badObj { e := gp(id); e["subject"] = s; return e })
	}
	for _, v := range []string{"yesterday", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z", "2026-01-05T10:00:00", "2026-01-05",
		"2016-12-31T23:59:60Z", "2026-01-05 10:00:00Z", "1767607200", "2026-01-05T25:00:00Z", ""} {
		structured("time-invalid", "400", "time: must be an RFC 3339 timestamp", fmt.Sprintf("time %q", v), func(id string) badObj { e := gp(id); e["time"] = v; return e })
	}
	for _, v := range []string{"text/plain", "application/xml", "application/jsonx", "application/cloudevents+json", ""} {
		structured("contenttype", "400", "datacontenttype: must be application/json", fmt.Sprintf("datacontenttype %q", v), func(id string) badObj { e := gp(id); e["datacontenttype"] = v; return e })
	}
	for _, v := range []string{"relative/path", "::not a uri", "", "urn"} {
		structured("dataschema", "400", "dataschema: must be an absolute URI", fmt.Sprintf("dataschema %q", v), func(id string) badObj { e := gp(id); e["dataschema"] = v; return e })
	}
	for _, v := range []string{"urgent", "", "nineteen characters", "                         ", "      too short         "} {
		structured("override", "400", "override: a justification", fmt.Sprintf("override %q", v), func(id string) badObj { e := gp(id); e["override"] = v; return e })
	}
	structured("practitioner", "400", "practitioner: at most 100 characters", "practitioner of 101 characters",
		func(id string) badObj { e := gp(id); e["practitioner"] = strings.Repeat("é", 101); return e })
	structured("practitioner", "400", "practitioner: is 5000 bytes, at most 4096", "practitioner of 5000 bytes",
		func(id string) badObj { e := gp(id); e["practitioner"] = strings.Repeat("p", 5000); return e })
	for _, name := range []string{"Notes", "case_notes", "case-notes", "averyveryverylongname", "", "ünïcode", "no space", "x.y"} {
		structured("extname", "400", "attribute names are 1-20 lower-case letters or digits", fmt.Sprintf("extension attribute %q", name),
			func(id string) badObj { e := gp(id); e[name] = "x"; return e })
	}

	// Dates in the future (relative ones are generated at test time).
	future := []struct {
		name, path, v, expect string
	}{
		{"index.child.registered", "data.dob", "2999-01-01", "data.dob: must not be in the future"},
		{"index.child.registered", "data.dob", "9999-12-31", "data.dob: must not be in the future"},
		{"index.child.registered", "data.dob", `{{date 2}}`, "data.dob: must not be in the future"},
		{"education.missing", "data.last_seen", "2999-01-01", "data.last_seen: must not be in the future"},
		{"education.missing", "data.last_seen", `{{date 2}}`, "data.last_seen: must not be in the future"},
		{"police.incident", "data.occurred_at", "2999-01-01T00:00:00Z", "data.occurred_at: must not be in the future"},
		{"police.incident", "data.occurred_at", `{{now 60}}`, "data.occurred_at: must not be in the future"},
		{"safeguarding.referral", "time", "2999-01-01T00:00:00Z", "time: is in the future"},
		{"safeguarding.referral", "time", "9999-12-31T23:59:59Z", "time: is in the future"},
		{"safeguarding.referral", "time", `{{now 60}}`, "time: is in the future"},
		{"youthjustice.order", "data.end", "2099-01-01", "data.end: is more than 25 years ahead"},
		{"index.education.recorded", "data.from", "2099-09-01", "data.from: is more than 25 years ahead"},
		{"consent.granted", "data.expires", "2999-01-01", "data.expires: is more than 25 years ahead"},
	}
	for _, f := range future {
		id := g.next("future")
		e := typed(id, f.name)
		badSet(e, f.path, f.v)
		ext := "json"
		if strings.Contains(f.v, "{{") {
			ext = "json.gen"
		}
		g.add("future", ext, "structured", badPublisherFor(f.name), "400", f.expect, fmt.Sprintf("%s %s %s", f.name, f.path, f.v), badJSON(e))
	}

	// Case notes in index events: fields the s.12(4) schemas do not have,
	// and notes stuffed into short fields.
	note := "Mother disclosed that her partner hits the children when drunk; child has bruises on both arms."
	casenotes := []struct{ name, path, expect string }{
		{"index.child.registered", "notes", `data: unknown field "notes"`},
		{"index.child.registered", "name.alias_history", `data.name: unknown field "alias_history"`},
		{"index.carer.recorded", "concerns", `data: unknown field "concerns"`},
		{"index.concern.flagged", "summary", `data: unknown field "summary"`},
		{"index.concern.flagged", "practitioner.notes", `data.practitioner: unknown field "notes"`},
		{"index.gp.recorded", "diagnosis", `data: unknown field "diagnosis"`},
		{"index.gp.recorded", "practice.patient_notes", `data.practice: unknown field "patient_notes"`},
		{"index.practitioner.involved", "case_notes", `data: unknown field "case_notes"`},
		{"index.address.changed", "reason", `data: unknown field "reason"`},
		{"index.address.changed", "address.previous_occupants", `data.address: unknown field "previous_occupants"`},
		{"index.education.recorded", "behaviour", `data: unknown field "behaviour"`},
		{"index.concern.withdrawn", "reason", `data: unknown field "reason"`},
		{"index.flags.set", "notes", `data: unknown field "notes"`},
		{"index.practitioner.ended", "outcome", `data: unknown field "outcome"`},
		{"index.child.registered", "name.given", "data.name.given: must be at most 100 characters"},
		{"index.child.registered", "address.lines", "data.address.lines[0]: must be at most 100 characters"},
		{"index.concern.flagged", "practitioner.name", "data.practitioner.name: must be at most 100 characters"},
		{"index.practitioner.involved", "service", "data.service: must be at most 100 characters"},
		{"index.carer.recorded", "relationship", "data.relationship: must be at most 100 characters"},
	}
	for _, c := range casenotes {
		id := g.next("casenotes")
		e := typed(id, c.name)
		var v any = note + " " + note
		if c.path == "address.lines" {
			v = []any{note + " " + note}
		}
		badSet(e["data"].(badObj), c.path, v)
		g.add("casenotes", "json", "structured", badPublisherFor(c.name), "400", c.expect, c.name+": case notes in data."+c.path, badJSON(e))
	}
	structured("casenotes", "400", "data.address.lines: must have at most 6 items", "an address of 7 lines", func(id string) badObj {
		e := typed(id, "index.child.registered")
		badSet(e["data"].(badObj), "address.lines", []any{"1", "2", "3", "4", "5", "6", "7"})
		return e
	})
	// An extension attribute is no place for case notes either: the spec's
	// extensions are override and practitioner.
	structured("casenotes", "400", "notes", "case notes in an extension attribute of an index event",
		func(id string) badObj { e := gp(id); e["notes"] = note; return e })
	structured("casenotes", "400", "notes", "case notes as an object-valued extension attribute",
		func(id string) badObj { e := gp(id); e["notes"] = badObj{"text": note}; return e })

	// Invalid UTF-8 in data and attributes (raw bytes in the file).
	utf8Cases := []struct{ note, path, v, expect string }{
		{"0xFF in a name", "data.practice.name", "Park @FF@ Surgery", "not valid UTF-8"},
		{"0xFE in a key", "data.practice.n@FE@me", "Park Lane", "not valid UTF-8"},
		{"overlong encoding of /", "data.practice.name", "Park @C0@@AF@ Surgery", "not valid UTF-8"},
		{"CESU-8 surrogate", "data.practice.name", "Park @ED@@A0@@80@ Surgery", "not valid UTF-8"},
		{"truncated two-byte sequence", "data.practice.name", "Park Surgery@C3@", "not valid UTF-8"},
		{"five-byte sequence", "data.practice.name", "Park @F8@@88@@80@@80@@80@", "not valid UTF-8"},
		{"Latin-1 é", "data.practice.name", "Caf@E9@ Surgery", "not valid UTF-8"},
		{"0xFF in id", "id", "id-@FF@", "not valid UTF-8"},
		{"broken sequence in practitioner", "practitioner", "Sam @C3@@28@", "not valid UTF-8"},
		{"Latin-1 in override", "override", "Risk of significant harm to the child, caf@E9@ incident", "not valid UTF-8"},
		{"0xFF in an extension", "trace", "abc@FF@", "not valid UTF-8"},
		{"0xFF in subject", "subject", "943476591@FF@", "not valid UTF-8"},
		{"0xFF in source", "source", "/leeds/pct@FF@", "not valid UTF-8"},
	}
	for _, c := range utf8Cases {
		id := g.next("utf8-invalid")
		e := gp(id)
		badSet(e, c.path, c.v)
		g.add("utf8-invalid", "json", "structured", pct, "400", c.expect, c.note, badJSON(e))
	}
	structured("utf8-invalid", "400", "data.practice.name: contains U+FFFD or an unpaired surrogate", "unpaired surrogate escape in data",
		func(id string) badObj { e := gp(id); badSet(e, "data.practice.name", "Park @@SURROGATE@@"); return e })
	g.cases[len(g.cases)-1].body = bytes.ReplaceAll(g.cases[len(g.cases)-1].body, []byte("@@SURROGATE@@"), []byte(`\ud800`))
	structured("utf8-invalid", "400", "id:", "unpaired surrogate escape in id",
		func(id string) badObj { e := gp(id); e["id"] = id + "@@SURROGATE@@"; return e })
	g.cases[len(g.cases)-1].body = bytes.ReplaceAll(g.cases[len(g.cases)-1].body, []byte("@@SURROGATE@@"), []byte(`\udfff`))
	structured("utf8-invalid", "400", "data.practice.name: contains U+FFFD", "U+FFFD replacement character in data",
		func(id string) badObj { e := gp(id); badSet(e, "data.practice.name", "Park \uFFFD Surgery"); return e })

	// Control characters.
	ctrl := []struct {
		name, path, v, expect string
	}{
		{"index.child.registered", "data.name.given", "Amy\u0000", "data.name.given: contains control character U+0000"},
		{"index.carer.recorded", "data.name", "Jo\u0007anne", "data.name: contains control character U+0007"},
		{"index.practitioner.involved", "data.practitioner.name", "\u001b[31mSarah\u001b[0m", "data.practitioner.name: contains control character U+001B"},
		{"index.gp.recorded", "data.practice.name", "Park\u007f", "data.practice.name: contains control character U+007F"},
		{"index.gp.recorded", "data.practice.name", "Park\u0085Lane", "data.practice.name: contains control character U+0085"},
		{"index.child.registered", "data.name.family", "Adams\nDROP TABLE", "data.name.family: must be printable text"},
		{"index.child.registered", "data.name.family", "Ad\tams", "data.name.family: must be printable text"},
		{"index.child.registered", "data.address.postcode", "LS6\r3AA", "data.address.postcode"},
		{"safeguarding.referral", "data.summary", "No food\u0000 at home", "data.summary: contains control character U+0000"},
		{"index.child.registered", "data.name.given", "\u202eamA", "data.name.given: contains bidirectional control character U+202E"},
		{"index.gp.recorded", "id", "ctrl\u0000id", "id: contains a control character"},
		{"index.gp.recorded", "practitioner", "Sam\nTutor", "practitioner: contains a control character"},
		{"index.gp.recorded", "override", "\u001b[2J Risk of significant harm to the child", "override: contains a control character"},
		{"index.gp.recorded", "subject", "9434765919\u0000", "subject: contains a control character"},
		{"index.gp.recorded", "source", "/leeds/pct\u0000", "source: contains a control character"},
		{"index.gp.recorded", "type", "uk.gov.ecm.index.gp.recorded.v1\n", "type: contains a control character"},
	}
	for _, c := range ctrl {
		id := g.next("ctrl")
		e := typed(id, c.name)
		badSet(e, c.path, c.v)
		g.add("ctrl", "json", "structured", badPublisherFor(c.name), "400", c.expect, fmt.Sprintf("%s %q", c.path, c.v), badJSON(e))
	}

	// Deep nesting. The Go decoder stops at 10,000 levels; an event right at
	// the limit is valid JSON that a dead letter wraps one or two levels
	// deeper.
	head := `{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":`
	nest := []struct {
		note, open, close string
		depth             int
		status, expect    string
	}{
		{"data nested 10,000 arrays deep", "[", "]", 10000, "400", "event: structured event is not a JSON object"},
		{"data nested 100,000 arrays deep", "[", "]", 100000, "400", "event: structured event is not a JSON object"},
		{"data nested 150,000 objects deep", `{"a":`, "}", 150000, "400", "event: structured event is not a JSON object"},
		{"event exactly at the decoder's 10,000-level limit", "[", "]", 9999, "400", "data: must be an object"},
		{"event 9,998 levels deep", "[", "]", 9997, "400", "data: must be an object"},
		{"objects 5,000 deep in data", `{"a":`, "}", 5000, "400", `data: unknown field "a"`},
	}
	for _, n := range nest {
		id := g.next("nest")
		body := fmt.Sprintf(head, id) + fmt.Sprintf(`{{repeat %q %d}}1{{repeat %q %d}}`, n.open, n.depth, n.close, n.depth) + "}"
		g.add("nest", "json.gen", "structured", pct, n.status, n.expect, n.note, []byte(body))
	}
	g.add("nest", "json.gen", "structured", pct, "400", "override: must be a string", "an attribute nested 9,000 arrays deep",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","override":{{repeat "[" 9000}}{{repeat "]" 9000}},"data":%s}`, g.next("nest"), badGPData)))
	g.add("nest", "http.gen", "binary", pct, "400", "data: not valid JSON", "binary body nested 10,001 arrays deep",
		badHTTPFile("binary body nested 10,001 arrays deep", badBinHeaders(g.next("nest")), `{{repeat "[" 10001}}{{repeat "]" 10001}}`))
	g.add("nest", "json.gen", "batch", pct, "400", "batch: must be a JSON array", "a batch nested 10,001 arrays deep",
		[]byte(`{{repeat "[" 10001}}{{repeat "]" 10001}}`))
	g.add("nest", "json.gen", "batch", pct, "200:400*", "not a JSON object", "a batch of one event nested 9,000 arrays deep",
		[]byte(`[{{repeat "[" 9000}}{{repeat "]" 9000}}]`))

	// Huge fields in an event under 1 MiB, and inputs with huge answers.
	hugeText := func(cat, name, path string, n int, expect, note string) {
		id := g.next(cat)
		e := typed(id, name)
		badSet(e, path, "@@HUGE@@")
		body := bytes.Replace(badJSON(e), []byte("@@HUGE@@"), []byte(fmt.Sprintf(`{{repeat "x" %d}}`, n)), 1)
		g.add(cat, "json.gen", "structured", badPublisherFor(name), "400", expect, note, body)
	}
	hugeText("huge-field", "safeguarding.referral", "data.summary", 4001, "data.summary: must be at most 4000 characters", "summary of 4,001 characters")
	hugeText("huge-field", "safeguarding.referral", "data.summary", 1000000, "data.summary: must be at most 4000 characters", "summary of 1,000,000 characters")
	hugeText("huge-field", "index.child.registered", "data.name.given", 900000, "data.name.given: must be at most 100 characters", "given name of 900,000 characters")
	hugeText("huge-field", "index.gp.recorded", "id", 900000, "id: is 900000 bytes, at most 4096", "id of 900,000 bytes")
	hugeText("huge-field", "index.gp.recorded", "override", 600000, "override: is 600000 bytes, at most 4096", "override of 600,000 bytes")
	hugeText("huge-field", "index.gp.recorded", "trace", 1000000, "trace: unknown attribute", "extension attribute of 1,000,000 bytes")
	g.add("huge-field", "json.gen", "structured", pct, "400", "data.address.lines: must have at most 6 items", "an address of 100,000 lines",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.address.changed.v1","subject":"9434765919","data":{"area":"leeds","address":{"postcode":"LS6 3AA","lines":[{{range $i := seq 100000}}{{if $i}},{{end}}"a"{{end}}]}}}`, g.next("huge-field"))))
	g.add("huge-problems", "json.gen", "structured", pct, "400", `unknown field "f0"`, "60,000 unknown fields: one problem each",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}}{{range $i := seq 60000}},"f{{$i}}":0{{end}}}}`, g.next("huge-problems"))))
	g.add("huge-problems", "json.gen", "structured", pct, "400", "attribute names are 1-20", "4,000 attribute names of 200 capitals: one problem each",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919"{{range $i := seq 4000}},"{{repeat "A" 200}}{{$i}}":0{{end}},"data":%s}`, g.next("huge-problems"), badGPData)))
	g.add("huge-problems", "http.gen", "binary", pct, "400", "pad: unknown attribute", "a 150,000-byte header of < and a body of <: both escaped six-fold in the dead letter",
		badHTTPFile("a 150,000-byte ce-pad of <, and 70,000 bytes of < as the body", badBinHeaders(g.next("huge-problems"), "Ce-Pad", `{{repeat "<" 150000}}`), `{{repeat "<" 70000}}`))
	g.add("huge-number", "json", "structured", "leeds/lea", "400", "data.days: must be at most", "days with 5,000 digits",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":%s,"reason":"Persistent disruption."}}`+"\n", g.next("huge-number"), strings.Repeat("9", 5000))))
	g.add("huge-number", "json", "structured", "leeds/lea", "400", "data: contains a value that cannot be validated", "days 1e999999999 (exponent too large for big.Rat)",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":1e999999999,"reason":"Persistent disruption."}}`+"\n", g.next("huge-number"))))
	g.add("huge-number", "json", "structured", "leeds/lea", "400", "data: contains a value that cannot be validated", "days -1e-999999999",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"9434765919","data":{"kind":"fixed","days":-1e-999999999,"reason":"Persistent disruption."}}`+"\n", g.next("huge-number"))))
	g.add("huge-number", "json", "structured", pct, "400", "data: contains a value that cannot be validated", "21 purposes, one of them 1e999999999 (uniqueItems hashes numbers)",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.consent.granted.v1","subject":"9434765919","data":{"given_by":"parent","purposes":[1e999999999,"caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf","caf"],"agencies":["lea"]}}`+"\n", g.next("huge-number"))))
	g.add("huge-number", "json", "structured", pct, "400", "time", "time as 1e400 (overflows float64)",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","time":1e400,"data":%s}`+"\n", g.next("huge-number"), badGPData)))

	// Oversize bodies and batches, built at test time.
	g.add("oversize-event", "json.gen", "structured", pct, "413", "event: body is over 1048576 bytes", "a referral of 1 MiB + 1 KiB",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.safeguarding.referral.v1","subject":"9434765919","data":{"category":"neglect","significant_harm":false,"summary":"{{repeat "x" 1049600}}"}}`, g.next("oversize-event"))))
	g.add("oversize-event", "json.gen", "structured", pct, "413", "event: body is over 1048576 bytes", "1 MiB + 1 byte of spaces after a valid event",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":%s}{{repeat " " 1048577}}`, g.next("oversize-event"), badGPData)))
	g.add("oversize-event", "http.gen", "binary", pct, "413", "event: body is over 1048576 bytes", "binary body of 1 MiB + 1 KiB",
		badHTTPFile("binary body of 1 MiB + 1 KiB", badBinHeaders(g.next("oversize-event")), `{"practice":{"name":"{{repeat "x" 1049600}}"}}`))
	g.add("oversize-batch", "json.gen", "batch", pct, "413", "batch: has 1001 events, at most 1000", "1,001 valid events",
		[]byte(`[{{range $i := seq 1001}}{{if $i}},{{end}}{"specversion":"1.0","id":"oversize-batch-001-{{$i}}","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data":`+badGPData+`}{{end}}]`))
	g.add("oversize-batch", "json.gen", "batch", pct, "413", "batch: has 20000 events, at most 1000", "20,000 empty objects",
		[]byte(`[{{range $i := seq 20000}}{{if $i}},{{end}}{}{{end}}]`))
	g.add("oversize-batch", "json.gen", "batch", pct, "413", "event: body is over 16777216 bytes", "a batch of 16 MiB + 1 KiB",
		[]byte(`[{"specversion":"1.0","id":"oversize-batch-003","source":"/leeds/pct","type":"uk.gov.ecm.safeguarding.referral.v1","subject":"9434765919","data":{"category":"neglect","significant_harm":false,"summary":"{{repeat "x" 16778240}}"}}]`))
	g.add("oversize-batch", "json.gen", "batch", pct, "200:400*", "subject: not a valid UIN", "1,000 events (the most allowed), every one with a bad check digit",
		[]byte(`[{{range $i := seq 1000}}{{if $i}},{{end}}{"specversion":"1.0","id":"oversize-batch-004-{{$i}}","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765918","data":`+badGPData+`}{{end}}]`))

	// Binary mode: headers as sent on the wire (see README.md for escapes).
	bin := func(cat, status, expect, note string, headers []string, body string) {
		g.add(cat, "http", "binary", pct, status, expect, note, badHTTPFile(note, headers, body))
	}
	for _, h := range []string{"Ce-Specversion", "Ce-Id", "Ce-Type", "Ce-Subject", "Ce-Source"} {
		attr := strings.ToLower(strings.TrimPrefix(h, "Ce-"))
		bin("binary-missing", "400", attr+": required", "no "+h+" header", badBinHeaders(g.next("binary-missing"), h, ""), badGPData)
	}
	bin("binary-missing", "400", "data: required", "no body", badBinHeaders(g.next("binary-missing")), "")
	bin("binary-dup", "400", "given 2 times", "Ce-Id twice", append(badBinHeaders(g.next("binary-dup")), "Ce-Id: other-id"), badGPData)
	bin("binary-dup", "400", "given 2 times", "Ce-Id and ce-id", append(badBinHeaders(g.next("binary-dup")), "ce-id: other-id"), badGPData)
	bin("binary-dup", "400", "given 2 times", "Ce-Source twice, the second a spoof", append(badBinHeaders(g.next("binary-dup")), "CE-SOURCE: /leeds/police"), badGPData)
	bin("binary-dup", "400", "given 2 times", "Ce-Subject twice, two children", append(badBinHeaders(g.next("binary-dup")), "ce-Subject: "+ben), badGPData)
	bin("binary-dup", "400", "given 2 times", "Ce-Type twice", append(badBinHeaders(g.next("binary-dup")), "Ce-Type: uk.gov.ecm.index.flags.set.v1"), badGPData)
	bin("binary-header-crlf", "400", "given 2 times", "CRLF in Ce-Id injects a second Ce-Source",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Id", g.next("binary-header-crlf")+`\r\nCe-Source: /leeds/police`), badGPData)
	bin("binary-header-crlf", "400", "given 2 times", "CRLF in Ce-Practitioner injects a second Ce-Subject",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Practitioner", `Sam Tutor\r\nCe-Subject: `+ben), badGPData)
	bin("binary-header-crlf", "400", "given 2 times", "bare LF in Ce-Id injects a second Ce-Type",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Id", g.next("binary-header-crlf")+`\nCe-Type: uk.gov.ecm.index.flags.set.v1`), badGPData)
	bin("binary-header-crlf", "400", "http:Bad Request", "bare CR inside Ce-Id",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Id", g.next("binary-header-crlf")+`\rCe-Source: /leeds/police`), badGPData)
	bin("binary-header-crlf", "400", "required", "CRLF CRLF in Ce-Id ends the headers early",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Specversion", `1.0\r\n\r\n`+badGPData), badGPData)
	bin("binary-header-crlf", "400", "http:Bad Request", "NUL inside Ce-Id",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Id", g.next("binary-header-crlf")+`\x00x`), badGPData)
	bin("binary-header-crlf", "403", "source:", "obs-fold continuation line after Ce-Source: joined into one value",
		badBinHeaders(g.next("binary-header-crlf"), "Ce-Source", `/leeds/police\r\n /leeds/pct`), badGPData)
	bin("binary-header-crlf", "400", "http:Bad Request", "a header line with no colon",
		append(badBinHeaders(g.next("binary-header-crlf")), "Ce-Override Risk of significant harm to the child"), badGPData)
	bin("binary-header-crlf", "400", "http:Bad Request", "a space before the colon",
		append(badBinHeaders(g.next("binary-header-crlf")), "Ce-Source : /leeds/police"), badGPData)
	bin("binary-header-crlf", "400", "http:Bad Request", "Content-Length twice, disagreeing",
		append(badBinHeaders(g.next("binary-header-crlf")), fmt.Sprintf("Content-Length: %d", len(badGPData)), "Content-Length: 5"), badGPData)
	bin("binary-pct", "400", "practitioner: contains a control character", "%0D%0A in Ce-Practitioner",
		badBinHeaders(g.next("binary-pct"), "Ce-Practitioner", "Sam%0D%0AX-Injected:%201"), badGPData)
	bin("binary-pct", "400", "id: contains a control character", "%00 in Ce-Id", badBinHeaders(g.next("binary-pct"), "Ce-Id", g.next("binary-pct")+"%00"), badGPData)
	bin("binary-pct", "400", "bad percent-encoding", "%ZZ in Ce-Id", badBinHeaders(g.next("binary-pct"), "Ce-Id", g.next("binary-pct")+"%ZZ"), badGPData)
	bin("binary-pct", "400", "bad percent-encoding", "a lone % at the end of Ce-Id", badBinHeaders(g.next("binary-pct"), "Ce-Id", g.next("binary-pct")+"%"), badGPData)
	bin("binary-pct", "403", "source:", "double-encoded Ce-Source %252Fleeds%252Fpct", badBinHeaders(g.next("binary-pct"), "Ce-Source", "%252Fleeds%252Fpct"), badGPData)
	bin("binary-pct", "403", "source:", "percent-encoded spoof /leeds/%70olice", badBinHeaders(g.next("binary-pct"), "Ce-Source", "/leeds/%70olice"), badGPData)
	bin("binary-pct", "400", "subject: contains a control character", "%00 after the UIN", badBinHeaders(g.next("binary-pct"), "Ce-Subject", amy+"%00"), badGPData)
	bin("binary-pct", "400", "type: contains a control character", "%0A after the type", badBinHeaders(g.next("binary-pct"), "Ce-Type", "uk.gov.ecm.index.gp.recorded.v1%0A"), badGPData)
	bin("binary-pct", "400", "practitioner: is not valid UTF-8", "%C3%28 in Ce-Practitioner", badBinHeaders(g.next("binary-pct"), "Ce-Practitioner", "Sam%20%C3%28"), badGPData)
	bin("binary-pct", "400", "time: is in the future", "percent-encoded future Ce-Time", badBinHeaders(g.next("binary-pct"), "Ce-Time", "2999-01-01T00%3A00%3A00Z"), badGPData)
	bin("binary-pct", "400", "id: is not valid UTF-8", "raw 0xFF in Ce-Id", badBinHeaders(g.next("binary-pct"), "Ce-Id", g.next("binary-pct")+`\xff`), badGPData)
	for _, s := range []string{"/leeds/police", "/york/pct", "/ecm-broker", "/leeds/pct/", "leeds/pct"} {
		bin("binary-spoof", "403", "source:", "Ce-Source "+s, badBinHeaders(g.next("binary-spoof"), "Ce-Source", s), badGPData)
	}
	binAttr := []struct{ header, value, expect string }{
		{"Ce-Specversion", "0.3", "specversion: must be"},
		{"Ce-Subject", "9434765918", "subject: not a valid UIN"},
		{"Ce-Time", "5 January 2026", "time: must be an RFC 3339 timestamp"},
		{"Ce-Time", "2999-01-01T00:00:00Z", "time: is in the future"},
		{"Content-Type", "text/plain", "datacontenttype: must be application/json"},
		{"Content-Type", "application/x-www-form-urlencoded", "datacontenttype: must be application/json"},
		{"Ce-Data_base64", "eyJ9", "attribute names are 1-20"},
		{"Ce-", "empty", "attribute names are 1-20"},
		{"Ce-Averyveryverylongextension", "x", "attribute names are 1-20"},
		{"Ce-Case_notes", "Mother disclosed abuse", "attribute names are 1-20"},
		{"Ce-Override", "urgent", "override: a justification"},
		{"Ce-Practitioner", strings.Repeat("p", 5000), "practitioner: is 5000 bytes, at most 4096"},
		{"Ce-Notes", "Mother%20disclosed%20that%20her%20partner%20hits%20the%20children", "notes"},
	}
	for _, a := range binAttr {
		bin("binary-attr", "400", a.expect, fmt.Sprintf("%s: %.40s", a.header, a.value), badBinHeaders(g.next("binary-attr"), a.header, a.value), badGPData)
	}
	binBody := []struct{ note, body, expect string }{
		{"body is not JSON", "Park Lane Surgery", "data: not valid JSON"},
		{"body is a JSON array", `[` + badGPData + `]`, "data: must be an object"},
		{"body is JSON null", "null", "data: must be an object"},
		{"body has case notes", `{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}},"notes":"` + note + `"}`, `data: unknown field "notes"`},
		{"body is invalid UTF-8", `{"practice":{"name":"Park @FF@","code":"B86001","contact":{"phone":"0113 496 0789"}}}`, "not valid UTF-8"},
		{"body is a whole structured event", string(badCompact(gp("binary-body-inner"))), `data: unknown field`},
	}
	for _, b := range binBody {
		bin("binary-body", "400", b.expect, b.note, badBinHeaders(g.next("binary-body")), b.body)
	}
	bin("binary-ct", "400", "specversion: required", "ce- headers but Content-Type application/cloudevents+json: the data is read as the event",
		badBinHeaders(g.next("binary-ct"), "Content-Type", "application/cloudevents+json"), badGPData)
	bin("binary-ct", "400", "specversion: required", "no Content-Type and no Ce-Specversion: read as a structured event",
		badBinHeaders(g.next("binary-ct"), "Content-Type", "", "Ce-Specversion", ""), badGPData)

	// Source spoofing: an otherwise valid event that claims another
	// identity. The only problem is the source: 403.
	for _, s := range []string{"/leeds/police", "/york/pct", "/ecm-broker", "/leeds/pct/", "/LEEDS/PCT", "leeds/pct", "//leeds/pct",
		"/leeds/pct?as=police", "/leeds/pct#police", "/leeds/./pct", "/leeds/%70ct", " /leeds/pct", "/leeds/pct ", "https://leeds/pct",
		"/leeds/\u0440ct", "/leeds/pct\u200b", "/york/la-social-care"} {
		structured("spoof", "403", "source:", fmt.Sprintf("source %q", s), func(id string) badObj { e := gp(id); e["source"] = s; return e })
	}
	structured("spoof", "400", "source:", "spoofed police source with a police-only type: two problems, so 400", func(id string) badObj {
		e := badEvent(id, "leeds/police", "police.incident", badValidData("police.incident"))
		return e
	})

	// The same id with other content: a conflict, not a silent duplicate.
	prime := func(name string, e badObj) string {
		g.primes[name] = badJSON(e)
		return name
	}
	dup := func(status, expect, note, primeName string, primeEv badObj, body []byte, mode, ext string) {
		c := g.add("dup-id", ext, mode, pct, status, expect, note, body)
		c.prime = prime(primeName, primeEv)
	}
	{
		id := g.next("dup-id")
		orig := gp(id)
		other := gp(id)
		badSet(other, "data.practice.name", "Other Surgery")
		dup("409", "was already used by /leeds/pct", "same id, other practice name", id+".json", orig, badJSON(other), "structured", "json")
		id = g.next("dup-id")
		orig, other = gp(id), gp(id)
		other["subject"] = ben
		dup("409", "was already used by /leeds/pct", "same id, another child", id+".json", orig, badJSON(other), "structured", "json")
		id = g.next("dup-id")
		orig, other = gp(id), badEvent(id, pct, "index.concern.withdrawn", badValidData("index.concern.withdrawn"))
		dup("409", "was already used by /leeds/pct", "same id, another type", id+".json", orig, badJSON(other), "structured", "json")
		id = g.next("dup-id")
		orig, other = gp(id), gp(id)
		other["time"] = "2026-01-06T10:00:00Z"
		dup("409", "was already used by /leeds/pct", "same id, another time", id+".json", orig, badJSON(other), "structured", "json")
		id = g.next("dup-id")
		orig = gp(id)
		dup("409", "was already used by /leeds/pct", "same id in binary mode, other data", id+".json", orig,
			badHTTPFile("same id as the prime, other data", badBinHeaders(id), `{"practice":{"name":"Other Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}}}`), "binary", "http")
		id = g.next("dup-id")
		a, b := gp(id), gp(id)
		badSet(b, "data.practice.name", "Other Surgery")
		g.add("dup-id", "json", "batch", pct, "200:202,409", "was already used by /leeds/pct", "a batch with one id twice, the second other content", badJSON([]any{a, b}))
		id = g.next("dup-id")
		a, b = gp(id), gp(id)
		badSet(b, "data.practice.code", "B86002")
		g.add("dup-id", "json", "batch", pct, "200:202,202,409", "was already used by /leeds/pct", "a batch: an event, its retry (a duplicate), then the id reused", badJSON([]any{a, a, b}))
	}

	// Batches that are not arrays of events.
	batch := func(status, expect, note string, body []byte) {
		g.add("batch", "json", "batch", pct, status, expect, note, body)
	}
	batch("400", "batch: must be a JSON array", "an empty object", []byte("{}\n"))
	batch("400", "batch: must be a JSON array", "a single event, not in an array", badJSON(gp(g.next("batch"))))
	batch("400", "batch: must be a JSON array", "a string", []byte(`"events"`+"\n"))
	batch("400", "batch: must be a JSON array", "a number", []byte("42\n"))
	batch("400", "batch: must be a JSON array", "JSON null", []byte("null\n"))
	batch("400", "batch: must be a JSON array", "an array cut short", []byte(`[{"specversion":"1.0","id":"`+g.next("batch")+`"`))
	batch("400", "batch: must be a JSON array", "a trailing comma", []byte(`[{},]`))
	batch("400", "batch: must be a JSON array", "empty body", nil)
	batch("200:400*", "not a JSON object", "a nested batch: [[event]]", badJSON([]any{[]any{gp(g.next("batch"))}}))
	batch("200:400*", "not a JSON object", "a nested batch four deep", badJSON([]any{[]any{[]any{[]any{gp(g.next("batch"))}}}}))
	batch("200:400*", "not a JSON object", "items that are not objects", []byte(`[1,"x",true,[]]`+"\n"))
	batch("200:400*", "specversion: required", "null and {} as items", []byte(`[null,{}]`+"\n"))
	batch("200:400*", "specversion: required", "a batch inside an event", badJSON([]any{badObj{"batch": []any{gp(g.next("batch"))}}}))
	batch("200:400*", "data_base64", "an item with data_base64", []byte(fmt.Sprintf(`[{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"9434765919","data_base64":"eyJ9"}]`+"\n", g.next("batch"))))
	batch("200:400*", "subject: not a valid UIN", "three events, all with bad UINs", badJSON([]any{
		badSet(gp(g.next("batch")+"-a"), "subject", "123"), badSet(gp(g.next("batch")+"-b"), "subject", "9434765918"), badSet(gp(g.next("batch")+"-c"), "subject", "")}))
	batch("200:403*", "source:", "two spoofed events", badJSON([]any{badSet(gp(g.next("batch")+"-a"), "source", "/leeds/police"), badSet(gp(g.next("batch")+"-b"), "source", "/york/pct")}))

	// A key given twice (issue 11): Go keeps the last value, the stored
	// bytes both, so one child's event could be read back as another's.
	dupHead := func(id string) string {
		return `{"specversion":"1.0","id":"` + id + `","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","time":"2026-01-05T10:00:00Z",`
	}
	g.add("dup-key", "json", "structured", pct, "400", "subject: is given more than once", "subject twice, two children",
		[]byte(dupHead(g.next("dup-key"))+`"subject":"`+amy+`","subject":"`+ben+`","data":`+badGPData+"}\n"))
	g.add("dup-key", "json", "structured", pct, "400", "subject: is given more than once", "subject twice, the second spelled with an escape",
		[]byte(dupHead(g.next("dup-key"))+`"subject":"`+amy+`","subj\u0065ct":"`+ben+`","data":`+badGPData+"}\n"))
	g.add("dup-key", "json", "structured", pct, "400", "data: is given more than once", "data twice",
		[]byte(dupHead(g.next("dup-key"))+`"subject":"`+amy+`","data":`+badGPData+`,"data":`+badGPData+"}\n"))
	g.add("dup-key", "json", "structured", pct, "400", "data.practice.code: is given more than once", "a key inside data twice",
		[]byte(dupHead(g.next("dup-key"))+`"subject":"`+amy+`","data":{"practice":{"name":"Park Lane Surgery","code":"B86001","code":"B86002","contact":{"phone":"0113 496 0789"}}}}`+"\n"))
	g.add("dup-key", "json", "batch", pct, "200:400*", "subject: is given more than once", "a batch event with subject twice",
		[]byte("["+dupHead(g.next("dup-key"))+`"subject":"`+amy+`","subject":"`+ben+`","data":`+badGPData+"}]\n"))
	bin("dup-key", "400", "data.practice.code: is given more than once", "binary data with a key twice", badBinHeaders(g.next("dup-key")),
		`{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"},"code":"B86002"}}`)

	// Over NATS, as an adapter publishes: no HTTP answer, so the dead
	// letter is the only answer. The publisher column is the participant
	// whose ingest subject is used, or the whole subject.
	natsCase := func(cat, subject, expect, note string, body []byte) *badGenCase {
		return g.add(cat, "json", "nats", subject, "-", expect, note, body)
	}
	natsHTTP := func(cat, subject, expect, note string, headers []string, body string) {
		g.add(cat, "http", "nats", subject, "-", expect, note, badHTTPFile(note, headers, body))
	}
	natsCase("nats-spoof", pct, "source:", "leeds/pct's subject, source /leeds/police", badJSON(badSet(gp(g.next("nats-spoof")), "source", "/leeds/police")))
	natsCase("nats-spoof", "leeds/police", "source:", "leeds/police's subject, source /leeds/pct", badJSON(gp(g.next("nats-spoof"))))
	natsCase("nats-subject", "leeds/nobody", "publish:no response from stream", "an agency that is not registered: no stream takes it", badJSON(badSet(gp(g.next("nats-subject")), "source", "/leeds/nobody")))
	natsCase("nats-subject", "bradford/pct", "publish:no response from stream", "an area that is not configured: no stream takes it", badJSON(badSet(gp(g.next("nats-subject")), "source", "/bradford/pct")))
	natsCase("nats-subject", "ecm.ingest.leeds.pct", "partition", "no partition token", badJSON(gp(g.next("nats-subject"))))
	{
		wrongP := "00"
		if uin.Partition(amy) == wrongP {
			wrongP = "01"
		}
		natsCase("nats-subject", "ecm.ingest.leeds.pct."+wrongP, "partition", "another child's partition", badJSON(gp(g.next("nats-subject"))))
		// A partition token that does not exist (ecm.ingest.leeds.pct.99)
		// is refused by the participant's NATS permissions
		// (TestIsolationMatrix); this corpus runs without isolation, where
		// the participant's own stream takes any one token
		// (wire.IngestStreamSubjects) and no partition consumer reads it.
	}
	natsCase("nats-subject", "ecm.ingest.leeds.pct."+uin.Partition(amy)+".extra", "publish:no response from stream",
		"a fifth subject token: no stream takes it", badJSON(gp(g.next("nats-subject"))))
	natsCase("nats-subject", "ecm.ingest.leeds", "publish:no response from stream", "one token after ecm.ingest: no stream takes it", badJSON(gp(g.next("nats-subject"))))
	natsCase("nats-body", pct, "not a JSON object", "truncated structured event", badCompact(gp(g.next("nats-body")))[:40])
	natsCase("nats-body", pct, "not valid UTF-8", "invalid UTF-8 in data", badJSON(badSet(gp(g.next("nats-body")), "data.practice.name", "Park @FF@")))
	natsCase("nats-body", pct, "casenotes", "case notes in an extension attribute", badJSON(badSet(gp(g.next("nats-body")), "casenotes", note)))
	natsHTTP("nats-body", pct, "specversion: required", "an empty message without headers: binary mode, no attributes", nil, "")
	natsHTTP("nats-body", pct, "specversion: required", "an HL7 message without headers: binary mode, no attributes", nil, "MSH|^~\\&|PAS|LEEDS|ECM|BROKER|202601051000||ADT^A04|1|P|2.4\r")
	natsHTTP("nats-binary", pct, "given 2 times", "ce-id twice", append(badBinHeaders(g.next("nats-binary")), "Ce-Id: other-id"), badGPData)
	natsHTTP("nats-binary", pct, "given 2 times", "ce-subject and Ce-Subject: NATS headers are case-sensitive, two children (one partition)",
		[]string{"content-type: application/json", "ce-specversion: 1.0", "ce-id: " + g.next("nats-binary"), "ce-source: /leeds/pct",
			"ce-type: uk.gov.ecm.index.gp.recorded.v1", "ce-subject: " + amy, "Ce-Subject: " + badAmyNeighbour}, badGPData)
	natsHTTP("nats-binary", pct, "bad percent-encoding", "%ZZ in ce-id", badBinHeaders(g.next("nats-binary"), "Ce-Id", "x%ZZ"), badGPData)
	natsHTTP("nats-binary", pct, "practitioner: is not valid UTF-8", "raw 0xFF in ce-practitioner", badBinHeaders(g.next("nats-binary"), "Ce-Practitioner", `Sam\xff`), badGPData)
	natsHTTP("nats-binary", pct, "data: not valid JSON", "body is not JSON", badBinHeaders(g.next("nats-binary")), "Park Lane Surgery")
	natsHTTP("nats-binary", pct, "type: police.incident may not be published", "police type from leeds/pct",
		badBinHeaders(g.next("nats-binary"), "Ce-Type", "uk.gov.ecm.police.incident.v1"), string(badCompact(badValidData("police.incident"))))
	g.add("nats-oversize", "json.gen", "nats", pct, "-", "event: is 1049", "1 MiB + 1 KiB: under the server's max payload, over the event limit",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.safeguarding.referral.v1","subject":"9434765919","data":{"category":"neglect","significant_harm":false,"summary":"{{repeat "x" 1049000}}"}}`, g.next("nats-oversize"))))
	g.add("nats-oversize", "json.gen", "nats", pct, "-", "publish:maximum payload exceeded", "2 MiB: refused by the server",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.safeguarding.referral.v1","subject":"9434765919","data":{"category":"neglect","significant_harm":false,"summary":"{{repeat "x" 2097152}}"}}`, g.next("nats-oversize"))))
	{
		id := g.next("nats-dup-id")
		orig, other := gp(id), gp(id)
		badSet(other, "data.practice.name", "Other Surgery")
		c := natsCase("nats-dup-id", pct, "Nats-Msg-Id: header must be", "same source and id as an event accepted over HTTP, other content, no Nats-Msg-Id", badJSON(other))
		c.prime = prime(id+".json", orig)
	}
	g.add("nats-oversize", "http.gen", "nats", pct, "-", "publish:header size exceeds", "a 170,000-byte header: refused by the server (64 KiB of headers at most)",
		badHTTPFile("a 170,000-byte X-Pad of < and a body of <", []string{"content-type: application/cloudevents+json", `X-Pad: {{repeat "<" 170000}}`}, `{{repeat "<" 70000}}`))
	g.add("nats-crash", "json", "nats", "leeds/lea", "-", "data: contains a value that cannot be validated", "days 1e999999999 over NATS: a panic here is in the pipeline goroutine",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/lea","type":"uk.gov.ecm.education.exclusion.v1","subject":"`+badCal+`","data":{"kind":"fixed","days":1e999999999,"reason":"Persistent disruption."}}`+"\n", g.next("nats-crash"))))
	natsCase("nats-dup-key", pct, "subject: is given more than once", "subject twice over NATS, sent to the last child's partition",
		[]byte(dupHead(g.next("nats-dup-key"))+`"subject":"`+ben+`","subject":"`+amy+`","data":`+badGPData+"}\n"))
	g.add("nats-poison", "json.gen", "nats", pct, "-", `unknown field "f0"`, "60,000 unknown fields: the dead letter's reasons outgrow the max payload",
		[]byte(fmt.Sprintf(`{"specversion":"1.0","id":"%s","source":"/leeds/pct","type":"uk.gov.ecm.index.gp.recorded.v1","subject":"`+ben+`","data":{"practice":{"name":"Park Lane Surgery","code":"B86001","contact":{"phone":"0113 496 0789"}}{{range $i := seq 60000}},"f{{$i}}":0{{end}}}}`, g.next("nats-poison"))))
}
