package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/ecm-broker/ecm-broker/broker/store"
	"github.com/ecm-broker/ecm-broker/schemas"
	"github.com/ecm-broker/ecm-broker/wire"
	"github.com/nats-io/nats.go/jetstream"
)

func TestParseSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"90m", 90 * time.Minute, false},
		{"24h", 24 * time.Hour, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"6y", 6 * 365 * 24 * time.Hour, false},
		{"6 years", 0, true},
		{"-1d", 0, true},
	}
	for _, tt := range tests {
		got, err := config.ParseSpan(tt.in)
		if (err != nil) != tt.bad || !tt.bad && time.Duration(got) != tt.want {
			t.Errorf("%q: %v %v", tt.in, got, err)
		}
	}
}

func TestOpsConfig(t *testing.T) {
	const tok = "k3Tq9vXw2pLm7RzY" // not a counting run: config.CheckTokenStrength
	base := "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: " + tok + "1}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"defaults", base, ""},
		{"retention", base + "retention: {case_events: 2y, dead_letters: 30d, index_until_age: 25}\n", ""},
		{"signing key", base + "audit_signing_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", ""},
		{"short key", base + "audit_signing_key: AAEC\n", "audit_signing_key"},
		{"bad verify key", base + "audit_verify_keys: [nope]\n", "audit_verify_keys[0]"},
		{"young index age", base + "retention: {index_until_age: 16}\n", "retention.index_until_age"},
		{"bad span", base + "retention: {case_events: soon}\n", "not a duration"},
		{"tiny span", base + "retention: {case_events: 1s}\n", "retention.case_events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.ParseConfig([]byte(tt.yaml))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Retention.IndexUntilAge == 0 || c.Retention.CaseEvents == 0 || c.AuditCheckpointEvery != time.Minute {
					t.Errorf("defaults not set: %+v", c.Retention)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// The sweep deletes case events once they are older than case_events and
// keeps index and consent events; when the children reach the index age,
// everything about them goes, as by an erasure, and the audit still verifies.
func TestRetentionSweep(t *testing.T) {
	cfg := opsConfig()
	cfg.Retention.CaseEvents = config.Span(time.Hour)
	b := startOpsBroker(t, cfg, "")
	history(t, b)
	ctx := context.Background()
	ds, _ := b.JetStream().Stream(ctx, wire.StreamDeadLetter)
	if ds.CachedInfo().Config.MaxAge != 90*24*time.Hour {
		t.Errorf("dead letters kept for %v, want 90 days", ds.CachedInfo().Config.MaxAge)
	}
	count := func() (n int, kinds []string) {
		_ = store.Scan(ctx, b.JetStream(), wire.StreamIngest, store.ScanOpts{}, func(m store.Msg) error {
			n++
			raw, _ := decodeForTest(m.Subject, m.Header, m.Data)
			typ, _ := raw.String("type")
			kinds = append(kinds, strings.TrimSuffix(strings.TrimPrefix(typ, schemas.TypePrefix), schemas.TypeSuffix))
			return nil
		})
		return n, kinds
	}
	if res, err := b.Ops().SweepRetention(ctx, time.Now()); err != nil || res.CaseEvents != 0 || res.Children != 0 {
		t.Fatalf("nothing is due yet: %+v %v", res, err)
	}
	res, err := b.Ops().SweepRetention(ctx, time.Now().Add(2*time.Hour))
	if err != nil || res.CaseEvents != 3 || res.Children != 0 {
		t.Fatalf("after two hours: %+v %v", res, err)
	}
	if n, kinds := count(); n != 4 || strings.Contains(strings.Join(kinds, ","), "caf") || strings.Contains(strings.Join(kinds, ","), "incident") {
		t.Errorf("ingest keeps %d: %v", n, kinds)
	}
	// Again: the cursor has moved on, nothing more.
	if res, err := b.Ops().SweepRetention(ctx, time.Now().Add(2*time.Hour)); err != nil || res.CaseEvents != 0 {
		t.Errorf("second sweep: %+v %v", res, err)
	}
	// Thirty years on, every child is past 24.
	res, err = b.Ops().SweepRetention(ctx, time.Now().AddDate(30, 0, 0))
	if err != nil || res.Children != 2 { // Amy and Ben have a record; Cal was only referred (no record)
		t.Fatalf("thirty years on: %+v %v", res, err)
	}
	if n, kinds := count(); n != 0 {
		t.Errorf("ingest keeps %d: %v", n, kinds)
	}
	kv, err := b.JetStream().KeyValue(ctx, wire.BucketChildren)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, b.ChildKey(amy)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("Amy's record: %v", err)
	}
	recs, _ := b.AuditLog().Child(ctx, b.ChildKey(amy))
	if last := recs[len(recs)-1]; last.Outcome != "erased" || last.Action.By != "retention" {
		t.Errorf("Amy's last record: %+v", last)
	}
	if err := b.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := b.AuditLog().Verify(ctx, wire.StreamAudit, b.TrustedKeys(), nil); err != nil || !rep.OK {
		t.Errorf("audit: %+v %v", rep, err)
	}
}
