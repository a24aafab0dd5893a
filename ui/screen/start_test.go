package screen

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
)

// TestScreenStartWarnings: warnings given at start (the database opened at
// its previous commit) are shown in the chat as warnings ("!!"), escaped.
func TestScreenStartWarnings(t *testing.T) {
	cfg := testConfig(newFakeNode())
	cfg.Warnings = []string{"database /x.db: its newest commit record is damaged\x1b[2J"}
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	scr := screenText(t, s)
	var line string
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, "newest commit record is damaged") {
			line = l
		}
	}
	if !strings.Contains(line, "!!") || !strings.Contains(line, `\x1b[2J`) {
		t.Fatalf("start warning missing, not marked !! or not escaped:\n%s", scr)
	}
}

// TestScreenStartPending: with no history (--no-history), our undelivered
// messages from an earlier run are shown at the start, marked queued (…),
// with a notice saying what they are; with a history they are not added
// (the history shows them).
func TestScreenStartPending(t *testing.T) {
	pending := []chat.Entry{
		{ID: 11, Own: true, Text: "first undelivered", At: time.Now().Add(-time.Hour), Delivery: chat.Queued},
		{ID: 12, Own: true, Text: "second undelivered", At: time.Now().Add(-time.Minute), Delivery: chat.Queued},
	}
	for _, withHistory := range []bool{false, true} {
		cfg := testConfig(newFakeNode())
		cfg.Pending, cfg.PendingTotal = pending, 2
		if withHistory {
			cfg.History = newFakeHistory(0)
		}
		s := newTestScreen(cfg)
		drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
		scr := screenText(t, s)
		var first, notice string
		for _, l := range strings.Split(scr, "\n") {
			if strings.Contains(l, "first undelivered") {
				first = l
			}
			if strings.Contains(l, "the 2 messages above, from an earlier run") {
				notice = l
			}
		}
		if withHistory {
			if first != "" || notice != "" {
				t.Fatalf("with a history, pending messages were added:\n%s", scr)
			}
			continue
		}
		if !strings.Contains(first, "…") || notice == "" || !strings.Contains(scr, "second undelivered") {
			t.Fatalf("pending messages not shown as queued with their notice:\n%s", scr)
		}
	}
}

// TestScreenClearStored: with no History to show (--no-history), /clear
// history, confirmed, still empties what earlier runs stored, through
// ClearStored, and says so.
func TestScreenClearStored(t *testing.T) {
	cfg := testConfig(newFakeNode())
	calls := 0
	cfg.ClearStored = func() error { calls++; return nil }
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(t, s, typeText("/clear history")...)
	drive(t, s, keyPress(tea.KeyEnter))
	drive(t, s, typeText("y")...)
	if calls != 1 {
		t.Fatalf("ClearStored called %d times, want 1", calls)
	}
	if scr := screenText(t, s); !strings.Contains(scr, "stored history") {
		t.Fatalf("after /clear:\n%s", scr)
	}
}
