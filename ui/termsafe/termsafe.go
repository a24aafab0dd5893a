// Package termsafe makes untrusted text (the peer's messages, error details)
// safe to write to a terminal: nothing in it can move the cursor, change
// colours, retitle the window or disguise text with bidi controls or
// invisible characters.
//
// What is escaped, in every output mode (the full screen and line mode
// through Sanitize, headless JSON through EscapeJSON):
//
//   - every C0 control except tab (U+0000-U+001F), DEL (U+007F) and every
//     C1 control (U+0080-U+009F, among them U+009B, the 8-bit CSI, and
//     U+0085, NEL);
//   - invalid UTF-8 (Sanitize shows each byte as \xNN; encoding/json
//     already turns it into \ufffd) and U+FFFD itself;
//   - the line and paragraph separators U+2028 and U+2029;
//   - every format character (Unicode category Cf): the bidi controls
//     U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069; the invisible
//     U+00AD (soft hyphen), U+180E, U+200B (zero width space),
//     U+2060-U+2064, U+206A-U+206F, U+FEFF (BOM, zero width no-break
//     space), U+FFF9-U+FFFB; and the rest of Cf — with three exceptions
//     below.
//
// Exceptions, so that emoji and scripts that need them still render:
//
//   - U+200D (zero width joiner) and U+200C (zero width non-joiner) are
//     kept only between two visible non-ASCII characters (an emoji ZWJ
//     sequence such as 👩‍💻, Indic and Arabic text); next to ASCII, a
//     space, another escaped character or the start or end of the text
//     they are escaped (so "pay\u200dpal" cannot pass for "paypal");
//   - the tag characters U+E0020-U+E007F are kept only in an emoji tag
//     sequence, directly after U+1F3F4 (🏴) or another tag character
//     (subdivision flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿);
//   - the prepended concatenation marks (U+0600-U+0605, U+06DD, U+070F,
//     U+0890, U+0891, U+08E2, U+110BD, U+110CD) are visible signs, kept.
//
// Escapes are Go/JSON style: \x1b, \x7f and \u009b (Sanitize), \u007f and
// \u202e (JSON, where the text round-trips exactly through any JSON
// decoder).
//
// # Policies
//
// Every output goes through one of these, named for what it shows; they
// differ only in what becomes of a tab and a line break:
//
//   - Sanitize: text on a line-oriented output (the line mode, stderr,
//     the screen's notices and messages, line by line): a tab is kept (the
//     terminal expands it), a line break is escaped, so one line stays one.
//   - Cell: text in a fixed-width cell of the full screen (panels, header,
//     overlays): as Sanitize, and a tab becomes a space so widths are exact.
//   - Name: a person's display name: a line break or tab becomes a space
//     (a name is one run of words), then Sanitize.
//   - EscapeJSON: headless JSON lines.
//   - InSequence: text inside an escape sequence, where an escape would be
//     parsed rather than shown: what Sanitize escapes is dropped, and the
//     length is bounded. Title, Link and LinkPart (OSC 8, only where the
//     shown text is the target), Notification (OSC 9 and OSC 777) and
//     Clipboard (OSC 52) build their sequences with it (sequence.go).
package termsafe

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sanitize makes s safe to print on a terminal: the characters listed in
// the package documentation are shown as Go escapes (\x1b, \u202e, \x7f)
// instead of being written raw. Tab is kept. It is the policy for a line
// of text: line mode, stderr (file paths and errors included), the
// screen's notices.
func Sanitize(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	prev := rune(-1)
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
			prev = -1
		case r != '\t' && escapeAt(prev, r, nextRune(s[i+size:])):
			q := strconv.QuoteToASCII(string(r)) // "\u001b" form
			b.WriteString(q[1 : len(q)-1])
			prev = -1
		default:
			b.WriteRune(r)
			prev = r
		}
	}
	return b.String()
}

// Cell makes s safe to draw in a fixed-width cell of the full screen (a
// panel row, the header, an overlay): Sanitize, then a tab, which Sanitize
// keeps, becomes one space, so the cell's width is exact.
func Cell(s string) string {
	return strings.ReplaceAll(Sanitize(s), "\t", " ")
}

// nameBreaks turns a line break or tab in a name into one space.
var nameBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\t", " ")

// Name makes a person's display name safe to show: a line break ("\r\n"
// or "\n") or a tab becomes one space, since a name is one run of words on
// one row (an escaped "\n" in a name would read as part of it); then
// Sanitize (a lone "\r" is escaped).
func Name(s string) string {
	return Sanitize(nameBreaks.Replace(s))
}

