package screen

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
	"duet/ui/termsafe"
)

// InputStore keeps the input line across restarts: the unsent draft and
// the input history (the lines entered, recalled with up and down), kept
// encrypted in the database. LoadInput runs in a Cmd at start; SaveInput
// runs once the program has ended (Run), on every exit but a kill, and is
// given at most inputSaveTimeout. A nil InputStore keeps nothing
// (--no-history, --ephemeral, the demo).
type InputStore interface {
	LoadInput() (draft string, recall []string, err error)
	SaveInput(draft string, recall []string) error
}

// inputSaveTimeout bounds the save at exit (a full disk waits for room).
const inputSaveTimeout = 2 * time.Second

// inputLoadedMsg is the kept input, loaded by a Cmd.
type inputLoadedMsg struct {
	draft  string
	recall []string
	err    error
}

// loadInput returns the Cmd loading the kept input, or nil.
func (s *Screen) loadInput() tea.Cmd {
	st := s.cfg.Input
	if st == nil {
		return nil
	}
	return func() tea.Msg {
		var m inputLoadedMsg
		m.draft, m.recall, m.err = st.LoadInput()
		return m
	}
}

// handleInputLoaded puts the kept lines before those entered since the
// start, and the kept draft in the input unless something was typed
// meanwhile (then it is the newest recalled line).
func (s *Screen) handleInputLoaded(m inputLoadedMsg) {
	if m.err != nil {
		s.chat.AddNotice(chat.NoticeWarn, "input history: "+termsafe.Sanitize(errText(m.err)), s.now())
		return
	}
	entered := s.aids.recall.entries
	s.aids.recall.entries = nil
	for _, l := range append(m.recall, entered...) {
		s.aids.recall.add(l)
	}
	if m.draft == "" {
		return
	}
	if s.input.Value() == "" && !s.aids.recall.walking() {
		s.input.SetValue(m.draft)
		s.fitInput()
		return
	}
	s.aids.recall.add(m.draft)
}

// keptInput is what SaveInput is given: the draft (the one a recall walk
// started from, when walking) and the lines entered.
func (s *Screen) keptInput() (string, []string) {
	draft := s.input.Value()
	if s.aids.recall.walking() {
		draft = s.aids.recall.draft
	}
	return draft, append([]string(nil), s.aids.recall.entries...)
}

// saveInput saves the kept input once the program has ended, within
// inputSaveTimeout: a save not finished by then is given up (nil).
func saveInput(st InputStore, draft string, recall []string) error {
	done := make(chan error, 1)
	go func() { done <- st.SaveInput(draft, recall) }()
	t := time.NewTimer(inputSaveTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return nil
	}
}
