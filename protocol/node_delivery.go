package protocol

// The Node's delivery side: exactly-once, in-order display, receipts,
// the outbox and resends (docs/PROTOCOL.md, section 9).

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Driven by node_delivery.go, and by SendMessages (node.go) for pending.
//
// outbox is the chat messages this node wrote, until the peer's receipt.
// SendMessages, from any goroutine and one at a time (writeMu), commits
// messages to the Store before it appends them to pending, under mu; the
// Run goroutine moves them to unacked as it seals them (pump), resends
// them from there in the order written (resend), and drops them on the
// peer's receipt (delivered). queued is len(pending) + len(unacked) between
// loop turns: it is what Config.MaxUnacked bounds.
type outbox struct {
	writeMu     sync.Mutex // held by SendMessages: one writer at a time
	mu          sync.Mutex // guards pending, lastWritten and queued
	pending     []*outMsg  // written, not yet sealed
	lastWritten uint64     // id of the last message written (the next one's Prev)
	queued      int        // pending + unacked + unsaved

	// While the disk is full (node_disk.go), under mu: written and not
	// saved yet, in order (they count in queued); saved since the last
	// loop turn (for SavedEvents); the last ErrDiskFull; another error
	// that stopped the saving (stuck).
	unsaved []*outMsg
	saved   []uint64
	fullErr error
	saveErr error
	stuck   bool

	// Owned by the Run goroutine.
	unacked map[uint64]*outMsg
	order   []uint64 // unacked ids in send order (lazily compacted)
}

// Driven by node_delivery.go.
//
// inbox is the chat messages this node received, from their record to
// the peer's receipt. An id in seen is never shown again (seen remembers
// the last MaxSeenIDs, in the order of seenRing). A message is shown only
// after the one its sender wrote before it (held, keyed by that Prev, up
// to maxHeld), first into toShow, then as a showBatch once the Store
// committed its showing mark, and acknowledged (receipts) once shown and,
// with a Store, only once the Store committed it as seen: nothing is
// acknowledged that a crash could lose. The Store's callbacks run on its goroutine: they touch only acks
// and ackErr, under ackMu. Everything else is the Run goroutine's.
type inbox struct {
	seen        map[uint64]struct{}
	seenRing    []uint64
	seenNext    int
	held        map[uint64]heldChat // received before their Prev was shown, keyed by Prev
	heldOrder   []uint64            // Prev keys in arrival order, for eviction
	interrupted map[uint64]bool     // ids whose display a crash interrupted
	toShow      []MessageEvent      // received this turn, shown at its end (showPending)
	dupAcks     []uint64            // received again: acknowledged after the pending Seen commits
	showing     []*showBatch        // marked showing (commits in flight), to show in order
	receipts    []uint64            // to acknowledge in this loop turn (sendReceipts)
	storeFailed bool                // a store error was reported

	// While showing marks cannot be saved (node_disk.go): batches held
	// unshown, in order, and their ids; the retried mark in flight; stuck:
	// an error other than a full disk, so no retry.
	unsaved    []*showBatch
	unsavedIDs map[uint64]struct{}
	retry      *showBatch
	stuck      bool

	ackMu  sync.Mutex // guards acks and ackErr (the Store's Seen callbacks)
	acks   []uint64   // committed as seen: to acknowledge
	ackErr error      // a Seen commit failed
	// Seen commits a full disk refused, to retry.
	seenWait []seenRetry
}

// seenRetry is a Seen to commit again: ids, and what to acknowledge once
// it is committed.
type seenRetry struct{ ids, acks []uint64 }

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
	if _, dup := n.inbox.seen[c.ID]; dup {
		if _, held := n.inbox.unsavedIDs[c.ID]; !held {
			n.inbox.dupAcks = append(n.inbox.dupAcks, c.ID) // the first receipt may have been lost
		}
		return
	}
	if len(n.inbox.unsaved) > 0 {
		return // the disk is full: not seen, not acknowledged; the peer resends it
	}
	if c.Prev != 0 {
		if _, ok := n.inbox.seen[c.Prev]; !ok {
			n.inbox.hold(c, seq)
			return
		}
	}
	for {
		n.show(c, seq)
		next, ok := n.inbox.held[c.ID]
		if !ok {
			return
		}
		delete(n.inbox.held, c.ID)
		if _, dup := n.inbox.seen[next.chat.ID]; dup {
			return
		}
		c, seq = next.chat, next.seq
	}
}

