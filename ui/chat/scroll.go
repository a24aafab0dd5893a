package chat

// pos returns the bottom position as (index of the item whose block ends
// the view, rows of that block hidden below the view), valid for the
// current items and sizes. There must be at least one item.
func (p *Pane) pos() (idx, off int) {
	n := len(p.items)
	if p.follow {
		return n - 1, 0
	}
	first := p.items[0].seq
	switch {
	case p.anchor < first: // dropped: the top
		idx, off = 0, p.blockLen(0)-1
	case p.anchor-first >= uint64(n): // cannot happen; be safe
		return n - 1, 0
	default:
		idx = int(p.anchor - first)
		off = min(max(p.off, 0), p.blockLen(idx)-1)
	}
	return idx, off
}

// setPos stores a position that is not the bottom.
func (p *Pane) setPos(idx, off int) {
	if idx == len(p.items)-1 && off <= 0 {
		p.toBottom()
		return
	}
	p.follow = false
	p.anchor = p.items[idx].seq
	p.off = off
	p.markSeen()
}

// toBottom follows the newest messages again: everything has been seen
// (the divider stays, seen: divider.go).
func (p *Pane) toBottom() {
	p.follow = true
	p.anchor, p.off = 0, 0
	p.allSeen()
}

// markSeen drops from unread the messages whose last row is in view (or
// was passed: unread messages are all below where the reader started).
func (p *Pane) markSeen() {
	if len(p.unread) == 0 {
		return
	}
	idx, off := p.pos()
	bottom := p.items[idx].seq
	n := 0
	for n < len(p.unread) && (p.unread[n] < bottom || p.unread[n] == bottom && off == 0) {
		n++
	}
	if n > 0 {
		p.unread = append(p.unread[:0], p.unread[n:]...)
	}
}

// up moves the view n rows towards older messages, stopping at the top.
func (p *Pane) up(n int) {
	if len(p.items) == 0 || n <= 0 {
		return
	}
	idx, off := p.pos()
	off += n
	for {
		bl := p.blockLen(idx)
		if off < bl {
			break
		}
		if idx == 0 {
			off = bl - 1
			break
		}
		off -= bl
		idx--
	}
	p.setPos(idx, off)
	p.clampTop()
}

// down moves the view n rows towards newer messages; reaching the bottom
// follows it again.
func (p *Pane) down(n int) {
	if len(p.items) == 0 || n <= 0 || p.follow {
		return
	}
	idx, off := p.pos()
	off -= n
	last := len(p.items) - 1
	for off < 0 {
		if idx == last {
			p.toBottom()
			return
		}
		idx++
		off += p.blockLen(idx)
	}
	p.setPos(idx, off)
}

// clampTop keeps the view full: a position too close to the top (after a
// resize, a drop or a jump) moves down until the first row of the
// scrollback is the top row, or to the bottom when everything fits.
func (p *Pane) clampTop() {
	if p.follow || len(p.items) == 0 {
		return
	}
	idx, off := p.pos()
	p.setPos(idx, off)
	if p.follow {
		return
	}
	rows := p.blockLen(idx) - off
	for j := idx - 1; rows < p.height && j >= 0; j-- {
		rows += p.blockLen(j)
	}
	if rows < p.height {
		p.down(p.height - rows)
	}
}

// page is how far PageUp and PageDown move: half a page, as in senpai, so
// that the reader keeps half of what they were reading in view.
func (p *Pane) page() int { return max(1, p.height/2) }

// ScrollUp moves the view lines rows towards older messages.
func (p *Pane) ScrollUp(lines int) { p.up(lines) }

// ScrollDown moves the view lines rows towards newer messages; reaching
// the bottom follows new messages again and clears Unread.
func (p *Pane) ScrollDown(lines int) { p.down(lines) }

// PageUp moves the view half a page towards older messages.
func (p *Pane) PageUp() { p.up(p.page()) }

// PageDown moves the view half a page towards newer messages.
func (p *Pane) PageDown() { p.down(p.page()) }

// Top shows the oldest messages in the scrollback.
func (p *Pane) Top() {
	if len(p.items) == 0 {
		return
	}
	p.setPos(0, p.blockLen(0)-1)
	p.clampTop()
}

// Bottom shows the newest messages and follows them; Unread is cleared.
func (p *Pane) Bottom() { p.toBottom() }
