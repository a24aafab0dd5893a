package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"duet/protocol"

	bolt "go.etcd.io/bbolt"
)

// queueOne opens path, queues one message and closes it (one commit).
func queueOne(t *testing.T, path string, id uint64, text string) {
	t.Helper()
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Queue([]protocol.Chat{{ID: id, SentAt: histT0.UnixNano(), Text: text}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

func outboxTexts(t *testing.T, h *DB) []string {
	t.Helper()
	st, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, c := range st.Outbox {
		texts = append(texts, c.Text)
	}
	return texts
}

// TestDBEmptyFileIsDamage: a database truncated to nothing is refused as
// damaged (naming the file and saying its content is gone), not silently
// started afresh, and the empty file is left as it is.
func TestDBEmptyFileIsDamage(t *testing.T) {
	path := testDBPath(t)
	queueOne(t, path, 7, "queued before the file was emptied")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	h, err := Open(path, testKey, Options{})
	if err == nil {
		h.Close()
		t.Fatal("Open of an emptied database succeeded: its queued message would be lost silently")
	}
	var de *Error
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &de) || de.Path != path || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("Open of an empty file: %v, want a *Error wrapping ErrCorrupt naming %s and saying it is empty", err, path)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Fatalf("the refused empty file was changed: %v, %v", st, err)
	}
}

// TestDBCreatedWhole: a new database appears at its path complete (built
// under a temporary name and linked into place), no temporary file stays,
// a temporary file left by a crash over a minute ago is removed on open
// while a fresh one (a creation under way) is kept, and two duets
// creating the same database at once end with one holding it and the
// other refused as locked.
func TestDBCreatedWhole(t *testing.T) {
	path := testDBPath(t)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, filepath.Base(path)+dbTempInfix+"123")
	fresh := filepath.Join(dir, filepath.Base(path)+dbTempInfix+"456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a database"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var dbs [2]*DB
	var errs [2]error
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = Open(path, testKey, Options{}) })
	}
	wg.Wait()
	opened := 0
	for i := range dbs {
		switch {
		case errs[i] == nil:
			opened++
			defer dbs[i].Close()
		case !errors.Is(errs[i], ErrLocked):
			t.Fatalf("concurrent create %d: %v, want success or ErrLocked", i, errs[i])
		}
	}
	if opened != 1 {
		t.Fatalf("%d of 2 concurrent opens succeeded, want 1 (errors %v)", opened, errs)
	}

	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{filepath.Base(path), filepath.Base(fresh)}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("directory holds %v, want %v (no temporary file of ours, the stale one removed, the fresh one kept)", names, want)
	}
}

// metaPages returns the offsets of the file's two meta pages, the newer first.
func metaPages(t *testing.T, data []byte) (newer, older int) {
	t.Helper()
	pageSize := int(binary.LittleEndian.Uint32(data[boltPageHeader+8:]))
	tx := func(off int) uint64 { return binary.LittleEndian.Uint64(data[off+boltPageHeader+48:]) }
	if tx(0) > tx(pageSize) {
		return 0, pageSize
	}
	return pageSize, 0
}

// TestDBMetaFallbackWarns: bbolt falls back to the older meta page when the
// newer one is damaged, silently losing the last commit; duet opens the
// file the same way but says so (Warnings, naming the file). Damage to the
// older meta page loses nothing and warns of nothing.
func TestDBMetaFallbackWarns(t *testing.T) {
	tests := []struct {
		name     string
		page     string // "newer" or "older"
		at       int    // byte offset inside the meta (after the page header)
		warn     bool
		lastKept bool
	}{
		{"newer meta, root field", "newer", 16, true, false},
		{"newer meta, txid field", "newer", 48, true, false},
		{"newer meta, checksum", "newer", 56, true, false},
		{"older meta, root field", "older", 16, false, true},
		{"older meta, checksum", "older", 60, false, true},
		{"older meta, txid low byte", "older", 48, false, true},
		{"older meta, txid high byte", "older", 55, false, true},
		{"newer meta, txid high byte", "newer", 55, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testDBPath(t)
			queueOne(t, path, 1, "first")
			queueOne(t, path, 2, "last commit")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			newer, older := metaPages(t, data)
			off := older
			if tt.page == "newer" {
				off = newer
			}
			data[off+boltPageHeader+tt.at] ^= 0x40
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			h := openTestDB(t, path, Options{})
			warnings := h.Warnings()
			gotWarn := len(warnings) == 1 && strings.Contains(warnings[0], path) && strings.Contains(warnings[0], "newest commit record is damaged")
			if gotWarn != tt.warn || (!tt.warn && len(warnings) != 0) {
				t.Fatalf("warnings %q, want a fallback warning: %v", warnings, tt.warn)
			}
			texts := outboxTexts(t, h)
			want := []string{"first"}
			if tt.lastKept {
				want = append(want, "last commit")
			}
			if strings.Join(texts, "|") != strings.Join(want, "|") {
				t.Fatalf("outbox %q, want %q", texts, want)
			}
		})
	}
}

// TestDBModeWarns: a database found with a wider mode is set back to 0600
// and the user is told, naming the file and the mode found.
func TestDBModeWarns(t *testing.T) {
	path := testDBPath(t)
	queueOne(t, path, 1, "mode")
	h := openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Fatalf("warnings on a sound 0600 file: %q", w)
	}
	h.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], path) || !strings.Contains(w[0], "0644") {
		t.Fatalf("warnings after opening a 0644 file: %q, want one naming the file and 0644", w)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after open %04o, want 0600", st.Mode().Perm())
	}
}