// clean reports whether s has nothing to escape (the common case).
func clean(s string) bool {
	prev := rune(-1)
	for i, w := 0, 0; i < len(s); i += w {
		c := s[i]
		if c >= 0x20 && c < 0x7f || c == '\t' {
			w, prev = 1, rune(c)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		if r == utf8.RuneError && size == 1 || escapeAt(prev, r, nextRune(s[i+size:])) {
			return false
		}
		prev = r
	}
	return true
}

// nextRune is the first rune of s, or -1.
func nextRune(s string) rune {
	if s == "" {
		return -1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		return -1
	}
	return r
}

// Unsafe reports whether r is escaped whatever surrounds it: the controls,
// separators and format characters of the package documentation, less
// the context-dependent joiners and tags (see escapeAt) and the visible
// prepended concatenation marks.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20 || r >= 0x7f && r <= 0x9f:
		return true // C0, DEL, C1 (tab is the caller's choice)
	case r < 0x7f:
		return false
	case r == utf8.RuneError, r == 0x2028, r == 0x2029:
		return true
	case r == 0x200C, r == 0x200D, r >= 0xE0020 && r <= 0xE007F:
		return false // context-dependent: escapeAt
	case r >= 0x0600 && r <= 0x0605, r == 0x06DD, r == 0x070F, r == 0x0890, r == 0x0891,
		r == 0x08E2, r == 0x110BD, r == 0x110CD:
		return false // prepended concatenation marks: visible
	}
	return unicode.Is(unicode.Cf, r)
}

// escapeAt reports whether r, between prev and next (-1: none, or an
// escaped character), must be escaped.
func escapeAt(prev, r, next rune) bool {
	switch {
	case r == 0x200C || r == 0x200D:
		return !visibleNonASCII(prev) || !visibleNonASCII(next)
	case r >= 0xE0020 && r <= 0xE007F:
		return prev != 0x1F3F4 && !(prev >= 0xE0020 && prev <= 0xE007F)
	}
	return Unsafe(r)
}

// visibleNonASCII: a character a joiner may sit next to.
func visibleNonASCII(r rune) bool {
	return r >= 0x80 && !Unsafe(r) && r != 0x200C && r != 0x200D && !unicode.IsSpace(r) &&
		!(r >= 0xE0020 && r <= 0xE007F)
}

// EscapeJSON rewrites JSON text (as encoding/json writes it: valid UTF-8,
// ASCII outside strings) so that every character Sanitize would escape
// appears as a \uXXXX escape (a surrogate pair above U+FFFF) instead of
// raw. The JSON stays valid and decodes to the same strings; a raw DEL,
// U+009B or U+202E can no longer reach a terminal that shows the stream.
// encoding/json already escapes C0 controls, U+2028 and U+2029 and
// replaces invalid UTF-8; everything else is done here.
func EscapeJSON(b []byte) []byte {
	if cleanJSON(b) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	prev := rune(-1)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		var next rune = -1
		if i+size < len(b) {
			if n, nsize := utf8.DecodeRune(b[i+size:]); !(n == utf8.RuneError && nsize == 1) {
				next = n
			}
		}
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, b[i]) // not produced by encoding/json; left as it is
			prev = -1
		case r >= 0x20 && escapeAt(prev, r, next):
			out = appendUEscape(out, r)
			prev = -1
		default:
			out = append(out, b[i:i+size]...)
			prev = r
		}
		i += size
	}
	return out
}

func cleanJSON(b []byte) bool {
	prev := rune(-1)
	for i := 0; i < len(b); {
		if c := b[i]; c < 0x7f {
			i, prev = i+1, rune(c)
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		var next rune = -1
		if i+size < len(b) {
			next, _ = utf8.DecodeRune(b[i+size:])
		}
		if escapeAt(prev, r, next) {
			return false
		}
		i, prev = i+size, r
	}
	return true
}

const hexDigits = "0123456789abcdef"

func appendUEscape(out []byte, r rune) []byte {
	u := func(out []byte, v rune) []byte {
		return append(out, '\\', 'u', hexDigits[v>>12&0xf], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
	}
	if r > 0xFFFF {
		r -= 0x10000
		out = u(out, 0xD800+(r>>10))
		return u(out, 0xDC00+(r&0x3ff))
	}
	return u(out, r)
}
