package protocol

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFileStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "delivery.log")
	s, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := s.Queued(Chat{ID: uint64(i), SentAt: int64(i), Text: fmt.Sprintf("m%d ✓", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delivered([]uint64{2, 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.Seen([]uint64{100, 101}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode: %v %v", fi.Mode(), err)
	}
	s, err = OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	outbox, seen, _ := s.Load()
	var ids []uint64
	for _, c := range outbox {
		ids = append(ids, c.ID)
		if c.Text != fmt.Sprintf("m%d ✓", c.ID) || c.SentAt != int64(c.ID) {
			t.Fatalf("chat %d came back as %+v", c.ID, c)
		}
	}
	if !slices.Equal(ids, []uint64{1, 3, 5}) || !slices.Equal(seen, []uint64{100, 101}) {
		t.Fatalf("outbox %v seen %v", ids, seen)
	}
}

// TestFileStoreInterrupted: an id marked showing but never seen survives a
// reopen as interrupted; one that was seen does not.
func TestFileStoreInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "delivery.log")
	s, _ := OpenFileStore(path)
	s.Showing(1)
	s.Seen([]uint64{1})
	s.Showing(2) // the crash strikes here
	s.Close()
	s, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Interrupted(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("interrupted %v, want [2]", got)
	}
	s.Close()
	s, _ = OpenFileStore(path) // compaction keeps it
	defer s.Close()
	if got := s.Interrupted(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("after compaction: interrupted %v, want [2]", got)
	}
}

func TestFileStoreTornTailIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "delivery.log")
	s, _ := OpenFileStore(path)
	s.Queued(Chat{ID: 7, Text: "kept"})
	s.Close()
	// A crash mid-write leaves half an entry.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	f.Write(appendQueued(nil, Chat{ID: 8, Text: "torn entry"})[:15])
	f.Close()
	s, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	outbox, _, _ := s.Load()
	if len(outbox) != 1 || outbox[0].ID != 7 {
		t.Fatalf("outbox after torn tail: %+v", outbox)
	}
}

func TestFileStoreRejectsCorruption(t *testing.T) {
	for name, data := range map[string][]byte{
		"unknown kind":  {'X', 0, 0, 0, 0, 0, 0, 0, 1},
		"huge text":     append(appendIDEntry(nil, 'Q', 1), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff),
		"invalid UTF-8": appendQueued(nil, Chat{ID: 1, Text: "\xff\xfe"}),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "delivery.log")
			os.WriteFile(path, data, 0o600)
			if _, err := OpenFileStore(path); err == nil {
				t.Fatal("corrupt store accepted")
			}
		})
	}
}

