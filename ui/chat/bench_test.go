package chat

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchText returns a message of one to four rows at 120 columns, with
// some wide characters.
func benchText(i int) string {
	switch i % 4 {
	case 0:
		return "ok " + strconv.Itoa(i)
	case 1:
		return strings.Repeat("a somewhat longer message with words ", 3) + strconv.Itoa(i)
	case 2:
		return "漢字 and 👋🏽 emoji " + strconv.Itoa(i) + "\nsecond line"
	default:
		return strings.Repeat("lorem ipsum dolor sit amet ", 12)
	}
}

func benchPane(b *testing.B, n int) *Pane {
	b.Helper()
	p := newPane(b, 120, 40)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		if i%2 == 0 {
			p.AddOwn(uint64(i), benchText(i), at)
			p.SetDelivery(uint64(i), Delivered)
		} else {
			p.AddPeer(uint64(i), benchText(i), at, i%97 == 0)
		}
	}
	return p
}

// BenchmarkViewScrollback10k: 10,000 messages in the scrollback, one
// scroll then View, alternating up and down so that the rows in view
// change every time (each new item in view is rendered once, then cached).
func BenchmarkViewScrollback10k(b *testing.B) {
	p := benchPane(b, 10_000)
	p.PageUp()
	_ = p.View()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%200 < 100 {
			p.ScrollUp(1)
		} else {
			p.ScrollDown(1)
		}
		i++
		_ = p.View()
	}
}

// BenchmarkViewScrollback10kCold is View after a jump to a part of the
// scrollback never rendered: every item in view is rendered from scratch.
func BenchmarkViewScrollback10kCold(b *testing.B) {
	p := benchPane(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		p.invalidate() // drop every cached row
		p.ScrollUp(1)
		_ = p.View()
	}
}

// BenchmarkAdd: AddPeer at the bottom of a long scrollback (no rendering).
func BenchmarkAdd(b *testing.B) {
	p := newPane(b, 120, 40)
	texts := []string{benchText(0), benchText(1), benchText(2), benchText(3)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.AddPeer(uint64(i), texts[i%4], t0, false)
		i++
	}
}

// BenchmarkAddView: a message arrives and the root redraws.
func BenchmarkAddView(b *testing.B) {
	p := benchPane(b, 10_000)
	texts := []string{benchText(0), benchText(1), benchText(2), benchText(3)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.AddPeer(uint64(i), texts[i%4], t0, false)
		_ = p.View()
		i++
	}
}

// BenchmarkMemory100k reports the live heap of a pane after 100,000
// AddPeer calls (MaxItems keeps 50,000) and one View, as heap-B.
func BenchmarkMemory100k(b *testing.B) {
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = benchText(i) // distinct strings, like decrypted messages
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := newPane(b, 120, 40)
		for i := range 100_000 {
			p.AddPeer(uint64(i), strings.Clone(texts[i%100]), t0, false)
		}
		_ = p.View()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "heap-B")
		b.ReportMetric(float64(p.Len()), "items")
		runtime.KeepAlive(p)
	}
}
