package protocol

// The Node while its Store's disk is full (Store writes fail with
// ErrDiskFull): what cannot be saved waits in memory, in order, and is
// retried every Config.DiskRetry until it is saved; nothing is shown,
// acknowledged or sent before it is on disk.
//
//   - Received messages whose showing mark was refused are held (not
//     shown, not acknowledged), with every batch after them; while some are
//     held, new messages are dropped unseen and resends of held ones are
//     ignored: the peer resends them all. Once a retried mark commits they
//     are shown, in order, exactly once.
//   - A Seen refused is retried; its messages are acknowledged once it
//     commits.
//   - Lines written while full (SendMessages) are kept unsaved (Outgoing
//     .Unsaved), in order; each later line joins them. Once a retried Queue
//     commits they are sent, and a SavedEvent reports each.
//
// A DiskEvent{Full: true} is emitted once when the Node starts waiting,
// and DiskEvent{Full: false} once when nothing waits any more.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// defaultDiskRetry: how often a full disk is tried again.
const defaultDiskRetry = 500 * time.Millisecond

// diskState is the Node's view of its Store's disk. Run goroutine's but
// saving (atomic) and wg.
type diskState struct {
	full   bool             // a DiskEvent{Full: true} was the last emitted
	err    error            // the last ErrDiskFull error
	ticker *time.Ticker     // runs while full
	tick   <-chan time.Time // ticker.C while full, else nil
	saving atomic.Bool      // a saveUnsaved goroutine runs
	wg     sync.WaitGroup   // saveUnsaved goroutines, waited for by Run
}

// holdUnsaved holds batch b, drained from the showing queue, unshown:
// its showing mark failed (b.err), or an earlier batch's did.
func (n *Node) holdUnsaved(b *showBatch) {
	if b.err == nil {
		b.marked = true
	}
	n.inbox.unsaved = append(n.inbox.unsaved, b)
	for _, ev := range b.evs {
		n.inbox.unsavedIDs[ev.ID] = struct{}{}
	}
	switch {
	case b.err == nil:
	case errors.Is(b.err, ErrDiskFull):
		n.disk.err = b.err
	default:
		n.inbox.stuck = true
		n.reportStoreError(b.err)
	}
}

// resolveRetry takes the result of a retried showing mark: committed, the
// held batches go back to the front of the showing queue to be shown.
func (n *Node) resolveRetry() {
	r := n.inbox.retry
	if r == nil {
		return
	}
	select {
	case <-r.done:
	default:
		return
	}
	n.inbox.retry = nil
	switch {
	case r.err == nil:
		for _, b := range n.inbox.unsaved {
			b.marked, b.err = true, nil
		}
		n.inbox.showing = append(n.inbox.unsaved, n.inbox.showing...)
		n.inbox.unsaved = nil
		clear(n.inbox.unsavedIDs)
	case errors.Is(r.err, ErrDiskFull):
		n.disk.err = r.err
	default:
		n.inbox.stuck = true
		n.reportStoreError(r.err)
	}
}

// retryDisk tries again what a full disk refused (on the disk ticker).
func (n *Node) retryDisk() {
	n.retryShowing()
	n.inbox.ackMu.Lock()
	waiting := n.inbox.seenWait
	n.inbox.seenWait = nil
	n.inbox.ackMu.Unlock()
	for _, w := range waiting {
		n.storeSeen(w.ids, w.acks)
	}
	n.outbox.mu.Lock()
	save := len(n.outbox.unsaved) > 0 && !n.outbox.stuck
	n.outbox.mu.Unlock()
	if save && n.disk.saving.CompareAndSwap(false, true) {
		n.disk.wg.Add(1)
		go n.saveUnsaved()
	}
}

// retryShowing marks the held messages showing again, in one commit.
func (n *Node) retryShowing() {
	if len(n.inbox.unsaved) == 0 || n.inbox.retry != nil || n.inbox.stuck {
		return
	}
	r := &showBatch{done: make(chan struct{})}
	var entries []HistoryEntry
	for _, b := range n.inbox.unsaved {
		if !b.marked {
			entries = append(entries, b.entries()...)
		}
	}
	n.inbox.retry = r
	if len(entries) == 0 {
		close(r.done)
		return
	}
	n.cfg.Store.MarkShowing(entries, func(err error) {
		r.err = err
		close(r.done)
		n.signal()
	})
}

