package screen

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
	"duet/ui/chat"
)

// TestScreenShowsMessageOnce: a message that arrives while duet starts is
// both in the start-up history page and a live event (issue 17, item 1).
// Whichever comes first, the pane shows it once, and the live event is
// still released (the node acknowledges it).
func TestScreenShowsMessageOnce(t *testing.T) {
	for _, order := range []string{"history then live", "live then history"} {
		t.Run(order, func(t *testing.T) {
			const id = 4242
			hist := newFakeHistory(5)
			hist.entries = append(hist.entries, chat.Entry{ID: id, Text: "third while away", At: screenT0.Add(-time.Minute)})
			cfg := testConfig(newFakeNode())
			cfg.History = hist
			s := newTestScreen(cfg)
			drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
			shown := make(chan struct{})
			live := eventMsg{ev: protocol.MessageEvent{ID: id, Text: "third while away", SentAt: screenT0.Add(-time.Minute)}, shown: shown}
			if order == "history then live" {
				runCmd(t, s, s.Init())
				drive(t, s, eventMsg{ev: protocol.SessionEvent{State: protocol.SessionEstablished}}, live)
			} else {
				drive(t, s, eventMsg{ev: protocol.SessionEvent{State: protocol.SessionEstablished}}, live)
				runCmd(t, s, s.Init())
			}
			select {
			case <-shown:
			case <-time.After(10 * time.Second):
				t.Fatal("the live event was never released: the node would not acknowledge it")
			}
			scr := screenText(t, s)
			if n := strings.Count(scr, "third while away"); n != 1 {
				t.Fatalf("message shown %d times, want once:\n%s", n, scr)
			}
			if n := strings.Count(scr, "stored 004"); n != 1 {
				t.Fatalf("history entry shown %d times, want once:\n%s", n, scr)
			}
		})
	}
}

// TestScreenOwnMessageOnce: our message sent before the start-up page
// arrives, and also in it, is shown once.
func TestScreenOwnMessageOnce(t *testing.T) {
	node := newFakeNode()
	hist := newFakeHistory(0)
	cfg := testConfig(node)
	cfg.History = hist
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
	drive(t, s, typeText("hello early")...)
	drive(t, s, keyPress(tea.KeyEnter))
	_, ids, _, _, _ := node.snapshot()
	if len(ids) != 1 {
		t.Fatalf("%d messages sent, want 1", len(ids))
	}
	hist.entries = append(hist.entries, chat.Entry{ID: ids[0], Own: true, Text: "hello early", At: screenT0, Delivery: chat.Queued})
	runCmd(t, s, s.Init())
	if scr := screenText(t, s); strings.Count(scr, "hello early") != 1 {
		t.Fatalf("own message not shown exactly once:\n%s", scr)
	}
}
