package chat

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"duet/ui/termsafe"
)

// osc8 matches one OSC 8 link part as the pane writes it: params, target,
// the text shown, and the closing OSC 8.
var osc8 = regexp.MustCompile("\x1b\\]8;([^;\x1b\x07]*);([^\x1b\x07]*)\x1b\\\\([^\x1b\x07]*)\x1b\\]8;;\x1b\\\\")

type linkPart struct{ params, target, text string }

// linkParts returns the OSC 8 link parts of s, in order.
func linkParts(s string) []linkPart {
	var out []linkPart
	for _, m := range osc8.FindAllStringSubmatch(s, -1) {
		out = append(out, linkPart{m[1], m[2], m[3]})
	}
	return out
}

// linkPane returns a pane of width x 20 with links on and the peer's text.
func linkPane(t *testing.T, width int, text string) *Pane {
	t.Helper()
	p := newPane(t, width, 20)
	p.SetLinks(true)
	p.AddPeer(1, text, t0, false)
	return p
}

// TestURLIsLink: a web address in a message becomes an OSC 8 link whose
// target is the address exactly as shown, without the punctuation after
// it; bare "www." and other schemes are left as text.
func TestURLIsLink(t *testing.T) {
	const url = "https://example.org/a-b_c?d=1&e=%20#f"
	p := linkPane(t, 80, "see ("+url+"). and www.example.com or ftp://x.org or xhttps://y.org")
	checkView(t, p)
	parts := linkParts(p.View())
	if len(parts) != 1 {
		t.Fatalf("view has %d link parts %q, want 1", len(parts), parts)
	}
	if got := parts[0]; got.target != url || got.text != url || !strings.HasPrefix(got.params, "id=") {
		t.Errorf("link part %+v, want target and text %q with an id", got, url)
	}
	// Our own messages too; notices are never linked.
	p.AddOwn(2, "mine: "+url, t0)
	p.AddNotice(NoticeInfo, "notice: "+url, t0)
	if n := len(linkParts(p.View())); n != 2 {
		t.Errorf("view has %d link parts, want 2 (peer's and own message, not the notice)", n)
	}
}

// TestLinksOffSameLayout: without SetLinks (NO_COLOR, TERM=dumb) there is
// no OSC 8 at all, and the rows are the same text as with links on.
func TestLinksOffSameLayout(t *testing.T) {
	text := "look https://example.org/" + strings.Repeat("path-segment/", 12) + " and more text after it"
	for _, w := range []int{80, 40} {
		on := linkPane(t, w, text)
		off := newPane(t, w, 20)
		off.AddPeer(1, text, t0, false)
		if v := off.View(); strings.Contains(v, "\x1b]8;") {
			t.Errorf("width %d: links off, view has OSC 8: %q", w, v)
		}
		if got, want := ansi.Strip(on.View()), ansi.Strip(off.View()); got != want {
			t.Errorf("width %d: links change the layout:\n%s\nwant:\n%s", w, got, want)
		}
		on.SetLinks(false)
		if v := on.View(); strings.Contains(v, "\x1b]8;") {
			t.Errorf("width %d: SetLinks(false) kept OSC 8 in the cached rows", w)
		}
	}
}

// TestLongURLWrap: an address longer than the room left on a row starts a
// row of its own; one longer than a row is broken into pieces that hold no
// indent, are each a link part with the whole address as target and the
// same id, and join to the address. An address that fits a row is never
// broken at its hyphens.
func TestLongURLWrap(t *testing.T) {
	long := "https://example.org/" + strings.Repeat("very-long-path/", 14) + "end?q=1"
	short := "https://a.org/b-c-d-e" // fits a row of 25 cells (40 columns)
	for _, w := range []int{80, 40} {
		p := linkPane(t, w, "look at this: "+long+" and "+short+" ok")
		rs := checkView(t, p)
		col := textCol(p)
		parts := linkParts(p.View())
		var joined strings.Builder
		var longParts, shortParts int
		for _, lp := range parts {
			if strings.ContainsAny(lp.text, " ") {
				t.Errorf("width %d: link part %q holds a space", w, lp.text)
			}
			switch lp.target {
			case long:
				longParts++
				joined.WriteString(lp.text)
				if lp.params != parts[0].params {
					t.Errorf("width %d: part %q has params %q, want %q like the first", w, lp.text, lp.params, parts[0].params)
				}
			case short:
				shortParts++
				if lp.text != short {
					t.Errorf("width %d: %q broken into %q though it fits a row", w, short, lp.text)
				}
			default:
				t.Errorf("width %d: link part to %q", w, lp.target)
			}
		}
		if joined.String() != long || longParts < 2 || shortParts != 1 {
			t.Fatalf("width %d: %d parts join to %q (want %q), %d of the short address", w, longParts, joined.String(), long, shortParts)
		}
		// The long address starts a row, at the text column.
		start := indexOf(rs, "https://example.org/very")
		if start < 0 || !strings.HasPrefix(rs[start][col:], "https://") {
			t.Errorf("width %d: the long address does not start a row at column %d:\n%s", w, col, strings.Join(rs, "\n"))
		}
		if prev := strings.TrimRight(rs[start-1], " "); !strings.HasSuffix(prev, "look at this:") {
			t.Errorf("width %d: row before the address is %q", w, prev)
		}
	}
}

