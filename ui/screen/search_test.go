package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/vt"

	"duet/protocol"
	"duet/ui/chat"
)

// searchHistory is a fakeHistory that can be searched: a position is the
// index of the entry before which to go on, and one call reads at most
// perCall entries (as store.DB.Search reads at most 4096 records), so
// that a search needs several calls, some returning no hit.
type searchHistory struct {
	*fakeHistory
	perCall int
	calls   int
}

func (h *searchHistory) Search(query string, from any, n int) ([]chat.Entry, any, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	i := len(h.entries)
	if from != nil {
		i = from.(int)
	}
	var hits []chat.Entry
	for read := 0; i > 0 && read < h.perCall && len(hits) < n; read++ {
		i--
		if strings.Contains(strings.ToLower(h.entries[i].Text), strings.ToLower(query)) {
			hits = append(hits, h.entries[i])
		}
	}
	return hits, i, i == 0, nil
}

// needles are the stored entries holding "Needle": two on the start-up
// page (the last HistoryPage entries), two older.
var needles = []int{5, 120, 200, 240}

func newSearchScreen(t *testing.T) (*Screen, *searchHistory) {
	t.Helper()
	h := &searchHistory{fakeHistory: newFakeHistory(250), perCall: 40}
	for _, i := range needles {
		h.entries[i].Text = "stored " + string(rune('a'+i%26)) + " with a Needle inside"
	}
	cfg := testConfig(newFakeNode())
	cfg.History = h
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
	runCmd(t, s, s.Init())
	return s, h
}

// marks returns the runs of reverse-video cells of the frame, row by row
// (a search's marks), and the rows holding a run also bold (the current
// match), as plain text.
func marks(t *testing.T, s *Screen) (runs []string, current []string) {
	t.Helper()
	emu := vt.NewEmulator(s.lay.w, s.lay.h)
	_, _ = emu.WriteString(strings.ReplaceAll(s.View().Content, "\n", "\r\n"))
	rows := strings.Split(trimRight(emu.String()), "\n")
	for y := 0; y < s.lay.h; y++ {
		var run strings.Builder
		bold := false
		flush := func() {
			if run.Len() > 0 {
				runs = append(runs, run.String())
				if bold && y < len(rows) {
					current = append(current, rows[y])
				}
			}
			run.Reset()
			bold = false
		}
		for x := 0; x < s.lay.w; x++ {
			c := emu.CellAt(x, y)
			if c != nil && c.Style.Attrs&uv.AttrReverse != 0 && y != s.lay.status.y && y >= s.lay.chat.y && y < s.lay.chat.y+s.lay.chat.h && x < s.lay.chat.w {
				run.WriteString(c.Content)
				bold = bold || c.Style.Attrs&uv.AttrBold != 0
				continue
			}
			flush()
		}
		flush()
	}
	return runs, current
}

// separatorRow returns the rule between the chat and the input.
func separatorRow(t *testing.T, s *Screen) string {
	t.Helper()
	rows := strings.Split(screenText(t, s), "\n")
	return rows[s.lay.sep.y]
}

// currentText is the plain text of the row holding the current match.
func currentText(t *testing.T, s *Screen) string {
	t.Helper()
	_, cur := marks(t, s)
	if len(cur) != 1 {
		t.Fatalf("%d current matches drawn, want 1:\n%s", len(cur), screenText(t, s))
	}
	return cur[0]
}

