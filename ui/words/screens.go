package words

import "fmt"

// HelpTitle heads the help overlay.
const HelpTitle = "duet: keys and commands"

// HelpMouse ends the help: how to select text while duet has the mouse.
const HelpMouse = "duet captures the mouse: hold shift and drag to select text."

// HelpMore is the help's last row when it does not fit the terminal:
// which lines (first to last of total) are shown and how to see the rest.
func HelpMore(first, last, total int) string {
	return fmt.Sprintf("lines %d–%d of %d · ↑/↓ pgup/pgdn scroll · esc closes", first, last, total)
}
