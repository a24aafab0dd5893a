package protocol

// The Node's delivery side: exactly-once, in-order display, receipts,
// the outbox and resends (docs/PROTOCOL.md, section 9).

import (
	"fmt"
	"time"
)

// outMsg is a chat message this node wrote, kept until the peer's receipt.
// heldChat is a received message waiting for the one written before it.
type heldChat struct {
	chat Chat
	seq  uint32
}

type outMsg struct {
	chat     Chat
	lastSend time.Time // zero: never sent
}

// receiveChat shows a chat message exactly once and in the order the peer
// wrote it: a message whose Prev has not been shown is held (and not
// acknowledged, so the peer resends it) until Prev is shown.
func (n *Node) receiveChat(c Chat, seq uint32) {
	if _, dup := n.seen[c.ID]; dup {
		n.dupAcks = append(n.dupAcks, c.ID) // the first receipt may have been lost
		return
	}
	if c.Prev != 0 {
		if _, ok := n.seen[c.Prev]; !ok {
			n.hold(c, seq)
			return
		}
	}
	for {
		n.show(c, seq)
		next, ok := n.held[c.ID]
		if !ok {
			return
		}
		delete(n.held, c.ID)
		if _, dup := n.seen[next.chat.ID]; dup {
			return
		}
		c, seq = next.chat, next.seq
	}
}

func (n *Node) hold(c Chat, seq uint32) {
	if _, ok := n.held[c.Prev]; !ok {
		for len(n.held) >= maxHeld && len(n.heldOrder) > 0 {
			// The oldest waits for a message that may never come (its
			// sender lost it); dropping it unacknowledged loses nothing the
			// sender still has.
			delete(n.held, n.heldOrder[0])
			n.heldOrder = n.heldOrder[1:]
		}
		n.heldOrder = append(n.heldOrder, c.Prev)
	}
	n.held[c.Prev] = heldChat{chat: c, seq: seq}
	if len(n.heldOrder) > 2*maxHeld { // compact keys already released
		kept := n.heldOrder[:0]
		for _, k := range n.heldOrder {
			if _, ok := n.held[k]; ok {
				kept = append(kept, k)
			}
		}
		n.heldOrder = kept
	}
}

// show marks a message seen (in memory) and queues it to be shown at the
// end of this loop turn (showPending), after earlier ones.
func (n *Node) show(c Chat, seq uint32) {
	n.markSeen(c.ID)
	n.toShow = append(n.toShow, MessageEvent{ID: c.ID, Seq: seq, Text: c.Text, SentAt: time.Unix(0, c.SentAt), PossibleDuplicate: n.interrupted[c.ID]})
	delete(n.interrupted, c.ID)
}

// showBatch is one turn's received messages on their way to the screen:
// marked showing (committed when done is closed), then shown, then marked
// seen, then acknowledged.
type showBatch struct {
	evs  []MessageEvent
	dups []uint64      // received again: acknowledged with this batch
	done chan struct{} // closed once the showing mark is committed
	err  error         // the commit's error, set before done is closed
}

// maxShowing bounds the batches whose showing marks are being committed:
// past it the loop waits for the oldest (backpressure on the peer).
const maxShowing = 2

// showPending starts showing the messages received this turn. With a
// Store, they are first marked showing in one commit (so a crash from
// there on makes them possible duplicates, never silent ones); the loop
// goes on decrypting while the disk syncs, and shows them, in order, once
// the commit is done (drainShowing). Without a Store they are shown at
// once. Receipts for messages received again travel with the batch: an id
// is never acknowledged before it is durably seen.
func (n *Node) showPending() {
	if len(n.toShow) > 0 || len(n.dupAcks) > 0 {
		b := &showBatch{evs: n.toShow, dups: n.dupAcks, done: make(chan struct{})}
		n.toShow, n.dupAcks = nil, nil
		if n.cfg.Store == nil || len(b.evs) == 0 {
			close(b.done)
		} else {
			entries := make([]HistoryEntry, len(b.evs))
			for i, ev := range b.evs {
				entries[i] = HistoryEntry{ID: ev.ID, Text: ev.Text, At: ev.SentAt, PossibleDuplicate: ev.PossibleDuplicate}
			}
			n.cfg.Store.MarkShowing(entries, func(err error) {
				b.err = err
				close(b.done)
				n.signal()
			})
		}
		n.showing = append(n.showing, b)
	}
	n.drainShowing()
	for len(n.showing) > maxShowing {
		<-n.showing[0].done
		n.drainShowing()
	}
}

// drainShowing shows the batches whose showing marks are committed, in
// order, then marks them seen; they are acknowledged once that commit is
// on disk (takeAcks).
func (n *Node) drainShowing() {
	for len(n.showing) > 0 {
		b := n.showing[0]
		select {
		case <-b.done:
		default:
			return
		}
		n.showing = n.showing[1:]
		if b.err != nil {
			n.reportStoreError(b.err)
		}
		ids := make([]uint64, len(b.evs))
		for i, ev := range b.evs {
			ids[i] = ev.ID
			n.emit(ev)
		}
		if len(b.evs) > 0 {
			n.emit(ShownEvent{}) // returns once they are all shown
		}
		if n.cfg.Store == nil {
			n.receipts = append(append(n.receipts, ids...), b.dups...)
			continue
		}
		if len(b.evs) > 0 && n.runCtx != nil && n.runCtx.Err() != nil {
			// Stopping: a front end may have returned without showing
			// them. They stay "showing", so the next run shows them again
			// as possible duplicates, and they are not acknowledged.
			continue
		}
		acks := append(append([]uint64(nil), ids...), b.dups...)
		n.cfg.Store.Seen(ids, func(err error) {
			n.ackMu.Lock()
			if err == nil {
				n.acks = append(n.acks, acks...)
			} else if n.ackErr == nil {
				n.ackErr = err
			}
			n.ackMu.Unlock()
			n.signal()
		})
	}
}