func TestSearchWalksMatchesAcrossStoredPages(t *testing.T) {
	s, h := newSearchScreen(t)
	drive(t, s, typeText("/search NEEDLE")...)
	drive(t, s, keyPress(tea.KeyEnter))
	// Newest first: 240 and 200 are on the pane, 120 and 5 only stored.
	wantText := func(i int) string { return "stored " + string(rune('a'+i%26)) + " with a Needle" }
	if got := currentText(t, s); !strings.Contains(got, wantText(240)) {
		t.Fatalf("first match %q, want the newest (entry 240)", got)
	}
	if sep := separatorRow(t, s); !strings.Contains(sep, "match 1 of ≥2") {
		t.Fatalf("separator %q, want match 1 of ≥2", sep)
	}
	if runs, _ := marks(t, s); len(runs) != 1 || runs[0] != "Needle" {
		t.Fatalf("marks on the screen: %q, want the match's text (its case kept)", runs)
	}
	for k, i := range []int{200, 120, 5} {
		drive(t, s, typeText("n")...)
		if got := currentText(t, s); !strings.Contains(got, wantText(i)) {
			t.Fatalf("n #%d: current match %q, want entry %d", k+1, got, i)
		}
	}
	if sep := separatorRow(t, s); !strings.Contains(sep, "match 4 of") {
		t.Fatalf("separator %q, want match 4", sep)
	}
	h.mu.Lock()
	calls := h.calls
	h.mu.Unlock()
	if calls < 3 {
		t.Fatalf("%d Search calls: the search did not go on from its position", calls)
	}
	drive(t, s, typeText("n")...)
	if sep := separatorRow(t, s); !strings.Contains(sep, "match 4 of 4") || !strings.Contains(sep, "no older match") {
		t.Fatalf("separator %q after the oldest match, want match 4 of 4 and no older match", sep)
	}
	drive(t, s, typeText("N")...)
	if got := currentText(t, s); !strings.Contains(got, wantText(120)) {
		t.Fatalf("N: current match %q, want entry 120", got)
	}
	if s.input.Value() != "" {
		t.Fatalf("n/N reached the input: %q", s.input.Value())
	}
	drive(t, s, keyPress(tea.KeyEscape))
	if runs, _ := marks(t, s); len(runs) > 0 {
		t.Fatalf("marks left after esc: %q", runs)
	}
	if sep := separatorRow(t, s); strings.Contains(sep, "match") {
		t.Fatalf("separator %q after esc still shows the search", sep)
	}
	drive(t, s, typeText("n")...)
	if s.input.Value() != "n" {
		t.Fatalf("after esc, n typed %q, want it in the input", s.input.Value())
	}
}

func TestSearchNoMatch(t *testing.T) {
	s, _ := newSearchScreen(t)
	drive(t, s, typeText("/search zebra")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if sep := separatorRow(t, s); !strings.Contains(sep, "no match for “zebra”") {
		t.Fatalf("separator %q, want no match for “zebra”", sep)
	}
	drive(t, s, typeText("n")...) // nothing to move to: no panic, nothing typed
	if s.input.Value() != "" {
		t.Fatalf("input %q", s.input.Value())
	}
	drive(t, s, keyPress(tea.KeyEscape))
	if sep := separatorRow(t, s); strings.Contains(sep, "zebra") {
		t.Fatalf("separator %q after esc", sep)
	}
}

func TestSearchTypingInSearchMode(t *testing.T) {
	s, _ := newSearchScreen(t)
	drive(t, s, typeText("/search needle")...)
	drive(t, s, keyPress(tea.KeyEnter))
	// With text in the input, n and N are typed: a message can hold them.
	drive(t, s, typeText("an N")...)
	if s.input.Value() != "an N" {
		t.Fatalf("input %q, want %q", s.input.Value(), "an N")
	}
	if sep := separatorRow(t, s); !strings.Contains(sep, "match 1 of") {
		t.Fatalf("typing moved the search: %q", sep)
	}
}

func TestSearchScreenOnlyWithoutHistory(t *testing.T) {
	cfg := testConfig(newFakeNode())
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40}, keyPress(tea.KeyEscape))
	for i, text := range []string{"first Needle", "nothing", "second needle"} {
		drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: uint64(i + 1), Text: text, SentAt: screenT0}})
	}
	drive(t, s, typeText("/search needle")...)
	drive(t, s, keyPress(tea.KeyEnter))
	sep := separatorRow(t, s)
	if !strings.Contains(sep, "match 1 of 2") || !strings.Contains(sep, "screen only") {
		t.Fatalf("separator %q, want match 1 of 2 and that only the screen is searched", sep)
	}
	if got := currentText(t, s); !strings.Contains(got, "second needle") {
		t.Fatalf("current %q, want the newest", got)
	}
	drive(t, s, typeText("n")...)
	if got := currentText(t, s); !strings.Contains(got, "first Needle") {
		t.Fatalf("current %q after n, want the older", got)
	}
}

func TestSearchUsage(t *testing.T) {
	s, _ := newSearchScreen(t)
	drive(t, s, typeText("/search   ")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if !strings.Contains(screenText(t, s), "usage: /search TEXT") {
		t.Fatalf("no usage line:\n%s", screenText(t, s))
	}
	drive(t, s, tea.PasteMsg{Content: "/search " + strings.Repeat("ab", 5000)}, keyPress(tea.KeyEnter))
	if !strings.Contains(screenText(t, s), "not searched: the text is 10000 characters long, at most 200") {
		t.Fatalf("a page-long query was not refused:\n%s", screenText(t, s))
	}
	if s.aids.search.active {
		t.Fatal("search mode entered for a refused query")
	}
}