func (in *inbox) hold(c Chat, seq uint32) {
	if _, ok := in.held[c.Prev]; !ok {
		for len(in.held) >= maxHeld && len(in.heldOrder) > 0 {
			// The oldest waits for a message that may never come (its
			// sender lost it); dropping it unacknowledged loses nothing the
			// sender still has.
			delete(in.held, in.heldOrder[0])
			in.heldOrder = in.heldOrder[1:]
		}
		in.heldOrder = append(in.heldOrder, c.Prev)
	}
	in.held[c.Prev] = heldChat{chat: c, seq: seq}
	if len(in.heldOrder) > 2*maxHeld { // compact keys already released
		kept := in.heldOrder[:0]
		for _, k := range in.heldOrder {
			if _, ok := in.held[k]; ok {
				kept = append(kept, k)
			}
		}
		in.heldOrder = kept
	}
}

// show marks a message seen (in memory) and queues it to be shown at the
// end of this loop turn (showPending), after earlier ones.
func (n *Node) show(c Chat, seq uint32) {
	n.inbox.markSeen(c.ID)
	shown, odd := shownTime(c.SentAt, n.now, n.cfg.Window, n.cfg.NotBefore)
	n.inbox.toShow = append(n.inbox.toShow, MessageEvent{ID: c.ID, Seq: seq, Text: c.Text, SentAt: time.Unix(0, c.SentAt), ShownAt: shown, ClockImplausible: odd, PossibleDuplicate: n.inbox.interrupted[c.ID]})
	delete(n.inbox.interrupted, c.ID)
}

// showBatch is one turn's received messages on their way to the screen:
// marked showing (committed when done is closed), then shown, then marked
// seen, then acknowledged.
type showBatch struct {
	evs  []MessageEvent
	dups []uint64      // received again: acknowledged with this batch
	done chan struct{} // closed once the showing mark is committed
	err  error         // the commit's error, set before done is closed
	// marked: committed although held (an earlier batch's mark failed).
	marked bool
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
	if len(n.inbox.toShow) > 0 || len(n.inbox.dupAcks) > 0 {
		b := &showBatch{evs: n.inbox.toShow, dups: n.inbox.dupAcks, done: make(chan struct{})}
		n.inbox.toShow, n.inbox.dupAcks = nil, nil
		if n.cfg.Store == nil || len(b.evs) == 0 {
			close(b.done)
		} else {
			n.cfg.Store.MarkShowing(b.entries(), func(err error) {
				b.err = err
				close(b.done)
				n.signal()
			})
		}
		n.inbox.showing = append(n.inbox.showing, b)
	}
	n.drainShowing()
	for len(n.inbox.showing) > maxShowing {
		<-n.inbox.showing[0].done
		n.drainShowing()
	}
}

// drainShowing shows the batches whose showing marks are committed, in
// order, then marks them seen; they are acknowledged once that commit is
// on disk (takeAcks). A batch whose mark failed, and every batch after it,
// is held unshown (holdUnsaved) until a retried mark commits.
func (n *Node) drainShowing() {
	n.resolveRetry()
	for len(n.inbox.showing) > 0 {
		b := n.inbox.showing[0]
		select {
		case <-b.done:
		default:
			return
		}
		n.inbox.showing = n.inbox.showing[1:]
		if b.err != nil || len(n.inbox.unsaved) > 0 {
			n.holdUnsaved(b)
			continue
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
			n.inbox.receipts = append(append(n.inbox.receipts, ids...), b.dups...)
			continue
		}
		if len(b.evs) > 0 && n.runCtx != nil && n.runCtx.Err() != nil {
			// Stopping: a front end may have returned without showing
			// them. They stay "showing", so the next run shows them again
			// as possible duplicates, and they are not acknowledged.
			continue
		}
		n.storeSeen(ids, append(append([]uint64(nil), ids...), b.dups...))
	}
}

