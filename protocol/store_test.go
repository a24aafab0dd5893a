package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// appendQueued and appendIDEntry write the old delivery log's entries.
func appendQueued(b []byte, c Chat) []byte {
	b = appendIDEntry(b, 'Q', c.ID)
	b = binary.BigEndian.AppendUint64(b, uint64(c.SentAt))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Text)))
	return append(b, c.Text...)
}

func appendIDEntry(b []byte, kind byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, kind), id)
}

func writeLog(t testing.TB, data []byte) string {
	path := filepath.Join(t.TempDir(), "delivery.log")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadDeliveryLog: the old log's outbox (in the order written, minus
// delivered), seen ids and interrupted ids come back.
func TestReadDeliveryLog(t *testing.T) {
	var b []byte
	for i := 1; i <= 5; i++ {
		b = appendQueued(b, Chat{ID: uint64(i), SentAt: int64(i), Text: fmt.Sprintf("m%d ✓", i)})
	}
	b = appendIDEntry(b, 'D', 2)
	b = appendIDEntry(b, 'D', 4)
	b = appendIDEntry(b, 'P', 100)
	b = appendIDEntry(b, 'S', 100)
	b = appendIDEntry(b, 'S', 101)
	b = appendIDEntry(b, 'P', 102) // the crash strikes here
	st, torn, err := ReadDeliveryLog(writeLog(t, b))
	if err != nil || torn != 0 {
		t.Fatal(torn, err)
	}
	var ids []uint64
	for _, c := range st.Outbox {
		ids = append(ids, c.ID)
		if c.Text != fmt.Sprintf("m%d ✓", c.ID) || c.SentAt != int64(c.ID) {
			t.Fatalf("chat %d came back as %+v", c.ID, c)
		}
	}
	if !slices.Equal(ids, []uint64{1, 3, 5}) || !slices.Equal(st.Seen, []uint64{100, 101}) || !slices.Equal(st.Interrupted, []uint64{102}) {
		t.Fatalf("outbox %v seen %v interrupted %v", ids, st.Seen, st.Interrupted)
	}
}

// TestReadDeliveryLogTornTail: half an entry at the end (a crash
// mid-write) is skipped and counted; what comes before it is kept.
func TestReadDeliveryLogTornTail(t *testing.T) {
	b := appendQueued(nil, Chat{ID: 7, Text: "kept"})
	b = append(b, appendQueued(nil, Chat{ID: 8, Text: "torn entry"})[:15]...)
	st, torn, err := ReadDeliveryLog(writeLog(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Outbox) != 1 || st.Outbox[0].ID != 7 || torn != 15 {
		t.Fatalf("outbox after torn tail: %+v, torn %d", st.Outbox, torn)
	}
}

func TestReadDeliveryLogRejectsCorruption(t *testing.T) {
	for name, data := range map[string][]byte{
		"unknown kind":  {'X', 0, 0, 0, 0, 0, 0, 0, 1},
		"huge text":     append(appendIDEntry(nil, 'Q', 1), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff),
		"invalid UTF-8": appendQueued(nil, Chat{ID: 1, Text: "\xff\xfe"}),
		"id 0":          appendQueued(nil, Chat{ID: 0, Text: "zero"}),
	} {
		t.Run(name, func(t *testing.T) {
			path := writeLog(t, data)
			if _, _, err := ReadDeliveryLog(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("corrupt log: %v, want an error naming it", err)
			}
		})
	}
}

// TestNodeRestartExactlyOnce restarts each side with a DB: messages
// written before the sender's crash are delivered after it, and the
// receiver's restart never shows a message twice.
func TestNodeRestartExactlyOnce(t *testing.T) {
	id := testIdentities(t)
	dir := t.TempDir()
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	start := func(i int, p *PipeEnd) (*Node, *recorder, func()) {
		st, err := OpenDB(filepath.Join(dir, fmt.Sprint(i)), testHistKey, DBOptions{})
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

// FuzzReadDeliveryLog feeds arbitrary log bytes: never a panic, never an
// allocation beyond the text limit.
func FuzzReadDeliveryLog(f *testing.F) {
	f.Add(appendQueued(nil, Chat{ID: 1, SentAt: 2, Text: "hi"}))
	f.Add(appendIDEntry(appendIDEntry(nil, 'S', 9), 'D', 1))
	f.Add([]byte{'Q', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		l := &deliveryLog{outbox: map[uint64]Chat{}, seenSet: map[uint64]struct{}{}, showing: map[uint64]struct{}{}}
		err := l.replay(bytes.NewReader(b))
		for _, c := range l.outbox {
			if len(c.Text) > MaxTextSize || !utf8.ValidString(c.Text) || c.ID == 0 {
				t.Fatalf("accepted chat %d of %d bytes", c.ID, len(c.Text))
			}
		}
		if err == nil && l.torn > len(b) {
			t.Fatalf("torn %d of %d bytes", l.torn, len(b))
		}
	})
}

// TestNodeFlagsInterruptedMessage: a message whose display a crash
// interrupted (showing committed, seen not) is shown again after the
// restart marked PossibleDuplicate; other messages are not marked.
func TestNodeFlagsInterruptedMessage(t *testing.T) {
	id := testIdentities(t)
	path := histPath(t)
	st := openTestHistory(t, path, DBOptions{})
	if err := st.Showing([]HistoryEntry{{ID: 42, Text: "interrupted"}}); err != nil {
		t.Fatal(err)
	}
	st.Close() // the crash strikes here
	st = openTestHistory(t, path, DBOptions{})
	pa, _ := NewPipe(1)
	r := newRecorder()
	n, err := NewNode(Config{Identity: id[0], Store: st}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.receiveChat(Chat{ID: 42, Text: "interrupted"}, 1)
	n.receiveChat(Chat{ID: 43, Prev: 42, Text: "fresh"}, 2)
	showAll(n)
	var flags []bool
	for _, e := range r.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			flags = append(flags, m.PossibleDuplicate)
		}
	}
	if fmt.Sprint(flags) != "[true false]" {
		t.Fatalf("PossibleDuplicate flags %v, want [true false]", flags)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openTestHistory(t, path, DBOptions{})
	got, _ := st.Load()
	if len(got.Interrupted) != 0 || !slices.Equal(got.Seen, []uint64{42, 43}) {
		t.Fatalf("after being shown: interrupted %v seen %v, want none and [42 43]", got.Interrupted, got.Seen)
	}
}

// TestDefectDeliveryLogNotRegular: a FIFO (or directory, device) at the
// old delivery log's path is an error naming the path, never a hang, and
// says what to do ("move it away", as the database's errors do; it used
// to lack the hint).
func TestDefectDeliveryLogNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dir.log")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, sub, "/dev/null"} {
		done := make(chan error, 1)
		go func() { _, _, err := ReadDeliveryLog(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !errors.Is(err, errNotRegular) || !strings.Contains(err.Error(), path) ||
				!strings.HasSuffix(err.Error(), "; move it away") {
				t.Errorf("ReadDeliveryLog(%s): %v, want a not-a-regular-file error naming the path and ending in \"; move it away\"", path, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadDeliveryLog(%s) blocked", path)
		}
	}
}
