package protocol

import (
	"errors"
	"time"
)

// Store persists delivery state so that exactly-once delivery survives a
// crash of either peer: the messages this node wrote that the peer has not
// acknowledged (the outbox), and the ids of messages already shown.
// *store.DB (package protocol/store, a bbolt database) is the Store; a nil
// Store keeps both in memory only (--ephemeral). The interface is defined
// here, where it is consumed: protocol imports no storage.
//
// Ordering the Node guarantees: a message is committed to the outbox before
// SendMessage returns and before it is sent; received messages are marked
// showing (committed) before they are shown, marked seen right after, and
// acknowledged only once that is committed. So a crash never loses a
// message, and the only messages a crash can show twice are ones it caught
// between "showing" and "seen": after the restart they are shown again
// marked as possible duplicates (Interrupted), never silently.
type Store interface {
	// Load returns the state found at open. It is called once, first.
	Load() (DeliveryState, error)
	// Queue commits messages to the outbox and returns once they are on disk.
	Queue(chats []Chat) error
	// MarkShowing commits showing marks without waiting; done is called
	// (from another goroutine) once they are on disk, or with the error
	// that prevented it. Calls commit in order.
	MarkShowing(msgs []HistoryEntry, done func(error))
	// Seen records shown ids without waiting; done is called (from another
	// goroutine) once they are on disk, or with the error that prevented it.
	// Calls commit in order, after earlier MarkShowing calls.
	Seen(ids []uint64, done func(error))
	// Delivered removes acknowledged ids from the outbox without waiting.
	Delivered(ids []uint64)
}

// HistoryEntry is one chat line kept in the history.
type HistoryEntry struct {
	ID                uint64    // chat id (ours or the peer's); an entry with ID 0 is never stored
	Own               bool      // we wrote it
	Text              string    // the message text
	At                time.Time // when it was written (CHAT sent_at); zero: the time of Add
	PossibleDuplicate bool      // shown after a crash that may have shown it already
	// ClaimedAt is zero, or the peer's sent_at when it was implausible
	// (MessageEvent.ClockImplausible): At is then the arrival time it was
	// shown at, and the screen marks it "peer's clock says ClaimedAt".
	ClaimedAt time.Time
}

// DeliveryState is the delivery state a Store holds when opened (Load).
type DeliveryState struct {
	Outbox      []Chat   // written, not acknowledged, in the order written (Prev is 0)
	Seen        []uint64 // shown, oldest first (the newest MaxSeenIDs)
	Interrupted []uint64 // marked showing and never seen: a crash interrupted them
}

// ErrDiskFull: a Store write found no space left on the file system
// (ENOSPC, or EDQUOT: the user's quota). Nothing of that write is on disk
// and the Store is still usable: the same call can be made again, and
// succeeds once there is room. Queue, MarkShowing and Seen report it (their
// error wraps it); a write that nobody waits for (Delivered) is kept by the
// Store and retried by itself. Any other write error is permanent for the
// Store's life.
var ErrDiskFull = errors.New("disk full")
