package policy

import (
	"crypto/sha256"
	"encoding/json"
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
	b, err := json.Marshal(input) // map keys are sorted: the same input, the same bytes
	if err != nil {
		return [32]byte{}, false
	}
	h := sha256.New()
	h.Write([]byte(revision))
	h.Write([]byte{0})
	h.Write(b)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k, true
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
