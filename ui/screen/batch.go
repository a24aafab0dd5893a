package screen

import (
	tea "charm.land/bubbletea/v2"
)

// handleBatch applies a batch from the sink, in order: the dropped count
// first, then each event and post as if it had come alone. Every
// MessageEvent's shown is closed by one Cmd run after this Update, once
// the whole batch is in the chat pane (the node then records those
// messages seen and acknowledges them). The Cmds the events return are
// batched with it (Bubble Tea runs them concurrently, as it did when
// each event was its own message).
func (s *Screen) handleBatch(b batchMsg) tea.Cmd {
	if b.dropped > 0 {
		s.handleDropped(droppedMsg{Rejections: b.dropped})
	}
	var cmds []tea.Cmd
	var shown []chan struct{}
	for _, m := range b.items {
		if m.post != nil {
			_, cmd := s.Update(m.post)
			cmds = append(cmds, cmd)
			continue
		}
		if m.shown != nil {
			shown = append(shown, m.shown)
		}
		cmds = append(cmds, s.handleEvent(eventMsg{ev: m.ev}))
	}
	if len(shown) > 0 {
		cmds = append(cmds, releaseShown(shown))
	}
	return tea.Batch(cmds...)
}

// releaseShown returns the Cmd that releases the Emits waiting for these
// messages to be in the pane.
func releaseShown(shown []chan struct{}) tea.Cmd {
	return func() tea.Msg {
		for _, c := range shown {
			close(c)
		}
		return nil
	}
}