// storeSeen marks ids seen in the Store; acks are acknowledged once that
// is committed. A full disk keeps it to retry (retryDisk).
func (n *Node) storeSeen(ids, acks []uint64) {
	n.cfg.Store.Seen(ids, func(err error) {
		n.inbox.ackMu.Lock()
		switch {
		case err == nil:
			n.inbox.acks = append(n.inbox.acks, acks...)
		case errors.Is(err, ErrDiskFull):
			n.inbox.seenWait = append(n.inbox.seenWait, seenRetry{ids, acks})
		case n.inbox.ackErr == nil:
			n.inbox.ackErr = err
		}
		n.inbox.ackMu.Unlock()
		n.signal()
	})
}

// takeAcks moves the ids the Store committed as seen to the receipts.
func (n *Node) takeAcks() {
	n.inbox.ackMu.Lock()
	acks, err := n.inbox.acks, n.inbox.ackErr
	n.inbox.acks = nil
	n.inbox.ackMu.Unlock()
	n.inbox.receipts = append(n.inbox.receipts, acks...)
	if err != nil {
		n.reportStoreError(err)
	}
}

// reportStoreError reports the first failure to write the delivery state
// other than a full disk (an I/O error, a damaged file: the Store refuses
// every later write). From then on received messages are not shown nor
// acknowledged (the peer keeps them and resends), and SendMessages fails:
// nothing is shown or claimed that is not on disk.
func (n *Node) reportStoreError(err error) {
	if n.inbox.storeFailed {
		return
	}
	n.inbox.storeFailed = true
	n.emit(ErrorEvent{Err: fmt.Errorf("protocol: delivery state not saved: received messages are not shown or acknowledged (the peer keeps them) until duet is restarted with a working database: %w", err)})
}

// markSeen records a chat id and reports whether it is new.
func (in *inbox) markSeen(id uint64) bool {
	if _, dup := in.seen[id]; dup {
		return false
	}
	if len(in.seenRing) < MaxSeenIDs {
		in.seenRing = append(in.seenRing, id)
	} else {
		delete(in.seen, in.seenRing[in.seenNext])
		in.seenRing[in.seenNext] = id
		in.seenNext = (in.seenNext + 1) % MaxSeenIDs
	}
	in.seen[id] = struct{}{}
	return true
}

func (n *Node) delivered(ids []uint64) {
	removed := ids[:0]
	for _, id := range ids {
		if _, ok := n.outbox.unacked[id]; !ok {
			continue
		}
		delete(n.outbox.unacked, id)
		n.receipts.acked.add(id) // a READ may name it (node_receipts.go)
		removed = append(removed, id)
		n.emit(DeliveredEvent{ID: id})
	}
	if len(removed) == 0 {
		return
	}
	if n.cfg.Store != nil {
		n.cfg.Store.Delivered(append([]uint64(nil), removed...))
	}
	n.outbox.mu.Lock()
	n.outbox.queued -= len(removed)
	n.outbox.mu.Unlock()
	if len(n.outbox.order) > 1024 && len(n.outbox.order) > 2*len(n.outbox.unacked) {
		kept := n.outbox.order[:0]
		for _, id := range n.outbox.order {
			if _, ok := n.outbox.unacked[id]; ok {
				kept = append(kept, id)
			}
		}
		n.outbox.order = kept
	}
}

func (n *Node) sendReceipts() {
	for len(n.inbox.receipts) > 0 && n.sess != nil {
		k := min(len(n.inbox.receipts), MaxReceiptIDs)
		n.sealAndQueue(TypeReceipt, AppendReceipt(nil, n.inbox.receipts[:k]))
		n.inbox.receipts = n.inbox.receipts[k:]
	}
	n.inbox.receipts = n.inbox.receipts[:0]
}

