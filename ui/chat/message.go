package chat

import "time"

// Message is one message of the scrollback (ours or the peer's; notices
// are not messages), as it was written: the text is not sanitized.
type Message struct {
	Own  bool
	Text string
	At   time.Time
}

// MessageInView returns the n-th message (n >= 1) counting up from the
// bottom one in view: the newest when the pane follows the bottom, the
// lowest one with a row on screen when it is scrolled up. Notices are
// skipped. ok is false when there is no such message; have is then how
// many messages there are from the bottom one in view up (it looks at
// every item above the view: a command's cost, not a frame's).
func (p *Pane) MessageInView(n int) (m Message, have int, ok bool) {
	if len(p.items) == 0 || n < 1 {
		return Message{}, 0, false
	}
	idx, off := p.pos()
	if off >= len(p.itemRows(p.items[idx])) { // only its separator rows show
		idx--
	}
	for i := idx; i >= 0; i-- {
		it := p.items[i]
		if it.kind == kindNotice {
			continue
		}
		if have++; have == n {
			return Message{Own: it.kind == kindOwn, Text: it.text, At: it.time()}, have, true
		}
	}
	return Message{}, have, false
}
