package screen

import (
	tea "charm.land/bubbletea/v2"
)

// unbatch returns what a sink forwarded as single messages: a batchMsg's
// contents in order, anything else as it is.
func unbatch(msg tea.Msg) []tea.Msg {
	if b, ok := msg.(batchMsg); ok {
		return b.msgs()
	}
	return []tea.Msg{msg}
}
