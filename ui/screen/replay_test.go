package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// noChatNode is a node that has sealed no chat message yet.
type noChatNode struct{ *fakeNode }

func (noChatNode) Replay() error { return protocol.ErrNothingToReplay }

// TestScreenReplayNothing: /replay with no chat message sent says so
// plainly (not as a failure), and a replay from an earlier session says
// that the peer should refuse it as tampered.
func TestScreenReplayNothing(t *testing.T) {
	s := newTestScreen(testConfig(noChatNode{newFakeNode()}))
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40}, keyPress(tea.KeyEscape))
	drive(t, s, typeText("/replay")...)
	drive(t, s, keyPress(tea.KeyEnter))
	scr := screenText(t, s)
	if !strings.Contains(scr, "nothing to replay") || strings.Contains(scr, "failed") || strings.Contains(scr, "PING") {
		t.Fatalf("/replay with no chat sent:\n%s", scr)
	}
	drive(t, s, eventMsg{ev: protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 9, HasSeq: true, EarlierSession: true}})
	if scr := screenText(t, s); !strings.Contains(scr, "earlier session (CHAT seq 9)") || !strings.Contains(scr, "tampered") {
		t.Fatalf("replay of an earlier session's record:\n%s", scr)
	}
}
