package chat

import (
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"

	"duet/ui/termsafe"
	"duet/ui/words"
)

const (
	timeFormat = "15:04"
	minText    = 16 // text cells wanted before the name column shrinks
)

// layout returns the column layout for the current width and names.
func (p *Pane) layout() layout {
	if p.layG == p.gen && p.lay.width == p.width {
		return p.lay
	}
	p.lay = computeLayout(p.width, p.nameWidth(), p.markMax)
	p.layG = p.gen
	return p.lay
}

// nameWidth is the width the name column wants: the longer name (or notice
// mark), at most maxNameWidth.
func (p *Pane) nameWidth() int {
	w := max(safeWidth(p.selfNm), safeWidth(p.peerNm))
	for _, m := range noticeMarks {
		w = max(w, safeWidth(m))
	}
	return min(w, maxNameWidth)
}

// computeLayout places the columns for a pane width cells wide. As the pane
// narrows, the name column shrinks (down to 3 cells), then the time column
// goes, then the name column; below 7 cells there is only text.
func computeLayout(width, nameW, markW int) layout {
	l := layout{width: width}
	const timeW = len(timeFormat)
	switch {
	case width >= timeW+1+nameW+1+markW+1+minText:
		l.timeW, l.nameW, l.markW = timeW, nameW, markW
	case width >= timeW+1+3+1+markW+1+minText:
		l.timeW, l.nameW, l.markW = timeW, width-(timeW+1+1+markW+1+minText), markW
	case width >= 3+1+markW+1+8:
		l.nameW, l.markW = min(nameW, width-(1+markW+1+8)), markW
	case width >= markW+1+4:
		l.markW = markW
	}
	if l.timeW > 0 {
		l.textCol += l.timeW + 1
	}
	if l.nameW > 0 {
		l.textCol += l.nameW + 1
	}
	if l.markW > 0 {
		l.textCol += l.markW + 1
	}
	return l
}

// dayOf returns the local day of an item, as a comparable number.
func (p *Pane) dayOf(it *item) int32 {
	c := it.c()
	if c.dayG != p.gen {
		t := it.time().In(p.loc)
		c.day = int32(t.Year()*512 + t.YearDay())
		c.dayG = p.gen
	}
	return c.day
}

// needsSeparator reports whether a day separator precedes item i.
func (p *Pane) needsSeparator(i int) bool {
	return i == 0 || p.dayOf(p.items[i]) != p.dayOf(p.items[i-1])
}

// preRows returns which virtual rows precede item i: a day separator and
// the new-messages rule.
func (p *Pane) preRows(i int) (sep, marker bool) {
	return p.needsSeparator(i), p.markSeq != 0 && p.items[i].seq == p.markSeq
}

// blockLen returns the number of rows of item i with the rows before it.
func (p *Pane) blockLen(i int) int {
	sep, marker := p.preRows(i)
	n := len(p.itemRows(p.items[i]))
	if sep {
		n++
	}
	if marker {
		n++
	}
	return n
}

// blockRow returns row j of item i's block.
func (p *Pane) blockRow(i, j int) string {
	sep, marker := p.preRows(i)
	it := p.items[i]
	if sep {
		if j == 0 {
			return p.separatorRow(it)
		}
		j--
	}
	if marker {
		if j == 0 {
			return p.markerRow()
		}
		j--
	}
	return p.itemRows(it)[j]
}

// separatorRow renders the day separator before it, cached.
func (p *Pane) separatorRow(it *item) string {
	c := it.c()
	if c.sepG == p.gen && c.sepW == p.width && c.sepM == p.method {
		return c.sep
	}
	t := it.time().In(p.loc)
	c.sep = p.centred(p.sty.daySeparator,
		"── "+t.Format("Monday 2 January 2006")+" ──",
		"── "+t.Format("Mon 2 Jan 2006")+" ──",
		t.Format("Mon 2 Jan 2006"),
		t.Format("2006-01-02"))
	c.sepG, c.sepW, c.sepM = p.gen, p.width, p.method
	return c.sep
}

// markerRow renders the new-messages rule (not cached: its count changes).
func (p *Pane) markerRow() string {
	n := strconv.Itoa(p.markN)
	word := " new messages"
	if p.markN == 1 {
		word = " new message"
	}
	return p.centred(p.sty.marker,
		"── "+n+word+" ──",
		"── "+n+" new ──",
		n+" new",
		"new")
}

// centred renders the first label that fits, centred by the renderer's
// method and never wider than the pane under either method; the last label
// is truncated if none fits.
func (p *Pane) centred(st lipgloss.Style, labels ...string) string {
	w := p.width
	if w <= 0 {
		return ""
	}
	label := ""
	for _, l := range labels {
		if safeWidth(l) <= w {
			label = l
			break
		}
	}
	if label == "" {
		label = truncateSafe(labels[len(labels)-1], w)
	}
	pad := (w - methodWidth(p.method, label)) / 2
	pad = max(min(pad, w-safeWidth(label)), 0)
	return spaces(pad) + st.Render(label)
}

