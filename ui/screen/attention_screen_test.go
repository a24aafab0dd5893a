package screen

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
)

// announced sends msg to the screen and returns what its Cmds write raw to
// the terminal (the announcements), running the rest of them as drive does.
func announced(t *testing.T, s *Screen, msg tea.Msg) string {
	t.Helper()
	_, cmd := s.Update(msg)
	var raw strings.Builder
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		switch m := c().(type) {
		case tea.BatchMsg:
			for _, c := range m {
				run(c)
			}
		case tea.RawMsg:
			raw.WriteString(m.Msg.(string))
		case nil:
		default:
			drive(t, s, m)
		}
	}
	run(cmd)
	return raw.String()
}

func attentionScreen(t *testing.T, mode Notify, w, h int) *Screen {
	t.Helper()
	cfg := testConfig(newFakeNode())
	cfg.Notify = mode
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: w, Height: h})
	return s
}

// TestScreenAnnouncesUnseen: a peer message while the terminal is blurred
// returns the bell (the desktop sequences for desktop, nothing for off),
// once per notifyEvery for a burst (by the screen's clock); none while the
// user can see the pane.
func TestScreenAnnouncesUnseen(t *testing.T) {
	for _, c := range []struct {
		mode Notify
		want string
	}{
		{NotifyBell, "\a"},
		{NotifyDesktop, "\x1b]9;duet: message from bob\x1b\\\x1b]777;notify;message from bob;\x1b\\"},
		{NotifyOff, ""},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			s := attentionScreen(t, c.mode, 80, 24)
			if got := announced(t, s, peerMessage(1, "seen at once")); got != "" {
				t.Fatalf("focused, at the bottom: announced %q", got)
			}
			drive(t, s, tea.BlurMsg{})
			if got := announced(t, s, peerMessage(2, "the secret text")); got != c.want {
				t.Fatalf("blurred: announced %q, want %q", got, c.want)
			}
			drive(t, s, advance{time.Second})
			if got := announced(t, s, peerMessage(3, "same burst")); got != "" {
				t.Fatalf("1 s later: announced %q, want nothing (one per %v)", got, notifyEvery)
			}
			drive(t, s, advance{notifyEvery})
			if got := announced(t, s, peerMessage(4, "later")); got != c.want {
				t.Fatalf("%v later: announced %q, want %q", notifyEvery, got, c.want)
			}
			if got := announced(t, s, peerMessage(4, "the same id again")); got != "" {
				t.Fatalf("a message already shown was announced again: %q", got)
			}
		})
	}
}

// TestScreenAnnouncesScrolledUp: focused but scrolled up, a message that
// arrives below the view is announced too.
func TestScreenAnnouncesScrolledUp(t *testing.T) {
	s := attentionScreen(t, NotifyBell, 80, 24)
	for i := range 40 {
		drive(t, s, peerMessage(uint64(100+i), "filler"))
	}
	drive(t, s, keyPress(tea.KeyPgUp))
	if got := announced(t, s, peerMessage(1, "below")); got != "\a" {
		t.Fatalf("scrolled up: announced %q, want the bell", got)
	}
}

// TestScreenUnreadTitleAndDivider: messages that arrive while blurred put
// their count in the window title and a divider above the first of them;
// focus clears the count and keeps the divider (seen) until we send.
func TestScreenUnreadTitleAndDivider(t *testing.T) {
	s := attentionScreen(t, NotifyBell, 80, 24)
	drive(t, s, peerMessage(1, "before"), tea.BlurMsg{})
	drive(t, s, peerMessage(2, "first unseen"), peerMessage(3, "second"), peerMessage(4, "third"))
	if got := s.View().WindowTitle; got != "(3) duet — bob" {
		t.Fatalf("blurred: title %q, want %q", got, "(3) duet — bob")
	}
	lines := strings.Split(screenText(t, s), "\n")
	i := indexLine(lines, "── 3 new messages ──")
	if i < 0 || !strings.Contains(lines[i+1], "bob") || !strings.HasSuffix(lines[i+1], "first unseen") || !strings.HasSuffix(lines[i-1], "before") {
		t.Fatalf("no divider right above the first unseen message:\n%s", strings.Join(lines, "\n"))
	}
	drive(t, s, tea.FocusMsg{})
	if got := s.View().WindowTitle; got != "duet — bob" {
		t.Fatalf("focused again: title %q, want %q", got, "duet — bob")
	}
	if txt := screenText(t, s); !strings.Contains(txt, "── 3 new messages ──") {
		t.Fatalf("the divider went on focus (it stays until we send):\n%s", txt)
	}
	drive(t, s, typeText("reply")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if txt := screenText(t, s); strings.Contains(txt, "new message") || !strings.Contains(txt, "reply") {
		t.Fatalf("the divider stays after our reply:\n%s", txt)
	}
}

// TestScreenHistoryNotAnnounced: stored history loaded while blurred is
// neither announced nor counted unread: only live messages are.
func TestScreenHistoryNotAnnounced(t *testing.T) {
	s := attentionScreen(t, NotifyBell, 80, 24)
	drive(t, s, tea.BlurMsg{})
	old := historyMsg{initial: true, entries: []chat.Entry{{ID: 7, Text: "stored", At: screenT0}}}
	if got := announced(t, s, old); got != "" || s.View().WindowTitle != "duet — bob" {
		t.Fatalf("history: announced %q, title %q", got, s.View().WindowTitle)
	}
	if txt := screenText(t, s); !strings.Contains(txt, "stored") || strings.Contains(txt, "new message") {
		t.Fatalf("history shown with a divider (or not shown):\n%s", txt)
	}
}

func indexLine(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}
