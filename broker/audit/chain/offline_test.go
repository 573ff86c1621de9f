package chain_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit/chain"
	"github.com/ecm-broker/ecm-broker/wire"
)

// stream writes n records of one chain and a checkpoint of its head signed
// with key, as an instance of the broker would, without any broker: the
// verifier needs nothing but the stored bytes and the trusted key.
func stream(t *testing.T, key ed25519.PrivateKey, n int) []chain.Msg {
	t.Helper()
	var msgs []chain.Msg
	prev := ""
	var head api.ChainHead
	for i := 1; i <= n; i++ {
		rec := api.AuditRecord{EventID: "e" + string(rune('0'+i)), Source: "/leeds/pct", ChildKey: "k1", Outcome: "decided",
			Decisions: []api.Decision{{Participant: "leeds/la-social-care", Allow: true, Basis: "s12-index", Remove: []string{}}},
			ChainLink: api.ChainLink{Chain: "inst.00.0", ChainIndex: uint64(i), PrevHash: prev}}
		body, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		prev = hex.EncodeToString(sum[:])
		head = api.ChainHead{Chain: "inst.00.0", Index: uint64(i), Hash: prev, Seq: uint64(i)}
		msgs = append(msgs, chain.Msg{Seq: uint64(i), Subject: wire.AuditSubject("k1"), Data: body})
	}
	cp := api.Checkpoint{Instance: "inst", N: 1, At: "2026-12-03T07:00:00Z",
		Key: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), Chains: []api.ChainHead{head}}
	body, _ := json.Marshal(cp)
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
	return append(msgs, chain.Msg{Seq: uint64(n + 1), Subject: wire.AuditCheckpointSubject,
		Header: map[string][]string{wire.HeaderSignature: {sig}}, Data: body})
}

func verify(msgs []chain.Msg, key ed25519.PrivateKey) api.VerifyReport {
	v := chain.NewVerifier("export", map[string]bool{base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)): true})
	for _, m := range msgs {
		v.Add(m)
	}
	return v.Report()
}

// An export verifies offline; a changed byte, a removed record and a
// checkpoint signed by an untrusted key are each reported where they are.
func TestVerifierOffline(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	if rep := verify(stream(t, key, 3), key); !rep.OK || rep.Records != 3 || rep.Checkpoints != 1 || rep.Covered != 3 {
		t.Fatalf("untouched: %+v", rep)
	}
	tests := []struct {
		name    string
		tamper  func([]chain.Msg) []chain.Msg
		wantSeq uint64
		want    string
	}{
		{"a changed byte", func(ms []chain.Msg) []chain.Msg {
			ms[0].Data = []byte(strings.Replace(string(ms[0].Data), `"allow":true`, `"allow":false`, 1))
			return ms
		}, 2, "does not link"},
		{"a removed record", func(ms []chain.Msg) []chain.Msg { return append(ms[:1:1], ms[2:]...) }, 3, "missing"},
		{"another key", func(ms []chain.Msg) []chain.Msg {
			other := ed25519.NewKeyFromSeed([]byte(strings.Repeat("x", ed25519.SeedSize)))
			return append(ms[:3:3], stream(t, other, 3)[3])
		}, 4, "not trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verify(tt.tamper(stream(t, key, 3)), key)
			if rep.OK || rep.FirstBreak == nil || rep.FirstBreak.Seq != tt.wantSeq || !strings.Contains(rep.FirstBreak.Problem, tt.want) {
				t.Fatalf("want a break at %d saying %q, got %+v", tt.wantSeq, tt.want, rep.FirstBreak)
			}
		})
	}
}
