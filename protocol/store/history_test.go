package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/internal/prototest"
)

var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

var histT0 = time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)

func openTestDB(t testing.TB, path string, opt Options) *DB {
	t.Helper()
	h, err := Open(path, testKey, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// openOneRecordPerFlush is openTestDB for a DB whose Adds never commit on
// their own (asyncDelay an hour, taken at Open): each Flush makes exactly
// one history record of the Adds before it, however slowly they came.
func openOneRecordPerFlush(t testing.TB, path string) *DB {
	t.Helper()
	old := asyncDelay
	asyncDelay = time.Hour
	defer func() { asyncDelay = old }()
	return openTestDB(t, path, Options{})
}

func testDBPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "sub", "history.db")
}

// allHistory pages through the whole history with Before, n at a time.
func allHistory(t testing.TB, h *DB, n int) []protocol.HistoryEntry {
	t.Helper()
	var all []protocol.HistoryEntry
	page, c, err := h.Last(n)
	for {
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(page, all...)
		page, c, err = h.Before(c, n)
	}
}

func sameEntry(a, b protocol.HistoryEntry) bool {
	return a.ID == b.ID && a.Own == b.Own && a.Text == b.Text && a.At.Equal(b.At) && a.PossibleDuplicate == b.PossibleDuplicate && a.ClaimedAt.Equal(b.ClaimedAt)
}

func checkEntries(t testing.TB, got, want []protocol.HistoryEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		if !sameEntry(got[i], want[i]) {
			t.Fatalf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	tests := []protocol.HistoryEntry{
		{ID: 1, Own: true, Text: "hi bob, is this thing encrypted?"},
		{ID: 2, Own: false, Text: "end to end 🔒"},
		{ID: 3, Own: true, Text: "line one\nline two\n\nline four"},
		{ID: 4, Own: false, Text: "maybe twice", PossibleDuplicate: true},
		{ID: 5, Own: true, Text: "own and dup", PossibleDuplicate: true},
		{ID: 6, Own: false, Text: ""},
		{ID: ^uint64(0), Own: false, Text: strings.Repeat("é", protocol.MaxTextSize/2)},
		{ID: 7, Own: true, Text: "👩‍👩‍👧 family, ZWJ, and \t tab"},
	}
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	for i := range tests {
		tests[i].At = histT0.Add(time.Duration(i) * time.Second)
		h.Add(tests[i])
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.Last(100)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, tests)
	if n, err := h.Len(); err != nil || n != len(tests) {
		t.Fatalf("Len = %d, %v; want %d", n, err, len(tests))
	}
	// Reopen keeps everything.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openTestDB(t, path, Options{})
	got, _, err = h2.Last(100)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, tests)
}

