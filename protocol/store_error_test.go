package protocol

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// failingStore is a Store whose writes fail, as on a full disk.
type failingStore struct{ err error }

func (f failingStore) Load() (DeliveryState, error)                   { return DeliveryState{}, nil }
func (f failingStore) Queue([]Chat) error                             { return f.err }
func (f failingStore) MarkShowing(_ []HistoryEntry, done func(error)) { done(f.err) }
func (f failingStore) Seen(_ []uint64, done func(error))              { done(f.err) }
func (f failingStore) Delivered([]uint64)                             {}

// TestStoreFailureNothingClaimed: when the delivery state cannot be
// written (an error the Store does not recover from), SendMessages fails
// and queues nothing, received messages are neither shown (nothing is
// shown before its showing mark is committed) nor acknowledged (the peer
// keeps them), and the failure is reported once, naming what failed.
func TestStoreFailureNothingClaimed(t *testing.T) {
	id := testIdentities(t)
	full := &pathErr{op: "write", path: "/x/delivery/a.db", err: syscall.ENOSPC}
	pa, _ := NewPipe(16)
	r := newRecorder()
	n, err := NewNode(Config{Identity: id[0], Store: failingStore{err: full}}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.SendMessages([]string{"one", "two"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("SendMessages on a full disk: %v", err)
	}
	if st := len(n.outbox.pending); st != 0 || n.outbox.queued != 0 || n.outbox.lastWritten != 0 {
		t.Fatalf("a failed SendMessages queued something: %d pending, %d counted", st, n.outbox.queued)
	}
	for i := uint64(1); i <= 3; i++ {
		n.receiveChat(Chat{ID: i, Text: "not shown"}, uint32(i))
	}
	showAll(n)
	n.takeAcks()
	n.receiveChat(Chat{ID: 2, Text: "not shown"}, 9) // a resend
	showAll(n)
	n.takeAcks()
	if got := r.count(func(e Event) bool { _, ok := e.(MessageEvent); return ok }); got != 0 {
		t.Fatalf("%d messages shown, want none", got)
	}
	if len(n.inbox.receipts) != 0 {
		t.Fatalf("acknowledged %v although nothing was saved", n.inbox.receipts)
	}
	var errs []string
	for _, e := range r.snapshot() {
		if ee, ok := e.(ErrorEvent); ok {
			errs = append(errs, ee.Err.Error())
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "not shown or acknowledged") || !strings.Contains(errs[0], "/x/delivery/a.db") {
		t.Fatalf("errors reported: %q, want one naming the file", errs)
	}
}
