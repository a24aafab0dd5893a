package termsafe

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestInSequence: what could end or drive an escape sequence (BEL, ESC,
// ST, C1, any control) and what disguises text (bidi, invisible
// characters) is dropped, line breaks and tabs become spaces, invalid
// UTF-8 goes, and the length bound holds at a character boundary.
func TestInSequence(t *testing.T) {
	for _, c := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "message from bob", 64, "message from bob"},
		{"BEL ends OSC", "a\x07b", 64, "ab"},
		{"ESC backslash (ST)", "a\x1b\\b", 64, "a\\b"},
		{"8-bit ST and CSI", "a\u009cb\u009bc", 64, "abc"},
		{"a nested OSC 8", "x\x1b]8;;http://evil\x1b\\y", 64, "x]8;;http://evil\\y"},
		{"line breaks and tab", "a\nb\r\nc\td", 64, "a b  c d"},
		{"bidi override", "abc\u202Eexe.txt", 64, "abcexe.txt"},
		{"zero width space", "pay\u200bpal", 64, "paypal"},
		{"ZWJ emoji kept", "👩\u200d💻", 64, "👩\u200d💻"},
		{"invalid UTF-8", "a\xffb\xc3", 64, "ab"},
		{"U+FFFD itself", "a\ufffdb", 64, "ab"},
		{"cut at a boundary", "ééééé", 7, "éé…"},
		{"fits exactly", "ééé", 6, "ééé"},
		{"max too small to cut", "abcdef", 2, ""},
	} {
		got := InSequence(c.in, c.max)
		if got != c.want {
			t.Errorf("%s: InSequence(%q, %d) = %q, want %q", c.name, c.in, c.max, got, c.want)
		}
		if len(got) > c.max {
			t.Errorf("%s: %d bytes, over %d", c.name, len(got), c.max)
		}
	}
}

