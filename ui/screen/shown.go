package screen

import (
	"time"

	"duet/protocol"
	"duet/ui/chat"
)

// onPane is the one place that decides which messages the chat pane shows:
// every message row, from the stored history (a page loaded at start or at
// the top of the scrollback, or the pending messages of an earlier run),
// from a live event or from our own send, is added through it, keyed by
// (who wrote it, chat id).
//
// Invariant: an id is shown at most once. A second arrival of an id
// already shown (a live event for a message the start-up history page
// already holds, a page holding a message that arrived live while it was
// loading) adds no row; a live event may only move the state of the row
// already there (our messages' delivery, through chat.Pane.SetDelivery).
//
// The set of ids is bounded by maxShownIDs, oldest forgotten first: more
// than the pane keeps (chat.MaxItems), so that an id still on the pane is
// always remembered. /clear (screen only) keeps the set: a message once
// shown is not shown again by a late duplicate.
type onPane struct {
	ids   map[paneKey]struct{}
	order []paneKey // insertion order, for forgetting the oldest
	gaps  gapWatch  // gaps in the peer's records, until their messages arrive
}

// paneKey names one message: our ids and the peer's are separate spaces.
type paneKey struct {
	own bool
	id  uint64
}

// maxShownIDs bounds onPane's memory (about 24 bytes an id).
const maxShownIDs = 2 * chat.MaxItems

// claim records k as shown and reports whether it was new. Id 0 is never
// a stored message: it is always new (and not remembered).
func (o *onPane) claim(k paneKey) bool {
	if k.id == 0 {
		return true
	}
	if o.ids == nil {
		o.ids = make(map[paneKey]struct{})
	}
	if _, ok := o.ids[k]; ok {
		return false
	}
	o.ids[k] = struct{}{}
	o.order = append(o.order, k)
	if len(o.order) > maxShownIDs {
		drop := len(o.order) - maxShownIDs/2
		for _, old := range o.order[:drop] {
			delete(o.ids, old)
		}
		o.order = append([]paneKey(nil), o.order[drop:]...)
	}
	return true
}

// showPeer shows a live message from the peer, unless its id is already
// on the pane. It reports whether a row was added.
func (s *Screen) showPeer(e protocol.MessageEvent, at time.Time) bool {
	if !s.once.claim(paneKey{id: e.ID}) {
		return false
	}
	if e.ClockImplausible {
		s.chat.AddPeerClock(e.ID, e.Text, at, e.SentAt, e.PossibleDuplicate)
	} else {
		s.chat.AddPeer(e.ID, e.Text, at, e.PossibleDuplicate)
	}
	return true
}

// showOwn shows our message id just handed to the node, unless it is
// already on the pane.
func (s *Screen) showOwn(id uint64, text string, at time.Time) {
	if s.once.claim(paneKey{own: true, id: id}) {
		s.chat.AddOwn(id, text, at)
	}
}

// showStored puts stored entries (oldest first) in front of the oldest
// row, leaving out those already on the pane (and duplicates within
// entries). It returns how many it showed.
func (s *Screen) showStored(entries []chat.Entry) int {
	fresh := make([]chat.Entry, 0, len(entries))
	for _, e := range entries {
		if s.once.claim(paneKey{own: e.Own, id: e.ID}) {
			fresh = append(fresh, e)
		}
	}
	s.chat.Prepend(fresh)
	return len(fresh)
}
