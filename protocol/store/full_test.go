package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"duet/protocol"
)

// enospc is what bbolt's WriteAt returns on a full file system.
func enospc(path string) error {
	return &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
}

func TestIsDiskFull(t *testing.T) {
	for _, c := range []struct {
		err  error
		full bool
	}{
		{enospc("/x"), true},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, true},
		{&fs.PathError{Op: "truncate", Path: "/x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("wrapped: %w", enospc("/x")), true},
		{fmt.Errorf("file resize error: %s", &fs.PathError{Op: "truncate", Path: "/x", Err: syscall.ENOSPC}), true},
		{syscall.ENOSPC, false}, // fdatasync's bare errno: sticky
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EIO}, false},
		{errors.New("no space left on device"), false},
	} {
		if got := isDiskFull(c.err); got != c.full {
			t.Errorf("isDiskFull(%v) = %v, want %v", c.err, got, c.full)
		}
	}
}

// TestDBDiskFullNotSticky: a Queue that finds the disk full fails with
// ErrDiskFull naming the directory, writes nothing, and the same Queue
// succeeds once there is room, without reopening.
func TestDBDiskFullNotSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetWriteFault(func() error { return enospc(path) })
	chats := []protocol.Chat{{ID: 7, SentAt: histT0.UnixNano(), Text: "one"}, {ID: 9, SentAt: histT0.UnixNano(), Text: "two"}}
	err = h.Queue(chats)
	if !errors.Is(err, protocol.ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Queue on a full disk: %v, want ErrDiskFull and ENOSPC", err)
	}
	if dir := filepath.Dir(path); !strings.Contains(err.Error(), "free space on the file system that holds "+dir) {
		t.Errorf("error %q does not say what to free", err)
	}
	if !h.Full() {
		t.Error("Full() = false after a full disk")
	}
	if err := h.Flush(); !errors.Is(err, protocol.ErrDiskFull) {
		t.Errorf("Flush while full: %v", err)
	}
	h.SetWriteFault(nil)
	if err := h.Queue(chats); err != nil {
		t.Fatalf("Queue once there is room: %v", err)
	}
	if h.Full() {
		t.Error("Full() = true after a commit")
	}
	h.Close()
	h2, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if got := outboxTexts(t, h2); strings.Join(got, ",") != "one,two" {
		t.Errorf("outbox after reopen: %q, want each once", got)
	}
}

// TestDBDiskFullShowingWritesNothing: a showing mark refused by a full
// disk reaches done with ErrDiskFull and is not in the file.
func TestDBDiskFullShowingWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.SetWriteFault(func() error { return enospc(path) })
	got := make(chan error, 1)
	h.MarkShowing([]protocol.HistoryEntry{{ID: 5, Text: "hi", At: histT0}}, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, protocol.ErrDiskFull) {
		t.Fatalf("MarkShowing on a full disk: %v", err)
	}
	h.SetWriteFault(nil)
	if err := h.Close(); err != nil {
		t.Fatalf("Close after the disk had room again: %v", err)
	}
	h2, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	st, err := h2.Load()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h2.Len(); err != nil || len(st.Interrupted) != 0 || len(st.Seen) != 0 || n != 0 {
		t.Errorf("after a refused showing mark: %+v, %d history entries (%v); want nothing", st, n, err)
	}
}

// TestDBDiskFullKeepsDelivered: a removal from the outbox (nobody waits
// for it) refused by a full disk is kept and retried by the writer itself
// until it commits.
func TestDBDiskFullKeepsDelivered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Queue([]protocol.Chat{{ID: 7, SentAt: histT0.UnixNano(), Text: "one"}}); err != nil {
		t.Fatal(err)
	}
	var faults atomic.Int32
	h.SetWriteFault(func() error { faults.Add(1); return enospc(path) })
	h.Delivered([]uint64{7})
	waitUntil(t, "the first commit and one retry refused", func() bool { return faults.Load() >= 2 })
	h.SetWriteFault(nil)
	before := h.commits.Load()
	waitUntil(t, "the writer's own retry to commit", func() bool { return h.commits.Load() > before })
	h.Close()
	h2, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if got := outboxTexts(t, h2); len(got) != 0 {
		t.Errorf("outbox after the kept removal: %q, want empty", got)
	}
}

// TestDBFsyncErrorSticky: ENOSPC from fdatasync (a bare errno) is not a
// full disk the DB recovers from: the data may be lost, so every later
// write fails until the DB is opened again.
func TestDBFsyncErrorSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetWriteFault(func() error { return syscall.ENOSPC })
	if err := h.Queue([]protocol.Chat{{ID: 7, Text: "one"}}); err == nil || errors.Is(err, protocol.ErrDiskFull) {
		t.Fatalf("Queue with a failed fsync: %v, want a sticky error", err)
	}
	h.SetWriteFault(nil)
	if err := h.Queue([]protocol.Chat{{ID: 9, Text: "two"}}); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Queue after a failed fsync: %v, want the first error again", err)
	}
}

// waitUntil polls cond until it holds, failing after a generous bound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
