package protocol

import (
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHandshake runs a complete key exchange, both sides, in memory:
// three RSA-PSS signatures, three verifications, two OAEP encryptions and
// two decryptions, two X25519 operations. Target: <= 8 ms/op.
func BenchmarkHandshake(b *testing.B) {
	id := testIdentities(b)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		runHandshake(b, id[0], id[1], testNow)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
}

// BenchmarkSealOpen seals and opens one chat record per op. Target: <= 2 µs
// at 1 KiB.
func BenchmarkSealOpen(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			sa, sb := newSessionPair(b, SessionConfig{})
			payload := AppendChat(nil, &Chat{ID: 1, Text: string(make([]byte, size))})
			rec := make([]byte, 0, RecordHeaderSize+len(payload)+TagSize)
			buf := make([]byte, 0, len(payload))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			now := testNow
			for b.Loop() {
				now = now.Add(time.Microsecond)
				r, _, err := sa.Seal(rec[:0], TypeChat, payload, now)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sb.Open(buf, r, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenWith1MCachedNonces measures the receive path when the
// receiver's replay cache already holds a million nonces.
func BenchmarkOpenWith1MCachedNonces(b *testing.B) {
	sa, sb := newSessionPair(b, SessionConfig{NonceCacheSize: 1 << 21})
	var n [NonceSize]byte
	ts := testNow.UnixNano()
	for range 1 << 20 {
		rand.Read(n[:])
		sb.cache.Add(n, ts-1, ts)
	}
	payload := AppendChat(nil, &Chat{ID: 1, Text: string(make([]byte, 1<<10))})
	rec := make([]byte, 0, 2048)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	now := testNow
	for b.Loop() {
		now = now.Add(time.Microsecond)
		r, _, err := sa.Seal(rec[:0], TypeChat, payload, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Open(buf, r, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sb.cache.Len()), "cached")
}

// BenchmarkNodeThroughput sends b.N 1 KiB chat messages from A to B over
// an in-memory pipe and waits until B displayed them all.
func BenchmarkNodeThroughput(b *testing.B) {
	id := testIdentities(b)
	pa, pb := NewPipe(4096)
	b.Cleanup(func() { pa.Close(); pb.Close() })
	var estA, estB atomic.Int32
	var got atomic.Int64
	done := make(chan struct{}, 1)
	var want atomic.Int64
	emitA := func(e Event) {
		if isEstablished(e) {
			estA.Add(1)
		}
	}
	emitB := func(e Event) {
		switch e.(type) {
		case SessionEvent:
			if isEstablished(e) {
				estB.Add(1)
			}
		case MessageEvent:
			if got.Add(1) == want.Load() {
				done <- struct{}{}
			}
		}
	}
	ca, cb := testConfig(id[0]), testConfig(id[1])
	ca.MaxUnacked = 1 << 20
	a := startNode(b, ca, pa, emitA)
	startNode(b, cb, pb, emitB)
	for estA.Load() == 0 || estB.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	text := string(make([]byte, 1<<10))
	b.SetBytes(1 << 10)
	b.ResetTimer()
	want.Store(int64(b.N))
	start := time.Now()
	for range b.N {
		if _, err := a.n.Send(text); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages delivered", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
