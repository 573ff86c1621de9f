package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ecm-broker/ecm-broker/api"
	"github.com/ecm-broker/ecm-broker/wire"
)

// Msg is one message of an audit stream as verification reads it, from the
// stream or from an export.
type Msg struct {
	Seq     uint64
	Subject string
	Header  map[string][]string
	Data    []byte
}

// header is the first value of a header, as nats.Header.Get reads it.
func (m Msg) header(k string) string {
	if v := m.Header[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// chainLink is what verification reads of a record.
type chainLink struct {
	Chain      string `json:"chain"`
	ChainIndex uint64 `json:"chain_index"`
	PrevHash   string `json:"prev_hash"`
}

type chainState struct {
	index, seq, firstSeq uint64
	hash                 string
	covered              uint64
	recent               map[uint64]string // index → hash of the newest records
	order                []uint64
}

const verifyRecent = 1 << 14

// Verifier walks an audit stream in stream order. Feed it every message
// with Add, then call Report. Report does not end the walk: a verifier that
// is kept can be fed the messages stored since and report again, which is
// how the broker verifies its audit in the background without reading it
// all each time.
type Verifier struct {
	keys    map[string]bool
	rep     api.VerifyReport
	chains  map[string]*chainState
	cps     map[string][]uint64            // instance → seqs of its checkpoints
	cpSeen  map[string]map[uint64][]string // instance → n → hashes of checkpoints seen
	chained bool
	signed  map[string]api.ChainHead // chain → the highest head a trusted checkpoint names

	contiguous bool
	lastSeq    uint64
	expect     map[string]api.ChainHead // chain → a head saved outside the broker
	expectMet  map[string]bool
}

// Option changes what a Verifier checks.
type Option func(*Verifier)

// Contiguous says the stream's sequences begin at 1 and have no gap, as in
// ECM_AUDIT itself (it refuses deletes and purges and has no limits): a
// missing sequence is a message the store lost. A copy made by re-publishing
// has sequences of its own; verify it without this option.
func Contiguous() Option { return func(v *Verifier) { v.contiguous = true } }

// ExpectHeads checks the stream against chain heads kept outside the broker
// (saved from an earlier verification, SignedHeads): each chain must still
// reach its head, and the record there must be the one saved. This finds a
// tail cut from a chain together with every checkpoint naming it, which the
// stream alone cannot show.
func ExpectHeads(heads []api.ChainHead) Option {
	return func(v *Verifier) {
		for _, h := range heads {
			if old, ok := v.expect[h.Chain]; !ok || h.Index > old.Index {
				v.expect[h.Chain] = h
			}
		}
	}
}

// NewVerifier trusts checkpoints signed by the given base64 public keys.
func NewVerifier(stream string, keys map[string]bool, opts ...Option) *Verifier {
	v := &Verifier{keys: keys, rep: api.VerifyReport{Stream: stream}, chains: map[string]*chainState{},
		cps: map[string][]uint64{}, cpSeen: map[string]map[uint64][]string{}, signed: map[string]api.ChainHead{},
		expect: map[string]api.ChainHead{}, expectMet: map[string]bool{}}
	for _, o := range opts {
		o(v)
	}
	v.rep.ExpectedHeads = len(v.expect)
	return v
}

func (v *Verifier) broken(seq uint64, chain string, index uint64, format string, args ...any) {
	addBreak(&v.rep, api.ChainBreak{Seq: seq, Chain: chain, Index: index, Problem: fmt.Sprintf(format, args...)})
}

func addBreak(rep *api.VerifyReport, b api.ChainBreak) {
	if rep.FirstBreak == nil {
		rep.FirstBreak = &b
	}
	if len(rep.Breaks) < 100 {
		rep.Breaks = append(rep.Breaks, b)
	}
	rep.BreakCount++
}

// Add checks one message against everything before it.
func (v *Verifier) Add(m Msg) {
	if v.contiguous && m.Seq != v.lastSeq+1 && m.Seq > v.lastSeq {
		if m.Seq == v.lastSeq+2 {
			v.broken(m.Seq, "", 0, "stream sequence %d is missing: the audit stream refuses deletes, so the store lost that message (a damaged block?)", v.lastSeq+1)
		} else {
			v.broken(m.Seq, "", 0, "stream sequences %d to %d are missing: the audit stream refuses deletes, so the store lost those messages (a damaged block?)", v.lastSeq+1, m.Seq-1)
		}
	}
	v.lastSeq = max(v.lastSeq, m.Seq)
	if m.header(wire.HeaderSignature) != "" || strings.HasSuffix(m.Subject, "._checkpoint") {
		v.checkpoint(m)
		return
	}
	v.rep.Records++
	var l chainLink
	if err := json.Unmarshal(m.Data, &l); err != nil {
		v.broken(m.Seq, "", 0, "record is not valid JSON: %v", err)
		return
	}
	if l.Chain == "" {
		if v.chained {
			v.broken(m.Seq, "", 0, "record carries no chain link although records before it do (removed link, or a record inserted)")
		}
		v.rep.Unchained++
		return
	}
	v.chained = true
	sum := sha256.Sum256(m.Data)
	h := hex.EncodeToString(sum[:])
	c := v.chains[l.Chain]
	if c == nil {
		c = &chainState{firstSeq: m.Seq, recent: map[uint64]string{}}
		v.chains[l.Chain] = c
		if l.ChainIndex != 1 {
			v.broken(m.Seq, l.Chain, l.ChainIndex, "chain %s begins at index %d: records 1 to %d are missing", l.Chain, l.ChainIndex, l.ChainIndex-1)
		} else if l.PrevHash != "" {
			v.broken(m.Seq, l.Chain, 1, "first record of chain %s names a predecessor", l.Chain)
		}
	} else {
		switch {
		case l.ChainIndex == c.index+1 && l.PrevHash != c.hash:
			v.broken(m.Seq, l.Chain, l.ChainIndex, "record does not link to the record before it (seq %d, index %d): that record was changed or replaced", c.seq, c.index)
		case l.ChainIndex > c.index+1:
			v.broken(m.Seq, l.Chain, l.ChainIndex, "index %d follows index %d: %d record(s) missing or moved", l.ChainIndex, c.index, l.ChainIndex-c.index-1)
		case l.ChainIndex <= c.index:
			v.broken(m.Seq, l.Chain, l.ChainIndex, "index %d comes after index %d: a record was moved or copied", l.ChainIndex, c.index)
		}
	}
	if e, ok := v.expect[l.Chain]; ok && e.Index == l.ChainIndex {
		v.expectMet[l.Chain] = true
		if e.Hash != h {
			v.broken(m.Seq, l.Chain, l.ChainIndex, "record %d of chain %s is not the record of the heads saved outside the broker (changed since they were saved)", l.ChainIndex, l.Chain)
		}
	}
	c.index, c.seq, c.hash = l.ChainIndex, m.Seq, h
	c.recent[l.ChainIndex] = h
	c.order = append(c.order, l.ChainIndex)
	if len(c.order) > verifyRecent {
		delete(c.recent, c.order[0])
		c.order = c.order[1:]
	}
}

func (v *Verifier) checkpoint(m Msg) {
	v.rep.Checkpoints++
	var cp api.Checkpoint
	if err := json.Unmarshal(m.Data, &cp); err != nil || cp.Instance == "" {
		v.broken(m.Seq, "", 0, "checkpoint is not valid")
		return
	}
	sig, err := base64.StdEncoding.DecodeString(m.header(wire.HeaderSignature))
	pub, perr := base64.StdEncoding.DecodeString(cp.Key)
	switch {
	case !v.keys[cp.Key]:
		v.broken(m.Seq, "", 0, "checkpoint %s/%d is signed with a key that is not trusted (%s)", cp.Instance, cp.N, cp.Key)
		return
	case err != nil || perr != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, m.Data, sig):
		v.broken(m.Seq, "", 0, "checkpoint %s/%d: the signature does not match its content", cp.Instance, cp.N)
		return
	}
	sum := sha256.Sum256(m.Data)
	seen := v.cpSeen[cp.Instance]
	if seen == nil {
		seen = map[uint64][]string{}
		v.cpSeen[cp.Instance] = seen
	}
	if cp.N == 1 && cp.Prev != "" || cp.N > 1 && !contains(seen[cp.N-1], cp.Prev) {
		v.broken(m.Seq, "", 0, "checkpoint %s/%d does not follow checkpoint %d: a checkpoint is missing or changed", cp.Instance, cp.N, cp.N-1)
	}
	seen[cp.N] = append(seen[cp.N], hex.EncodeToString(sum[:]))
	v.cps[cp.Instance] = append(v.cps[cp.Instance], m.Seq)
	v.rep.LastSigned = cp.At
	for _, h := range cp.Chains {
		c := v.chains[h.Chain]
		switch {
		case c == nil:
			v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d names chain %s up to index %d, but no record of it is stored", cp.Instance, cp.N, h.Chain, h.Index)
		case h.Index > c.index:
			v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d says chain %s reached index %d, the stream holds it only to index %d: records removed", cp.Instance, cp.N, h.Chain, h.Index, c.index)
		default:
			got, ok := c.recent[h.Index]
			if h.Index == c.index {
				got, ok = c.hash, true
			}
			if !ok {
				continue // older than the window kept; checked by the links
			}
			if got != h.Hash {
				v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d: record %d of chain %s is not the record signed (changed)", cp.Instance, cp.N, h.Index, h.Chain)
			}
			c.covered = max(c.covered, h.Index)
			if s := v.signed[h.Chain]; got == h.Hash && h.Index >= s.Index {
				v.signed[h.Chain] = h
			}
			if c.covered == c.index {
				// Signed up to its head: later checkpoints name later
				// records, so the hashes kept for them can go (a verifier
				// kept for the background checks would otherwise hold
				// them for every chain ever written).
				clear(c.recent)
				c.order = c.order[:0]
			}
		}
	}
}

// SignedHeads are, for every chain, the highest head that a trusted
// checkpoint names and the stream holds: what `ecmctl audit verify
// --save-heads` keeps outside the broker, for ExpectHeads later.
func (v *Verifier) SignedHeads() []api.ChainHead {
	out := make([]api.ChainHead, 0, len(v.signed))
	for _, h := range v.signed {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Chain < out[j].Chain })
	return out
}

