package chat

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"duet/ui/termsafe"
)

// # Web addresses in messages
//
// A web address in a message (http:// or https://, lower case; a bare
// "www." is not one: its target would have to differ from what is shown,
// and guessing http or https is a guess at security) is kept whole by the
// wrapping: it is never broken at a hyphen while it would fit on the next
// row, and one longer than the room left on a row starts a row of its own.
// One longer than a whole row is broken into row-wide pieces with nothing
// in between but the row break and the hanging indent. When links are on
// (SetLinks), every piece is an OSC 8 hyperlink part (termsafe.LinkPart)
// with the whole address as its target and an id shared by the pieces,
// so a terminal opens and underlines them as one link. The layout is the
// same with links on or off: only the escape sequences differ, and they
// take no cells.

// urlSpan is a web address in a line of text: the bytes [start, end).
type urlSpan struct{ start, end int }

// findURLs returns the web addresses in line, in order and apart. One
// starts with "http://" or "https://" at the start of the line or after a
// character that is not an ASCII letter or digit, runs to the next space,
// and leaves out the punctuation that usually follows an address in prose
// (".,:;!?'\"*" and a closing bracket without its opening one). An address
// holding other characters than printable ASCII is found (so that it is
// kept whole) but never linked: linking only its ASCII start would open
// another address than the one shown.
func findURLs(line string) []urlSpan {
	var out []urlSpan
	for i := 0; i < len(line); {
		j := strings.Index(line[i:], "http")
		if j < 0 {
			break
		}
		start := i + j
		i = start + len("http")
		rest := line[start:]
		if !strings.HasPrefix(rest, "https://") && !strings.HasPrefix(rest, "http://") {
			continue
		}
		if start > 0 && asciiAlnum(line[start-1]) {
			continue
		}
		end := start + len(trimURL(rest[:wordEnd(rest)]))
		if scheme := strings.Index(line[start:end], "//") + 2; start+scheme >= end {
			i = max(end, i)
			continue
		}
		out = append(out, urlSpan{start, end})
		i = end
	}
	return out
}

// trimURL drops the punctuation that ends a sentence or closes a bracket
// opened before the address from the end of u (in one pass over u and
// one back from its end: a peer's text may be 64 KiB of ")").
func trimURL(u string) string {
	const closers, openers = ")]}>", "([{<"
	var open, shut [len(closers)]int
	for i := 0; i < len(u); i++ {
		if j := strings.IndexByte(openers, u[i]); j >= 0 {
			open[j]++
		} else if j := strings.IndexByte(closers, u[i]); j >= 0 {
			shut[j]++
		}
	}
	for u != "" {
		c := u[len(u)-1]
		if j := strings.IndexByte(closers, c); j >= 0 && open[j] < shut[j] {
			shut[j]--
		} else if strings.IndexByte(".,:;!?'\"*", c) < 0 {
			return u
		}
		u = u[:len(u)-1]
	}
	return u
}

// wordEnd returns the index of the first space in s, or len(s).
func wordEnd(s string) int {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return i
	}
	return len(s)
}

func asciiAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// seg is a run of bytes [a, b) of the line a row was cut from.
type seg struct{ a, b int }

// wrapKeep wraps line as safeWrap does (greedily at spaces, no row wider
// than limit under either method, a word wider than a row broken at
// grapheme-cluster boundaries on rows of its own) but returns each row as
// the runs of line it shows, so that the addresses in it can be found
// again. ok is false when a cluster is wider than limit on its own (a
// column of one cell): then the caller wraps without links.
func wrapKeep(line string, limit int) (rows [][]seg, ok bool) {
	if limit < 1 {
		return nil, false
	}
	var (
		row     []seg
		wc, gw  int  // width of row under each method
		hasText bool // row holds a word, not only the indentation
	)
	flush := func() {
		rows = append(rows, row)
		row, wc, gw, hasText = nil, 0, 0, false
	}
	i := len(line) - len(strings.TrimLeft(line, " "))
	if lead := min(i, limit-1); lead > 0 {
		row, wc, gw = []seg{{0, lead}}, lead, lead
	}
	sp := 0 // spaces between the previous word and this one
	for i < len(line) {
		end := i + wordEnd(line[i:])
		word := line[i:end]
		if !hasText {
			sp = 0
		}
		ww, wg := methodWidth(ansi.WcWidth, word), methodWidth(ansi.GraphemeWidth, word)
		if wc+sp+ww > limit || gw+sp+wg > limit {
			if hasText {
				flush()
			} else { // only the indentation: give it up
				row, wc, gw = nil, 0, 0
			}
			sp = 0
		}
		if wc+sp+ww <= limit && gw+sp+wg <= limit {
			row = append(row, seg{i - sp, end})
			wc, gw, hasText = wc+sp+ww, gw+sp+wg, true
		} else { // wider than a whole row
			pieces, fits := splitKeep(line, i, end, limit)
			if !fits {
				return nil, false
			}
			for _, p := range pieces[:len(pieces)-1] {
				rows = append(rows, []seg{p})
			}
			last := pieces[len(pieces)-1]
			s := line[last.a:last.b]
			row = []seg{last}
			wc, gw, hasText = methodWidth(ansi.WcWidth, s), methodWidth(ansi.GraphemeWidth, s), true
		}
		sp = len(line[end:]) - len(strings.TrimLeft(line[end:], " "))
		i = end + sp
	}
	if hasText || len(rows) == 0 {
		flush()
	}
	return rows, true
}

