package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/wire"
)

// traces lists where any of needles is held: in the messages of every
// stream, and in the store's files on disk.
func traces(t testing.TB, b *broker.Broker, dir string, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	names := b.JetStream().StreamNames(ctx)
	for name := range names.Name() {
		err := store.Scan(ctx, b.JetStream(), name, store.ScanOpts{}, func(m store.Msg) error {
			for _, n := range needles {
				hdr, _ := json.Marshal(m.Header)
				if bytes.Contains(m.Data, []byte(n)) || bytes.Contains(hdr, []byte(n)) || strings.Contains(m.Subject, n) {
					found = append(found, name+" message "+m.Subject)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if dir != "" {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					found = append(found, "file "+p)
				}
			}
			return nil
		})
	}
	return found
}

// An erasure leaves no trace of the child's data in any stream, nor in the
// store's files; the audit keeps its records and verifies; the erasure is
// recorded; other children are untouched.
func TestEraseLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	b := startOpsBroker(t, nil, dir)
	history(t, b)
	// A refused input naming Ben: its dead letter holds the body.
	bad := testEvent("leeds/lea", "caf.completed", ben, map[string]any{"needs": "Brown family: not a list"})
	if code, _ := httpDo(t, b, "POST", "/v1/events", tokenOf("leeds/lea"), bad); code != 400 {
		t.Fatalf("the bad event was accepted: %d", code)
	}
	replayAs(t, b, api.ReplaySelection{Participant: "leeds/pct", Child: ben})
	needles := []string{ben, "Brown", "Asthma"}
	if len(traces(t, b, "", needles...)) == 0 {
		t.Fatal("the test finds nothing to erase")
	}
	amyBefore := len(copiesOf(t, b, "leeds/la-social-care"))

	code, body := httpDo(t, b, "POST", "/v1/erase", opsToken, api.ErasureRequest{Child: ben, Reason: "test: retention period ended"})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var res api.ErasureResult
	_ = json.Unmarshal(body, &res)
	if !res.IndexRecord || res.Ingest != 3 || res.Deliveries != 5 || res.DeadLetters != 1 || res.Operator != "ops" {
		t.Errorf("erasure %+v", res)
	}
	if err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if found := traces(t, b, "", needles...); len(found) > 0 {
		t.Errorf("traces of the child in the streams: %v", found)
	}
	// On disk too, once the store has written its buffers out: deleted
	// messages are overwritten. Except in the child bucket, whose stream
	// refuses deletes (JetStream KV): a purge removes the record from every
	// read, but its bytes, like those of every superseded revision of every
	// child's record, stay in the block file until JetStream compacts it
	// (docs/operations.md, "What erasure cannot reach").
	b.Close()
	var onDisk []string
	for _, f := range traces(t, startOpsBroker(t, nil, dir), dir, needles...) {
		if !strings.Contains(f, "/streams/KV_"+wire.BucketChildren+"/") {
			onDisk = append(onDisk, f)
		}
	}
	if len(onDisk) > 0 {
		t.Errorf("traces of the child on disk: %v", onDisk)
	}
	b = startOpsBroker(t, nil, dir)
	rep, err := b.AuditLog().Verify(context.Background(), wire.StreamAudit, b.TrustedKeys(), nil)
	if err != nil || !rep.OK {
		t.Fatalf("audit after the erasure: %+v %v", rep, err)
	}
	recs, _ := b.AuditLog().Child(context.Background(), b.ChildKey(ben))
	last := recs[len(recs)-1]
	if len(recs) < 4 || last.Outcome != "erased" || last.Action.Reason != "test: retention period ended" || last.Action.By != "ops" ||
		last.Action.Counts["ingest"] != 3 {
		t.Errorf("the erasure's record: %+v", last)
	}
	if n := len(copiesOf(t, b, "leeds/la-social-care")); n != amyBefore-3 {
		t.Errorf("social care holds %d copies, want %d (Ben's three gone, the rest kept)", n, amyBefore-3)
	}
	// A subject access request now finds the audit only.
	_, body = httpDo(t, b, "GET", "/v1/sar?child="+ben, opsToken, nil)
	var sa api.SubjectAccess
	_ = json.Unmarshal(body, &sa)
	if sa.Index != nil || sa.Consent != nil || len(sa.Events) != 0 || len(sa.Rejected) != 0 || len(sa.Decisions) != len(recs) {
		t.Errorf("after erasure: %+v", sa)
	}
	// Refusals.
	for _, r := range []api.ErasureRequest{{Child: ben, Reason: "short"}, {Child: ben, Reason: "erasing " + ben + " as asked"}, {Child: "123", Reason: "a good long reason"}} {
		if code, _ := httpDo(t, b, "POST", "/v1/erase", opsToken, r); code != 400 {
			t.Errorf("%+v: %d", r, code)
		}
	}
}
