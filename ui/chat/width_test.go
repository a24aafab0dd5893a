package chat

import (
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// noSpace removes the spaces, which wrapping may drop at a break.
func noSpace(s string) string { return strings.ReplaceAll(s, " ", "") }

// graphemes splits s into grapheme clusters.
func graphemes(s string) []string {
	var out []string
	for len(s) > 0 {
		c, _ := ansi.FirstGraphemeCluster(s, ansi.GraphemeWidth)
		out = append(out, c)
		s = s[len(c):]
	}
	return out
}

// messageText returns the text of the peer's messages in the view: rows
// stripped of ANSI, of the day separator and of the time/name columns.
func messageText(t *testing.T, p *Pane, rs []string) string {
	t.Helper()
	col := textCol(p)
	var b strings.Builder
	sep := false
	for _, r := range rs {
		if r == "" {
			continue // padding above the scrollback
		}
		if !sep {
			sep = true // the day separator
			continue
		}
		if len(r) < col {
			t.Fatalf("row %q shorter than the text column %d", r, col)
		}
		b.WriteString(r[col:]) // the columns are ASCII here
	}
	return b.String()
}

func firstDiff(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if at(a, i) != at(b, i) || i >= len(a) || i >= len(b) {
			return i
		}
	}
	return -1
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<end>"
}

func TestWidthPolicy(t *testing.T) {
	samples := []struct{ name, text string }{
		{"ascii", "hello world"},
		{"cjk", "漢字"},
		{"emoji", "😀"},
		{"skin tone", "👋🏽"},
		{"zwj family", "👨‍👩‍👧‍👦"},
		{"flag", "🇫🇷"},
		{"combining", "e\u0301"},
		{"vs16", "❤️"},
		{"mixed", "a漢😀👋🏽👨‍👩‍👧‍👦🇫🇷e\u0301❤️z"},
	}
	methods := []struct {
		name string
		m    ansi.Method
	}{{"wcwidth", ansi.WcWidth}, {"grapheme", ansi.GraphemeWidth}}
	for _, s := range samples {
		for _, shape := range []struct{ name, sep string }{{"words", " "}, {"one long word", ""}} {
			text := strings.Repeat(s.text+shape.sep, 40)
			for _, m := range methods {
				for _, width := range []int{20, 80, 120} {
					t.Run(s.name+"/"+shape.name+"/"+m.name+"/"+strconv.Itoa(width), func(t *testing.T) {
						p := newPane(t, width, 400)
						p.SetWidthMethod(m.m)
						p.AddPeer(1, text, t0, false)
						rs := checkView(t, p)
						got, want := graphemes(noSpace(messageText(t, p, rs))), graphemes(noSpace(text))
						if i := firstDiff(got, want); i >= 0 {
							t.Fatalf("text lost or reordered at grapheme %d of %d/%d: got %q, want %q", i, len(got), len(want), at(got, i), at(want, i))
						}
						// Continuation rows keep the hanging indent.
						for _, r := range rs[indexOf(rs, "bob")+1:] {
							if r != "" && strings.TrimSpace(r[:textCol(p)]) != "" {
								t.Fatalf("continuation row %q does not start at the text column", r)
							}
						}
						// The same view with a smaller height is still bounded.
						p.SetSize(width, 5)
						checkView(t, p)
					})
				}
			}
		}
	}
}

// A name made of disputed clusters stays in its column under both methods.
func TestWidthPolicyNames(t *testing.T) {
	for _, m := range []ansi.Method{ansi.WcWidth, ansi.GraphemeWidth} {
		for _, name := range []string{"👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "❤️❤️❤️❤️❤️❤️❤️❤️", "漢字漢字漢字漢字", "👋🏽"} {
			for width := 1; width <= 60; width++ {
				p := New(nil, Person{Name: name}, Person{Name: name})
				p.SetSize(width, 6)
				p.SetWidthMethod(m)
				p.AddOwn(1, "hi 👋🏽 there", t0)
				p.AddPeer(1, strings.Repeat("❤️👨‍👩‍👧‍👦", 5), t0, true)
				checkView(t, p)
			}
		}
	}
}

