package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"duet/internal/fsafe"
	"duet/protocol"
)

// The delivery log: the format duet kept its delivery state in before the
// database, one append-only file per (identity, peer). It is only read now,
// to import it (ReadDeliveryLog). Entries:
//
//	'Q' u64 id  i64 sent_at  u32 len  text    queued (outbox add)
//	'D' u64 id                                delivered (outbox remove)
//	'S' u64 id                                seen (shown)
//	'P' u64 id                                showing (about to be shown)

// deliveryLog is the state a delivery log describes.
type deliveryLog struct {
	outbox  map[uint64]protocol.Chat
	order   []uint64
	seen    []uint64
	seenSet map[uint64]struct{}
	showing map[uint64]struct{} // 'P' without a later 'S'
	torn    int                 // bytes of a torn final entry, ignored
}

// ReadDeliveryLog reads the delivery log at path for import into a DB. The
// state is the outbox in the order written, the seen ids (the newest
// MaxSeenIDs) and the ids marked showing and never seen. torn is the size
// of an incomplete final entry (a crash while writing), which is ignored.
// A path that is not a regular file (a symbolic link included: the log is
// duet's own file, fsafe.OwnFile), or an entry that cannot be what a duet
// wrote, is an error naming the file.
func ReadDeliveryLog(path string) (st protocol.DeliveryState, torn int, err error) {
	f, err := fsafe.Open(path, os.O_RDONLY, 0, fsafe.OwnFile)
	if errors.Is(err, errNotRegular) {
		// Nothing a duet wrote: as for the database, say what to do.
		return st, 0, fmt.Errorf("protocol: delivery log %s: %w; move it away", path, err)
	}
	if err != nil {
		return st, 0, fmt.Errorf("protocol: delivery log %s: %w", path, err)
	}
	defer f.Close()
	l := &deliveryLog{outbox: map[uint64]protocol.Chat{}, seenSet: map[uint64]struct{}{}, showing: map[uint64]struct{}{}}
	if err := l.replay(bufio.NewReader(f)); err != nil {
		return st, 0, fmt.Errorf("protocol: delivery log %s: %w; move it away to start without its queued messages", path, err)
	}
	for _, id := range l.order {
		if c, ok := l.outbox[id]; ok {
			st.Outbox = append(st.Outbox, c)
			delete(l.outbox, id) // a re-queued id appears once
		}
	}
	st.Seen = l.seen
	if len(st.Seen) > protocol.MaxSeenIDs {
		st.Seen = st.Seen[len(st.Seen)-protocol.MaxSeenIDs:]
	}
	for id := range l.showing {
		st.Interrupted = append(st.Interrupted, id)
	}
	return st, l.torn, nil
}

// replay applies the log. A torn final entry is counted in l.torn.
func (l *deliveryLog) replay(r io.Reader) error {
	var hdr [9]byte
	for {
		n, err := io.ReadFull(r, hdr[:])
		if err != nil {
			l.torn = n
			return nil // EOF or torn entry
		}
		id := binary.BigEndian.Uint64(hdr[1:])
		switch hdr[0] {
		case 'Q':
			var meta [12]byte
			if n, err := io.ReadFull(r, meta[:]); err != nil {
				l.torn = len(hdr) + n
				return nil
			}
			size := binary.BigEndian.Uint32(meta[8:])
			if size > protocol.MaxTextSize {
				return fmt.Errorf("corrupt entry: text of %d bytes", size)
			}
			text := make([]byte, size)
			if n, err := io.ReadFull(r, text); err != nil {
				l.torn = len(hdr) + len(meta) + n
				return nil
			}
			if !utf8.Valid(text) {
				return errors.New("corrupt entry: text is not UTF-8")
			}
			if id == 0 {
				return errors.New("corrupt entry: message id 0")
			}
			if _, dup := l.outbox[id]; !dup {
				l.order = append(l.order, id)
			}
			l.outbox[id] = protocol.Chat{ID: id, SentAt: int64(binary.BigEndian.Uint64(meta[:])), Text: string(text)}
		case 'D':
			delete(l.outbox, id)
		case 'S':
			l.addSeen(id)
			delete(l.showing, id)
		case 'P':
			if len(l.showing) < protocol.MaxSeenIDs {
				l.showing[id] = struct{}{}
			}
		default:
			return fmt.Errorf("corrupt entry kind 0x%02x", hdr[0])
		}
	}
}

func (l *deliveryLog) addSeen(id uint64) {
	if _, dup := l.seenSet[id]; dup {
		return
	}
	l.seenSet[id] = struct{}{}
	l.seen = append(l.seen, id)
	if len(l.seen) > 2*protocol.MaxSeenIDs { // keep the newest MaxSeenIDs
		for _, old := range l.seen[:len(l.seen)-protocol.MaxSeenIDs] {
			delete(l.seenSet, old)
		}
		l.seen = append([]uint64(nil), l.seen[len(l.seen)-protocol.MaxSeenIDs:]...)
	}
}

// errNotRegular reports a delivery-log or database path that is not a
// regular file (fsafe.ErrNotRegular).
var errNotRegular = fsafe.ErrNotRegular
