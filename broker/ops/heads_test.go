package ops_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/broker/audit/chain"
	"github.com/ecm-broker/ecm-broker/wire"
)

// Heads kept outside the broker find a tail cut from a chain together with
// the checkpoint naming it, which the stream alone cannot show; and a record
// changed at a saved head.
func TestAuditExpectedHeads(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	if err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := auditMessages(t, b, wire.StreamAudit)
	v := chain.NewVerifier("copy", b.TrustedKeys())
	for _, m := range msgs {
		v.Add(m)
	}
	if rep := v.Report(); !rep.OK {
		t.Fatalf("untouched audit: %+v", rep)
	}
	heads := v.SignedHeads()
	if len(heads) == 0 {
		t.Fatal("no signed heads after a checkpoint")
	}
	// Amy's chain's newest record, and the checkpoint (the last message).
	amys, newest := "", -1
	for i, m := range msgs {
		var l api.ChainLink
		_ = json.Unmarshal(m.Data, &l)
		if l.Chain != "" && strings.Contains(string(m.Data), b.ChildKey(amy)) {
			amys = l.Chain
		}
		if amys != "" && l.Chain == amys {
			newest = i
		}
	}
	if newest < 0 {
		t.Fatal("no record of Amy's chain")
	}
	cut := append(append([]chain.Msg(nil), msgs[:newest]...), msgs[newest+1:len(msgs)-1]...)
	if rep := verify(b, cut); !rep.OK {
		t.Fatalf("a tail cut with its checkpoint was expected to pass without saved heads (the documented limit): %+v", rep.FirstBreak)
	}
	check := func(name string, ms []chain.Msg, hs []api.ChainHead, want string) {
		t.Run(name, func(t *testing.T) {
			v := chain.NewVerifier("copy", b.TrustedKeys(), chain.ExpectHeads(hs))
			for _, m := range ms {
				v.Add(m)
			}
			rep := v.Report()
			if rep.ExpectedHeads != len(hs) {
				t.Errorf("expected_heads %d, want %d", rep.ExpectedHeads, len(hs))
			}
			if want == "" {
				if !rep.OK {
					t.Fatalf("reported %+v", rep.Breaks)
				}
				return
			}
			if rep.OK || !strings.Contains(rep.FirstBreak.Problem, want) || rep.FirstBreak.Chain != amys {
				t.Fatalf("want a break of chain %s saying %q, got %+v", amys, want, rep)
			}
		})
	}
	check("the stream as saved", msgs, heads, "")
	check("a cut tail", cut, heads, "a cut tail")
	changed := append([]api.ChainHead(nil), heads...)
	for i := range changed {
		if changed[i].Chain == amys {
			changed[i].Hash = strings.Repeat("0", 64)
		}
	}
	check("a record changed at a saved head", msgs, changed, "changed since they were saved")
	gone := append([]api.ChainHead(nil), heads...)
	for i := range gone {
		if gone[i].Chain == amys {
			gone[i].Chain = amys + "9" // a chain the stream no longer holds
		}
	}
	amys += "9"
	check("a whole chain removed", msgs, gone, "none of its records")
}

// ECM_AUDIT refuses deletes, so a missing sequence is a message the store
// lost: verification with Contiguous says so where it is.
func TestAuditContiguous(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	if err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := auditMessages(t, b, wire.StreamAudit)
	lost := append(append([]chain.Msg(nil), msgs[:3]...), msgs[4:]...)
	v := chain.NewVerifier(wire.StreamAudit, b.TrustedKeys(), chain.Contiguous())
	for _, m := range lost {
		v.Add(m)
	}
	rep := v.Report()
	if rep.OK || rep.FirstBreak.Seq != msgs[4].Seq || !strings.Contains(rep.FirstBreak.Problem, "stream sequence 4 is missing") {
		t.Fatalf("first break %+v", rep.FirstBreak)
	}
}

// A verifier reports without ending its walk: fed the rest afterwards, it
// reports what a single walk reports (the background check keeps one).
func TestAuditVerifierIncremental(t *testing.T) {
	b := startOpsBroker(t, nil, "")
	history(t, b)
	if err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := auditMessages(t, b, wire.StreamAudit)
	edited := append([]chain.Msg(nil), msgs...)
	edited[1].Data = []byte(strings.Replace(string(edited[1].Data), `"outcome":"decided"`, `"outcome":"decided "`, 1))
	for _, ms := range [][]chain.Msg{msgs, edited} {
		whole := verify(b, ms)
		v := chain.NewVerifier("copy", b.TrustedKeys())
		for i, m := range ms {
			v.Add(m)
			if i%3 == 0 {
				_ = v.Report()
			}
		}
		if got := v.Report(); !reflect.DeepEqual(got, whole) {
			t.Errorf("reported step by step %+v\nin one walk %+v", got, whole)
		}
	}
}
