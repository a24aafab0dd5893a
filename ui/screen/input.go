package screen

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/style"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// sendQueue holds typed messages while one SendMessage is in flight: the
// node gets them one at a time, so they keep the order they were typed in.
type sendQueue struct {
	waiting []string
	busy    bool // a SendMessage is in flight
	// quitWarned: a quit was refused once because lines typed while the
	// disk was full are not saved (the next quits anyway).
	quitWarned bool
}

func newInput(st *style.Styles) textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "› "
	ta.Placeholder = "type a message · /help for commands"
	ta.CharLimit = 0
	ta.DynamicHeight = true
	ta.MinHeight = 1
	ta.MaxHeight = 6
	ta.MaxContentHeight = 5000 // visual rows; MaxHeight only bounds what is visible
	ta.EndOfBufferCharacter = ' '
	ta.SetVirtualCursor(false)
	state := textarea.StyleState{
		Base:             lipgloss.NewStyle(),
		Text:             lipgloss.NewStyle(),
		LineNumber:       st.Dim,
		CursorLineNumber: st.Dim,
		CursorLine:       lipgloss.NewStyle(),
		EndOfBuffer:      st.Dim,
		Placeholder:      st.Dim,
		Prompt:           st.InputPrompt,
		Selection:        lipgloss.NewStyle().Reverse(true),
	}
	ta.SetStyles(textarea.Styles{Focused: state, Blurred: state, Cursor: textarea.CursorStyle{Shape: tea.CursorBar}})
	km := textarea.DefaultKeyMap()
	km.InsertNewline = key.NewBinding(key.WithKeys("alt+enter", "ctrl+j", "shift+enter"))
	km.InputBegin = key.NewBinding(key.WithKeys("alt+<"))
	km.InputEnd = key.NewBinding(key.WithKeys("alt+>"))
	km.PageUp = key.NewBinding(key.WithDisabled())
	km.PageDown = key.NewBinding(key.WithDisabled())
	ta.KeyMap = km
	ta.Focus()
	return ta
}

// inputKey takes a key for the input: Enter sends (or runs a command), up
// on the first row and down on the last walk the recalled inputs, any
// other key edits.
func (s *Screen) inputKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, s.keys.Send):
		return s.submit()
	case key.Matches(k, s.keys.PrevLine) && s.onFirstRow() && len(s.aids.recall.entries) > 0:
		s.recallInput(-1)
		return nil
	case key.Matches(k, s.keys.NextLine) && s.onLastRow() && s.aids.recall.walking():
		s.recallInput(+1)
		return nil
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(k)
	s.fitInput()
	return cmd
}

func (s *Screen) onFirstRow() bool {
	return s.input.Line() == 0 && s.input.LineInfo().RowOffset == 0
}

func (s *Screen) onLastRow() bool {
	li := s.input.LineInfo()
	return s.input.Line() == s.input.LineCount()-1 && li.RowOffset >= li.Height-1
}

// recallInput puts the recalled input dir (-1 older, +1 newer) in the
// input, the cursor at its start going up, at its end going down.
func (s *Screen) recallInput(dir int) {
	text, ok := s.aids.recall.move(dir, s.input.Value())
	if !ok {
		return
	}
	s.input.SetValue(text)
	if dir < 0 {
		s.input.MoveToBegin()
	} else {
		s.input.MoveToEnd()
	}
	s.fitInput()
}

// dropDraft is ctrl+c with a draft: the draft is cleared (however long)
// and kept as the newest recalled input, so that up brings it back; a
// second ctrl+c, on the empty input, quits.
func (s *Screen) dropDraft() {
	s.aids.recall.remember(s.input.Value())
	s.clearInput()
	s.chat.AddNotice(chat.NoticeInfo, words.DraftCleared, s.now())
}

func (s *Screen) clearInput() {
	s.input.Reset()
	s.fitInput()
}

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(t string) string {
	if !strings.Contains(t, "\r") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "\r\n", "\n"), "\r", "\n")
}

// handlePaste inserts a paste into the input (also under an overlay: the
// draft is there). A paste never sends.
func (s *Screen) handlePaste(p tea.PasteMsg) tea.Cmd {
	if s.keyChange != nil {
		return nil
	}
	p.Content = normalizeNewlines(p.Content)
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(p) // inserts; a paste never sends
	s.fitInput()
	return cmd
}

// submit handles Enter: a command, or a message to send.
func (s *Screen) submit() tea.Cmd {
	raw := s.input.Value()
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		s.aids.recall.remember(raw)
		s.clearInput()
		return s.command(strings.TrimSpace(raw))
	}
	text := raw
	if strings.HasPrefix(text, "//") {
		text = text[1:]
	}
	now := s.now()
	if len(text) > protocol.MaxTextSize {
		s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("message of %d bytes not sent: at most %d bytes (your draft is kept)", len(text), protocol.MaxTextSize), now)
		return nil
	}
	if s.cfg.Node == nil {
		s.chat.AddNotice(chat.NoticeWarn, "not sent: no session driver (your draft is kept)", now)
		return nil
	}
	s.aids.recall.remember(raw)
	s.clearInput()
	s.chat.Bottom()
	s.sends.waiting = append(s.sends.waiting, text)
	return s.nextSend()
}

// nextSend starts the next SendMessage if none is in flight: one at a time,
// so messages keep the order they were typed in.
func (s *Screen) nextSend() tea.Cmd {
	if s.sends.busy || len(s.sends.waiting) == 0 {
		return nil
	}
	text := s.sends.waiting[0]
	s.sends.waiting = s.sends.waiting[1:]
	s.sends.busy = true
	sess := s.cfg.Node
	return func() tea.Msg {
		out, err := sess.SendMessage(text)
		return sendResultMsg{text: text, out: out, err: err}
	}
}

func (s *Screen) handleSendResult(m sendResultMsg) tea.Cmd {
	s.sends.busy = false
	now := s.now()
	if m.err != nil {
		note := "not sent: " + termsafe.Sanitize(m.err.Error())
		if s.input.Value() == "" {
			s.input.SetValue(m.text) // the failed message becomes the draft again
			s.fitInput()
			note += " (back in the input)"
		} else {
			note += " (in the history: ↑)"
		}
		s.chat.AddNotice(chat.NoticeWarn, note, now)
		return s.nextSend()
	}
	at := m.out.SentAt
	if at.IsZero() {
		at = now
	}
	s.showOwn(m.out.ID, m.text, at)
	if m.out.Unsaved {
		s.chat.AddNotice(chat.NoticeWarn, words.NotSavedLine, now)
	}
	return s.nextSend()
}