// TestDBErrorText: every refusal names the file once, says what is wrong
// without repeating itself, says what to do, keeps its sentinel, and leaves
// the file as it was.
func TestDBErrorText(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, path string)
		sentinel error
		want     string // after "protocol: database <path> "
	}{
		{"truncated", func(t *testing.T, path string) {
			queueOne(t, path, 1, "x")
			if err := os.Truncate(path, 4096); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "is damaged: "},
		{"empty", func(t *testing.T, path string) {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "is damaged: the file is empty"},
		{"locked", func(t *testing.T, path string) {
			openTestDB(t, path, Options{})
		}, ErrLocked, "is in use by another duet; is duet already running"},
		{"another key", func(t *testing.T, path string) {
			h, err := Open(path, [32]byte{9}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			h.Close()
		}, ErrWrongKey, "belongs to another identity: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testDBPath(t)
			tt.setup(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			h, err := Open(path, testKey, Options{})
			if err == nil {
				h.Close()
				t.Fatal("Open succeeded")
			}
			if after, rerr := os.ReadFile(path); rerr != nil || !bytes.Equal(after, before) {
				t.Fatalf("the refused file was changed (%v)", rerr)
			}
			msg := err.Error()
			prefix := "protocol: database " + path + " "
			if !errors.Is(err, tt.sentinel) || !strings.HasPrefix(msg, prefix+tt.want) {
				t.Fatalf("error %q, want %v starting %q", msg, tt.sentinel, prefix+tt.want)
			}
			if strings.Count(msg, "protocol:") != 1 || strings.Count(msg, path) != 1 || !strings.Contains(msg, "; ") {
				t.Fatalf("error %q: want one \"protocol:\", the path once and a hint after \"; \"", msg)
			}
		})
	}
}

// TestDBPending: Pending lists our undelivered messages from the outbox at
// open, oldest first, the newest n of them with the total, only until Load
// hands them to the Node; it changes nothing Load returns.
func TestDBPending(t *testing.T) {
	path := testDBPath(t)
	for i, text := range []string{"one", "two", "three"} {
		queueOne(t, path, uint64(i+1), text)
	}
	h := openTestDB(t, path, Options{NoHistory: true})
	texts := func(cs []protocol.Chat) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Text)
		}
		return strings.Join(s, ",")
	}
	for _, tt := range []struct {
		n    int
		want string
	}{{0, ""}, {2, "two,three"}, {3, "one,two,three"}, {10, "one,two,three"}, {-1, ""}} {
		got, total := h.Pending(tt.n)
		if texts(got) != tt.want || total != 3 {
			t.Fatalf("Pending(%d) = %q, %d; want %q, 3", tt.n, texts(got), total, tt.want)
		}
	}
	if got := outboxTexts(t, h); strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("Load after Pending: %q", got)
	}
	if got, total := h.Pending(10); len(got) != 0 || total != 0 {
		t.Fatalf("Pending after Load = %d entries, total %d; want none", len(got), total)
	}
}

// TestDBKeyCheckDamaged: a damaged key check value no longer passes for
// another identity when the records open under the key (only that key
// could have sealed them): the check is written again, the user told, and
// nothing else changes. Under another key, with records to try, the error
// says the records (or the sealed state) do not open either.
func TestDBKeyCheckDamaged(t *testing.T) {
	path := buildHistoryFile(t, 5, "check")
	var chk []byte
	viewRaw(t, path, func(tx *bolt.Tx) error {
		chk = bytes.Clone(tx.Bucket(bucketMeta).Get(metaCheck))
		return nil
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs := everyCopy(data, chk)
	if len(offs) == 0 {
		t.Fatal("the key check value is not in the file")
	}
	damaged := writeFlipped(t, data, offs, len(chk)-1)

	if _, err := Open(damaged, [32]byte{7}, Options{}); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "neither its key check nor its records open") {
		t.Fatalf("Open under another key: %v, want ErrWrongKey saying the records do not open either", err)
	}
	if after, err := os.ReadFile(damaged); err != nil || !bytes.Equal(after, flipped(data, offs, len(chk)-1)) {
		t.Fatalf("the file refused under another key was changed (%v)", err)
	}
	h := openTestDB(t, damaged, Options{})
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], "key check value was damaged") || !strings.Contains(w[0], damaged) {
		t.Fatalf("warnings %q, want one saying the key check was written again", w)
	}
	if n, _ := h.Len(); n != 5+2 {
		t.Fatalf("Len = %d after the check was rewritten", n)
	}
	if got := outboxTexts(t, h); strings.Join(got, ",") != "check queued" {
		t.Fatalf("outbox %q after the check was rewritten", got)
	}
	h.Close()
	h = openTestDB(t, damaged, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Fatalf("warnings after the rewrite: %q", w)
	}
	h.Close()

	// An empty database has its sealed state to try (format 3).
	empty := testDBPath(t)
	openTestDB(t, empty, Options{}).Close()
	if _, err := Open(empty, [32]byte{7}, Options{}); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "neither its key check nor its records open") {
		t.Fatalf("Open of an empty database under another key: %v", err)
	}
}
