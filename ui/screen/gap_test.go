package screen

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// TestScreenGapThenArrived: a gap says "missing, asking for it again"
// (never "never arrived"); the missing message, written before the gap was
// seen and sent again, is marked arrived; a message written after the gap
// is not taken for it (issue 17, item 3).
func TestScreenGapThenArrived(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40}, keyPress(tea.KeyEscape))
	written := s.now().Add(-3 * time.Second)
	drive(t, s, eventMsg{ev: protocol.GapEvent{Missing: 1}})
	scr := screenText(t, s)
	if !strings.Contains(scr, "1 message missing, asking for it again") || strings.Contains(scr, "never arrived") {
		t.Fatalf("gap notice:\n%s", scr)
	}
	drive(t, s, advance{time.Second}, eventMsg{ev: protocol.MessageEvent{ID: 5, Text: "written after the gap", SentAt: s.now()}})
	if scr := screenText(t, s); strings.Contains(scr, "arrived") {
		t.Fatalf("a new message taken for the missing one:\n%s", scr)
	}
	drive(t, s, advance{time.Second}, eventMsg{ev: protocol.MessageEvent{ID: 4, Text: "the dropped one", SentAt: written}})
	scr = screenText(t, s)
	if strings.Count(scr, "the missing message arrived") != 1 {
		t.Fatalf("the missing message not marked arrived once:\n%s", scr)
	}
	drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: 3, Text: "an older one again", SentAt: written}})
	if scr := screenText(t, s); strings.Count(scr, "the missing message arrived") != 1 {
		t.Fatalf("a closed gap marked arrived again:\n%s", scr)
	}
}
