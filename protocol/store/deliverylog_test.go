package store

import (
	"bytes"
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

	"duet/protocol"
)

// appendQueued and appendIDEntry write the old delivery log's entries.
func appendQueued(b []byte, c protocol.Chat) []byte {
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
		b = appendQueued(b, protocol.Chat{ID: uint64(i), SentAt: int64(i), Text: fmt.Sprintf("m%d ✓", i)})
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
	b := appendQueued(nil, protocol.Chat{ID: 7, Text: "kept"})
	b = append(b, appendQueued(nil, protocol.Chat{ID: 8, Text: "torn entry"})[:15]...)
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
		"invalid UTF-8": appendQueued(nil, protocol.Chat{ID: 1, Text: "\xff\xfe"}),
		"id 0":          appendQueued(nil, protocol.Chat{ID: 0, Text: "zero"}),
	} {
		t.Run(name, func(t *testing.T) {
			path := writeLog(t, data)
			if _, _, err := ReadDeliveryLog(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("corrupt log: %v, want an error naming it", err)
			}
		})
	}
}

// FuzzReadDeliveryLog feeds arbitrary log bytes: never a panic, never an
// allocation beyond the text limit.
func FuzzReadDeliveryLog(f *testing.F) {
	f.Add(appendQueued(nil, protocol.Chat{ID: 1, SentAt: 2, Text: "hi"}))
	f.Add(appendIDEntry(appendIDEntry(nil, 'S', 9), 'D', 1))
	f.Add([]byte{'Q', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		l := &deliveryLog{outbox: map[uint64]protocol.Chat{}, seenSet: map[uint64]struct{}{}, showing: map[uint64]struct{}{}}
		err := l.replay(bytes.NewReader(b))
		for _, c := range l.outbox {
			if len(c.Text) > protocol.MaxTextSize || !utf8.ValidString(c.Text) || c.ID == 0 {
				t.Fatalf("accepted chat %d of %d bytes", c.ID, len(c.Text))
			}
		}
		if err == nil && l.torn > len(b) {
			t.Fatalf("torn %d of %d bytes", l.torn, len(b))
		}
	})
}

// TestDeliveryLogNotRegularRefused: a FIFO (or directory, device) at the
// old delivery log's path is an error naming the path, never a hang, and
// says what to do ("move it away", as the database's errors do).
func TestDeliveryLogNotRegularRefused(t *testing.T) {
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
