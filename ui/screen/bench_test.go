package screen

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
	"duet/ui/chat"
)

// benchScreen returns a 120x40 screen with n messages in the scrollback.
func benchScreen(b *testing.B, n int) *Screen {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(b, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	for i := range n {
		text := fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog, and then some more words to wrap", i)
		if i%2 == 0 {
			s.Update(eventMsg{ev: protocol.MessageEvent{ID: uint64(i + 1), Text: text, SentAt: screenT0}})
		} else {
			s.Update(sendResultMsg{text: text, out: protocol.Outgoing{ID: uint64(i + 1), SentAt: screenT0}})
		}
	}
	s.View()
	return s
}

// BenchmarkKeypress10k: one key press through Update and the frame it
// causes through View, with 10,000 messages in the scrollback.
func BenchmarkKeypress10k(b *testing.B) {
	s := benchScreen(b, 10_000)
	keys := []tea.Msg{tea.KeyPressMsg{Code: 'a', Text: "a"}, tea.KeyPressMsg{Code: tea.KeyBackspace}}
	i := 0
	for b.Loop() {
		s.Update(keys[i%2])
		_ = s.View()
		i++
	}
}

// BenchmarkScrollPage10k: a PgUp/PgDn and its frame, 10,000 messages.
func BenchmarkScrollPage10k(b *testing.B) {
	s := benchScreen(b, 10_000)
	keys := []tea.Msg{tea.KeyPressMsg{Code: tea.KeyPgUp}, tea.KeyPressMsg{Code: tea.KeyPgDown}}
	i := 0
	for b.Loop() {
		s.Update(keys[i%2])
		_ = s.View()
		i++
	}
}

// BenchmarkFirstView: from New to the first frame at 120x40.
func BenchmarkFirstView(b *testing.B) {
	cfg := testConfig(newFakeNode())
	for b.Loop() {
		s := New(cfg)
		s.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		_ = s.View()
	}
}

// BenchmarkHeap100k sends 100,000 received messages into one screen (the
// pane keeps chat.MaxItems) and reports the live heap after them, and the
// time per message including its frame every 100 messages.
func BenchmarkHeap100k(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := newTestScreen(testConfig(newFakeNode()))
		s.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		start := time.Now()
		for i := range 100_000 {
			s.Update(eventMsg{ev: protocol.MessageEvent{ID: uint64(i + 1), Text: fmt.Sprintf("message %d: some ordinary chat text of a typical length", i), SentAt: screenT0}})
			if i%100 == 0 {
				_ = s.View()
			}
		}
		took := time.Since(start)
		_ = s.View()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.chat.Len() > chat.MaxItems {
			b.Fatalf("pane holds %d items, cap %d", s.chat.Len(), chat.MaxItems)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(took.Nanoseconds())/100_000, "ns/msg")
		b.ReportMetric(float64(s.chat.Len()), "items")
		if rss, ok := procStatusKiB("VmRSS"); ok {
			b.ReportMetric(float64(rss)/1024, "rss-MiB") // the whole test process
		}
		runtime.KeepAlive(s)
	}
}

// procStatusKiB reads one "Name: N kB" field of /proc/self/status (Linux).
func procStatusKiB(name string) (int, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			var n int
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &n); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}