// splitKeep breaks line[a:b] at grapheme-cluster boundaries into runs no
// wider than limit under either method; fits is false if one cluster is
// wider than limit.
func splitKeep(line string, a, b, limit int) (runs []seg, fits bool) {
	start, wc, gw := a, 0, 0
	for i := a; i < b; {
		cl, cw, cg := clusterWidths(line[i:b])
		if max(cw, cg) > limit {
			return nil, false
		}
		if wc+cw > limit || gw+cg > limit {
			runs = append(runs, seg{start, i})
			start, wc, gw = i, 0, 0
		}
		i += len(cl)
		wc += cw
		gw += cg
	}
	return append(runs, seg{start, b}), true
}

// wrapText wraps one line of a message: as wrapLine when it holds no web
// address, else keeping the addresses whole (wrapKeep) and, when links is
// true, making them OSC 8 links whose ids start with idPrefix.
func wrapText(line string, limit int, m ansi.Method, links bool, idPrefix string) []string {
	urls := findURLs(line)
	if len(urls) == 0 {
		return wrapLine(line, limit, m)
	}
	rows, ok := wrapKeep(line, limit)
	if !ok {
		return wrapLine(line, limit, m)
	}
	out := make([]string, len(rows))
	k := 0 // the first address not wholly before the current run
	for r, segs := range rows {
		var b strings.Builder
		for _, s := range segs {
			if links {
				k = writeLinked(&b, line, s, urls, k, idPrefix)
			} else {
				b.WriteString(line[s.a:s.b])
			}
		}
		out[r] = b.String()
	}
	return out
}

// writeLinked writes line[s.a:s.b] to b with the parts of it that are web
// addresses as OSC 8 link parts; the k-th address of the line has the id
// idPrefix + k. Runs come in order: it looks at the addresses from k on
// and returns the first one not wholly before the next run.
func writeLinked(b *strings.Builder, line string, s seg, urls []urlSpan, k int, idPrefix string) int {
	at := s.a
	for ; k < len(urls) && urls[k].start < s.b; k++ {
		u := urls[k]
		if a, e := max(u.start, at), min(u.end, s.b); a < e {
			b.WriteString(line[at:a])
			b.WriteString(termsafe.LinkPart(line[u.start:u.end], line[a:e], idPrefix+strconv.Itoa(k)))
			at = e
		}
		if u.end > s.b { // it goes on in the next run
			break
		}
	}
	b.WriteString(line[at:s.b])
	return k
}

// SetLinks turns the OSC 8 links of web addresses in messages on or off
// (off by default). Turn them off where the terminal should get no more
// escape sequences than it must: under NO_COLOR and on a dumb terminal. A
// terminal that does not know OSC 8 ignores it and shows the text.
func (p *Pane) SetLinks(on bool) {
	if on == p.links {
		return
	}
	p.links = on
	p.invalidate()
}

// Links reports whether web addresses are links (SetLinks).
func (p *Pane) Links() bool { return p.links }

// wrapItemLine wraps line li of item it's text to limit cells: a message
// keeps its web addresses whole and links them (wrapText, with ids unique
// to the item and line); a notice is plain text (wrapLine).
func (p *Pane) wrapItemLine(it *item, li int, line string, limit int) []string {
	if it.kind == kindNotice {
		return wrapLine(line, limit, p.method)
	}
	id := "duet" + strconv.FormatUint(it.seq, 36) + "-" + strconv.Itoa(li) + "-"
	return wrapText(line, limit, p.method, p.links, id)
}