// TestLink: a link only where the shown text is the whole target and a
// plain web address; anything else is left as it was.
func TestLink(t *testing.T) {
	for _, c := range []struct {
		in   string
		link bool
	}{
		{"https://example.org/a?b=c#d", true},
		{"http://example.org", true},
		{"https://", false},
		{"ftp://example.org", false},
		{"javascript:alert(1)", false},
		{"file:///etc/passwd", false},
		{"https://exa mple.org", false},
		{"https://example.org/\x1b\\", false},
		{"https://example.org/\x07", false},
		{"https://exämple.org", false},
		{"https://example.org/" + strings.Repeat("a", MaxLinkTarget), false},
		{"see https://example.org", false},
	} {
		got := Link(c.in)
		if c.link {
			if want := "\x1b]8;;" + c.in + "\x1b\\" + c.in + "\x1b]8;;\x1b\\"; got != want {
				t.Errorf("Link(%q) = %q, want the OSC 8 link %q", c.in, got, want)
			}
		} else if got != c.in {
			t.Errorf("Link(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

// TestLinkPart: a part of a link carries its id and the whole target; a
// hostile target (ESC, BEL, ST, C1, too long) or id (';', ':', '=', ESC,
// too long), or text that is not part of the target, gives no sequence.
func TestLinkPart(t *testing.T) {
	const target = "https://example.org/a;b?c=d"
	if got, want := LinkPart(target, "example.org/a;", "m1-0"), "\x1b]8;id=m1-0;"+target+"\x1b\\example.org/a;\x1b]8;;\x1b\\"; got != want {
		t.Errorf("LinkPart = %q, want %q", got, want)
	}
	for _, c := range []struct{ target, text, id string }{
		{"https://example.org/\x1b\\x", "https", "a"},
		{"https://example.org/\x07x", "https", "a"},
		{"https://example.org/\u009cx", "https", "a"},
		{"https://example.org/\u009bx", "https", "a"},
		{"https://example.org/" + strings.Repeat("a", MaxLinkTarget), "https", "a"},
		{target, "https", "a;b"},
		{target, "https", "a:b"},
		{target, "https", "a=b"},
		{target, "https", "a\x1b\\"},
		{target, "https", strings.Repeat("a", MaxLinkID+1)},
		{target, "https", ""},
		{target, "elsewhere", "a"},
		{target, "", "a"},
	} {
		if got := LinkPart(c.target, c.text, c.id); got != c.text {
			t.Errorf("LinkPart(%q, %q, %q) = %q, want the text unchanged", c.target, c.text, c.id, got)
		}
	}
}

// TestNotification: OSC 9 and OSC 777, each ended by ST; the texts cannot
// end the sequences or add OSC 777 fields; OSC 9's text starts with "duet"
// (ConEmu reads a leading digit and ';' as a command); bounded.
func TestNotification(t *testing.T) {
	got := Notification("message from bob", "")
	if want := "\x1b]9;duet: message from bob\x1b\\\x1b]777;notify;message from bob;\x1b\\"; got != want {
		t.Errorf("Notification = %q, want %q", got, want)
	}
	got = Notification("4;3", "hi;\x07\x1b\\there\u009c")
	if want := "\x1b]9;duet: 4,3: hi,\\there\x1b\\\x1b]777;notify;4,3;hi,\\there\x1b\\"; got != want {
		t.Errorf("hostile Notification = %q, want %q", got, want)
	}
	long := Notification(strings.Repeat("t", 1000), strings.Repeat("b", 1000))
	nine := strings.TrimSuffix(strings.TrimPrefix(long[:strings.Index(long, "\x1b\\")+2], "\x1b]9;"), "\x1b\\")
	if len(nine) > MaxNotification {
		t.Errorf("OSC 9 text of %d bytes, over %d", len(nine), MaxNotification)
	}
	if n := strings.Count(long, "\x1b"); n != 4 {
		t.Errorf("%d ESC in a long notification, want 4 (two sequences, each with its ST)", n)
	}
}

// TestClipboard: the copied text round-trips through base64 with tab and
// line feed kept and controls, bidi and invalid UTF-8 dropped.
func TestClipboard(t *testing.T) {
	got := Clipboard("line one\n\tline two\r\x1b[31mred\u202e\xff")
	payload, ok := strings.CutPrefix(got, "\x1b]52;c;")
	if !ok || !strings.HasSuffix(payload, "\x1b\\") {
		t.Fatalf("Clipboard = %q, want OSC 52 c ... ST", got)
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(payload, "\x1b\\"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "line one\n\tline two[31mred"; string(dec) != want {
		t.Errorf("copied %q, want %q", dec, want)
	}
}

// TestPassthrough: every ESC inside is doubled, inside DCS tmux; ... ST.
func TestPassthrough(t *testing.T) {
	if got, want := Passthrough("\x1b]9;hi\x1b\\"), "\x1bPtmux;\x1b\x1b]9;hi\x1b\x1b\\\x1b\\"; got != want {
		t.Errorf("Passthrough = %q, want %q", got, want)
	}
}

// FuzzInSequence: whatever the input, the result has no control, no C1,
// nothing Sanitize escapes, is valid UTF-8 and within the bound; a
// notification built from it holds exactly its two sequences.
func FuzzInSequence(f *testing.F) {
	for _, s := range []string{"", "a\x07b", "\x1b]8;;x\x1b\\", "é\u202e\u200d", "\xff\xfe", "👩\u200d💻"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max % 4096
		if max < 0 {
			max = -max
		}
		got := InSequence(s, max)
		if len(got) > max || !utf8.ValidString(got) {
			t.Fatalf("InSequence(%q, %d) = %q: %d bytes or invalid UTF-8", s, max, got, len(got))
		}
		if Sanitize(got) != got {
			t.Fatalf("InSequence(%q) = %q holds what Sanitize escapes", s, got)
		}
		n := Notification(s, s)
		if strings.Count(n, "\x1b") != 4 || strings.ContainsAny(n, "\x07\u009c") {
			t.Fatalf("Notification(%q) = %q: not exactly two sequences", s, n)
		}
	})
}
