package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// TestScreenRejectionsFold: five replays in a row are one chat row ending
// "×5", updated in place; a message in between starts a new row; the
// security log still counts every one.
func TestScreenRejectionsFold(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 30})
	before := s.chat.Len()
	for i := range 5 {
		drive(t, s, eventMsg{ev: protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: uint32(100 + i), HasSeq: true}})
	}
	if n := s.chat.Len() - before; n != 1 {
		t.Fatalf("%d rows for 5 repeated rejections, want 1", n)
	}
	text := screenText(t, s)
	if !strings.Contains(text, "seq 104") || !strings.Contains(text, "×5") || strings.Contains(text, "seq 100") {
		t.Fatalf("folded row:\n%s", text)
	}
	drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: 9, Seq: 7, Text: "in between", SentAt: screenT0}})
	drive(t, s, eventMsg{ev: protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: 105, HasSeq: true}})
	if n := s.chat.Len() - before; n != 3 {
		t.Fatalf("%d rows, want the fold, the message and a new rejection row", n)
	}
	if s.seclog.Count() != 6 {
		t.Fatalf("security log counted %d", s.seclog.Count())
	}
}

// TestScreenUnknownCommandIsNotASecurityMark: an unknown command is an
// ordinary notice ("*"), not the "!!" kept for security events.
func TestScreenUnknownCommandIsNotASecurityMark(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 30})
	drive(t, s, append(typeText("/frobnicate"), keyPress(tea.KeyEnter))...)
	for _, line := range strings.Split(screenText(t, s), "\n") {
		if strings.Contains(line, "unknown command") {
			if strings.Contains(line, "!!") || !strings.Contains(line, "*") {
				t.Fatalf("unknown command row: %q", line)
			}
			return
		}
	}
	t.Fatalf("no unknown command notice:\n%s", screenText(t, s))
}
