package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Match is a message on the pane that a search found: Seq places it on the
// pane (ShowSeq, SetHighlight), Own and ID name it as the history does.
type Match struct {
	Seq uint64
	ID  uint64
	Own bool
}

// highlight is what a search marks on the pane: every occurrence of query
// in the messages' text (notices are not searched), the current match's
// occurrences drawn stronger.
type highlight struct {
	query []rune // lower-cased; nil: nothing is highlighted
	cur   uint64 // seq of the current match; 0: none
}

// Highlight styles: attributes, not colours, so that they show under
// NO_COLOR and on a monochrome terminal. The current match is also bold
// and underlined: it differs by shape, not only by colour. Plain SGR, not
// lipgloss: lipgloss draws the spaces of an underlined text without the
// reverse video, which would cut a match of two words in two.
var (
	matchStyle    = ansi.Style{}.Reverse(true)
	matchCurStyle = ansi.Style{}.Bold().Underline(true).Reverse(true)
)

// SetHighlight marks every occurrence of query (case-insensitive) in the
// messages' text, those of the message cur (a seq; 0: none) drawn
// stronger; an empty query removes the marks. Rows are drawn again lazily,
// as they come into view.
func (p *Pane) SetHighlight(query string, cur uint64) {
	q := []rune(strings.ToLower(query))
	if len(q) == 0 {
		q = nil
	}
	if string(q) == string(p.hl.query) && cur == p.hl.cur {
		return
	}
	p.hl = highlight{query: q, cur: cur}
	p.invalidate()
}

// Find returns the messages (ours and the peer's, not notices) whose text
// contains query, case-insensitively, newest first. It reads every item
// of the scrollback (at most MaxItems) and draws none.
func (p *Pane) Find(query string) []Match {
	q := []rune(strings.ToLower(query))
	if len(q) == 0 {
		return nil
	}
	var out []Match
	for i := len(p.items) - 1; i >= 0; i-- {
		it := p.items[i]
		if it.kind == kindNotice {
			continue
		}
		if s, _ := nextFold(it.text, q, 0); s >= 0 {
			out = append(out, Match{Seq: it.seq, ID: it.id, Own: it.kind == kindOwn})
		}
	}
	return out
}

// SeqOf returns the seq of the message id written by us (own) or the peer,
// the newest if the id appears twice, or 0 if it is not on the pane.
func (p *Pane) SeqOf(own bool, id uint64) uint64 {
	if own {
		if it := p.own[id]; it != nil {
			return it.seq
		}
		return 0
	}
	for i := len(p.items) - 1; i >= 0; i-- {
		if it := p.items[i]; it.kind == kindPeer && it.id == id {
			return it.seq
		}
	}
	return 0
}

// ShowSeq scrolls so that the item seq is in view, about the middle of the
// pane when there are rows enough below it (the newest item sits at the
// bottom and the pane follows again). It reports whether seq is on the
// pane.
func (p *Pane) ShowSeq(seq uint64) bool {
	if len(p.items) == 0 || seq < p.items[0].seq {
		return false
	}
	idx := int(seq - p.items[0].seq)
	if idx >= len(p.items) {
		return false
	}
	p.setPos(idx, 0)
	if !p.follow {
		p.down(max(0, (p.height-p.blockLen(idx))/2))
		p.clampTop()
	}
	return true
}

// highlightRows marks the occurrences of the search in line (one line of
// an item's text, from byte skip on: a flag before it is not searched) on
// its wrapped rows. A match split by the wrap is marked on both rows. Rows
// the wrap changed (a too-wide cluster's placeholder) keep no mark.
func (p *Pane) highlightRows(it *item, line string, rows []string, skip int) []string {
	if p.hl.query == nil || it.kind == kindNotice {
		return rows
	}
	spans := foldSpans(line, p.hl.query, skip)
	if len(spans) == 0 {
		return rows
	}
	st := matchStyle
	if it.seq == p.hl.cur {
		st = matchCurStyle
	}
	at := 0
	for i, r := range rows {
		start := strings.Index(line[at:], r)
		if r == "" || start < 0 {
			continue
		}
		start += at
		rows[i] = paintSpans(r, start, spans, st)
		at = start + len(r)
	}
	return rows
}

type span struct{ start, end int } // byte offsets

// foldSpans returns the non-overlapping occurrences of q (lower-cased) in
// s from byte from on, compared rune by rune in lower case.
func foldSpans(s string, q []rune, from int) []span {
	var out []span
	for from < len(s) {
		start, end := nextFold(s, q, from)
		if start < 0 {
			break
		}
		out = append(out, span{start, end})
		from = end
	}
	return out
}

// nextFold returns the first occurrence of q (lower-cased) in s at or
// after byte from, or -1.
func nextFold(s string, q []rune, from int) (start, end int) {
	for i := from; i < len(s); {
		if j, ok := foldAt(s, i, q); ok {
			return i, j
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return -1, -1
}

// foldAt reports whether q matches s at byte i, and where the match ends.
func foldAt(s string, i int, q []rune) (int, bool) {
	for _, qr := range q {
		if i >= len(s) {
			return 0, false
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.ToLower(r) != qr {
			return 0, false
		}
		i += n
	}
	return i, true
}

// paintSpans styles the parts of row (which starts at byte off of the
// line the spans index) that the spans cover.
func paintSpans(row string, off int, spans []span, st ansi.Style) string {
	var b strings.Builder
	pos := 0 // in row
	for _, sp := range spans {
		s, e := max(sp.start-off, pos), min(sp.end-off, len(row))
		if s >= e {
			continue
		}
		b.WriteString(row[pos:s])
		b.WriteString(st.Styled(row[s:e]))
		pos = e
	}
	if pos == 0 {
		return row
	}
	b.WriteString(row[pos:])
	return b.String()
}

// flagLen is how many bytes of line li a flag takes (the first line only).
func flagLen(li int, flag string) int {
	if li != 0 || flag == "" {
		return 0
	}
	return len(flag) + 1
}