// entries returns the history entries of b's messages, each at the time
// it is shown (ShownAt: the peer's sent_at unless implausible, then kept
// as ClaimedAt for the marker).
func (b *showBatch) entries() []HistoryEntry {
	entries := make([]HistoryEntry, len(b.evs))
	for i, ev := range b.evs {
		entries[i] = HistoryEntry{ID: ev.ID, Text: ev.Text, At: ev.ShownAt, PossibleDuplicate: ev.PossibleDuplicate}
		if ev.ClockImplausible {
			entries[i].ClaimedAt = ev.SentAt
		}
	}
	return entries
}

// keepUnsaved keeps msgs, which the Store could not save (err wraps
// ErrDiskFull) or which follow lines not saved yet, in memory after those;
// outbox.writeMu is held.
func (n *Node) keepUnsaved(msgs []*outMsg, err error) {
	n.outbox.mu.Lock()
	defer n.outbox.mu.Unlock()
	n.outbox.unsaved = append(n.outbox.unsaved, msgs...)
	n.outbox.queued += len(msgs)
	n.outbox.lastWritten = msgs[len(msgs)-1].chat.ID
	if err != nil {
		n.outbox.fullErr = err
	}
}

// saveUnsaved commits the lines kept unsaved to the Store, and moves them
// to pending (to be sent) once it did. It holds writeMu, so no line is
// written meanwhile: the order written is the order saved and sent.
func (n *Node) saveUnsaved() {
	defer n.disk.wg.Done()
	defer n.disk.saving.Store(false)
	n.outbox.writeMu.Lock()
	defer n.outbox.writeMu.Unlock()
	n.outbox.mu.Lock()
	msgs := n.outbox.unsaved
	n.outbox.mu.Unlock()
	chats := make([]Chat, len(msgs))
	for i, m := range msgs {
		chats[i] = m.chat
	}
	err := n.cfg.Store.Queue(chats)
	n.outbox.mu.Lock()
	switch {
	case err == nil:
		n.outbox.unsaved = nil
		n.outbox.pending = append(n.outbox.pending, msgs...)
		for _, m := range msgs {
			n.outbox.saved = append(n.outbox.saved, m.chat.ID)
		}
	case errors.Is(err, ErrDiskFull):
		n.outbox.fullErr = err
	default:
		n.outbox.stuck = true
		n.outbox.saveErr = err
	}
	n.outbox.mu.Unlock()
	n.signal()
}

// checkDisk ends a loop turn: it reports the lines saved since the last,
// and enters or leaves the full state (DiskEvent, the retry ticker).
func (n *Node) checkDisk() {
	if n.cfg.Store == nil {
		return
	}
	n.resolveRetry()
	n.outbox.mu.Lock()
	saved, saveErr := n.outbox.saved, n.outbox.saveErr
	n.outbox.saved, n.outbox.saveErr = nil, nil
	unsaved := len(n.outbox.unsaved) > 0 && !n.outbox.stuck
	if n.outbox.fullErr != nil {
		n.disk.err, n.outbox.fullErr = n.outbox.fullErr, nil
	}
	left := len(n.outbox.unsaved)
	n.outbox.mu.Unlock()
	for _, id := range saved {
		n.emit(SavedEvent{ID: id})
	}
	if saveErr != nil {
		n.emit(ErrorEvent{Err: fmt.Errorf("protocol: %d messages written while the disk was full cannot be saved, so they are not sent: %w", left, saveErr)})
	}
	n.inbox.ackMu.Lock()
	seenWaiting := len(n.inbox.seenWait) > 0
	n.inbox.ackMu.Unlock()
	if seenWaiting && n.disk.err == nil {
		n.disk.err = ErrDiskFull
	}
	waiting := unsaved || seenWaiting || (len(n.inbox.unsaved) > 0 && !n.inbox.stuck)
	switch {
	case waiting && !n.disk.full:
		n.disk.full = true
		n.disk.ticker = time.NewTicker(n.cfg.DiskRetry)
		n.disk.tick = n.disk.ticker.C
		n.emit(DiskEvent{Full: true, Err: n.disk.err})
	case !waiting && n.disk.full:
		n.disk.full = false
		n.disk.ticker.Stop()
		n.disk.ticker, n.disk.tick, n.disk.err = nil, nil, nil
		n.emit(DiskEvent{Full: false})
	}
}

// stopDisk stops the retry ticker and waits for a save in flight (Run's
// end).
func (n *Node) stopDisk() {
	if n.disk.ticker != nil {
		n.disk.ticker.Stop()
	}
	n.disk.wg.Wait()
}

// Unsaved returns how many messages written while the disk was full are
// not saved yet: they are in memory only, and lost if duet stops now.
func (n *Node) Unsaved() int {
	n.outbox.mu.Lock()
	defer n.outbox.mu.Unlock()
	return len(n.outbox.unsaved)
}
