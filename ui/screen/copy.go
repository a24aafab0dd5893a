package screen

import (
	"fmt"
	"os"
	"strconv"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"duet/ui/chat"
	"duet/ui/termsafe"
)

// # Links and copying
//
// Web addresses in messages are OSC 8 links (chat.Pane.SetLinks) unless
// the terminal's colour profile, which Bubble Tea detects at start and
// reports in a tea.ColorProfileMsg, is ASCII (NO_COLOR, or a terminal
// without colour) or NoTTY (TERM=dumb, not a terminal): there the screen
// writes no escape sequence it can do without.
//
// /copy puts a whole message on the system clipboard through OSC 52,
// without its time, name or indent: the message text as written, cleaned
// by termsafe.ClipboardText (it may be pasted into a shell). It is written
// raw (tea.Raw) rather than by tea.SetClipboard, which sends the same OSC
// 52 but neither cleans the text nor reaches the terminal from inside
// tmux. Inside tmux ($TMUX set) the sequence is written twice: as is,
// which tmux takes when `set -g set-clipboard on` (it keeps a buffer and
// sets the outer terminal's clipboard; its default, external, ignores
// it), and wrapped for passthrough, which tmux hands on with `set -g
// allow-passthrough on`. Where both are on the clipboard is set twice to
// the same text; where neither is, nothing happens. The terminal may
// refuse OSC 52 altogether (many ask first or need it enabled): duet
// cannot know, and says it copied.

// maxCopy bounds the text /copy puts in one OSC 52 sequence, in bytes:
// its base64 (4/3 of it) stays under the 100 000 bytes that terminals
// accept (hterm and others refuse longer ones). Every message fits:
// protocol.MaxTextSize is 64 KiB.
const maxCopy = 74_000

// handleColorProfile turns links on where colours are on.
func (s *Screen) handleColorProfile(m tea.ColorProfileMsg) {
	s.chat.SetLinks(m.Profile > colorprofile.ASCII)
}

// copyCommand runs "/copy [N]": the N-th message counting up from the
// bottom one in view (1, the default, is that one) goes on the clipboard,
// and a notice says whose and how long, never the text.
func (s *Screen) copyCommand(args string) tea.Cmd {
	now := s.now()
	n := 1
	if args != "" {
		v, err := strconv.Atoi(args)
		if err != nil || v < 1 {
			s.chat.AddNotice(chat.NoticeInfo, "/copy N: N counts messages up from the bottom one in view (1, the default, is that one)", now)
			return nil
		}
		n = v
	}
	m, have, ok := s.chat.MessageInView(n)
	switch {
	case !ok && have == 0:
		s.chat.AddNotice(chat.NoticeInfo, "nothing to copy: no message in view", now)
		return nil
	case !ok:
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("no message %d to copy: %s from the bottom one in view up", n, countMessages(have)), now)
		return nil
	}
	text := termsafe.ClipboardText(m.Text)
	if len(text) > maxCopy {
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("not copied: the message is %d bytes, and terminals refuse a clipboard copy over about 100 KB", len(text)), now)
		return nil
	}
	whose := s.peerName + "'s"
	if m.Own {
		whose = "your"
	}
	s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("copied %s message (%d chars)", whose, utf8.RuneCountInString(text)), now)
	return tea.Raw(clipboardSequence(text, os.Getenv("TMUX") != ""))
}

// clipboardSequence is the OSC 52 sequence that copies text, inside tmux
// also wrapped for passthrough (see the top of this file).
func clipboardSequence(text string, tmux bool) string {
	seq := termsafe.Clipboard(text)
	if tmux {
		return seq + termsafe.Passthrough(seq)
	}
	return seq
}

// countMessages says "1 message" or "n messages".
func countMessages(n int) string {
	if n == 1 {
		return "1 message"
	}
	return strconv.Itoa(n) + " messages"
}
