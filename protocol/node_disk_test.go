package protocol

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// fullStore is a Store whose writes fail with ErrDiskFull while full is
// set, and which records what it committed otherwise.
type fullStore struct {
	full    atomic.Bool
	mu      sync.Mutex
	queued  []string
	showing []uint64
}

func (f *fullStore) err() error {
	if f.full.Load() {
		return fmt.Errorf("protocol: database /x/a.db: %w (no space left on device); free space on the file system that holds /x", ErrDiskFull)
	}
	return nil
}
func (f *fullStore) Load() (DeliveryState, error) { return DeliveryState{}, nil }
func (f *fullStore) Queue(c []Chat) error {
	if err := f.err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range c {
		f.queued = append(f.queued, x.Text)
	}
	return nil
}
func (f *fullStore) MarkShowing(m []HistoryEntry, done func(error)) {
	if err := f.err(); err != nil {
		done(err)
		return
	}
	f.mu.Lock()
	for _, e := range m {
		f.showing = append(f.showing, e.ID)
	}
	f.mu.Unlock()
	done(nil)
}
func (f *fullStore) Seen(_ []uint64, done func(error)) { done(f.err()) }
func (f *fullStore) Delivered([]uint64)                {}

// TestDiskFullHoldAndRetry: while the Store's disk is full, received
// messages are not shown nor acknowledged (resends ignored, later ones
// dropped unseen), lines written are kept unsaved in order, one DiskEvent
// says so; once there is room a retry shows each held message exactly
// once, in order, saves the lines (SavedEvent each), and one DiskEvent
// says the disk has room again.
func TestDiskFullHoldAndRetry(t *testing.T) {
	id := testIdentities(t)
	st := &fullStore{}
	st.full.Store(true)
	pa, _ := NewPipe(16)
	r := newRecorder()
	n, err := NewNode(Config{Identity: id[0], Store: st}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	shown := func() []string {
		var got []string
		for _, e := range r.snapshot() {
			if m, ok := e.(MessageEvent); ok {
				got = append(got, m.Text)
			}
		}
		return got
	}
	diskEvents := func() []bool {
		var got []bool
		for _, e := range r.snapshot() {
			if d, ok := e.(DiskEvent); ok {
				got = append(got, d.Full)
			}
		}
		return got
	}
	n.receiveChat(Chat{ID: 11, Text: "m1"}, 1)
	n.receiveChat(Chat{ID: 12, Prev: 11, Text: "m2"}, 2)
	showAll(n)
	n.takeAcks()
	n.checkDisk()
	n.receiveChat(Chat{ID: 11, Text: "m1"}, 3)           // a resend of a held one
	n.receiveChat(Chat{ID: 13, Prev: 12, Text: "m3"}, 4) // a new one
	showAll(n)
	n.takeAcks()
	outs, err := n.SendMessages([]string{"a", "b"})
	if err != nil || !outs[0].Unsaved || !outs[1].Unsaved {
		t.Fatalf("SendMessages on a full disk: %+v, %v; want kept unsaved", outs, err)
	}
	if o, err := n.SendMessage("c"); err != nil || !o.Unsaved {
		t.Fatalf("a line after unsaved ones: %+v, %v", o, err)
	}
	n.retryDisk() // still full
	n.disk.wg.Wait()
	showAll(n)
	n.takeAcks()
	n.checkDisk()
	if got := shown(); len(got) != 0 {
		t.Fatalf("shown while the disk is full: %q", got)
	}
	if len(n.inbox.receipts) != 0 || len(n.outbox.pending) != 0 || n.Unsaved() != 3 {
		t.Fatalf("while full: receipts %v, pending %d, unsaved %d", n.inbox.receipts, len(n.outbox.pending), n.Unsaved())
	}
	if got := diskEvents(); len(got) != 1 || !got[0] {
		t.Fatalf("disk events while full: %v, want one Full", got)
	}

	st.full.Store(false)
	n.retryDisk()
	n.disk.wg.Wait()
	showAll(n)
	n.takeAcks()
	n.checkDisk()
	n.receiveChat(Chat{ID: 12, Prev: 11, Text: "m2"}, 5) // a resend, now shown
	n.receiveChat(Chat{ID: 13, Prev: 12, Text: "m3"}, 6) // resent by the peer
	showAll(n)
	n.takeAcks()
	n.checkDisk()
	if got := fmt.Sprint(shown()); got != "[m1 m2 m3]" {
		t.Fatalf("shown after room came back: %s, want each once in order", got)
	}
	if got := fmt.Sprint(st.queued); got != "[a b c]" {
		t.Fatalf("saved: %s, want the lines in order", got)
	}
	if got := r.count(func(e Event) bool { _, ok := e.(SavedEvent); return ok }); got != 3 {
		t.Fatalf("%d SavedEvents, want 3", got)
	}
	if len(n.outbox.pending) != 3 || n.Unsaved() != 0 {
		t.Fatalf("after saving: %d pending, %d unsaved", len(n.outbox.pending), n.Unsaved())
	}
	if got := fmt.Sprint(n.inbox.receipts); got != "[11 12 13 12]" {
		t.Fatalf("receipts %s, want 11 12 13 (and 12's resend with 13)", got)
	}
	if got := diskEvents(); fmt.Sprint(got) != "[true false]" {
		t.Fatalf("disk events: %v, want full once, room once", got)
	}
	if r.count(func(e Event) bool { _, ok := e.(ErrorEvent); return ok }) != 0 {
		t.Fatal("a full disk reported as an error")
	}
}