// pump seals pending chat messages while the writer has room.
func (n *Node) pump() {
	if n.sess == nil {
		return
	}
	for n.writerHasRoom() {
		n.outbox.mu.Lock()
		k := min(len(n.outbox.pending), MaxBatch)
		take := n.outbox.pending[:k:k]
		n.outbox.pending = n.outbox.pending[k:]
		if len(n.outbox.pending) == 0 {
			n.outbox.pending = nil
		}
		n.outbox.mu.Unlock()
		if k == 0 {
			return
		}
		for _, m := range take {
			n.outbox.unacked[m.chat.ID] = m
			n.outbox.order = append(n.outbox.order, m.chat.ID)
		}
		n.sendChats(take, true)
		n.flush()
	}
}

// chatsPackBytes bounds a CHATS record's payload as the sender packs it: a
// burst of lines shares one record (and the cost of its key), and a long
// message goes alone in a CHAT record.
const chatsPackBytes = 64 << 10

// wireChat is m as sealed now: Prev is kept only while the peer has not
// acknowledged it (an acknowledged message has been shown).
func (o *outbox) wireChat(m *outMsg) Chat {
	c := m.chat
	if _, unacked := o.unacked[c.Prev]; !unacked {
		c.Prev = 0
	}
	return c
}

// sendChats seals ms, in the order written, in as few records as the
// limits allow: each run of up to MaxChatsPerRecord messages whose CHATS
// encoding stays within chatsPackBytes goes in one record, a CHATS record,
// or a CHAT record for a run of one. It stops at the first record
// that cannot be sealed (reported by sealAndQueue) and returns how many
// messages it sealed. With announce (their first sending) each message
// gets its SentEvent, with its record's seq.
func (n *Node) sendChats(ms []*outMsg, announce bool) int {
	done := 0
	for done < len(ms) {
		run := ms[done : done+chatsRun(ms[done:])]
		seq, ok := n.sealChats(run)
		if !ok {
			return done
		}
		for _, m := range run {
			if announce {
				n.emit(SentEvent{ID: m.chat.ID, Seq: seq})
				// The peer's indicator goes off with this message: the
				// user's next keystroke may say "typing" again at once.
				n.receipts.typingSent = time.Time{}
			}
			m.lastSend = n.now
		}
		done += len(run)
	}
	return done
}

// chatsRun is how many of ms (at least one) go in the next record.
func chatsRun(ms []*outMsg) int {
	k, size := 1, ChatsEntryHeaderSize+len(ms[0].chat.Text)
	for k < len(ms) && k < MaxChatsPerRecord {
		size += ChatsEntryHeaderSize + len(ms[k].chat.Text)
		if size > chatsPackBytes {
			break
		}
		k++
	}
	return k
}

// sealChats seals run as one record and queues it.
func (n *Node) sealChats(run []*outMsg) (uint32, bool) {
	if len(run) == 1 {
		c := n.outbox.wireChat(run[0])
		return n.sealAndQueue(TypeChat, AppendChat(make([]byte, 0, ChatHeaderSize+len(c.Text)), &c))
	}
	cs := make([]Chat, len(run))
	for i, m := range run {
		cs[i] = n.outbox.wireChat(m)
	}
	return n.sealAndQueue(TypeChats, AppendChats(make([]byte, 0, ChatsSize(cs)), cs))
}

// resend re-seals up to limit unacknowledged messages whose last send is
// older than ResendAfter (or never), in the order they were written,
// packed as sendChats packs them, while the writer has room.
func (n *Node) resend(limit int) {
	if n.sess == nil {
		return
	}
	var due []*outMsg
	for _, id := range n.outbox.order {
		if len(due) >= limit {
			break
		}
		m, ok := n.outbox.unacked[id]
		if !ok || (!m.lastSend.IsZero() && n.now.Sub(m.lastSend) < n.cfg.ResendAfter) {
			continue
		}
		due = append(due, m)
	}
	for len(due) > 0 && n.writerHasRoom() {
		k := chatsRun(due)
		if n.sendChats(due[:k], false) < k {
			return
		}
		due = due[k:]
	}
}
