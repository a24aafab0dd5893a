package protocol

// The Node's courtesy records: the typing indicator (TYPING), read
// receipts (READ), and the count of authenticated records of types this
// implementation does not know (docs/PROTOCOL.md, section 8).
//
// Neither TYPING nor READ carries a guarantee: each is sent once, never
// resent, and may be lost with its record. The delivery guarantee is the
// RECEIPT's (✓ delivered); READ only adds "read" on top of it.

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Driver limits of this file (implementation choices, not wire format).
const (
	// maxReadPending bounds the ids MarkRead keeps until the loop seals
	// them (more are dropped: a READ is a courtesy, not a guarantee).
	maxReadPending = 1024
	// recentIDs bounds each of the id sets below: our messages the peer
	// acknowledged (a READ may name only those or unacknowledged ones),
	// the ones it reported read, and the peer's we reported read.
	recentIDs = 4096
)

// Driven by node_receipts.go.
//
// receiptState is the typing indicator and read receipts in both
// directions. typingWanted and readPending are set by Typing and MarkRead
// from any goroutine (readPending under readMu); unknown is read by
// UnknownRecords from any goroutine; the rest is the Run goroutine's.
type receiptState struct {
	unknown      atomic.Uint64 // authenticated records of unknown types, ignored
	typingWanted atomic.Bool   // Typing was called since the last loop turn
	readMu       sync.Mutex
	readPending  []uint64 // MarkRead's ids, not yet sealed (at most maxReadPending)

	typingSent      time.Time // when our last TYPING was sealed
	peerTypingUntil time.Time // the peer's indicator ends then (zero: off)
	acked           idSet     // our messages the peer acknowledged, recent
	readByPeer      idSet     // ours the peer reported read (reported once)
	readSent        idSet     // the peer's we reported read (sent once)
	readBuf         []uint64  // scratch for a READ's ids
}

// idSet is a set of at most recentIDs ids that forgets the oldest first.
type idSet struct {
	has  map[uint64]struct{}
	ring []uint64
	next int
}

func (s *idSet) contains(id uint64) bool { _, ok := s.has[id]; return ok }

