package words

// HelpAttention ends the full screen's help: what happens to a message
// you cannot see, and what tmux needs to pass the focus, notifications and
// the clipboard through (each line wraps on its own).
var HelpAttention = []string{
	"A message you cannot see (terminal unfocused, or chat scrolled up) rings the bell (--notify desktop or off), shows its count in the window title, and a \"new messages\" line marks where unread begins until you reply.",
	"In tmux: set -g focus-events on (focus), set -g allow-passthrough on (desktop notifications), set -g set-clipboard on (copying).",
}