// TestHostileURL: whatever a peer puts in an address (ESC, BEL, ST, C1, a
// ';', a huge length), the view holds no escape but the pane's own OSC 8
// and SGR sequences, every target is printable ASCII within the bound and
// the only parameter is an id.
func TestHostileURL(t *testing.T) {
	huge := "https://example.org/" + strings.Repeat("a", termsafe.MaxLinkTarget)
	for _, text := range []string{
		"https://evil.example/\x1b]8;;https://bad.example\x1b\\click\x1b]8;;\x1b\\",
		"https://evil.example/\x07x https://evil.example/\x1b\\y",
		"https://evil.example/\u009c\u009b31m\u0090z",
		"https://evil.example/;id=x;https://bad.example",
		"https://evil.example/\xff\xfe" + "x",
		huge,
	} {
		p := linkPane(t, 80, text)
		v := p.View()
		for _, lp := range linkParts(v) {
			if !termsafe.LinkTarget(lp.target) || !regexp.MustCompile(`^id=[A-Za-z0-9._-]+$`).MatchString(lp.params) {
				t.Errorf("%q: link part %+v", text, lp)
			}
		}
		rest := osc8.ReplaceAllString(v, "")
		rest = regexp.MustCompile("\x1b\\[[0-9;:]*m").ReplaceAllString(rest, "")
		if strings.ContainsAny(rest, "\x1b\x07\u009c\u009b\u0090") {
			t.Errorf("%q: view holds an escape besides the links: %q", text, rest)
		}
		if text == huge && len(linkParts(v)) != 0 {
			t.Errorf("an address over %d bytes was linked", termsafe.MaxLinkTarget)
		}
	}
	// A ';' in the address is part of the target, as shown.
	p := linkPane(t, 80, "https://example.org/a;b")
	if parts := linkParts(p.View()); len(parts) != 1 || parts[0].target != "https://example.org/a;b" {
		t.Errorf("parts %+v, want one link to https://example.org/a;b", parts)
	}
}

// TestFindURLs: where addresses start and end in prose.
func TestFindURLs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"no address here", nil},
		{"https://a.org", []string{"https://a.org"}},
		{"(see https://en.wikipedia.org/wiki/Go_(game))", []string{"https://en.wikipedia.org/wiki/Go_(game)"}},
		{"end https://a.org/x.", []string{"https://a.org/x"}},
		{"<https://a.org/x>, \"http://b.org\"!", []string{"https://a.org/x", "http://b.org"}},
		{"http:// https://. httpx://a.org xhttps://a.org", nil},
		{"見てhttps://a.org/です", []string{"https://a.org/です"}},
		{"two https://a.org/?u=https://b.org then http://c.org", []string{"https://a.org/?u=https://b.org", "http://c.org"}},
	} {
		var got []string
		for _, u := range findURLs(c.in) {
			got = append(got, c.in[u.start:u.end])
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("findURLs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzLinks: whatever a peer sends, the addresses found are in order and
// apart; the wrapped rows are no wider than the limit under either method,
// show the same text with links on and off, hold no escape but link parts
// whose targets are safe and whose parts of one id join to the target.
func FuzzLinks(f *testing.F) {
	for _, s := range []string{"see https://example.org/a-b-c now", "https://" + strings.Repeat("x", 200), "a https://é.org b", "\x1b]8;;https://x\x07", "  https://a.org/(b))."} {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = 1 + abs(limit)%120
		for _, line := range textLines(s) {
			prev := 0
			for _, u := range findURLs(line) {
				if u.start < prev || u.end <= u.start || !strings.HasPrefix(line[u.start:], "http") || strings.Contains(line[u.start:u.end], " ") {
					t.Fatalf("findURLs(%q): span %v after %d", line, u, prev)
				}
				prev = u.end
			}
			on := wrapText(line, limit, ansi.WcWidth, true, "id-")
			off := wrapText(line, limit, ansi.WcWidth, false, "id-")
			if len(on) != len(off) {
				t.Fatalf("%q: %d rows with links, %d without", line, len(on), len(off))
			}
			joined := map[string]string{}
			for i, r := range on {
				if ansi.Strip(r) != off[i] || !utf8.ValidString(r) {
					t.Fatalf("%q: row %q with links, %q without", line, r, off[i])
				}
				if ansi.WcWidth.StringWidth(r) > limit || ansi.GraphemeWidth.StringWidth(r) > limit {
					t.Fatalf("%q: row %q wider than %d", line, r, limit)
				}
				for _, lp := range linkParts(r) {
					if !termsafe.LinkTarget(lp.target) {
						t.Fatalf("%q: unsafe target %q", line, lp.target)
					}
					joined[lp.params+"\x00"+lp.target] += lp.text
				}
				if strings.Count(osc8.ReplaceAllString(r, ""), "\x1b") != 0 {
					t.Fatalf("%q: row %q holds an escape outside a link part", line, r)
				}
			}
			for k, text := range joined {
				if target := k[strings.IndexByte(k, 0)+1:]; text != target {
					t.Fatalf("%q: parts join to %q, target %q", line, text, target)
				}
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
