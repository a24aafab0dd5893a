package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// TestScreenCtrlCClearsDraftFirst: ctrl+c with a draft (however long)
// clears it and does not quit; up brings it back; ctrl+c on the empty
// input quits (issue 17, item 4).
func TestScreenCtrlCClearsDraftFirst(t *testing.T) {
	node := newFakeNode()
	s := newTestScreen(testConfig(node))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
	long := strings.Repeat("a long draft ", 8000) // about 100 KB
	if scr := screenText(t, s); !strings.Contains(scr, "ctrl+c quit") {
		t.Fatalf("the footer does not say ctrl+c quits on an empty input:\n%s", scr)
	}
	drive(t, s, tea.PasteMsg{Content: long})
	if s.input.Value() != long {
		t.Fatalf("paste: input has %d bytes, want %d", len(s.input.Value()), len(long))
	}
	if scr := screenText(t, s); !strings.Contains(scr, "ctrl+c clear") || strings.Contains(scr, "ctrl+c quit") {
		t.Fatalf("with a draft the footer does not say ctrl+c clears it:\n%s", scr)
	}
	_, cmd := s.Update(ctrlKey('c'))
	if cmd != nil {
		if _, ok := cmd().(tea.QuitMsg); ok {
			t.Fatal("ctrl+c with a draft quit")
		}
	}
	if s.quitting || s.input.Value() != "" {
		t.Fatalf("after ctrl+c: quitting %v, input %d bytes: want the draft cleared and no quit", s.quitting, len(s.input.Value()))
	}
	if scr := screenText(t, s); !strings.Contains(scr, "draft cleared") {
		t.Fatalf("no word of the cleared draft:\n%s", scr)
	}
	drive(t, s, keyPress(tea.KeyUp))
	if s.input.Value() != long {
		t.Fatalf("up after ctrl+c: input has %d bytes, want the draft back", len(s.input.Value()))
	}
	s.clearInput()
	_, cmd = s.Update(ctrlKey('c'))
	if cmd == nil || !s.quitting {
		t.Fatal("ctrl+c on an empty input did not start quitting")
	}
}