// takeAcks moves the ids the Store committed as seen to the receipts.
func (n *Node) takeAcks() {
	n.ackMu.Lock()
	acks, err := n.acks, n.ackErr
	n.acks = nil
	n.ackMu.Unlock()
	n.receipts = append(n.receipts, acks...)
	if err != nil {
		n.reportStoreError(err)
	}
}

// reportStoreError reports the first failure to write the delivery state
// (a full disk, a damaged file). From then on received messages are still
// shown but not acknowledged (the peer keeps them and resends), and
// SendMessages fails: nothing is claimed that is not on disk.
func (n *Node) reportStoreError(err error) {
	if n.storeFailed {
		return
	}
	n.storeFailed = true
	n.emit(ErrorEvent{Err: fmt.Errorf("protocol: delivery state not saved: received messages are shown but not acknowledged until duet is restarted with a working database: %w", err)})
}

// markSeen records a chat id and reports whether it is new.
func (n *Node) markSeen(id uint64) bool {
	if _, dup := n.seen[id]; dup {
		return false
	}
	if len(n.seenRing) < MaxSeenIDs {
		n.seenRing = append(n.seenRing, id)
	} else {
		delete(n.seen, n.seenRing[n.seenNext])
		n.seenRing[n.seenNext] = id
		n.seenNext = (n.seenNext + 1) % MaxSeenIDs
	}
	n.seen[id] = struct{}{}
	return true
}

func (n *Node) delivered(ids []uint64) {
	removed := ids[:0]
	for _, id := range ids {
		if _, ok := n.unacked[id]; !ok {
			continue
		}
		delete(n.unacked, id)
		removed = append(removed, id)
		n.emit(DeliveredEvent{ID: id})
	}
	if len(removed) == 0 {
		return
	}
	if n.cfg.Store != nil {
		n.cfg.Store.Delivered(append([]uint64(nil), removed...))
	}
	n.mu.Lock()
	n.queued -= len(removed)
	n.mu.Unlock()
	if len(n.order) > 1024 && len(n.order) > 2*len(n.unacked) {
		kept := n.order[:0]
		for _, id := range n.order {
			if _, ok := n.unacked[id]; ok {
				kept = append(kept, id)
			}
		}
		n.order = kept
	}
}

func (n *Node) sendReceipts() {
	for len(n.receipts) > 0 && n.sess != nil {
		k := min(len(n.receipts), MaxReceiptIDs)
		n.sealAndQueue(TypeReceipt, AppendReceipt(nil, n.receipts[:k]))
		n.receipts = n.receipts[k:]
	}
	n.receipts = n.receipts[:0]
}

// pump seals pending chat messages while the writer has room.
func (n *Node) pump() {
	if n.sess == nil {
		return
	}
	for n.writerHasRoom() {
		n.mu.Lock()
		k := min(len(n.pending), MaxBatch)
		take := n.pending[:k:k]
		n.pending = n.pending[k:]
		if len(n.pending) == 0 {
			n.pending = nil
		}
		n.mu.Unlock()
		if k == 0 {
			return
		}
		for _, m := range take {
			n.unacked[m.chat.ID] = m
			n.order = append(n.order, m.chat.ID)
			n.sendChat(m)
		}
		n.flush()
	}
}

// chatPayload encodes m, keeping Prev only while the peer has not
// acknowledged it (an acknowledged message has been shown).
func (n *Node) chatPayload(m *outMsg) []byte {
	c := m.chat
	if _, unacked := n.unacked[c.Prev]; !unacked {
		c.Prev = 0
	}
	return AppendChat(make([]byte, 0, ChatHeaderSize+len(c.Text)), &c)
}

func (n *Node) sendChat(m *outMsg) {
	if seq, ok := n.sealAndQueue(TypeChat, n.chatPayload(m)); ok {
		first := m.lastSend.IsZero()
		m.lastSend = n.now
		if first {
			n.emit(SentEvent{ID: m.chat.ID, Seq: seq})
		}
	}
}

// resend re-seals up to limit unacknowledged messages whose last send is
// older than ResendAfter (or never), in the order they were written.
func (n *Node) resend(limit int) {
	if n.sess == nil {
		return
	}
	sent := 0
	for _, id := range n.order {
		if sent >= limit || !n.writerHasRoom() {
			break
		}
		m, ok := n.unacked[id]
		if !ok || (!m.lastSend.IsZero() && n.now.Sub(m.lastSend) < n.cfg.ResendAfter) {
			continue
		}
		if _, ok := n.sealAndQueue(TypeChat, n.chatPayload(m)); ok {
			m.lastSend = n.now
			sent++
		}
	}
}