// TestHistoryOrder: entries come back in the order they were stored (the
// order they were shown), each with its own time, across records, commits
// and reopens; extreme times are clamped, not wrapped.
func TestHistoryOrder(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	at := func(s int) time.Time { return histT0.Add(time.Duration(s) * time.Second) }
	in := []protocol.HistoryEntry{
		{ID: 1, Text: "t5 first", At: at(5)},
		{ID: 2, Text: "t1 (a skewed clock)", At: at(1)},
		{ID: 3, Text: "t5 second", At: at(5)},
		{ID: 1, Own: true, Text: "t3 own", At: at(3)},
	}
	for _, e := range in[:2] {
		h.Add(e)
	}
	if err := h.Flush(); err != nil { // a commit between: another record
		t.Fatal(err)
	}
	for _, e := range in[2:] {
		h.Add(e)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, allHistory(t, h, 1), in)
	h.Close()
	h = openTestDB(t, path, Options{})
	later := protocol.HistoryEntry{ID: 6, Text: "t0 after reopen", At: at(0)}
	h.Add(later)
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, allHistory(t, h, 3), append(in, later))

	h.Add(protocol.HistoryEntry{ID: 7, Text: "before 1970", At: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)})
	h.Add(protocol.HistoryEntry{ID: 8, Text: "after 2262", At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	h.Add(protocol.HistoryEntry{ID: 9, Text: "zero time: now"})
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	all := allHistory(t, h, 100)
	tail := all[len(all)-3:]
	if tail[0].At.UnixNano() != 0 || tail[1].At.UnixNano() != math.MaxInt64 || tail[2].At.IsZero() {
		t.Fatalf("clamped times: %v, %v, %v", tail[0].At, tail[1].At, tail[2].At)
	}
}

// TestHistoryEachMessageOnce: the delivery operations store each message
// once: ours when queued, the peer's when marked showing; a possible
// duplicate (a display a crash interrupted, already stored by the commit
// that marked it showing) is not stored again; id 0 never.
func TestHistoryEachMessageOnce(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	if err := h.Queue([]protocol.Chat{{ID: 42, SentAt: histT0.UnixNano(), Text: "mine"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Showing([]protocol.HistoryEntry{{ID: 42, Text: "theirs, same id", At: histT0}, {ID: 7, Text: "theirs", At: histT0.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	h.Close() // a crash: 42 and 7 are interrupted
	h = openTestDB(t, path, Options{})
	st, _ := h.Load()
	if len(st.Interrupted) != 2 {
		t.Fatalf("interrupted %v", st.Interrupted)
	}
	if err := h.Showing([]protocol.HistoryEntry{{ID: 7, Text: "theirs", At: histT0.Add(time.Second), PossibleDuplicate: true}}); err != nil {
		t.Fatal(err)
	}
	h.Add(protocol.HistoryEntry{ID: 0, Text: "id 0 is never stored", At: histT0})
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, allHistory(t, h, 10), []protocol.HistoryEntry{
		{ID: 42, Own: true, Text: "mine", At: histT0},
		{ID: 42, Own: false, Text: "theirs, same id", At: histT0},
		{ID: 7, Own: false, Text: "theirs", At: histT0.Add(time.Second)},
	})
	if n, _ := h.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

// TestHistoryNoHistory: with NoHistory the delivery state is kept and
// nothing enters the history.
func TestHistoryNoHistory(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{NoHistory: true})
	if err := h.Queue([]protocol.Chat{{ID: 1, SentAt: histT0.UnixNano(), Text: "mine"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Showing([]protocol.HistoryEntry{{ID: 2, Text: "theirs", At: histT0}}); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = openTestDB(t, path, Options{})
	st, _ := h.Load()
	if n, _ := h.Len(); n != 0 || len(st.Outbox) != 1 || len(st.Interrupted) != 1 {
		t.Fatalf("history %d entries, outbox %d, interrupted %d; want 0, 1, 1", n, len(st.Outbox), len(st.Interrupted))
	}
}

func TestHistoryPaging(t *testing.T) {
	h := openTestDB(t, testDBPath(t), Options{})
	if got, c, err := h.Last(10); err != nil || len(got) != 0 || c != (HistoryCursor{}) {
		t.Fatalf("empty Last = %v, %v, %v", got, c, err)
	}
	var want []protocol.HistoryEntry
	for i := range 250 {
		e := protocol.HistoryEntry{ID: uint64(i + 1), Own: i%3 == 0, Text: fmt.Sprintf("message %d", i), At: histT0.Add(time.Duration(i/7) * time.Millisecond)}
		want = append(want, e)
		h.Add(e)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ n int }{{1}, {7}, {100}, {250}, {1000}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			checkEntries(t, allHistory(t, h, tc.n), want)
		})
	}
	// Page sizes as the UI sees them.
	p1, c, err := h.Last(100)
	if err != nil || len(p1) != 100 || p1[0].ID != 151 || p1[99].ID != 250 {
		t.Fatalf("Last(100): %d entries, err %v", len(p1), err)
	}
	p2, c, _ := h.Before(c, 100)
	p3, c, _ := h.Before(c, 100)
	p4, c2, _ := h.Before(c, 100)
	if len(p2) != 100 || len(p3) != 50 || len(p4) != 0 || c2 != c || p3[0].ID != 1 {
		t.Fatalf("pages %d %d %d, want 100 50 0", len(p2), len(p3), len(p4))
	}
	if p, _, _ := h.Before(c, 100); len(p) != 0 {
		t.Fatal("Before the start is not empty")
	}
	if p, _, _ := h.Before(HistoryCursor{}, 3); len(p) != 3 || p[2].ID != 250 {
		t.Fatal("zero cursor is not the end")
	}
	if p, _, _ := h.Last(0); len(p) != 0 {
		t.Fatal("Last(0) returned entries")
	}
	// A cursor whose entry was cleared still works: nothing is older.
	if err := h.Clear(); err != nil {
		t.Fatal(err)
	}
	if p, _, err := h.Before(c, 10); len(p) != 0 || err != nil {
		t.Fatalf("Before after Clear = %d entries, %v", len(p), err)
	}
}

func TestHistoryClear(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	for i := range 100 {
		h.Add(protocol.HistoryEntry{ID: uint64(i + 1), Text: "secret before clear", At: histT0})
	}
	// No Flush: Clear orders after what was added.
	if err := h.Clear(); err != nil {
		t.Fatal(err)
	}
	if n, err := h.Len(); n != 0 || err != nil {
		t.Fatalf("Len after Clear = %d, %v", n, err)
	}
	if p, _, _ := h.Last(10); len(p) != 0 {
		t.Fatalf("Last after Clear = %d entries", len(p))
	}
	// Ids are forgotten too; new entries still sort after the old seq.
	h.Add(protocol.HistoryEntry{ID: 1, Text: "after clear", At: histT0})
	h.Add(protocol.HistoryEntry{ID: 2, Text: "after clear 2", At: histT0})
	h.Close()
	h = openTestDB(t, path, Options{})
	checkEntries(t, allHistory(t, h, 10), []protocol.HistoryEntry{
		{ID: 1, Text: "after clear", At: histT0},
		{ID: 2, Text: "after clear 2", At: histT0},
	})
	if n, _ := h.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
}

// testClock is a DB clock a test sets while the writer goroutine reads it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func TestHistoryRetention(t *testing.T) {
	path := testDBPath(t)
	now := histT0
	var stored testClock
	h := openTestDB(t, path, Options{Now: stored.now})
	const days = 30
	var keep []protocol.HistoryEntry
	const n = 2*histPruneBatch*histRecordEntries + 17 // several prune transactions
	span := 2 * days * 24 * time.Hour
	cutoff := now.Add(-days * 24 * time.Hour)
	at := func(i int) time.Time { return now.Add(-span + time.Duration(i)*(span/n)) }
	// Records are kept by the time they were stored: each group of
	// entries is stored (Flush) at the time of its newest entry.
	const group = histRecordEntries / 2
	for first := 0; first < n; first += group {
		last := min(first+group, n) - 1
		stored.set(at(last))
		for i := first; i <= last; i++ {
			e := protocol.HistoryEntry{ID: uint64(i + 1), Own: i%2 == 0, Text: fmt.Sprint(i), At: at(i)}
			h.Add(e)
			if !e.At.Before(cutoff) {
				keep = append(keep, e)
			}
		}
		if err := h.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	clock := func() time.Time { return now }
	h = openTestDB(t, path, Options{Now: clock, Retention: days * 24 * time.Hour})
	// Whole records go: the one holding the cutoff keeps its older
	// entries (fewer than a record's worth), all newer ones stay.
	got := allHistory(t, h, 1000)
	extra := len(got) - len(keep)
	if extra < 0 || extra >= histRecordEntries {
		t.Fatalf("%d entries kept, want %d newer than the cutoff and fewer than %d older", len(got), len(keep), histRecordEntries)
	}
	for _, e := range got[:extra] {
		if !e.At.Before(cutoff) {
			t.Fatalf("entry %+v before the kept ones is not older than the cutoff", e)
		}
	}
	checkEntries(t, got[extra:], keep)
	if n, _ := h.Len(); n != len(got) {
		t.Fatalf("Len = %d, want %d", n, len(got))
	}
	keep = got
	// The count stays right after pruning.
	h.Add(protocol.HistoryEntry{ID: 1, Own: true, Text: "new after pruning", At: now})
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.Len(); n != len(keep)+1 {
		t.Fatalf("Len = %d, want %d", n, len(keep)+1)
	}
	// The count matches the bucket.
	h.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		n := 0
		tx.Bucket(bucketHistory).ForEach(func(_, v []byte) error { n += recordCount(v); return nil })
		if n != len(keep)+1 {
			t.Errorf("history records hold %d entries, want %d", n, len(keep)+1)
		}
		return nil
	})
}

func TestHistoryWrongKey(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	h.Add(protocol.HistoryEntry{ID: 1, Text: "hello", At: histT0})
	h.Close()
	other := testKey
	other[0] ^= 1
	_, err := Open(path, other, Options{})
	if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrWrongKey", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another identity") {
		t.Fatalf("error does not name the file and the cause: %v", err)
	}
	// With real identities: another identity's key, or the same identity's
	// key for another peer, opens nothing.
	ids := prototest.Identities(t)
	kb, _ := crypto.HistoryKey(ids[0], "bob")
	kc, _ := crypto.HistoryKey(ids[0], "carol")
	ko, _ := crypto.HistoryKey(ids[1], "bob")
	p2 := testDBPath(t)
	h2, err := Open(p2, kb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h2.Close()
	for _, k := range [][32]byte{kc, ko} {
		if _, err := Open(p2, k, Options{}); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("err = %v, want ErrWrongKey", err)
		}
	}
	h2, err = Open(p2, kb, Options{})
	if err != nil {
		t.Fatalf("the right key after wrong ones: %v", err)
	}
	h2.Close()
}

func TestHistoryLocked(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	// flock locks belong to the open file description, so a second open in
	// the same process conflicts too.
	start := time.Now()
	_, err := Open(path, testKey, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v, want ErrLocked naming %s", err, path)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("second open took %v", d)
	}
	// The first still works, and after Close the file opens again.
	h.Add(protocol.HistoryEntry{ID: 1, Text: "still mine", At: histT0})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openTestDB(t, path, Options{})
	if n, _ := h2.Len(); n != 1 {
		t.Fatalf("Len = %d", n)
	}
}

// TestHistoryLockedSubprocess checks the lock against another process: the
// test binary re-executes itself to open the database.
func TestHistoryLockedSubprocess(t *testing.T) {
	if p := os.Getenv("DUET_HISTORY_LOCK_CHILD"); p != "" {
		_, err := Open(p, testKey, Options{})
		if errors.Is(err, ErrLocked) {
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	if testing.Short() {
		t.Skip("subprocess")
	}
	path := testDBPath(t)
	openTestDB(t, path, Options{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHistoryLockedSubprocess$")
	cmd.Env = append(os.Environ(), "DUET_HISTORY_LOCK_CHILD="+path)
	out, err := cmd.CombinedOutput()
	var ee interface{ ExitCode() int }
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v, output %s; want exit 3 (ErrLocked)", err, out)
	}
}

// buildHistoryFile writes n entries to a fresh database and closes it.
func buildHistoryFile(t testing.TB, n int, text string) string {
	path := testDBPath(t)
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		h.Add(protocol.HistoryEntry{ID: uint64(i + 1), Own: i%2 == 0, Text: fmt.Sprintf("%s %d", text, i), At: histT0.Add(time.Duration(i) * time.Second)})
	}
	// Delivery state too, so damage reaches it: a queued message, a
	// showing mark, seen ids.
	if err := h.Queue([]protocol.Chat{{ID: 1 << 40, SentAt: histT0.UnixNano(), Text: text + " queued"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Showing([]protocol.HistoryEntry{{ID: 1<<40 + 1, Text: text + " shown", At: histT0}}); err != nil {
		t.Fatal(err)
	}
	h.Seen([]uint64{1<<40 + 1, 1<<40 + 2}, nil)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// exercise opens path and uses every method; it returns the first error
// (an error wrapping ErrHistorySkipped, damaged history records skipped, is
// returned only if nothing else fails: paging goes on past it). It must
// never panic or hang.
func exercise(path string) (err error) {
	h, err := Open(path, testKey, Options{Retention: time.Hour, Now: func() time.Time { return histT0.Add(1000 * time.Second) }})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := h.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := h.Len(); err != nil {
		return err
	}
	var c HistoryCursor
	var skipped error
	for {
		p, next, err := h.Before(c, 50)
		if errors.Is(err, ErrHistorySkipped) {
			skipped = err
		} else if err != nil {
			return err
		}
		if len(p) == 0 {
			break
		}
		c = next
	}
	defer func() {
		if err == nil {
			err = skipped
		}
	}()
	if _, err := h.Load(); err != nil {
		return err
	}
	h.Add(protocol.HistoryEntry{ID: 99999, Text: "new", At: histT0})
	if err := h.Queue([]protocol.Chat{{ID: 99998, SentAt: histT0.UnixNano(), Text: "queued"}}); err != nil {
		return err
	}
	if err := h.Showing([]protocol.HistoryEntry{{ID: 99997, Text: "shown", At: histT0}}); err != nil {
		return err
	}
	h.Seen([]uint64{99997}, nil)
	h.Delivered([]uint64{99998})
	return h.Flush()
}

func TestHistoryTruncated(t *testing.T) {
	orig := buildHistoryFile(t, 3000, "truncate me")
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt grows the file ahead of its pages: only a cut below the
	// high-water mark (the last page in use) loses data.
	db, err := bolt.Open(orig, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var hw int
	db.View(func(tx *bolt.Tx) error { hw = int(tx.Size()); return nil })
	db.Close()
	if hw >= len(data) || hw < 16*4096 {
		t.Fatalf("high-water mark %d, file %d bytes", hw, len(data))
	}
	for _, size := range []int{1, 100, 4096, 4096 + 10, 3 * 4096, hw / 2, hw - 4096, hw - 1, hw, len(data) - 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.db")
			if err := os.WriteFile(path, data[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			err := exercise(path)
			if size >= hw {
				if err != nil {
					t.Fatalf("cut in the unused tail: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move the file away") {
				t.Fatalf("truncated to %d: %v, want ErrCorrupt naming the file", size, err)
			}
		})
	}
}

func TestHistoryFlippedValue(t *testing.T) {
	path := buildHistoryFile(t, 500, "flip me")
	// Find one stored value with the bbolt API, then its bytes in the file.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var val []byte
	db.View(func(tx *bolt.Tx) error {
		// The oldest record: the newest entries are in another.
		_, v := tx.Bucket(bucketHistory).Cursor().First()
		val = bytes.Clone(v)
		return nil
	})
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// What the intact file holds, from a copy of it.
	intact := filepath.Join(t.TempDir(), "intact.db")
	if err := os.WriteFile(intact, data, 0o600); err != nil {
		t.Fatal(err)
	}
	hi := openTestDB(t, intact, Options{})
	all := allHistory(t, hi, 1000)
	wantState, _ := hi.Load()
	hi.Close()
	// bbolt copies pages on write, so freed pages may hold older copies of
	// the value: flip every copy (the live one among them).
	offs := everyCopy(data, val)
	if len(offs) == 0 {
		t.Fatal("value not found in the file")
	}
	for _, where := range []struct {
		name string
		at   int
	}{{"version", 0}, {"count", 2}, {"nonce", 5}, {"ciphertext", histRecordHeader + 3}, {"tag", len(val) - 1}} {
		t.Run(where.name, func(t *testing.T) {
			p := writeFlipped(t, data, offs, where.at)
			h, err := Open(p, testKey, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if p, _, err := h.Last(100); err != nil || len(p) != 100 {
				t.Fatalf("newest entries are intact: %d, %v", len(p), err)
			}
			// Over the flipped (oldest) record: it is skipped, the other
			// entries come back with the error.
			got, _, err := h.Last(1000)
			checkSkipped(t, err, p, 1)
			checkEntries(t, got, all[recordCount(val):])
			if n, err := h.Len(); err != nil || n != len(all) {
				t.Fatalf("Len = %d, %v; want %d", n, err, len(all))
			}
			if st, _ := h.Load(); !reflect.DeepEqual(st, wantState) {
				t.Fatalf("delivery state %+v, want %+v", st, wantState)
			}
		})
	}
}

// TestHistoryFlippedBytes flips bytes all over the file, bbolt's pages
// included: every method returns nil or an error, never panics or hangs.
func TestHistoryFlippedBytes(t *testing.T) {
	orig := buildHistoryFile(t, 2000, "flip anywhere")
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	iters := 300
	if testing.Short() {
		iters = 50
	}
	var corrupt, skipped, other, clean int
	for i := range iters {
		d := bytes.Clone(data)
		var at []int
		for range 1 + rng.IntN(4) {
			p := rng.IntN(len(d))
			if i%3 == 0 {
				p = rng.IntN(3 * 4096) // the meta pages, the root and the freelist
			}
			d[p] ^= byte(1 + rng.IntN(255))
			at = append(at, p)
		}
		path := filepath.Join(dir, fmt.Sprintf("h%d.db", i))
		if err := os.WriteFile(path, d, 0o600); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					errc <- fmt.Errorf("PANIC %v", r)
				}
			}()
			errc <- exercise(path)
		}()
		select {
		case err := <-errc:
			switch {
			case err != nil && strings.HasPrefix(err.Error(), "PANIC"):
				t.Fatalf("flips at %v: %v", at, err)
			case errors.Is(err, ErrCorrupt):
				corrupt++
			case errors.Is(err, ErrHistorySkipped):
				skipped++
			case err != nil:
				other++
				t.Logf("flips at %v: %v", at, err)
			default:
				clean++
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("flips at %v: hung", at)
		}
		os.Remove(path)
	}
	t.Logf("%d runs: %d ErrCorrupt, %d ErrHistorySkipped, %d other errors, %d unnoticed (flip in free or unused bytes)", iters, corrupt, skipped, other, clean)
}

func TestHistoryNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dir.db")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	target := buildHistoryFile(t, 1, "target")
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, kind string
	}{
		{"fifo", fifo, "named pipe"},
		{"directory", sub, "directory"},
		{"symlink", link, "symbolic link"},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests, struct{ name, path, kind string }{"device", "/dev/null", "character device"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errc := make(chan error, 1)
			go func() {
				h, err := Open(tc.path, testKey, Options{})
				if err == nil {
					h.Close()
				}
				errc <- err
			}()
			select {
			case err := <-errc:
				if !errors.Is(err, errNotRegular) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.kind) {
					t.Fatalf("err = %v, want not a regular file (%s) naming %s", err, tc.kind, tc.path)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Open hung")
			}
		})
	}
}

func TestHistoryMode(t *testing.T) {
	path := buildHistoryFile(t, 3, "mode")
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %04o, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Fatalf("new dir mode %04o, want 0700", st.Mode().Perm())
	}
	// A 0644 file is fixed to 0600 (decision: the content is encrypted, so
	// it is not refused like the identity key).
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	h := openTestDB(t, path, Options{})
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after open %04o, want 0600", st.Mode().Perm())
	}
	if n, _ := h.Len(); n != 3+2 { // and the queued and shown messages
		t.Fatalf("Len = %d", n)
	}
	// The delivery state survives the mode fix.
	if st, _ := h.Load(); len(st.Outbox) != 1 || len(st.Seen) != 2 {
		t.Fatalf("delivery state after the mode fix: %+v", st)
	}
}

func TestHistoryNoPlaintext(t *testing.T) {
	const secret = "the eagle lands at midnight"
	path := buildHistoryFile(t, 200, secret)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, "eagle", "midnight"} {
		if bytes.Contains(data, []byte(s)) {
			t.Fatalf("file contains %q", s)
		}
	}
	// A valid bbolt database with the documented buckets.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var names []string
		tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
		if strings.Join(names, ",") != "history,meta,outbox,read,seen,showing" {
			t.Errorf("buckets %v", names)
		}
		hist := tx.Bucket(bucketHistory)
		nonces := map[string]bool{}
		entries := 0
		hist.ForEach(func(k, v []byte) error {
			if len(k) != 16 || v[0] != 1 || bytes.Contains(v, []byte(secret)) {
				t.Errorf("bad record %x %x", k, v)
			}
			entries += recordCount(v)
			nonces[string(v[3:15])] = true
			return nil
		})
		if entries != 200+2 { // and the queued and shown messages
			t.Errorf("%d history entries", entries)
		}
		if n := hist.Stats().KeyN; len(nonces) != n || n < 1 {
			t.Errorf("%d distinct nonces for %d records", len(nonces), n)
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaVersion); len(v) != 1 || v[0] != formatVersion {
			t.Errorf("version %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHistoryMovedValue(t *testing.T) {
	// A value copied under another key (swapping records) fails: AD binds
	// it. Both records are skipped.
	path := buildHistoryFile(t, 2, "moved")
	h := openTestDB(t, path, Options{})
	all := allHistory(t, h, 100)
	h.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	swapped := 0 // entries in the two swapped records
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistory)
		c := b.Cursor()
		k1, v1 := c.First()
		k2, v2 := c.Next()
		v1, v2 = bytes.Clone(v1), bytes.Clone(v2)
		k1, k2 = bytes.Clone(k1), bytes.Clone(k2)
		swapped = recordCount(v1) + recordCount(v2)
		b.Put(k1, v2)
		b.Put(k2, v1)
		return nil
	})
	db.Close()
	h = openTestDB(t, path, Options{})
	got, _, err := h.Last(100)
	checkSkipped(t, err, path, 2)
	checkEntries(t, got, all[swapped:])
}

func TestHistoryNotHistory(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"text", []byte(strings.Repeat("not a database\n", 1000))},
		{"zeros", make([]byte, 64<<10)},
		{"a Q and zeros", append([]byte("Q"), make([]byte, 5000)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			os.WriteFile(path, tc.data, 0o600)
			if err := exercise(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrCorrupt naming the file", err)
			}
		})
	}
	// A bbolt database of something else (no meta bucket but a history).
	path := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketHistory); return err })
	db.Close()
	if _, err := Open(path, testKey, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("foreign bbolt file: %v", err)
	}
	// A newer format version is refused with its own message.
	path = buildHistoryFile(t, 1, "v3")
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaVersion, []byte{formatVersion + 1}) })
	db.Close()
	if _, err := Open(path, testKey, Options{}); err == nil || !strings.Contains(err.Error(), "newer duet") {
		t.Fatalf("version %d: %v", formatVersion+1, err)
	}
}