// itemRows returns the rows of an item, from its cache when valid.
func (p *Pane) itemRows(it *item) []string {
	c := it.c()
	if c.g == p.gen && c.w == p.width && c.m == p.method && c.v == it.version {
		return c.rows
	}
	c.rows = p.renderItem(it)
	c.g, c.w, c.m, c.v = p.gen, p.width, p.method, it.version
	return c.rows
}

// textLines splits text into sanitized lines, keeping its line breaks.
func textLines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		l = termsafe.Sanitize(l)
		if strings.IndexByte(l, '\t') >= 0 {
			l = strings.ReplaceAll(l, "\t", tabSpaces)
		}
		lines[i] = l
	}
	return lines
}

// renderItem draws an item as rows: the first with the time, name and
// delivery columns, the rest indented to the text column.
func (p *Pane) renderItem(it *item) []string {
	l := p.layout()
	if l.width <= 0 {
		return []string{""}
	}

	var (
		name     string
		nameSt   lipgloss.Style
		textSt   lipgloss.Style
		styled   bool // whether textSt applies to the whole text
		mark     string
		markSt   lipgloss.Style
		textFlag string
	)
	switch it.kind {
	case kindOwn:
		name, nameSt = p.selfNm, p.sty.self
		mark = deliveryMarks[it.delivery]
		switch Delivery(it.delivery) {
		case Queued:
			markSt = p.sty.queued
		case Sent:
			markSt = p.sty.sent
		case Read:
			markSt = p.sty.read
		default:
			markSt = p.sty.delivered
		}
	case kindPeer:
		name, nameSt = p.peerNm, p.sty.peer
		textFlag = p.peerFlag(it)
	case kindNotice:
		name = noticeMarks[it.notice]
		switch NoticeKind(it.notice) {
		case NoticeGap:
			nameSt = p.sty.gap
		case NoticeWarn:
			nameSt = p.sty.warn
		default:
			nameSt = p.sty.notice
		}
		textSt, styled = nameSt, true
	}

	var pre strings.Builder
	excess := 0 // cells the prefix may take beyond textCol under the other method
	if l.timeW > 0 {
		pre.WriteString(p.sty.time.Render(it.time().In(p.loc).Format(timeFormat)))
		pre.WriteByte(' ')
	}
	if l.nameW > 0 {
		name = truncateSafe(name, l.nameW)
		sw, aw := safeWidth(name), methodWidth(p.method, name)
		pad := l.nameW - aw // right-aligned for the renderer's method
		if l.width-l.textCol-(sw-aw) < minText/2 {
			pad = l.nameW - sw // no room to spare: align for the wider method
		}
		excess = max(excess, pad+sw-l.nameW)
		pre.WriteString(spaces(pad))
		if name != "" {
			pre.WriteString(nameSt.Render(name))
		}
		pre.WriteByte(' ')
	}
	if l.markW > 0 {
		mark = truncateSafe(mark, l.markW)
		if mark != "" {
			pre.WriteString(markSt.Render(mark))
		}
		pre.WriteString(spaces(l.markW - safeWidth(mark)))
		pre.WriteByte(' ')
	}

	limit := l.width - l.textCol - excess
	indent := spaces(l.textCol)
	lines := textLines(it.text)
	if textFlag != "" {
		lines[0] = textFlag + " " + lines[0]
	}
	var rows []string
	for li, line := range lines {
		wrapped := p.wrapItemLine(it, li, line, limit)                      // links.go
		wrapped = p.highlightRows(it, line, wrapped, flagLen(li, textFlag)) // highlight.go: rows holding a link stay unmarked
		if li == 0 && textFlag != "" {
			styleFlag(wrapped, textFlag, p.sty.dup)
		}
		for _, r := range wrapped {
			if styled && r != "" {
				r = textSt.Render(r)
			}
			if len(rows) == 0 {
				rows = append(rows, pre.String()+r)
			} else {
				rows = append(rows, indent+r)
			}
		}
	}
	return rows
}

// peerFlag is the flag before a peer message's text: "[possible
// duplicate]", then "(peer's clock says ...)" for one shown at arrival.
func (p *Pane) peerFlag(it *item) string {
	var flag string
	if it.dup {
		flag = dupFlag
	}
	if says, ok := p.says[it.seq]; ok {
		flag = strings.TrimSpace(flag + " " + words.PeerClockSays(says.In(p.loc)))
	}
	return flag
}

// styleFlag styles the flag that starts the wrapped rows, however the
// wrapping split it (it is ASCII, and wrapping only drops the spaces at a
// break).
func styleFlag(rows []string, flag string, st lipgloss.Style) {
	rem := flag
	for i, r := range rows {
		if rem == "" {
			return
		}
		switch {
		case strings.HasPrefix(r, rem):
			rows[i] = st.Render(rem) + r[len(rem):]
			return
		case strings.HasPrefix(rem, r):
			if r != "" {
				rows[i] = st.Render(r)
			}
			rem = strings.TrimLeft(rem[len(r):], " ")
		default:
			return
		}
	}
}
