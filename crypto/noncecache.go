package crypto

import (
	"math"
	"sync"
	"time"
)

// DefaultNonceCacheEntries is the default NonceCache bound. At about
// 20-30 bytes per entry (Go swiss-table map of [12]byte, measured by
// TestNonceCacheMemoryBounded) it stays below 32 MiB.
const DefaultNonceCacheEntries = 1 << 20

// NonceCache is the receiver's replay cache of AEAD nonces, bounded in
// memory. It keeps two generations (maps), cur and prev; each remembers
// maxTS, the largest record timestamp added to it.
//
// Rotation (on Add): if now - cur.start >= window, or Len() has reached
// maxEntries, then prev is dropped (Floor = max(Floor, prev.maxTS)),
// prev = cur and cur = a new generation starting at now. If after a
// cap-triggered rotation prev alone still holds >= maxEntries nonces (a
// burst within one generation), it is dropped too, the same way.
//
// Invariant: every nonce n added with ts > Floor() has Contains(n) == true.
// The cache never forgets a nonce it would still accept; when the cap is
// hit, the accepted window shrinks instead (Floor rises). Hence a receiver
// that rejects a record when ts <= Floor() || Contains(nonce), and
// otherwise Adds it, never accepts a replay. Use Accept to do that
// atomically. Without cap pressure a nonce is remembered for at least
// window of local time after it was added.
//
// Limits: Floor only rises with authenticated sender timestamps, but a
// peer whose clock runs far ahead raises it early; the protocol must bound
// ts against the local clock (and the freshness window) before Add.
// Len() <= maxEntries always. Safe for concurrent use.
type NonceCache struct {
	mu         sync.Mutex
	window     int64
	maxEntries int
	cur, prev  generation
	floor      int64
}

type generation struct {
	m     map[[12]byte]struct{}
	start int64 // local clock when created (Unix ns)
	maxTS int64 // largest record ts added; math.MinInt64 if none
}

func newGeneration(now int64) generation {
	return generation{m: make(map[[12]byte]struct{}), start: now, maxTS: math.MinInt64}
}

// NewNonceCache returns an empty cache rotating generations every window
// and holding at most maxEntries nonces (DefaultNonceCacheEntries if
// maxEntries <= 0). It panics if window <= 0.
func NewNonceCache(window time.Duration, maxEntries int) *NonceCache {
	if window <= 0 {
		panic("crypto: NewNonceCache: window must be positive")
	}
	if maxEntries <= 0 {
		maxEntries = DefaultNonceCacheEntries
	}
	return &NonceCache{window: int64(window), maxEntries: maxEntries, floor: math.MinInt64}
}

// Contains reports whether n is remembered.
func (c *NonceCache) Contains(n [12]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.containsLocked(n)
}

func (c *NonceCache) containsLocked(n [12]byte) bool {
	if _, ok := c.cur.m[n]; ok {
		return true
	}
	_, ok := c.prev.m[n]
	return ok
}

// Add records nonce n of a record with timestamp ts, at local time now
// (both Unix nanoseconds), rotating generations first as described on
// NonceCache.
func (c *NonceCache) Add(n [12]byte, ts int64, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(n, ts, now)
}

// Accept atomically checks and records: if ts <= Floor() or n is already
// remembered it returns false and changes nothing; otherwise it Adds n and
// returns true.
func (c *NonceCache) Accept(n [12]byte, ts int64, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts <= c.floor || c.containsLocked(n) {
		return false
	}
	c.addLocked(n, ts, now)
	return true
}

func (c *NonceCache) addLocked(n [12]byte, ts, now int64) {
	if c.cur.m == nil {
		c.cur = newGeneration(now)
	}
	if now-c.cur.start >= c.window {
		c.rotate(now)
	}
	if len(c.cur.m)+len(c.prev.m) >= c.maxEntries {
		c.rotate(now)
		if len(c.prev.m) >= c.maxEntries {
			c.drop(&c.prev)
		}
	}
	c.cur.m[n] = struct{}{}
	if ts > c.cur.maxTS {
		c.cur.maxTS = ts
	}
}

func (c *NonceCache) rotate(now int64) {
	c.drop(&c.prev)
	c.prev = c.cur
	c.cur = newGeneration(now)
}

// drop forgets g, raising the floor above every timestamp it held.
func (c *NonceCache) drop(g *generation) {
	if g.m != nil && g.maxTS > c.floor {
		c.floor = g.maxTS
	}
	*g = generation{}
}

// Floor is the stale bound: a record with ts <= Floor() must be rejected,
// because the cache may have forgotten its nonce. It is math.MinInt64
// until a generation holding nonces is dropped, and never decreases.
func (c *NonceCache) Floor() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.floor
}

// Len is the number of remembered nonces (<= maxEntries).
func (c *NonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur.m) + len(c.prev.m)
}
