package chat

// VisiblePeer appends to dst the ids of the peer's messages that are on
// screen: those whose last row is in view (the rule of Unread: a message
// taller than the pane counts once its end was shown). It renders only the
// items in view (cached), like View.
func (p *Pane) VisiblePeer(dst []uint64) []uint64 {
	h := p.height
	if h <= 0 || len(p.items) == 0 {
		return dst
	}
	idx, off := p.pos()
	n := -off // rows of the bottom item's block hidden below the view
	for i := idx; i >= 0 && n < h; i-- {
		if it := p.items[i]; n >= 0 && it.kind == kindPeer {
			dst = append(dst, it.id)
		}
		n += p.blockLen(i)
	}
	return dst
}
