package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sort"
	"strconv"
	"sync"

	"github.com/ecm-broker/ecm-broker/api"
)

// decisionCache keeps the decisions of recent policy inputs. The key is a
// hash of the policy revision and the whole input the policy receives —
// which holds only what a decision may depend on (input.go) — so a hit is the
// decision the policy would make again. Policy errors are never cached. The
// cache is emptied when the policy changes.
type decisionCache struct {
	mu      sync.Mutex
	entries map[[32]byte][]api.Decision
	hits    uint64
	misses  uint64
	max     int
}

func cacheKey(revision string, input map[string]any) ([32]byte, bool) {
	buf := keyBufs.Get().(*[]byte)
	b := append((*buf)[:0], revision...)
	b = append(b, 0)
	b, ok := appendCanonical(b, input)
	var k [32]byte
	if ok {
		k = sha256.Sum256(b)
	}
	*buf = b
	keyBufs.Put(buf)
	return k, ok
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendCanonical writes v in an unambiguous encoding: a tag per kind,
// lengths before contents, map keys sorted; equal inputs, equal bytes. It
// does the work json.Marshal did for the key (reflection, escaping) in a
// fraction of the time: the key is made for every decision. A value of a
// kind it does not know is written as its JSON (ok is false when even that
// fails: the request is then not cached).
func appendCanonical(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, 'n'), true
	case bool:
		if x {
			return append(b, 't'), true
		}
		return append(b, 'f'), true
	case string:
		return appendString(append(b, 's'), x), true
	case float64:
		return strconv.AppendFloat(append(b, 'd'), x, 'g', -1, 64), true
	case int:
		return strconv.AppendInt(append(b, 'i'), int64(x), 10), true
	case []string:
		b = binary.AppendUvarint(append(b, 'a'), uint64(len(x)))
		for _, s := range x {
			b = appendString(append(b, 's'), s)
		}
		return b, true
	case []any:
		b = binary.AppendUvarint(append(b, 'a'), uint64(len(x)))
		for _, e := range x {
			var ok bool
			if b, ok = appendCanonical(b, e); !ok {
				return b, false
			}
		}
		return b, true
	case map[string]any:
		var small [16]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = binary.AppendUvarint(append(b, 'o'), uint64(len(x)))
		for _, k := range keys {
			var ok bool
			b = appendString(b, k)
			if b, ok = appendCanonical(b, x[k]); !ok {
				return b, false
			}
		}
		return b, true
	default:
		j, err := json.Marshal(x)
		if err != nil {
			return b, false
		}
		return append(binary.AppendUvarint(append(b, 'j'), uint64(len(j))), j...), true
	}
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// get returns cached decisions; callers must not change them.
func (c *decisionCache) get(k [32]byte) ([]api.Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.entries[k]
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	return d, ok
}

func (c *decisionCache) put(k [32]byte, d []api.Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[32]byte][]api.Decision{}
	}
	if len(c.entries) >= c.max {
		for old := range c.entries { // evict an arbitrary entry
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = d
}

func (c *decisionCache) clear() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

// stats reports hits and misses since start.
func (c *decisionCache) stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