// TestNodeRestartExactlyOnce restarts each side with a FileStore: messages
// written before the sender's crash are delivered after it, and the
// receiver's restart never shows a message twice.
func TestNodeRestartExactlyOnce(t *testing.T) {
	id := testIdentities(t)
	dir := t.TempDir()
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	start := func(i int, p *PipeEnd) (*Node, *recorder, func()) {
		st, err := OpenFileStore(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		r := newRecorder()
		n, err := NewNode(Config{Identity: id[i], Store: st, PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond, ResendAfter: 200 * time.Millisecond}, p, r.emit)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := contextWithCancel()
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		return n, r, func() { cancel(); <-done; st.Close() }
	}
	a, ra, stopA := start(0, pa)
	_, rb, stopB := start(1, pb)
	ra.waitFor(t, 5*time.Second, "A established", isEstablished)
	rb.waitFor(t, 5*time.Second, "B established", isEstablished)

	// B goes down; A writes while it is down; A itself crashes before B
	// returns, so only A's store remembers the messages.
	stopB()
	for i := 0; i < 10; i++ {
		if _, err := a.Send(fmt.Sprintf("while down %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	stopA()
	_, ra2, stopA2 := start(0, pa)
	defer stopA2()
	_, rb2, stopB2 := start(1, pb)
	ra2.waitFor(t, 5*time.Second, "A' established", isEstablished)
	rb2.waitFor(t, 10*time.Second, "10 messages at B'", func(Event) bool {
		return rb2.count(func(e Event) bool { _, ok := e.(MessageEvent); return ok }) >= 10
	})
	ra2.waitFor(t, 10*time.Second, "10 delivered at A'", func(Event) bool {
		return ra2.count(func(e Event) bool { _, ok := e.(DeliveredEvent); return ok }) >= 10
	})
	// Restart B again: its store remembers what it showed.
	stopB2()
	_, rb3, stopB3 := start(1, pb)
	defer stopB3()
	rb3.waitFor(t, 5*time.Second, "B'' established", isEstablished)
	time.Sleep(300 * time.Millisecond)
	shown := map[string]int{}
	for _, r := range []*recorder{rb, rb2, rb3} {
		for _, e := range r.snapshot() {
			if m, ok := e.(MessageEvent); ok {
				shown[m.Text]++
			}
		}
	}
	for i := 0; i < 10; i++ {
		if c := shown[fmt.Sprintf("while down %d", i)]; c != 1 {
			t.Errorf("message %d shown %d times", i, c)
		}
	}
	if len(shown) != 10 {
		t.Errorf("shown: %v", shown)
	}
}

func TestSendQueueFull(t *testing.T) {
	id := testIdentities(t)
	pa, _ := NewPipe(1)
	n, err := NewNode(Config{Identity: id[0], MaxUnacked: 3}, pa, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := n.Send("x"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Send("x"); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("4th send: %v, want ErrQueueFull", err)
	}
	if _, err := n.Send(string(make([]byte, MaxTextSize+1))); !errors.Is(err, ErrTextTooLarge) {
		t.Fatalf("oversized text: %v", err)
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// FuzzFileStoreReplay feeds arbitrary log bytes: never a panic, never an
// allocation beyond the text limit.
func FuzzFileStoreReplay(f *testing.F) {
	f.Add(appendQueued(nil, Chat{ID: 1, SentAt: 2, Text: "hi"}))
	f.Add(appendIDEntry(appendIDEntry(nil, 'S', 9), 'D', 1))
	f.Add([]byte{'Q', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &FileStore{outbox: map[uint64]Chat{}, seenSet: map[uint64]struct{}{}, showing: map[uint64]struct{}{}}
		_ = s.replay(bytes.NewReader(b))
		for _, c := range s.outbox {
			if len(c.Text) > storeMaxText {
				t.Fatalf("text of %d bytes", len(c.Text))
			}
		}
	})
}

// TestNodeFlagsInterruptedMessage: a message whose display a crash
// interrupted (showing recorded, seen not) is shown again after the restart
// marked PossibleDuplicate; other messages are not marked.
func TestNodeFlagsInterruptedMessage(t *testing.T) {
	id := testIdentities(t)
	path := filepath.Join(t.TempDir(), "delivery.log")
	st, _ := OpenFileStore(path)
	st.Showing(42)
	st.Close()
	st, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pa, _ := NewPipe(1)
	r := newRecorder()
	n, err := NewNode(Config{Identity: id[0], Store: st}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.receiveChat(Chat{ID: 42, Text: "interrupted"}, 1)
	n.receiveChat(Chat{ID: 43, Prev: 42, Text: "fresh"}, 2)
	var flags []bool
	for _, e := range r.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			flags = append(flags, m.PossibleDuplicate)
		}
	}
	if fmt.Sprint(flags) != "[true false]" {
		t.Fatalf("PossibleDuplicate flags %v, want [true false]", flags)
	}
	if len(st.Interrupted()) != 0 {
		t.Fatalf("still interrupted after being shown: %v", st.Interrupted())
	}
}

// TestDefectFileStoreNotRegular: a FIFO (or directory, socket, device) at
// the delivery-log path, or at its ".tmp" sibling, is an error naming the
// path, never a hang.
func TestDefectFileStoreNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dir.log")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	tmpFifo := filepath.Join(dir, "tmpfifo.log")
	if err := syscall.Mkfifo(tmpFifo+".tmp", 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(path string) error {
		done := make(chan error, 1)
		go func() {
			s, err := OpenFileStore(path)
			if err == nil {
				s.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("OpenFileStore(%s) blocked", path)
			return nil
		}
	}
	for _, path := range []string{fifo, sub, "/dev/null"} {
		err := open(path)
		if err == nil || !errors.Is(err, errNotRegular) || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenFileStore(%s): %v, want a not-a-regular-file error naming the path", path, err)
		}
		t.Logf("%v", err)
	}
	// A FIFO at the temporary file is replaced, never opened.
	if err := open(tmpFifo); err != nil {
		t.Errorf("OpenFileStore with a FIFO at .tmp: %v", err)
	}
	if st, err := os.Stat(tmpFifo); err != nil || !st.Mode().IsRegular() {
		t.Errorf("delivery log after compaction: %v %v", st, err)
	}
}
