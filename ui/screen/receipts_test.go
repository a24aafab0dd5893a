package screen

import (
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// courtesyNode is a fakeNode that also records Typing and MarkRead.
type courtesyNode struct {
	*fakeNode
	mu     sync.Mutex
	typing int
	read   []uint64
}

func (c *courtesyNode) Typing() { c.mu.Lock(); c.typing++; c.mu.Unlock() }
func (c *courtesyNode) MarkRead(ids []uint64) {
	c.mu.Lock()
	c.read = append(c.read, ids...)
	c.mu.Unlock()
}

func (c *courtesyNode) counts() (int, []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.typing, append([]uint64(nil), c.read...)
}

func courtesyScreen(t *testing.T, h int) (*Screen, *courtesyNode) {
	t.Helper()
	n := &courtesyNode{fakeNode: newFakeNode()}
	s := newTestScreen(testConfig(n))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: h})
	return s, n
}

func peerMessage(id uint64, text string) eventMsg {
	return eventMsg{ev: protocol.MessageEvent{ID: id, Text: text, SentAt: screenT0, ShownAt: screenT0}}
}

// TestScreenTyping: typing text into a message calls Node.Typing; typing a
// command, or a key that types nothing, does not.
func TestScreenTyping(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []tea.Msg
		want int
	}{
		{"a message", typeText("hi"), 2}, // the node rate-limits, not the screen
		{"a command", typeText("/rekey"), 0},
		{"a message starting with /", typeText("//x"), 2}, // "/" alone is a command so far
		{"keys that type nothing", []tea.Msg{ctrlKey('a'), keyPress(tea.KeyLeft), altKey('b')}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, n := courtesyScreen(t, 24)
			drive(t, s, tc.keys...)
			if k, _ := n.counts(); k != tc.want {
				t.Fatalf("Typing called %d times, want %d", k, tc.want)
			}
		})
	}
}

// TestScreenMarkRead: the peer's messages on screen are marked read while
// the terminal has the focus (it has until it says otherwise), each once;
// none while it has not, nor those scrolled out of view.
func TestScreenMarkRead(t *testing.T) {
	s, n := courtesyScreen(t, 24)
	drive(t, s, peerMessage(1, "one"), peerMessage(2, "two"))
	drive(t, s, advance{time.Second}, statusTickMsg{})
	if _, r := n.counts(); len(r) != 2 || r[0]+r[1] != 3 {
		t.Fatalf("focused: marked %v, want 1 and 2", r)
	}
	drive(t, s, tea.BlurMsg{}, peerMessage(3, "three"), statusTickMsg{})
	if _, r := n.counts(); len(r) != 2 {
		t.Fatalf("unfocused: marked %v, want nothing new", r)
	}
	drive(t, s, tea.FocusMsg{})
	if _, r := n.counts(); len(r) != 3 || r[2] != 3 {
		t.Fatalf("focus back: marked %v, want 3 added once", r)
	}
	// Scrolled up: a message arriving below the view is not read yet.
	for i := range 40 {
		drive(t, s, peerMessage(uint64(100+i), "filler"))
	}
	drive(t, s, keyPress(tea.KeyPgUp), keyPress(tea.KeyPgUp), keyPress(tea.KeyPgUp))
	if s.chat.AtBottom() {
		t.Fatal("page up did not scroll up")
	}
	_, before := n.counts()
	drive(t, s, peerMessage(999, "below the view"), statusTickMsg{})
	_, after := n.counts()
	for _, id := range after[len(before):] {
		if id == 999 {
			t.Fatalf("a message below the view was marked read (scrolled up: %v)", !s.chat.AtBottom())
		}
	}
}

// TestScreenPeerTypingAndRead: the peer's indicator is on the rule above
// the input until the node says it ended; a READ marks our message ✔✔.
func TestScreenPeerTypingAndRead(t *testing.T) {
	s, n := courtesyScreen(t, 24)
	drive(t, s, eventMsg{ev: protocol.TypingEvent{Active: true, Until: screenT0.Add(6 * time.Second)}})
	if txt := screenText(t, s); !strings.Contains(txt, "bob is typing…") {
		t.Fatalf("no typing indicator:\n%s", txt)
	}
	drive(t, s, eventMsg{ev: protocol.TypingEvent{}})
	if txt := screenText(t, s); strings.Contains(txt, "typing") {
		t.Fatalf("typing indicator after it ended:\n%s", txt)
	}
	drive(t, s, typeText("hello")...)
	drive(t, s, keyPress(tea.KeyEnter))
	_, ids, _, _, _ := n.snapshot()
	if len(ids) != 1 {
		t.Fatalf("sent %v", ids)
	}
	drive(t, s, eventMsg{ev: protocol.DeliveredEvent{ID: ids[0]}})
	if txt := screenText(t, s); !strings.Contains(txt, "✓✓ hello") {
		t.Fatalf("not delivered:\n%s", txt)
	}
	drive(t, s, eventMsg{ev: protocol.ReadEvent{IDs: []uint64{ids[0]}}})
	if txt := screenText(t, s); !strings.Contains(txt, "✔✔ hello") {
		t.Fatalf("not read:\n%s", txt)
	}
}
