package screen

import (
	"errors"
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
	cfg := testConfig(newFakeNode())
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

	// /clear empties the pane only: the stored history stays, and is not
	// paged in again.
	drive(t, s, typeText("/clear")...)
	drive(t, s, keyPress(tea.KeyEnter))
	drive(t, s, ctrlHome())
	hist.mu.Lock()
	if hist.cleared != 0 || hist.loads != loads {
		t.Fatalf("/clear: Clear called %d times, %d loads after it: want the screen only", hist.cleared, hist.loads-loads)
	}
	hist.mu.Unlock()
	if scr := screenText(t, s); strings.Contains(scr, "stored 2") || !strings.Contains(scr, "history is kept") {
		t.Fatalf("after /clear:\n%s", scr)
	}
	// /clear history asks first: any key but y keeps it.
	drive(t, s, typeText("/clear history")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if scr := screenText(t, s); !strings.Contains(scr, "y/N") {
		t.Fatalf("/clear history did not ask:\n%s", scr)
	}
	drive(t, s, typeText("n")...)
	hist.mu.Lock()
	if hist.cleared != 0 {
		t.Fatal("/clear history answered n deleted the history")
	}
	hist.mu.Unlock()
	if s.input.Value() != "" {
		t.Fatalf("the answer went into the input: %q", s.input.Value())
	}
	// /clear history, y: the pane and the stored history are emptied.
	drive(t, s, typeText("/clear history")...)
	drive(t, s, keyPress(tea.KeyEnter))
	drive(t, s, typeText("y")...)
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
	cfg := testConfig(newFakeNode())
	cfg.Notices = []string{"created a new identity in /home/x/.config/duet/alice.pem\x1b[2J"}
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	scr := screenText(t, s)
	if !strings.Contains(scr, "created a new identity in /home/x/.config/duet/alice.pem") || !strings.Contains(scr, `\x1b[2J`) {
		t.Fatalf("start notice missing or not escaped:\n%s", scr)
	}
}

// historyPage is one scripted answer of scriptedHistory.
type historyPage struct {
	from, to int // entries [from, to) of the source; from is the next position
	err      error
}

// scriptedHistory is a HistorySource over newFakeHistory's entries whose
// loads answer with the scripted pages in turn (entries and an error
// together, as store.DB does when it skipped damaged records); it
// records the position each Older call was given.
type scriptedHistory struct {
	mu      sync.Mutex
	entries []chat.Entry
	pages   []historyPage
	calls   []any // nil for Last, the position for Older
}

func (h *scriptedHistory) next(pos any) ([]chat.Entry, any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, pos)
	if len(h.pages) == 0 {
		return nil, pos, errors.New("scriptedHistory: unexpected load")
	}
	p := h.pages[0]
	h.pages = h.pages[1:]
	return append([]chat.Entry(nil), h.entries[p.from:p.to]...), p.from, p.err
}

func (h *scriptedHistory) Last(n int) ([]chat.Entry, any, error)           { return h.next(nil) }
func (h *scriptedHistory) Older(pos any, n int) ([]chat.Entry, any, error) { return h.next(pos) }
func (h *scriptedHistory) Clear() error                                    { return nil }

func (h *scriptedHistory) loadCalls() []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]any(nil), h.calls...)
}