func (s *idSet) add(id uint64) {
	if s.contains(id) {
		return
	}
	if s.has == nil {
		s.has = make(map[uint64]struct{})
	}
	if len(s.ring) < recentIDs {
		s.ring = append(s.ring, id)
	} else {
		delete(s.has, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % recentIDs
	}
	s.has[id] = struct{}{}
}

// UnknownRecords returns how many authenticated session records of a type
// this node does not know it has ignored (docs/PROTOCOL.md, section 8):
// each passed every check a record passes, moved the sequence on, and was
// then dropped, neither refused nor shown. Safe from any goroutine.
func (n *Node) UnknownRecords() uint64 { return n.receipts.unknown.Load() }

// Typing tells the peer that the user is composing: the node seals a
// TYPING record at its next loop turn, at most one per TypingEvery (calls
// in between are dropped), and only in an established session. It never
// blocks, so a user interface may call it on every keypress. Nothing is
// sent with Config.NoTyping.
func (n *Node) Typing() {
	if n.cfg.NoTyping {
		return
	}
	if !n.receipts.typingWanted.Swap(true) {
		n.signal()
	}
}

// MarkRead tells the peer that its messages ids were read: the user
// interface calls it for messages that were on screen while the terminal
// had the focus. The node seals them in READ records (at most MaxReadIDs
// each) at its next loop turn in a session, and reports each id at most
// once (of the last recentIDs): ids it did not receive, 0, and ids beyond
// maxReadPending waiting ones are dropped. It never blocks. Nothing is
// sent with Config.NoReadReceipts.
func (n *Node) MarkRead(ids []uint64) {
	if n.cfg.NoReadReceipts || len(ids) == 0 {
		return
	}
	r := &n.receipts
	r.readMu.Lock()
	room := maxReadPending - len(r.readPending)
	r.readPending = append(r.readPending, ids[:min(len(ids), max(room, 0))]...)
	r.readMu.Unlock()
	n.signal()
}

// sendCourtesies seals what Typing and MarkRead asked for since the last
// loop turn, in the current session.
func (n *Node) sendCourtesies() {
	if n.sess == nil {
		n.receipts.typingWanted.Store(false) // composing before the session: stale by then
		return
	}
	n.sendTyping()
	n.sendRead()
}

// sendTyping seals a TYPING record if one was asked for and none was sealed
// in the last TypingEvery.
func (n *Node) sendTyping() {
	r := &n.receipts
	if !r.typingWanted.Swap(false) || n.cfg.NoTyping {
		return
	}
	if !r.typingSent.IsZero() && n.now.Sub(r.typingSent) < TypingEvery && !n.now.Before(r.typingSent) {
		return
	}
	if _, ok := n.sealAndQueue(TypeTyping, nil); ok {
		r.typingSent = n.now
	}
}

// sendRead seals READ records for the ids MarkRead left: those this node
// received (the seen set) and has not reported read yet.
func (n *Node) sendRead() {
	r := &n.receipts
	r.readMu.Lock()
	ids := r.readPending
	r.readPending = nil
	r.readMu.Unlock()
	fresh := ids[:0]
	for _, id := range ids {
		if _, seen := n.inbox.seen[id]; !seen || r.readSent.contains(id) || id == 0 {
			continue
		}
		r.readSent.add(id)
		fresh = append(fresh, id)
	}
	for len(fresh) > 0 {
		k := min(len(fresh), MaxReadIDs)
		n.sealAndQueue(TypeRead, AppendRead(nil, fresh[:k]))
		fresh = fresh[k:]
	}
}

// gotTyping acts on an accepted TYPING record: the indicator is on for
// TypingFor from now. Only a change is reported, so a flood of TYPING
// records costs one event.
func (n *Node) gotTyping() {
	if n.cfg.NoTyping {
		return
	}
	r := &n.receipts
	was := !r.peerTypingUntil.IsZero()
	r.peerTypingUntil = n.now.Add(TypingFor)
	if !was {
		n.emit(TypingEvent{Active: true, Until: r.peerTypingUntil})
	}
}

// stopPeerTyping turns the peer's indicator off, reporting it if it was on:
// when it expires, when the peer's chat message arrives, when it leaves.
func (n *Node) stopPeerTyping() {
	r := &n.receipts
	if r.peerTypingUntil.IsZero() {
		return
	}
	r.peerTypingUntil = time.Time{}
	n.emit(TypingEvent{Active: false})
}

// expireTyping ends the peer's indicator TypingFor after its last TYPING.
func (n *Node) expireTyping() {
	if u := n.receipts.peerTypingUntil; !u.IsZero() && !n.now.Before(u) {
		n.stopPeerTyping()
	}
}

// gotRead acts on an accepted READ record (checked by Open): the ids that
// are ours (unacknowledged, or acknowledged recently) and not reported read
// before are reported in one ReadEvent. Other ids are dropped without a
// word: after a restart a peer may name messages this process forgot. A
// flood of READ records naming the same ids costs no event.
func (n *Node) gotRead(p []byte) {
	if n.cfg.NoReadReceipts {
		return
	}
	r := &n.receipts
	ids, _ := ParseRead(r.readBuf[:0], p)
	r.readBuf = ids
	var fresh []uint64
	for _, id := range ids {
		_, unacked := n.outbox.unacked[id]
		if (!unacked && !r.acked.contains(id)) || r.readByPeer.contains(id) {
			continue
		}
		r.readByPeer.add(id)
		fresh = append(fresh, id)
	}
	if len(fresh) > 0 {
		n.emit(ReadEvent{IDs: slices.Clip(fresh)})
	}
}

// gotUnknown counts an authenticated record of a type this node does not
// know: it passed every check (so it moved the sequence on and cannot be
// replayed) and is otherwise ignored.
func (n *Node) gotUnknown() { n.receipts.unknown.Add(1) }
