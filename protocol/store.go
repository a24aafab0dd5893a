package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unicode/utf8"
)

// Store persists delivery state so that exactly-once delivery survives a
// crash of either peer: the messages this node wrote that the peer has not
// acknowledged (the outbox), and the ids of messages already shown. A nil
// Store keeps both in memory only (--ephemeral).
//
// Ordering the driver guarantees: a message is in the outbox before Send
// returns its id; a received id is marked showing before it is shown, seen
// right after, and acknowledged only then. So a crash never loses a message.
// The only message a crash can show twice is one it interrupted between
// "showing" and "seen"; after the restart it is shown again marked as a
// possible duplicate (Interrupted), never silently.
type Store interface {
	// Load returns the outbox in the order written and the seen ids.
	Load() (outbox []Chat, seen []uint64, err error)
	Queued(c Chat) error
	Delivered(ids []uint64) error
	Seen(ids []uint64) error
	// Showing records that id is about to be shown.
	Showing(id uint64) error
	// Interrupted returns the ids marked showing but never seen: a crash
	// interrupted them, so they may or may not have been shown.
	Interrupted() []uint64
	Close() error
}

// FileStore is a Store kept in one append-only log file. Entries:
//
//	'Q' u64 id  i64 sent_at  u32 len  text    queued (outbox add)
//	'D' u64 id                                delivered (outbox remove)
//	'S' u64 id                                seen (shown)
//	'P' u64 id                                showing (about to be shown)
//
// A torn last entry (a crash mid-write) is ignored. The log is compacted
// when opened and whenever it grows past compactAt. Writes are not fsynced:
// they survive a crash of the process, not of the machine.
type FileStore struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	size    int64
	outbox  map[uint64]Chat
	order   []uint64
	seen    []uint64
	seenSet map[uint64]struct{}
	showing map[uint64]struct{} // 'P' without a later 'S'
}

const (
	storeCompactAt = 64 << 20
	storeMaxText   = MaxTextSize
)

// OpenFileStore opens (creating with mode 0600, parent 0700) the log at path.
func OpenFileStore(path string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("protocol: store: %w", err)
	}
	s := &FileStore{path: path, outbox: map[uint64]Chat{}, seenSet: map[uint64]struct{}{}, showing: map[uint64]struct{}{}}
	if f, err := openRegularFile(path); err == nil {
		err = s.replay(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("protocol: store %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("protocol: delivery log %s: %w", path, err)
	}
	if err := s.compact(); err != nil {
		return nil, err
	}
	return s, nil
}

// replay applies the log. It stops quietly at a torn final entry.
func (s *FileStore) replay(r io.Reader) error {
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil // EOF or torn entry
		}
		id := binary.BigEndian.Uint64(hdr[1:])
		switch hdr[0] {
		case 'Q':
			var meta [12]byte
			if _, err := io.ReadFull(r, meta[:]); err != nil {
				return nil
			}
			n := binary.BigEndian.Uint32(meta[8:])
			if n > storeMaxText {
				return fmt.Errorf("corrupt entry: text of %d bytes", n)
			}
			text := make([]byte, n)
			if _, err := io.ReadFull(r, text); err != nil {
				return nil
			}
			if !utf8.Valid(text) {
				return errors.New("corrupt entry: text is not UTF-8")
			}
			s.addOutbox(Chat{ID: id, SentAt: int64(binary.BigEndian.Uint64(meta[:])), Text: string(text)})
		case 'D':
			delete(s.outbox, id)
		case 'S':
			s.addSeen(id)
			delete(s.showing, id)
		case 'P':
			if len(s.showing) < maxSeenIDs {
				s.showing[id] = struct{}{}
			}
		default:
			return fmt.Errorf("corrupt entry kind 0x%02x", hdr[0])
		}
	}
}

func (s *FileStore) addOutbox(c Chat) {
	if _, dup := s.outbox[c.ID]; !dup {
		s.order = append(s.order, c.ID)
	}
	s.outbox[c.ID] = c
}

