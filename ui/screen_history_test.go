package ui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
)

// fakeHistory is a HistorySource over a slice, oldest first; a position is
// the index of the first entry already loaded.
type fakeHistory struct {
	mu      sync.Mutex
	entries []chat.Entry
	loads   int
	cleared int
}

func newFakeHistory(n int) *fakeHistory {
	h := &fakeHistory{}
	at := screenT0.Add(-48 * time.Hour)
	for i := range n {
		h.entries = append(h.entries, chat.Entry{ID: uint64(10_000 + i), Own: i%3 == 0, Text: fmt.Sprintf("stored %03d", i), At: at.Add(time.Duration(i) * time.Minute)})
	}
	return h
}

func (h *fakeHistory) Last(n int) ([]chat.Entry, any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loads++
	from := max(0, len(h.entries)-n)
	return append([]chat.Entry(nil), h.entries[from:]...), from, nil
}

func (h *fakeHistory) Older(pos any, n int) ([]chat.Entry, any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loads++
	to := pos.(int)
	from := max(0, to-n)
	return append([]chat.Entry(nil), h.entries[from:to]...), from, nil
}

func (h *fakeHistory) Clear() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleared++
	h.entries = nil
	return nil
}

func TestScreenHistory(t *testing.T) {
	hist := newFakeHistory(250)
	cfg := testScreenConfig(newFakeScreenSession())
	cfg.History = hist
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape)) // no handshake overlay over the chat
	runCmd(t, s, s.Init())
	if n := s.chat.Len(); n < HistoryPage {
		t.Fatalf("start-up: %d items in the pane, want the last %d stored messages", n, HistoryPage)
	}
	if scr := screenText(t, s); !strings.Contains(scr, "stored 249") {
		t.Fatalf("start-up screen lacks the newest stored message:\n%s", scr)
	}
	// Scrolling to the top pages in older history, one page at a time,
	// until the start.
	for i := 0; i < 5 && !strings.Contains(screenText(t, s), "stored 000"); i++ {
		drive(t, s, ctrlHome())
	}
	if scr := screenText(t, s); !strings.Contains(scr, "stored 000") {
		t.Fatalf("top of the history not reached:\n%s", scr)
	}
	hist.mu.Lock()
	loads := hist.loads
	hist.mu.Unlock()
	if loads != 3 {
		t.Fatalf("%d loads for 250 entries in pages of %d, want 3", loads, HistoryPage)
	}
	drive(t, s, ctrlHome()) // at the start: no further load
	hist.mu.Lock()
	if hist.loads != loads {
		t.Errorf("loaded again past the start of the history")
	}
	hist.mu.Unlock()

	// /clear empties the pane and the stored history.
	drive(t, s)
	drive(t, s, typeText("/clear")...)
	drive(t, s, keyPress(tea.KeyEnter))
	hist.mu.Lock()
	cleared := hist.cleared
	hist.mu.Unlock()
	if cleared != 1 {
		t.Fatalf("Clear called %d times, want 1", cleared)
	}
	if scr := screenText(t, s); strings.Contains(scr, "stored 2") || !strings.Contains(scr, "stored history") {
		t.Fatalf("after /clear:\n%s", scr)
	}
}

func ctrlHome() tea.KeyPressMsg { return tea.KeyPressMsg{Code: tea.KeyHome, Mod: tea.ModCtrl} }

func TestScreenStartNotices(t *testing.T) {
	cfg := testScreenConfig(newFakeScreenSession())
	cfg.Notices = []string{"created a new identity in /home/x/.config/duet/alice.pem\x1b[2J"}
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	scr := screenText(t, s)
	if !strings.Contains(scr, "created a new identity in /home/x/.config/duet/alice.pem") || !strings.Contains(scr, `\x1b[2J`) {
		t.Fatalf("start notice missing or not escaped:\n%s", scr)
	}
}