func TestHistoryCloseAndConcurrency(t *testing.T) {
	path := testDBPath(t)
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// More than the queue holds, from many goroutines, with readers
	// running: nothing dropped (backpressure).
	const writers, each = 8, 1500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := uint64(w*each + i + 1)
				h.Add(protocol.HistoryEntry{ID: id, Own: w%2 == 0, Text: "x", At: histT0.Add(time.Duration(i) * time.Microsecond)})
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if _, _, err := h.Last(100); err != nil {
				t.Error(err)
			}
			if _, err := h.Len(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if err := h.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	h.Add(protocol.HistoryEntry{ID: 1, Text: "after close"}) // no panic, no effect
	if err := h.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := h.Clear(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Clear after Close: %v", err)
	}
	h = openTestDB(t, path, Options{})
	if n, _ := h.Len(); n != writers*each {
		t.Fatalf("Len = %d, want %d", n, writers*each)
	}
	if got := allHistory(t, h, 1000); len(got) != writers*each {
		t.Fatalf("%d entries, want %d", len(got), writers*each)
	}
}

func TestHistoryGroupCommit(t *testing.T) {
	h := openTestDB(t, testDBPath(t), Options{})
	const n = 20000
	for i := range n {
		h.Add(protocol.HistoryEntry{ID: uint64(i + 1), Text: "grouped", At: histT0})
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	c := h.commits.Load()
	if c == 0 || c > n/50 {
		t.Fatalf("%d commits for %d entries: not grouped", c, n)
	}
	if l, _ := h.Len(); l != n {
		t.Fatalf("Len = %d", l)
	}
	t.Logf("%d entries in %d commits", n, c)
}

// TestHistoryQueueBoundedInBytes: texts waiting for the disk are bounded in
// bytes, not only in count (4096 texts of 64 KiB would be 256 MiB).
func TestHistoryQueueBoundedInBytes(t *testing.T) {
	h := openTestDB(t, testDBPath(t), Options{})
	big := strings.Repeat("x", protocol.MaxTextSize)
	var peak int
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.budgetMu.Lock()
			peak = max(peak, h.queued)
			h.budgetMu.Unlock()
		}
	}()
	for i := range 500 {
		h.Add(protocol.HistoryEntry{ID: uint64(i + 1), Text: big, At: time.Unix(int64(i), 0)})
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if peak > writeQueueBytes {
		t.Fatalf("queued text peaked at %d bytes, budget %d", peak, writeQueueBytes)
	}
	if n, err := h.Len(); err != nil || n != 500 {
		t.Fatalf("Len %d, %v; want 500 (nothing dropped)", n, err)
	}
	h.budgetMu.Lock()
	left := h.queued
	h.budgetMu.Unlock()
	if left != 0 {
		t.Fatalf("%d bytes still counted after Flush", left)
	}
}

// checkSkipped checks that err reports n damaged history records skipped
// in the file at path, with the exact text, and is not ErrCorrupt (the
// file is usable).
func checkSkipped(t testing.TB, err error, path string, n int) {
	t.Helper()
	want := fmt.Sprintf("protocol: database %s: %d damaged history records skipped (they fail authentication); the rest of the history and undelivered messages are intact; /clear removes the damaged history", path, n)
	if n == 1 {
		want = fmt.Sprintf("protocol: database %s: 1 damaged history record skipped (it fails authentication); the rest of the history and undelivered messages are intact; /clear removes the damaged history", path)
	}
	if !errors.Is(err, ErrHistorySkipped) || errors.Is(err, ErrCorrupt) || err.Error() != want {
		t.Fatalf("err = %v\nwant %s (ErrHistorySkipped, not ErrCorrupt)", err, want)
	}
}

// skippedIn returns how many records the error of one call says it
// skipped (0 for nil); any other error fails the test.
func skippedIn(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var se *historySkippedError
	if !errors.As(err, &se) || !errors.Is(err, ErrHistorySkipped) {
		t.Fatalf("err = %v, want one wrapping ErrHistorySkipped", err)
	}
	return se.skipped
}

// buildRecordsFile writes a database whose history is 7 records of known
// entries (one commit each: 5 records of 3 entries added, a queued message
// of ours and a message of the peer marked showing then seen) beside that
// delivery state. It returns the file's bytes and the entries of each
// record, oldest first.
func buildRecordsFile(t *testing.T) ([]byte, [][]protocol.HistoryEntry) {
	t.Helper()
	path := testDBPath(t)
	h := openOneRecordPerFlush(t, path)
	at := func(i int) time.Time { return histT0.Add(time.Duration(i) * time.Second) }
	var recs [][]protocol.HistoryEntry
	for r := range 5 {
		var rec []protocol.HistoryEntry
		for i := range 3 {
			id := r*3 + i + 1
			e := protocol.HistoryEntry{ID: uint64(id), Own: id%2 == 0, Text: fmt.Sprintf("record %d entry %d", r, i), At: at(id)}
			h.Add(e)
			rec = append(rec, e)
		}
		if err := h.Flush(); err != nil { // one commit, one record
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	queued := protocol.Chat{ID: 1 << 40, SentAt: at(20).UnixNano(), Text: "queued, not delivered"}
	if err := h.Queue([]protocol.Chat{queued}); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, []protocol.HistoryEntry{{ID: queued.ID, Own: true, Text: queued.Text, At: at(20)}})
	shown := protocol.HistoryEntry{ID: 1<<40 + 1, Text: "the peer's, seen", At: at(21)}
	if err := h.Showing([]protocol.HistoryEntry{shown}); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, []protocol.HistoryEntry{shown})
	h.Seen([]uint64{shown.ID}, nil)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	viewRaw(t, path, func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketHistory).Stats().KeyN
		return nil
	})
	if n != len(recs) {
		t.Fatalf("%d history records, want %d", n, len(recs))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, recs
}

