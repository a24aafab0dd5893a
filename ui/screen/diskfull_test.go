package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// unsavedNode is a fakeNode with lines typed while the disk was full.
type unsavedNode struct {
	*fakeNode
	n int
}

func (u *unsavedNode) Unsaved() int { return u.n }

// TestScreenQuitWithUnsavedLines: the first ctrl+c while lines typed on a
// full disk are not saved does not leave and says they would be lost; the
// second leaves.
func TestScreenQuitWithUnsavedLines(t *testing.T) {
	f := newFakeNode()
	s := newTestScreen(testConfig(&unsavedNode{fakeNode: f, n: 3}))
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 30})
	if cmd := s.handleKey(ctrlKey('c')); cmd != nil || s.quitting {
		t.Fatal("the first ctrl+c with unsaved lines quits")
	}
	scr := strings.ReplaceAll(screenText(t, s), "\n", " ")
	if !strings.Contains(scr, "3 lines you typed are not saved") {
		t.Errorf("no warning on the screen:\n%s", scr)
	}
	if cmd := s.handleKey(ctrlKey('c')); cmd == nil || !s.quitting {
		t.Fatal("the second ctrl+c does not quit")
	}
}

// TestScreenDiskNotices: the full disk, the room again and a saved line
// are said on the screen.
func TestScreenDiskNotices(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 200, Height: 30})
	drive(t, s, eventMsg{ev: protocol.DiskEvent{Full: true, Err: protocol.ErrDiskFull}},
		eventMsg{ev: protocol.SavedEvent{ID: 4}}, eventMsg{ev: protocol.DiskEvent{}})
	scr := strings.ReplaceAll(screenText(t, s), "\n", " ")
	for _, want := range []string{"disk full: disk full", "the disk has room again", "saved (it was typed"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
}
