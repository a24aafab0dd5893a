package screen

// The full screen's side of the typing indicator and read receipts
// (docs/PROTOCOL.md, section 8, "Typing and read"). The node decides what
// goes on the wire and when (rate limits, opt-outs, each id once); the
// screen says what the user does and sees:
//
//   - composing: a key that types text into a draft that is not a command
//     calls Node.Typing (the node seals at most one TYPING per 3 s);
//   - read: the peer's messages on screen while the terminal has the focus
//     are passed to Node.MarkRead. The terminal reports focus changes (mode
//     1004, View.ReportFocus); one that never does (tmux without
//     focus-events) counts as focused, as the issue asks. attention
//     (attention.go) owns the focus; this file asks it;
//   - the peer's indicator ("bob is typing…") on the rule above the input,
//     from TypingEvent until the node says it ended; a ReadEvent moves our
//     messages to chat.Read ("✔✔").
//
// Both node calls never block, so they are made from Update.

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/words"
)

// maxMarked bounds the ids the screen remembers having passed to
// MarkRead; past it the set starts over (the node drops repeats anyway).
const maxMarked = 4096

// receipts is the screen's focus, typing and read state.
type receipts struct {
	attn       attention           // the focus and the announcements (attention.go)
	peerTyping bool                // the peer's indicator is on
	marked     map[uint64]struct{} // ids passed to MarkRead
	buf        []uint64            // scratch for the visible ids
}

// typer and reader are the node calls of this file (*protocol.Node has
// both); a Node without them (tests, the demo's) gets neither.
type (
	typer  interface{ Typing() }
	reader interface{ MarkRead(ids []uint64) }
)

// courtesies runs first in Update: it follows the focus (regaining it
// makes what the pane shows at its bottom seen), says the user is
// composing, and marks read what the last frame showed while focused.
func (s *Screen) courtesies(msg tea.Msg) {
	switch m := msg.(type) {
	case tea.FocusMsg:
		s.receipts.attn.focus(true)
		s.chat.MarkSeen()
	case tea.BlurMsg:
		s.receipts.attn.focus(false)
	case tea.KeyPressMsg:
		s.composing(m)
	}
	s.markRead()
}

// composing calls Node.Typing for a key that types text into the draft,
// unless the draft is a command (it starts with one "/"): commands are not
// messages being written.
func (s *Screen) composing(m tea.KeyPressMsg) {
	t, ok := s.cfg.Node.(typer)
	if !ok || m.Text == "" || m.Mod&(tea.ModCtrl|tea.ModAlt) != 0 || s.keyChange != nil || s.panels.overlay != overlayNone {
		return
	}
	if isCommandDraft(s.input.Value() + m.Text) {
		return
	}
	t.Typing()
}

// isCommandDraft: a draft that starts with "/" is a command, and one with
// "//" a message that starts with "/".
func isCommandDraft(d string) bool {
	return strings.HasPrefix(d, "/") && !strings.HasPrefix(d, "//")
}

// markRead passes to Node.MarkRead the peer's messages on screen that it
// was not given yet, while the terminal has the focus and the chat is
// what the user sees (no dialog or overlay over it).
func (s *Screen) markRead() {
	r, ok := s.cfg.Node.(reader)
	if !ok || !s.receipts.attn.focused() || s.keyChange != nil || s.panels.overlay != overlayNone || s.lay.tooSmall {
		return
	}
	rc := &s.receipts
	rc.buf = s.chat.VisiblePeer(rc.buf[:0])
	fresh := rc.buf[:0]
	for _, id := range rc.buf {
		if _, done := rc.marked[id]; !done {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) == 0 {
		return
	}
	if rc.marked == nil || len(rc.marked)+len(fresh) > maxMarked {
		rc.marked = make(map[uint64]struct{})
	}
	for _, id := range fresh {
		rc.marked[id] = struct{}{}
	}
	r.MarkRead(append([]uint64(nil), fresh...))
}

// handleCourtesy applies the peer's typing indicator and read receipts.
func (s *Screen) handleCourtesy(ev protocol.Event) {
	switch e := ev.(type) {
	case protocol.TypingEvent:
		s.receipts.peerTyping = e.Active
	case protocol.ReadEvent:
		for _, id := range e.IDs {
			s.chat.SetDelivery(id, chat.Read)
		}
	}
}

// typingHint is the rule's label while the peer's indicator is on.
func (s *Screen) typingHint() string { return words.Typing(s.peerName) }