// withDamagedRecords writes data with the history records at the indexes
// damage (oldest first) flipped in every copy bbolt left in the file, and
// returns its path.
func withDamagedRecords(t *testing.T, data []byte, damage []int) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src.db")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var vals [][]byte
	viewRaw(t, src, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		for _, v := c.First(); v != nil; _, v = c.Next() {
			vals = append(vals, bytes.Clone(v))
		}
		return nil
	})
	d := bytes.Clone(data)
	for _, i := range damage {
		offs := everyCopy(d, vals[i])
		if len(offs) == 0 {
			t.Fatalf("record %d not found in the file", i)
		}
		d = flipped(d, offs, histRecordHeader+3) // a ciphertext byte
	}
	p := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(p, d, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// intactState opens a copy of data and returns what it holds.
func intactState(t *testing.T, data []byte) (all []protocol.HistoryEntry, st protocol.DeliveryState, n int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "intact.db")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := openTestDB(t, p, Options{})
	all = allHistory(t, h, 100)
	st, _ = h.Load()
	n, err := h.Len()
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	return all, st, n
}

// TestHistoryDamagedRecordSkipped: history records that fail
// authentication are skipped. Last and Before return every other entry, in
// order, exactly once, with an error wrapping ErrHistorySkipped that names
// the file and counts the records skipped by that call (each reported
// once); paging ends; the count and the delivery state are untouched.
func TestHistoryDamagedRecordSkipped(t *testing.T) {
	data, recs := buildRecordsFile(t)
	all, wantState, wantLen := intactState(t, data)
	if len(all) != 17 || wantLen != 17 || len(wantState.Outbox) != 1 || len(wantState.Seen) != 1 {
		t.Fatalf("intact file: %d entries, Len %d, state %+v", len(all), wantLen, wantState)
	}
	for _, tc := range []struct {
		name   string
		damage []int // record indexes, oldest first (0..6)
	}{
		{"newest", []int{6}},
		{"middle", []int{2}},
		{"oldest", []int{0}},
		{"two apart", []int{1, 4}},
		{"adjacent", []int{2, 3}},
		{"newest and oldest", []int{0, 6}},
		{"all", []int{0, 1, 2, 3, 4, 5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := withDamagedRecords(t, data, tc.damage)
			var want []protocol.HistoryEntry
			for i, rec := range recs {
				if !slices.Contains(tc.damage, i) {
					want = append(want, rec...)
				}
			}
			h := openTestDB(t, path, Options{})
			got, c, err := h.Last(100)
			checkSkipped(t, err, path, len(tc.damage))
			checkEntries(t, got, want)
			// The cursor is past everything read: nothing more, no error.
			if p, c2, err := h.Before(c, 100); len(p) != 0 || err != nil || c2 != c {
				t.Fatalf("Before after the whole history = %d entries, %v (cursor moved %v)", len(p), err, c2 != c)
			}
			if len(want) == 0 && c == (HistoryCursor{}) {
				t.Fatal("all records damaged: the cursor is still the end")
			}

			for _, n := range []int{1, 2, 3, 4, 5, 100} {
				t.Run(fmt.Sprint("pages of ", n), func(t *testing.T) {
					var got []protocol.HistoryEntry
					var sizes []int
					skipped := 0
					var c HistoryCursor
					for calls := 0; ; calls++ {
						if calls > len(all)+len(recs)+2 {
							t.Fatalf("paging does not end: %d calls, pages %v", calls, sizes)
						}
						p, next, err := h.Before(c, n)
						skipped += skippedIn(t, err)
						if len(p) == 0 {
							if next != c && err == nil {
								t.Fatal("an empty page without skipped records moved the cursor")
							}
							c = next
							break
						}
						sizes = append(sizes, len(p))
						got = append(slices.Clone(p), got...)
						c = next
					}
					checkEntries(t, got, want)
					if skipped != len(tc.damage) {
						t.Fatalf("%d records reported skipped over the pages, want %d (each once)", skipped, len(tc.damage))
					}
					// Full pages until the start: a page short of n is the last.
					for i, s := range sizes {
						if s != n && i != len(sizes)-1 {
							t.Fatalf("page sizes %v for pages of %d", sizes, n)
						}
					}
					if p, _, err := h.Before(c, n); len(p) != 0 || err != nil {
						t.Fatalf("Before at the start = %d entries, %v; want none, no error", len(p), err)
					}
				})
			}

			if n, err := h.Len(); err != nil || n != wantLen {
				t.Fatalf("Len = %d, %v; want %d (unchanged)", n, err, wantLen)
			}
			if st, err := h.Load(); err != nil || !reflect.DeepEqual(st, wantState) {
				t.Fatalf("delivery state %+v, %v; want %+v", st, err, wantState)
			}
			// The file still works: a new entry is stored and shown after
			// the others; /clear removes the damaged records.
			h.Add(protocol.HistoryEntry{ID: 99, Own: true, Text: "after the damage", At: histT0.Add(time.Minute)})
			if err := h.Flush(); err != nil {
				t.Fatal(err)
			}
			got, _, err = h.Last(100)
			checkSkipped(t, err, path, len(tc.damage))
			if len(got) != len(want)+1 || got[len(got)-1].ID != 99 {
				t.Fatalf("after Add: %d entries, want %d ending with the new one", len(got), len(want)+1)
			}
			if err := h.Clear(); err != nil {
				t.Fatal(err)
			}
			if got, _, err := h.Last(100); len(got) != 0 || err != nil {
				t.Fatalf("after Clear: %d entries, %v", len(got), err)
			}
		})
	}
}