func (s *FileStore) addSeen(id uint64) {
	if _, dup := s.seenSet[id]; dup {
		return
	}
	s.seenSet[id] = struct{}{}
	s.seen = append(s.seen, id)
	if len(s.seen) > 2*maxSeenIDs { // keep the newest maxSeenIDs
		for _, old := range s.seen[:len(s.seen)-maxSeenIDs] {
			delete(s.seenSet, old)
		}
		s.seen = append([]uint64(nil), s.seen[len(s.seen)-maxSeenIDs:]...)
	}
}

func (s *FileStore) liveOrder() []uint64 {
	kept := s.order[:0]
	for _, id := range s.order {
		if _, ok := s.outbox[id]; ok {
			kept = append(kept, id)
		}
	}
	s.order = kept
	return kept
}

// compact rewrites the log with only the current state, atomically.
func (s *FileStore) compact() error {
	var buf []byte
	for _, id := range s.liveOrder() {
		buf = appendQueued(buf, s.outbox[id])
	}
	seen := s.seen
	if len(seen) > maxSeenIDs {
		seen = seen[len(seen)-maxSeenIDs:]
	}
	for _, id := range seen {
		buf = appendIDEntry(buf, 'S', id)
	}
	for id := range s.showing {
		buf = appendIDEntry(buf, 'P', id)
	}
	tmp := s.path + ".tmp"
	if err := writeNewRegular(tmp, buf); err != nil {
		return fmt.Errorf("protocol: delivery log %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("protocol: store: %w", err)
	}
	if s.f != nil {
		s.f.Close()
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("protocol: store: %w", err)
	}
	s.f, s.size = f, int64(len(buf))
	return nil
}

func appendQueued(b []byte, c Chat) []byte {
	b = appendIDEntry(b, 'Q', c.ID)
	b = binary.BigEndian.AppendUint64(b, uint64(c.SentAt))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Text)))
	return append(b, c.Text...)
}

func appendIDEntry(b []byte, kind byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, kind), id)
}

func (s *FileStore) write(b []byte) error {
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("protocol: store write: %w", err)
	}
	s.size += int64(len(b))
	if s.size > storeCompactAt {
		return s.compact()
	}
	return nil
}

// Load implements Store.
func (s *FileStore) Load() ([]Chat, []uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Chat, 0, len(s.outbox))
	for _, id := range s.liveOrder() {
		out = append(out, s.outbox[id])
	}
	return out, append([]uint64(nil), s.seen...), nil
}

// Queued implements Store.
func (s *FileStore) Queued(c Chat) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addOutbox(c)
	return s.write(appendQueued(nil, c))
}

// Delivered implements Store.
func (s *FileStore) Delivered(ids []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	for _, id := range ids {
		delete(s.outbox, id)
		b = appendIDEntry(b, 'D', id)
	}
	return s.write(b)
}

// Seen implements Store.
func (s *FileStore) Seen(ids []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	for _, id := range ids {
		s.addSeen(id)
		delete(s.showing, id)
		b = appendIDEntry(b, 'S', id)
	}
	return s.write(b)
}

// Showing implements Store.
func (s *FileStore) Showing(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.showing[id] = struct{}{}
	return s.write(appendIDEntry(nil, 'P', id))
}

// Interrupted implements Store.
func (s *FileStore) Interrupted() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]uint64, 0, len(s.showing))
	for id := range s.showing {
		ids = append(ids, id)
	}
	return ids
}

// Close implements Store.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// errNotRegular reports a delivery-log path that is not a regular file.
var errNotRegular = errors.New("not a regular file")

// openRegularFile opens path for reading only if it is a regular file: it
// is checked with Stat first (a device is not even opened), opened with
// O_NONBLOCK (a FIFO cannot block the open) and checked again on the
// descriptor. Anything else is an error wrapping errNotRegular.
func openRegularFile(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: it is %s", errNotRegular, fileKind(st.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%w: it is %s", errNotRegular, fileKind(st.Mode()))
		}
		return nil, err
	}
	return f, nil
}

// writeNewRegular writes data to a fresh file at path (mode 0600): whatever
// was at path is removed first, and the file is created with O_EXCL, so a
// FIFO or a symlink planted there is never opened.
func writeNewRegular(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileKind names a non-regular file mode for error messages.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}