// Report says what the walk has found so far, and finishes it as the stream
// ends here: a chain that two later checkpoints of its instance never
// mention was not written by that instance; a head saved outside the broker
// that the stream no longer reaches was cut. The verifier is not changed: it
// may be fed more messages and report again.
func (v *Verifier) Report() api.VerifyReport {
	rep := v.rep
	rep.Breaks = append([]api.ChainBreak(nil), v.rep.Breaks...)
	if v.rep.FirstBreak != nil {
		b := *v.rep.FirstBreak
		rep.FirstBreak = &b
	}
	names := make([]string, 0, len(v.chains))
	for n := range v.chains {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := v.chains[n]
		rep.Covered += int(c.covered)
		if c.covered > 0 {
			continue
		}
		instance, _, _ := strings.Cut(n, ".")
		later := 0
		for _, s := range v.cps[instance] {
			if s > c.firstSeq {
				later++
			}
		}
		if later >= 2 {
			addBreak(&rep, api.ChainBreak{Seq: c.firstSeq, Chain: n, Index: 1,
				Problem: fmt.Sprintf("chain %s is in no checkpoint of its instance although %d were written after it began: inserted", n, later)})
		}
	}
	expected := make([]string, 0, len(v.expect))
	for n := range v.expect {
		expected = append(expected, n)
	}
	sort.Strings(expected)
	for _, n := range expected {
		e, c := v.expect[n], v.chains[n]
		switch {
		case v.expectMet[n]:
		case c == nil:
			addBreak(&rep, api.ChainBreak{Seq: v.lastSeq, Chain: n, Index: e.Index, Problem: fmt.Sprintf(
				"chain %s reached index %d when the heads were saved, but none of its records is in the stream: removed", n, e.Index)})
		case c.index < e.Index:
			addBreak(&rep, api.ChainBreak{Seq: c.seq, Chain: n, Index: e.Index, Problem: fmt.Sprintf(
				"chain %s ends at index %d, but it reached index %d when the heads were saved: its %d newest record(s) were removed (a cut tail)",
				n, c.index, e.Index, e.Index-c.index)})
		default:
			addBreak(&rep, api.ChainBreak{Seq: c.seq, Chain: n, Index: e.Index, Problem: fmt.Sprintf(
				"record %d of chain %s, named by the heads saved outside the broker, is not in the stream", e.Index, n)})
		}
	}
	rep.Chains = len(v.chains)
	rep.OK = rep.BreakCount == 0
	return rep
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
