package crypto

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"
)

// BenchmarkNonceCacheCheck1M measures Contains + Add of a fresh nonce on a
// cache that holds at least 1Mi entries throughout: generations rotate
// every 1Mi adds (fake clock advancing 1 ns per add) and the cap is 2Mi.
func BenchmarkNonceCacheCheck1M(b *testing.B) {
	const fill = 1 << 20
	c := NewNonceCache(time.Duration(fill), 2*fill)
	r := mrand.New(mrand.NewPCG(5, 6))
	next := func(n *[12]byte) {
		v, w := r.Uint64(), r.Uint32()
		for j := 0; j < 8; j++ {
			n[j] = byte(v >> (8 * j))
		}
		n[8], n[9], n[10], n[11] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	}
	var n [12]byte
	now := int64(0)
	for i := 0; i < fill; i++ {
		next(&n)
		c.Add(n, now, now)
		now++
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next(&n)
		if c.Contains(n) {
			b.Fatal("fresh nonce reported as seen")
		}
		c.Add(n, now, now)
		now++
	}
}

func BenchmarkAEADSealOpen(b *testing.B) {
	a, _ := NewAEAD(make([]byte, KeySize))
	var nonce [12]byte
	ad := make([]byte, 32)
	for _, size := range []int{64, 1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			pt := make([]byte, size)
			buf := make([]byte, 0, size+TagSize)
			out := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ct := a.Seal(buf[:0], &nonce, pt, ad)
				if _, err := a.Open(out[:0], &nonce, ct, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSendNoncesNext(b *testing.B) {
	s := NewSendNonces(rand.Reader, 1<<62)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i&(1<<20-1) == 0 {
			s.Reset() // keep the map realistic (≤1Mi entries per epoch)
		}
		if _, err := s.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
