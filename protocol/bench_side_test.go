package protocol

import (
	"testing"
	"time"
)

// BenchmarkSealOnly and BenchmarkOpenOnly split BenchmarkSealOpen's pair
// into the sender's and the receiver's cost of one 64-byte CHAT record
// (issue 19's budget is per record: each side's cost is compared with
// protocol 1's, measured by this same file on both builds).
func BenchmarkSealOnly(b *testing.B) {
	sa, _ := newSessionPair(b, SessionConfig{})
	payload := AppendChat(nil, &Chat{ID: 1, Text: string(make([]byte, 64))})
	rec := make([]byte, 0, 256)
	now := testNow
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if _, _, err := sa.Seal(rec[:0], TypeChat, payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenOnly(b *testing.B) {
	sa, sb := newSessionPair(b, SessionConfig{})
	payload := AppendChat(nil, &Chat{ID: 1, Text: string(make([]byte, 64))})
	const n = 1 << 17 // within both versions' per-epoch limits
	recs := make([][]byte, n)
	now := testNow
	for i := range recs {
		r, _, err := sa.Seal(nil, TypeChat, payload, now)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = r
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			sa, sb = newSessionPair(b, SessionConfig{})
			for j := range recs {
				recs[j], _, _ = sa.Seal(nil, TypeChat, payload, now)
			}
			i = 0
			b.StartTimer()
		}
		if _, err := sb.Open(buf, recs[i], now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