// TestHistoryDamagedCursorRecord: Before from a cursor into a record that
// is now damaged skips that record and goes on below it; a cursor at a
// record's first entry does not read the record at all.
func TestHistoryDamagedCursorRecord(t *testing.T) {
	data, recs := buildRecordsFile(t)
	// Cursors from the intact file (cursors are positions: they hold in
	// the damaged copy too). Entries 0..16 overall; record 3 holds 9..11.
	p := filepath.Join(t.TempDir(), "intact.db")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	hi := openTestDB(t, p, Options{})
	cursorAt := func(i int) HistoryCursor { // the cursor whose oldest entry is entry i
		es, c, err := hi.Last(17 - i)
		if err != nil || len(es) != 17-i {
			t.Fatalf("Last(%d) = %d entries, %v", 17-i, len(es), err)
		}
		return c
	}
	inRec3, startOfRec3, inRec4 := cursorAt(10), cursorAt(9), cursorAt(13)
	hi.Close()

	below := slices.Concat(recs[0], recs[1], recs[2])
	path := withDamagedRecords(t, data, []int{3})
	h := openTestDB(t, path, Options{})
	for _, tc := range []struct {
		name    string
		c       HistoryCursor
		n       int
		want    []protocol.HistoryEntry
		skipped int
		rest    []protocol.HistoryEntry // paging on from the cursor returned
		restSk  int                     // records it reports skipped
	}{
		{"into the damaged record", inRec3, 100, below, 1, nil, 0},
		{"into the damaged record, one entry", inRec3, 1, recs[2][2:], 1, below[:8], 0},
		{"first entry of the damaged record", startOfRec3, 100, below, 0, nil, 0},
		{"above the damaged record", inRec4, 100, slices.Concat(below, recs[4][:1]), 1, nil, 0},
		{"above, up to the damaged record", inRec4, 1, recs[4][:1], 0, below, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := h.Before(tc.c, tc.n)
			if s := skippedIn(t, err); s != tc.skipped {
				t.Fatalf("%d records skipped, want %d", s, tc.skipped)
			}
			if tc.skipped > 0 {
				checkSkipped(t, err, path, tc.skipped)
			}
			checkEntries(t, got, tc.want)
			// Paging on from next gives the rest, reporting record 3 only
			// if this call did not.
			rest, sk := allBefore(t, h, next, 2)
			checkEntries(t, rest, tc.rest)
			if sk != tc.restSk {
				t.Fatalf("paging on reports %d records skipped, want %d", sk, tc.restSk)
			}
		})
	}
}