// TestScreenHistoryPartialError: entries that come with an error (damaged
// records skipped) are shown, the error is a warning notice, and paging
// goes on from the position returned; an error without entries stops it.
func TestScreenHistoryPartialError(t *testing.T) {
	skipped := errors.New("2 damaged records skipped")
	tests := []struct {
		name  string
		pages []historyPage
		calls []any // the loads made: nil for Last, the position for Older
		shown []string
		gone  []string // not on the screen at the top
		warns int      // "history: 2 damaged records skipped" notices
		more  bool
		pos   any
	}{{
		name:  "first page with an error, then the start",
		pages: []historyPage{{from: 150, to: 250, err: skipped}, {from: 50, to: 150}, {from: 0, to: 50}},
		calls: []any{nil, 150, 50},
		shown: []string{"stored 000", "stored 001"},
		warns: 1, more: false, pos: 0,
	}, {
		name:  "older page with an error, paging goes on",
		pages: []historyPage{{from: 150, to: 250}, {from: 50, to: 150, err: skipped}, {from: 40, to: 50, err: skipped}},
		calls: []any{nil, 150, 50},
		shown: []string{"stored 040", "stored 041"},
		gone:  []string{"stored 039"},
		warns: 2, more: false, pos: 40,
	}, {
		name:  "error without entries stops the loading",
		pages: []historyPage{{from: 150, to: 250}, {from: 150, to: 150, err: skipped}},
		calls: []any{nil, 150},
		shown: []string{"stored 150", "stored 151"},
		warns: 1, more: false, pos: 150,
	}, {
		name:  "first load fails without entries",
		pages: []historyPage{{from: 0, to: 0, err: skipped}},
		calls: []any{nil},
		gone:  []string{"stored"},
		warns: 1, more: false, pos: nil,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hist := &scriptedHistory{entries: newFakeHistory(250).entries, pages: tc.pages}
			cfg := testConfig(newFakeNode())
			cfg.History = hist
			s := newTestScreen(cfg)
			drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
			runCmd(t, s, s.Init())
			if tc.pages[0].err != nil {
				if scr := screenText(t, s); !strings.Contains(scr, "history: 2 damaged records skipped") {
					t.Fatalf("no warning notice at start-up:\n%s", scr)
				}
			}
			if tc.pages[0].to > 0 {
				if scr := screenText(t, s); !strings.Contains(scr, "stored 249") {
					t.Fatalf("start-up screen lacks the newest stored message:\n%s", scr)
				}
			}
			// Scroll to the top until nothing more loads (a few times more
			// than pages: a stopped load must stay stopped).
			for range len(tc.pages) + 3 {
				drive(t, s, ctrlHome())
			}
			if got := hist.loadCalls(); fmt.Sprint(got) != fmt.Sprint(tc.calls) {
				t.Fatalf("loads %v, want %v", got, tc.calls)
			}
			scr := screenText(t, s)
			for _, want := range tc.shown {
				if !strings.Contains(scr, want) {
					t.Fatalf("top of the scrollback lacks %q:\n%s", want, scr)
				}
			}
			for _, not := range tc.gone {
				if strings.Contains(scr, not) {
					t.Fatalf("top of the scrollback shows %q:\n%s", not, scr)
				}
			}
			// Oldest first at the top.
			if len(tc.shown) == 2 && strings.Index(scr, tc.shown[0]) > strings.Index(scr, tc.shown[1]) {
				t.Fatalf("%q below %q:\n%s", tc.shown[0], tc.shown[1], scr)
			}
			if s.paging.more != tc.more || s.paging.pos != tc.pos || s.paging.loading {
				t.Fatalf("paging: more %v, pos %v, loading %v; want %v, %v, false", s.paging.more, s.paging.pos, s.paging.loading, tc.more, tc.pos)
			}
			// Every loaded entry is in the pane once, with the notices.
			want := tc.warns
			for _, p := range tc.pages[:len(tc.calls)] {
				want += p.to - p.from
			}
			if n := s.chat.Len(); n < want {
				t.Fatalf("%d items in the pane, want at least %d (entries and warnings)", n, want)
			}
			drive(t, s, ctrlKey(tea.KeyEnd))
			if warns := strings.Count(screenText(t, s), "history: 2 damaged records skipped"); warns != tc.warns {
				t.Fatalf("%d warning notices at the bottom, want %d:\n%s", warns, tc.warns, screenText(t, s))
			}
		})
	}
}

// TestScreenLastSeenFromHistory: before the peer is heard in this run, the
// status bar says when it was last seen: the newest of its stored messages
// (our own do not count).
func TestScreenLastSeenFromHistory(t *testing.T) {
	hist := newFakeHistory(250) // the newest (249) is ours, 248 the peer's
	cfg := testConfig(newFakeNode())
	cfg.History = hist
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40}, keyPress(tea.KeyEscape))
	runCmd(t, s, s.Init())
	want := "last seen " + hist.entries[248].At.Format("2 Jan 15:04")
	if scr := screenText(t, s); !strings.Contains(scr, want) {
		t.Errorf("screen lacks %q:\n%s", want, scr)
	}
}
