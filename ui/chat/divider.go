package chat

// The "new messages" divider: a rule above the first of the peer's
// messages that arrived unseen, "── N new messages ──" (Styles.NewMarker),
// N counting the unseen messages from it on. It is a virtual row before
// its item (preRows), never an item: the rows of messages keep their
// layout and the pane's items stay exactly the messages shown.
//
// A peer message arrives unseen when the pane is scrolled up (AddPeer sees
// that itself) or when the root says the reader is away (MarkUnseen: the
// terminal lost the focus). Its life:
//
//   - opened by the first unseen message: markSeq is that message, N = 1;
//     later unseen messages add to N;
//   - seen when the reader is back at the bottom (Bottom or scrolling down
//     to it, and MarkSeen once the terminal has the focus again): it stays
//     where it is, so that the reader can find where they left off, but
//     N no longer grows;
//   - gone when the reader sends a message (AddOwn: they have read up to
//     there), or replaced when a new unseen message arrives after it was
//     seen: then a new divider opens at that message.
//
// Unread (the window title's count and the "↓ N new" hint) counts the
// unseen messages not yet seen, whichever way they arrived unseen.

// unseenArrived records that the peer's message seq arrived where the
// reader cannot see it.
func (p *Pane) unseenArrived(seq uint64) {
	if n := len(p.unread); n > 0 && p.unread[n-1] >= seq {
		return // counted already
	}
	p.unread = append(p.unread, seq)
	if p.markSeq == 0 || p.markDone {
		p.markSeq, p.markN, p.markDone = seq, 0, false
	}
	p.markN++
}

// MarkUnseen records that the newest item, when it is the peer's message,
// arrived while the reader was away (the terminal lost the focus): it
// counts in Unread and opens (or extends) the divider even though the pane
// follows the bottom. A message already counted (the pane is scrolled up)
// is not counted twice.
func (p *Pane) MarkUnseen() {
	if n := len(p.items); n > 0 && p.items[n-1].kind == kindPeer {
		p.unseenArrived(p.items[n-1].seq)
	}
}

// MarkSeen records that the reader is back (the terminal has the focus
// again): when the pane is at its bottom, every message has been seen,
// Unread is cleared and the divider stays as seen. Scrolled up, nothing
// changes: the messages below count until they come into view.
func (p *Pane) MarkSeen() {
	if p.follow {
		p.allSeen()
	}
}

// allSeen clears Unread and marks the divider seen.
func (p *Pane) allSeen() {
	p.unread = p.unread[:0]
	if p.markSeq != 0 {
		p.markDone = true
	}
}

// dropDivider removes the divider once it has been seen (the reader sent
// a message).
func (p *Pane) dropDivider() {
	if p.markDone {
		p.markSeq, p.markN, p.markDone = 0, 0, false
	}
}

// HasDivider reports whether the divider is shown, and whether it has
// been seen.
func (p *Pane) HasDivider() (shown, seen bool) { return p.markSeq != 0, p.markDone }
