package ui

import (
	"sync"

	"duet/protocol"
)

// The headless unread count (docs/HEADLESS.md, "unread"). duet --headless
// never sends READ by itself (writing a message line is not a person
// reading it): the program says what it has read with a "/read" line,
// which marks read every message received so far and sends READ for them
// (unless --no-read-receipts). The count of the peer's messages not marked
// read yet is written as {"event":"unread","count":N} whenever it changed:
// after each group of message lines the node shows together (before the
// group's ShownEvent returns), and after /read. So a flood of messages
// gives one unread line per group, not one per message.

// maxUnreadIDs bounds the ids kept for /read: past it the oldest are
// dropped from the READ (the count stays exact).
const maxUnreadIDs = 4096

// unreadSet is the messages not marked read. It is safe for concurrent
// use: messages arrive from the node, /read from the input loop.
type unreadSet struct {
	mu      sync.Mutex
	ids     []uint64 // the newest maxUnreadIDs of them
	count   int      // how many there are
	written int      // the count of the last unread line
}

// add counts a message from the peer.
func (u *unreadSet) add(id uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.count++
	if len(u.ids) == maxUnreadIDs {
		u.ids = append(u.ids[:0], u.ids[1:]...)
	}
	u.ids = append(u.ids, id)
}

// changed returns the count and whether it differs from the last one
// written, recording it as written.
func (u *unreadSet) changed() (int, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.count == u.written {
		return 0, false
	}
	u.written = u.count
	return u.count, true
}

// take returns the ids of every message counted and empties the set.
func (u *unreadSet) take() []uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	ids := u.ids
	u.ids, u.count = nil, 0
	return ids
}

// putUnread writes the unread line if the count changed.
func (h *Headless) putUnread() {
	n, ok := h.unread.changed()
	if !ok {
		return
	}
	// Never dropped, as the messages it counts (one line per group).
	h.q.putMust(h.encode(struct {
		Event string `json:"event"`
		Time  string `json:"time"`
		Count int    `json:"count"`
	}{"unread", h.stamp(), n}))
}

// reader is a Node that sends READ records (*protocol.Node).
type reader interface{ MarkRead(ids []uint64) }

// markAllRead is /read: every message received so far is read; the node
// is asked to send READ for them, and the count (0) is written.
func (h *Headless) markAllRead(node Node) {
	ids := h.unread.take()
	if r, ok := node.(reader); ok && len(ids) > 0 {
		r.MarkRead(ids)
	}
	h.putUnread()
}

// countUnread counts a peer message for the unread line.
func (h *Headless) countUnread(ev protocol.Event) {
	if e, ok := ev.(protocol.MessageEvent); ok {
		h.unread.add(e.ID)
	}
}
