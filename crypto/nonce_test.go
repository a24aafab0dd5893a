package crypto

import (
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func TestSendNonces(t *testing.T) {
	const cap = 5000
	s := NewSendNonces(rand.Reader, cap)
	seen := make(map[[12]byte]bool)
	for i := 0; i < cap; i++ {
		n, err := s.Next()
		if err != nil {
			t.Fatalf("Next #%d: %v", i, err)
		}
		if seen[n] {
			t.Fatalf("nonce repeated at #%d", i)
		}
		seen[n] = true
	}
	if s.Len() != cap {
		t.Fatalf("Len = %d", s.Len())
	}
	if _, err := s.Next(); !errors.Is(err, ErrEpochFull) {
		t.Fatalf("at cap: err = %v, want ErrEpochFull", err)
	}
	s.Reset()
	if s.Len() != 0 {
		t.Fatalf("Len after Reset = %d", s.Len())
	}
	if _, err := s.Next(); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestSendNoncesRedraw(t *testing.T) {
	a := []byte("AAAAAAAAAAAA")
	b := []byte("BBBBBBBBBBBB")
	s := NewSendNonces(&seqReader{chunks: [][]byte{a, a, b}}, 10)
	n1, err := s.Next()
	if err != nil || string(n1[:]) != string(a) {
		t.Fatalf("first = %q, %v", n1, err)
	}
	n2, err := s.Next()
	if err != nil || string(n2[:]) != string(b) {
		t.Fatalf("second = %q, %v; want redraw to B", n2, err)
	}
	if _, err := s.Next(); !errors.Is(err, errTestRandExhausted) {
		t.Fatalf("rand failure: err = %v", err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}

	stuck := NewSendNonces(repeatReader(1), 10)
	if _, err := stuck.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := stuck.Next(); err == nil {
		t.Fatal("constant rand: second nonce issued")
	}
}

// TestNonceCacheInvariant: for random Add sequences (jittered record
// timestamps, advancing clock, small caps), every nonce added with
// ts > Floor() is still contained, Len never exceeds the cap, and Floor
// never decreases.
func TestNonceCacheInvariant(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		maxEntries := 1 + r.IntN(40)
		window := time.Duration(1 + r.IntN(100))
		c := NewNonceCache(window, maxEntries)
		type rec struct {
			n  [12]byte
			ts int64
		}
		var added []rec
		now := int64(r.IntN(1000))
		prevFloor := c.Floor()
		for step := 0; step < 400; step++ {
			now += int64(r.IntN(10))
			if r.IntN(20) == 0 {
				now -= int64(r.IntN(30)) // wall clock stepping back
			}
			ts := now - int64(r.IntN(60)) + 20
			var n [12]byte
			for i := range n {
				n[i] = byte(r.Uint32())
			}
			n[0] = byte(step) // keep nonces distinct
			n[1] = byte(step >> 8)
			c.Add(n, ts, now)
			added = append(added, rec{n, ts})
			fl := c.Floor()
			if fl < prevFloor {
				t.Fatalf("iter %d: Floor decreased %d -> %d", iter, prevFloor, fl)
			}
			prevFloor = fl
			if c.Len() > maxEntries {
				t.Fatalf("iter %d: Len %d > cap %d", iter, c.Len(), maxEntries)
			}
			for _, a := range added {
				if a.ts > fl && !c.Contains(a.n) {
					t.Fatalf("iter %d step %d: nonce with ts %d > Floor %d forgotten", iter, step, a.ts, fl)
				}
			}
		}
	}
}

func TestNonceCacheRotation(t *testing.T) {
	const w = int64(time.Second)
	c := NewNonceCache(time.Second, 100)
	n := func(i byte) [12]byte { return [12]byte{i} }
	c.Add(n(1), 10, 0)
	c.Add(n(2), 20, w/2)
	c.Add(n(3), 30, w) // rotates: {1,2} -> prev
	if !c.Contains(n(1)) || !c.Contains(n(3)) || c.Floor() != -1<<63 {
		t.Fatalf("after first rotation: contains1=%v floor=%d", c.Contains(n(1)), c.Floor())
	}
	c.Add(n(4), 40, 2*w) // drops {1,2}: floor = 20
	if c.Contains(n(1)) || c.Contains(n(2)) || !c.Contains(n(3)) || c.Floor() != 20 {
		t.Fatalf("after second rotation: floor=%d", c.Floor())
	}
	if c.Accept(n(3), 50, 2*w) {
		t.Error("Accept of a replayed nonce")
	}
	if c.Accept(n(9), 20, 2*w) {
		t.Error("Accept of a stale ts")
	}
	if !c.Accept(n(9), 21, 2*w) || !c.Contains(n(9)) {
		t.Error("Accept of a fresh record refused")
	}
}

func TestNonceCacheCapBurst(t *testing.T) {
	c := NewNonceCache(time.Hour, 10)
	for i := 0; i < 10; i++ {
		c.Add([12]byte{byte(i)}, int64(i), 0)
	}
	if c.Len() != 10 || c.Floor() != -1<<63 {
		t.Fatalf("Len=%d Floor=%d", c.Len(), c.Floor())
	}
	c.Add([12]byte{100}, 100, 0) // cap: rotate, prev alone >= cap: drop
	if c.Len() != 1 || c.Floor() != 9 || !c.Contains([12]byte{100}) {
		t.Fatalf("after burst: Len=%d Floor=%d", c.Len(), c.Floor())
	}
}

// TestNonceCacheMemoryBounded inserts DefaultNonceCacheEntries nonces
// (and then half as many again, exercising rotation at the cap) and checks
// the live heap stays under 32 MiB.
func TestNonceCacheMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~30 MiB")
	}
	const limit = 32 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := NewNonceCache(time.Hour, DefaultNonceCacheEntries)
	r := mrand.New(mrand.NewPCG(3, 4))
	var n [12]byte
	check := func(stage string) {
		runtime.GC()
		runtime.ReadMemStats(&after)
		growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%s: Len=%d heap growth %.1f MiB (%.1f bytes/entry)", stage, c.Len(),
			float64(growth)/(1<<20), float64(growth)/float64(c.Len()))
		if growth > limit {
			t.Errorf("%s: heap grew %d bytes > %d", stage, growth, limit)
		}
	}
	add := func(k int) {
		for i := 0; i < k; i++ {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				n[j] = byte(v >> (8 * j))
			}
			n[8], n[9], n[10], n[11] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
			c.Add(n, int64(i), 0)
		}
	}
	add(DefaultNonceCacheEntries)
	if c.Len() != DefaultNonceCacheEntries {
		t.Fatalf("Len = %d", c.Len())
	}
	check("full")
	add(DefaultNonceCacheEntries / 2)
	check("after cap rotation")
	runtime.KeepAlive(c)
}
