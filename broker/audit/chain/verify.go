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
// with Add, then call Report.
type Verifier struct {
	keys    map[string]bool
	rep     api.VerifyReport
	chains  map[string]*chainState
	cps     map[string][]uint64            // instance → seqs of its checkpoints
	cpSeen  map[string]map[uint64][]string // instance → n → hashes of checkpoints seen
	chained bool
}

// NewVerifier trusts checkpoints signed by the given base64 public keys.
func NewVerifier(stream string, keys map[string]bool) *Verifier {
	return &Verifier{keys: keys, rep: api.VerifyReport{Stream: stream}, chains: map[string]*chainState{},
		cps: map[string][]uint64{}, cpSeen: map[string]map[uint64][]string{}}
}

func (v *Verifier) broken(seq uint64, chain string, index uint64, format string, args ...any) {
	b := api.ChainBreak{Seq: seq, Chain: chain, Index: index, Problem: fmt.Sprintf(format, args...)}
	if v.rep.FirstBreak == nil {
		v.rep.FirstBreak = &b
	}
	if len(v.rep.Breaks) < 100 {
		v.rep.Breaks = append(v.rep.Breaks, b)
	}
	v.rep.BreakCount++
}

// Add checks one message against everything before it.
func (v *Verifier) Add(m Msg) {
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
			if !ok {
				continue // older than the window kept; checked by the links
			}
			if got != h.Hash {
				v.broken(m.Seq, h.Chain, h.Index, "checkpoint %s/%d: record %d of chain %s is not the record signed (changed)", cp.Instance, cp.N, h.Index, h.Chain)
			}
			c.covered = max(c.covered, h.Index)
		}
	}
}

// Report finishes the walk: a chain that two later checkpoints of its
// instance never mention was not written by that instance.
func (v *Verifier) Report() api.VerifyReport {
	names := make([]string, 0, len(v.chains))
	for n := range v.chains {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := v.chains[n]
		v.rep.Covered += int(c.covered)
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
			v.broken(c.firstSeq, n, 1, "chain %s is in no checkpoint of its instance although %d were written after it began: inserted", n, later)
		}
	}
	v.rep.Chains = len(v.chains)
	v.rep.OK = v.rep.BreakCount == 0
	return v.rep
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