// allBefore pages with Before from c to the start, n at a time, and
// returns the entries and how many records the calls reported skipped; it
// fails on any other error.
func allBefore(t testing.TB, h *DB, c HistoryCursor, n int) (all []protocol.HistoryEntry, skipped int) {
	t.Helper()
	for range 1000 {
		p, next, err := h.Before(c, n)
		skipped += skippedIn(t, err)
		if len(p) == 0 {
			return all, skipped
		}
		all = append(p, all...)
		c = next
	}
	t.Fatal("paging does not end")
	return nil, 0
}

// TestHistoryRetentionByStoringTime: a record is kept by the local time it
// was stored, not by its entries' times: one entry dated 2200 (a peer's
// clock, or a forgery) does not keep later records from being pruned, and
// goes itself once it was stored longer ago than the retention.
func TestHistoryRetentionByStoringTime(t *testing.T) {
	path := testDBPath(t)
	var clock testClock
	day := func(d int) time.Time { return histT0.Add(time.Duration(d) * 24 * time.Hour) }
	h := openTestDB(t, path, Options{Now: clock.now})
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(at time.Time, e protocol.HistoryEntry) {
		t.Helper()
		clock.set(at)
		h.Add(e)
		if err := h.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	add(day(0), protocol.HistoryEntry{ID: 1, Text: "dated 2200", At: future})
	for d := 1; d <= 5; d++ {
		add(day(d), protocol.HistoryEntry{ID: uint64(d + 1), Text: fmt.Sprint("day ", d), At: day(d)})
	}
	h.Close()
	h = openTestDB(t, path, Options{Now: func() time.Time { return day(35) }, Retention: 30 * 24 * time.Hour})
	checkEntries(t, allHistory(t, h, 10), []protocol.HistoryEntry{{ID: 6, Text: "day 5", At: day(5)}})
	if n, _ := h.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

// TestHistoryFarAheadKeyNotFollowed: a database whose newest record is
// keyed far ahead (written by a duet that keyed records by their entries'
// times, or under a clock that was years ahead) does not pin the records
// stored after it: they are keyed by the local time and pruned by it,
// while the far-ahead record stays until its own time passes (and is
// listed last, by its key).
func TestHistoryFarAheadKeyNotFollowed(t *testing.T) {
	path := testDBPath(t)
	var clock testClock
	day := func(d int) time.Time { return histT0.Add(time.Duration(d) * 24 * time.Hour) }
	h := openTestDB(t, path, Options{Now: clock.now})
	add := func(at time.Time, e protocol.HistoryEntry) {
		t.Helper()
		clock.set(at)
		h.Add(e)
		if err := h.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	add(future, protocol.HistoryEntry{ID: 1, Text: "keyed 2200", At: future})
	for d := 1; d <= 5; d++ {
		add(day(d), protocol.HistoryEntry{ID: uint64(d + 1), Text: fmt.Sprint("day ", d), At: day(d)})
	}
	h.Close()
	h = openTestDB(t, path, Options{Now: func() time.Time { return day(35) }, Retention: 30 * 24 * time.Hour})
	checkEntries(t, allHistory(t, h, 10), []protocol.HistoryEntry{
		{ID: 6, Text: "day 5", At: day(5)},
		{ID: 1, Text: "keyed 2200", At: future},
	})
}

// TestRecordTime: the key time rule on its own, int64's extremes included.
func TestRecordTime(t *testing.T) {
	hour, dayNs := uint64(time.Hour), uint64(histClockBack)
	now := uint64(histT0.UnixNano())
	for _, c := range []struct{ now, last, want uint64 }{
		{now, 0, now},
		{now, now - hour, now},
		{now, now + hour, now + hour},       // a small step back: storing order kept
		{now, now + dayNs, now},             // a day or more ahead: not followed
		{now, math.MaxInt64, now},           // the old key of an int64-max entry
		{0, math.MaxInt64, 0},               // a clock before 1970 (clamped)
		{math.MaxInt64, now, math.MaxInt64}, // a clock past 2262 (clamped)
	} {
		if got := recordTime(c.now, c.last); got != c.want {
			t.Errorf("recordTime(%d, %d) = %d, want %d", c.now, c.last, got, c.want)
		}
	}
}

// TestHistoryClaimedTime: an entry shown at its arrival because the peer's
// sent_at was implausible keeps that claimed time (any int64, 1677 and 2262
// included) beside the shown one, so a restart shows the same marker; a
// record whose claimed time is cut short is refused as corrupt.
func TestHistoryClaimedTime(t *testing.T) {
	h := openTestDB(t, testDBPath(t), Options{})
	want := []protocol.HistoryEntry{
		{ID: 1, Text: "dated 2200", At: histT0, ClaimedAt: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: 2, Text: "int64 min", At: histT0, ClaimedAt: time.Unix(0, math.MinInt64)},
		{ID: 3, Text: "int64 max", At: histT0, ClaimedAt: time.Unix(0, math.MaxInt64), PossibleDuplicate: true},
		{ID: 4, Text: "plausible", At: histT0},
	}
	for _, e := range want {
		h.Add(e)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.Last(10)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, want)

	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	k := histKey(uint64(histT0.UnixNano()), 1)
	v, err := sealRecord(a, fuzzPre, k[:], want[:1])
	if err != nil {
		t.Fatal(err)
	}
	pt, err := a.Open(nil, (*[crypto.NonceSize]byte)(v[3:histRecordHeader]), v[histRecordHeader:], recordAD(fuzzPre, k[:], 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseRecord(pt[:len(pt)-1], 1); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "claimed time cut short") {
		t.Errorf("claimed time cut short: %v, want ErrCorrupt saying so", err)
	}
}
