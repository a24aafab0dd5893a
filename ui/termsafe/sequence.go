package termsafe

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// # Text inside escape sequences
//
// Some output puts text inside an escape sequence rather than on the
// screen: the window title, an OSC 8 hyperlink's target, a desktop
// notification (OSC 9, OSC 777), the clipboard (OSC 52). There an escape
// such as \x1b would not be shown but parsed, so the policy for it is
// another: what Sanitize would escape is dropped, and the length is
// bounded. A sequence is ended by BEL, ESC \ (ST) or the 8-bit ST U+009C,
// and a terminal may act on any control inside one; all of them are
// controls that Unsafe reports, so none survives.

// Bounds on the text inside a sequence, in bytes.
const (
	MaxTitle        = 256     // the window title
	MaxNotification = 256     // a notification's title plus body
	MaxLinkTarget   = 2048    // an OSC 8 link target (browsers take more; terminals do not)
	MaxClipboard    = 1 << 20 // the text an OSC 52 copy carries, before base64
)

// InSequence makes s safe to put inside an escape sequence and at most max
// bytes long: every character Sanitize would escape is dropped (a tab and a
// line break become a space), invalid UTF-8 is dropped, and a longer text
// is cut at a character boundary and ends with "…" (counted in max). It
// never returns more than max bytes (nothing if max < 3 and s is cut).
func InSequence(s string, max int) string {
	return cut(keep(s, func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return -1
	}), max)
}

// keep returns s without the characters Sanitize would escape and without
// invalid UTF-8 (U+FFFD is among the escaped), except that a control for
// which keepControl returns a rune (not -1) becomes that rune.
func keep(s string, keepControl func(rune) rune) string {
	var b strings.Builder
	prev := rune(-1)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < 0x20 {
			if r = keepControl(r); r < 0 {
				continue
			}
		} else if escapeAt(prev, r, nextRune(s[i:])) {
			continue
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// cut returns s if it has at most max bytes, else its longest prefix that
// ends on a character boundary and leaves room for "…", followed by "…".
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	if max < len(ellipsis) {
		return ""
	}
	n := max - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}

// Title returns the sequence that sets the window title to t (InSequence,
// MaxTitle bytes): OSC 2, ended by ST.
func Title(t string) string {
	return "\x1b]2;" + InSequence(t, MaxTitle) + "\x1b\\"
}

// Link returns text as an OSC 8 hyperlink to itself when text is a web
// address a terminal may open: it starts with "http://" or "https://", is
// at most MaxLinkTarget bytes, and is printable ASCII without spaces
// (anything else would have to be encoded, and then the target would no
// longer be what is shown). Otherwise, and for text that is not such an
// address, it returns text unchanged: a link only where the shown text is
// the target. text must already be safe to show (Sanitize).
func Link(text string) string {
	if !LinkTarget(text) {
		return text
	}
	return "\x1b]8;;" + text + "\x1b\\" + text + "\x1b]8;;\x1b\\"
}

// LinkPart returns text as one part of an OSC 8 hyperlink to target whose
// parts all carry the same id, so that a terminal underlines and opens
// them as one link: a web address broken over several rows is shown as
// one part per row, and only the parts joined in order are the target
// (the caller's promise; LinkPart checks that text is a non-empty part of
// target). target must be a LinkTarget and id 1 to MaxLinkID bytes of
// letters, digits, '-', '_' or '.' (nothing that ends the parameter list);
// otherwise text is returned unchanged. text must already be safe to show.
func LinkPart(target, text, id string) string {
	if text == "" || !LinkTarget(target) || !linkID(id) || !strings.Contains(target, text) {
		return text
	}
	return "\x1b]8;id=" + id + ";" + target + "\x1b\\" + text + "\x1b]8;;\x1b\\"
}

// MaxLinkID bounds an OSC 8 id parameter, in bytes.
const MaxLinkID = 64

// linkID reports whether id may be an OSC 8 id parameter.
func linkID(id string) bool {
	if id == "" || len(id) > MaxLinkID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// LinkTarget reports whether Link makes s a hyperlink.
func LinkTarget(s string) bool {
	if len(s) > MaxLinkTarget {
		return false
	}
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "http://")
	}
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Notification returns the sequences that ask the terminal for a desktop
// notification with title and body: OSC 9 (iTerm2, WezTerm, Windows
// Terminal, kitty: body only, "title: body") and OSC 777 (rxvt-unicode,
// foot, Ghostty, VTE: title and body), both, since a terminal ignores the
// one it does not know. Both texts go through InSequence and together take
// at most MaxNotification bytes; ';' becomes ',' (it separates OSC 777's
// fields). The OSC 9 text starts with "duet": ConEmu reads "OSC 9 ; <digit>
// ;" as a command, never a notification.
func Notification(title, body string) string {
	title = strings.ReplaceAll(InSequence(title, MaxNotification/2), ";", ",")
	body = strings.ReplaceAll(InSequence(body, MaxNotification-len(title)), ";", ",")
	nine := cut("duet: "+title+": "+body, MaxNotification)
	if body == "" {
		nine = cut("duet: "+title, MaxNotification)
	}
	return "\x1b]9;" + nine + "\x1b\\" + "\x1b]777;notify;" + title + ";" + body + "\x1b\\"
}

// Clipboard returns the OSC 52 sequence that puts text on the system
// clipboard ("c"), for a terminal that allows it (most ask, or need it
// enabled). The text is what a user copies to paste elsewhere, perhaps
// into a shell: controls other than tab and line feed, the bidi and
// invisible characters Sanitize escapes and invalid UTF-8 are dropped, and
// it is cut at MaxClipboard bytes. base64 carries it, so nothing in it can
// end the sequence.
func Clipboard(text string) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(ClipboardText(text))) + "\x1b\\"
}

// ClipboardText returns the text Clipboard puts on the clipboard for text:
// what a caller counts or shows ("copied 12 chars").
func ClipboardText(text string) string {
	return cut(keep(text, func(r rune) rune {
		if r == '\t' || r == '\n' {
			return r
		}
		return -1
	}), MaxClipboard)
}

// Passthrough wraps seq (one or more complete escape sequences) so that
// tmux hands it to the terminal outside it (DCS tmux; ... ST, every ESC
// inside doubled). tmux does so only with `set -g allow-passthrough on`;
// without it the wrapped sequence is dropped, harmlessly.
func Passthrough(seq string) string {
	return "\x1bPtmux;" + strings.ReplaceAll(seq, "\x1b", "\x1b\x1b") + "\x1b\\"
}
