package chat

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// ellipsis stands for text cut off, and for a cluster too wide to show.
const ellipsis = "…"

// plainASCII reports whether s is printable ASCII only, where every method
// gives one cell per byte.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// safeWidth is the width of plain text under the wider of the two methods
// Bubble Tea may render with: a string no wider than n by safeWidth is no
// wider than n under ansi.WcWidth and under ansi.GraphemeWidth.
func safeWidth(s string) int {
	if plainASCII(s) {
		return len(s)
	}
	return max(ansi.WcWidth.StringWidth(s), ansi.GraphemeWidth.StringWidth(s))
}

// methodWidth is the width of plain text under method m, used for alignment.
func methodWidth(m ansi.Method, s string) int {
	if plainASCII(s) {
		return len(s)
	}
	return m.StringWidth(s)
}

// clusterWidths returns the first grapheme cluster of s and its width under
// each method.
func clusterWidths(s string) (cluster string, wc, gw int) {
	cluster, gw = ansi.FirstGraphemeCluster(s, ansi.GraphemeWidth)
	if len(cluster) == 0 { // cannot happen for non-empty s; never loop
		cluster = s[:1]
	}
	wc = ansi.WcWidth.StringWidth(cluster)
	return cluster, wc, gw
}

// hardSplit breaks s at grapheme-cluster boundaries into pieces no wider
// than limit under either method. A cluster wider than limit on its own is
// replaced by placeholder(limit).
func hardSplit(s string, limit int) []string {
	if limit < 1 {
		return []string{""}
	}
	if plainASCII(s) {
		var out []string
		for len(s) > limit {
			out = append(out, s[:limit])
			s = s[limit:]
		}
		return append(out, s)
	}
	var (
		out    []string
		cur    strings.Builder
		wc, gw int
	)
	for len(s) > 0 {
		cl, cw, cg := clusterWidths(s)
		s = s[len(cl):]
		if max(cw, cg) > limit {
			cl = placeholder(limit)
			cw, cg = safeWidth(cl), safeWidth(cl)
		}
		if wc+cw > limit || gw+cg > limit {
			out = append(out, cur.String())
			cur.Reset()
			wc, gw = 0, 0
		}
		cur.WriteString(cl)
		wc += cw
		gw += cg
	}
	return append(out, cur.String())
}

// placeholder stands for a cluster too wide for a column of limit cells.
func placeholder(limit int) string {
	if safeWidth(ellipsis) <= limit {
		return ellipsis
	}
	return "?" // the ellipsis is two cells under RUNEWIDTH_EASTASIAN
}

// truncateSafe cuts s at a cluster boundary so that it is no wider than n
// under either method, ending it with "…" when something was cut.
func truncateSafe(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if safeWidth(s) <= n {
		return s
	}
	tail := ellipsis
	tw := safeWidth(tail)
	if tw > n {
		tail, tw = "", 0
	}
	var (
		b      strings.Builder
		wc, gw int
	)
	for len(s) > 0 {
		cl, cw, cg := clusterWidths(s)
		if wc+cw > n-tw || gw+cg > n-tw {
			break
		}
		b.WriteString(cl)
		wc += cw
		gw += cg
		s = s[len(cl):]
	}
	b.WriteString(tail)
	return b.String()
}

// wrapLine wraps one line of plain text (no "\n") to limit cells, keeping
// its leading indentation. Words are wrapped with the renderer's method m
// (ansi.Method.Wrap, which also breaks over-long words at grapheme
// boundaries); if a row of that is wider than limit under the other method
// (❤️ is one cell to wcwidth and two to grapheme width, 👋🏽 the other way
// round), the line is wrapped again by safeWrap, which measures every word
// under both methods. Always at least one row.
func wrapLine(line string, limit int, m ansi.Method) []string {
	if limit < 1 {
		return []string{""}
	}
	if safeWidth(line) <= limit {
		return []string{line}
	}
	rows := strings.Split(m.Wrap(line, limit, ""), "\n")
	out := rows[:0]
	for _, r := range rows {
		if r == "" {
			continue // Wrap emits an empty row before a cluster wider than limit
		}
		if safeWidth(r) > limit {
			return safeWrap(line, limit)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		out = append(out, "")
	}
	return out
}

// safeWrap wraps a line greedily at spaces, measuring each word under both
// methods, so that no row is wider than limit under either; a word wider
// than limit is broken at grapheme-cluster boundaries by hardSplit. The
// spaces at a break are dropped, the line's leading spaces kept (when the
// first word fits after them).
func safeWrap(line string, limit int) []string {
	var (
		out     []string
		row     strings.Builder
		wc, gw  int  // width of row under each method
		hasText bool // row holds a word, not only the indentation
	)
	flush := func() {
		out = append(out, row.String())
		row.Reset()
		wc, gw, hasText = 0, 0, false
	}
	rest := strings.TrimLeft(line, " ")
	lead := min(len(line)-len(rest), limit-1)
	row.WriteString(spaces(lead))
	wc, gw = lead, lead
	sp := 0 // spaces between the previous word and this one
	for rest != "" {
		end := strings.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		word := rest[:end]
		rest = rest[end:]
		if !hasText {
			sp = 0
		}
		ww, wg := methodWidth(ansi.WcWidth, word), methodWidth(ansi.GraphemeWidth, word)
		if wc+sp+ww > limit || gw+sp+wg > limit {
			if hasText {
				flush()
			} else { // only the indentation: give it up
				row.Reset()
				wc, gw = 0, 0
			}
			sp = 0
		}
		if wc+sp+ww <= limit && gw+sp+wg <= limit {
			row.WriteString(spaces(sp))
			row.WriteString(word)
			wc, gw, hasText = wc+sp+ww, gw+sp+wg, true
		} else { // wider than a whole row
			pieces := hardSplit(word, limit)
			out = append(out, pieces[:len(pieces)-1]...)
			last := pieces[len(pieces)-1]
			row.WriteString(last)
			wc, gw, hasText = methodWidth(ansi.WcWidth, last), methodWidth(ansi.GraphemeWidth, last), true
		}
		sp = len(rest) - len(strings.TrimLeft(rest, " "))
		rest = rest[sp:]
	}
	if hasText || len(out) == 0 {
		flush()
	}
	return out
}

// spaces returns n spaces.
func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(" ", n)
}
