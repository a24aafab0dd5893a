package screen

import (
	"errors"
	"slices"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// fakeInputStore is an InputStore in memory.
type fakeInputStore struct {
	mu     sync.Mutex
	draft  string
	recall []string
	saves  int
	err    error
}

func (f *fakeInputStore) LoadInput() (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.draft, append([]string(nil), f.recall...), nil
}

func (f *fakeInputStore) SaveInput(draft string, recall []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	f.draft, f.recall = draft, append([]string(nil), recall...)
	return f.err
}

// TestScreenKeepsInput: the kept draft is back in the input at start and
// the kept lines are recalled with up; at the end the draft (also while a
// recall walk shows another line) and every line entered are saved
// (issue 17, item 4).
func TestScreenKeepsInput(t *testing.T) {
	st := &fakeInputStore{draft: "half-written reply", recall: []string{"older line", "/verify"}}
	cfg := testConfig(newFakeNode())
	cfg.Input = st
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
	runCmd(t, s, s.Init())
	if got := s.input.Value(); got != "half-written reply" {
		t.Fatalf("input at start %q, want the kept draft", got)
	}
	drive(t, s, keyPress(tea.KeyUp))
	if got := s.input.Value(); got != "/verify" {
		t.Fatalf("up: %q, want the newest kept line", got)
	}
	drive(t, s, keyPress(tea.KeyDown))
	s.clearInput()
	drive(t, s, typeText("sent now")...)
	drive(t, s, keyPress(tea.KeyEnter))
	drive(t, s, typeText("the next draft")...)
	drive(t, s, keyPress(tea.KeyUp)) // walking: the input shows "sent now"
	if err := keepInput(st, s, nil); err != nil {
		t.Fatal(err)
	}
	if st.draft != "the next draft" || !slices.Equal(st.recall, []string{"older line", "/verify", "sent now"}) {
		t.Fatalf("saved draft %q, lines %q", st.draft, st.recall)
	}
	st.err = errors.New("disk on fire")
	if err := keepInput(st, s, nil); err == nil {
		t.Fatal("a failed save was not reported")
	}
	if err := keepInput(nil, s, nil); err != nil {
		t.Fatalf("no store: %v", err)
	}
}