func TestWrapLineBounds(t *testing.T) {
	inputs := []string{
		"", "a", "   ", "hello world", "漢字漢字漢字", "a-b-c-d-e-f-g", "👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "❤️❤️❤️", "x👋🏽y👋🏽z",
		"e\u0301e\u0301e\u0301", "🇫🇷🇫🇷🇫🇷 🇫🇷", "word  two   spaces",
	}
	for _, in := range inputs {
		for limit := 1; limit <= 12; limit++ {
			for _, m := range []ansi.Method{ansi.WcWidth, ansi.GraphemeWidth} {
				out := wrapLine(in, limit, m)
				if len(out) == 0 {
					t.Fatalf("wrapLine(%q, %d) returned no rows", in, limit)
				}
				for _, r := range out {
					if safeWidth(r) > limit {
						t.Fatalf("wrapLine(%q, %d): row %q is %d cells", in, limit, r, safeWidth(r))
					}
				}
				// Nothing is lost once a cluster fits in the limit.
				if limit >= 8 && noSpace(strings.Join(out, "")) != noSpace(in) {
					t.Fatalf("wrapLine(%q, %d) = %q lost text", in, limit, out)
				}
			}
		}
	}
}

func TestTruncateSafe(t *testing.T) {
	for _, in := range []string{"alice", "漢字漢字", "👨‍👩‍👧‍👦x", "❤️❤️", "👋🏽👋🏽"} {
		for n := 0; n <= 10; n++ {
			got := truncateSafe(in, n)
			if safeWidth(got) > n {
				t.Fatalf("truncateSafe(%q, %d) = %q, %d cells", in, n, got, safeWidth(got))
			}
			if safeWidth(in) <= n && got != in {
				t.Fatalf("truncateSafe(%q, %d) = %q, want it unchanged", in, n, got)
			}
			if safeWidth(in) > n && n > 1 && !strings.HasSuffix(got, ellipsis) {
				t.Fatalf("truncateSafe(%q, %d) = %q, want a trailing …", in, n, got)
			}
		}
	}
}

// Disputed clusters make the other method's row too wide; the fallback
// still breaks at spaces, never inside a word that fits a row.
func TestWrapKeepsWords(t *testing.T) {
	texts := []string{
		strings.Repeat("I ❤️ you ", 20),
		strings.Repeat("hi 👋🏽 there 👨‍👩‍👧‍👦 family ", 10),
		"    indented ❤️ code ❤️ line ❤️ that ❤️ wraps ❤️ around ❤️ twice",
	}
	for _, text := range texts {
		words := map[string]bool{}
		for _, w := range strings.Fields(text) {
			words[w] = true
		}
		for _, m := range []ansi.Method{ansi.WcWidth, ansi.GraphemeWidth} {
			for limit := 8; limit <= 40; limit++ {
				rows := wrapLine(text, limit, m)
				for _, r := range rows {
					if safeWidth(r) > limit {
						t.Fatalf("limit %d: row %q is %d cells", limit, r, safeWidth(r))
					}
					for _, w := range strings.Fields(r) {
						if !words[w] {
							t.Fatalf("limit %d, method %d: word %q broken in %q", limit, m, w, rows)
						}
					}
				}
				if got := noSpace(strings.Join(rows, "")); got != noSpace(text) {
					t.Fatalf("limit %d: text lost: %q", limit, rows)
				}
				if strings.HasPrefix(text, "    ") && limit >= 12 && !strings.HasPrefix(rows[0], "    indented") {
					t.Fatalf("limit %d: indentation lost: %q", limit, rows[0])
				}
			}
		}
	}
}

func TestSafeWrapBounds(t *testing.T) {
	inputs := []string{"", "   ", "a", "  two  spaces  ", "漢字漢字漢字 漢字", "👨‍👩‍👧‍👦👨‍👩‍👧‍👦 x", "❤️❤️❤️ ❤️", "x👋🏽y👋🏽z abc"}
	for _, in := range inputs {
		for limit := 1; limit <= 12; limit++ {
			rows := safeWrap(in, limit)
			if len(rows) == 0 {
				t.Fatalf("safeWrap(%q, %d): no rows", in, limit)
			}
			for _, r := range rows {
				if safeWidth(r) > limit {
					t.Fatalf("safeWrap(%q, %d): row %q is %d cells", in, limit, r, safeWidth(r))
				}
			}
			if limit >= 8 && noSpace(strings.Join(rows, "")) != noSpace(in) {
				t.Fatalf("safeWrap(%q, %d) = %q lost text", in, limit, rows)
			}
		}
	}
}
