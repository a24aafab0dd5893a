package main

// Unit tests of small fixes in the root package: they call run and
// importDeliveryLog in this process (no duet binary, no network).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duet/protocol"
	"duet/protocol/store"
)

// TestHistoryDaysBounded: --history-days N became N*24h in a
// time.Duration, which wraps from N = 106752 on: 213504 turned into 25
// minutes (deleting nearly all history without a word) and larger values
// went negative (ignored). N is now 0 to 36500; outside that it is a usage
// error (exit 2), one line naming the flag and the bounds.
func TestHistoryDaysBounded(t *testing.T) {
	// An empty --peer-host, checked after --history-days, keeps every
	// run from starting a chat in this process, with or without the fix.
	base := []string{"--headless", "--ephemeral", "--main", "0", "--sub", "1", "--known-peers", filepath.Join(t.TempDir(), "kp"), "--peer-host", ""}
	for _, n := range []string{"-1", "36501", "106752", "213504", "9223372036854775807"} {
		var stdout, stderr bytes.Buffer
		code := run(append(append([]string{}, base...), "--history-days", n), strings.NewReader(""), &stdout, &stderr)
		msg := stderr.String()
		if code != exitUsage || !strings.Contains(msg, "--history-days "+n) || !strings.Contains(msg, "36500") ||
			!strings.HasSuffix(msg, "run duet --help\n") || strings.Count(msg, "\n") != 1 {
			t.Errorf("--history-days %s: exit %d (want %d), stderr %q", n, code, exitUsage, msg)
		}
	}
	// The bounds themselves pass the check: the next one (the empty
	// --peer-host) is what stops these runs.
	for _, n := range []string{"0", "1", "36500"} {
		var stdout, stderr bytes.Buffer
		code := run(append(append([]string{}, base...), "--history-days", n), strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "--peer-host must not be empty") {
			t.Errorf("--history-days %s: exit %d, stderr %q; want it accepted (the --peer-host error)", n, code, stderr.String())
		}
	}
}

// queuedEntry is one 'Q' entry of the old delivery log (protocol/store/deliverylog.go).
func queuedEntry(id uint64, sentAt int64, text string) []byte {
	b := binary.BigEndian.AppendUint64([]byte{'Q'}, id)
	b = binary.BigEndian.AppendUint64(b, uint64(sentAt))
	b = binary.BigEndian.AppendUint32(b, uint32(len(text)))
	return append(b, text...)
}

func openTestDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "delivery", "test.db"), [32]byte{1, 2, 3}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func gone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
}

// TestImportDeliveryLogCountsAdded: the note used to say "(N queued
// messages)" for every outbox entry in the log, also for those an earlier
// import had already queued (Import skips them). It now counts what the
// import added.
func TestImportDeliveryLogCountsAdded(t *testing.T) {
	db := openTestDB(t)
	path := filepath.Join(t.TempDir(), "old.log")
	two := append(queuedEntry(11, 1, "first"), queuedEntry(12, 2, "second")...)
	writeFile(t, path, two)
	note, err := importDeliveryLog(db, path)
	if err != nil || !strings.Contains(note, "(2 queued messages)") {
		t.Fatalf("first import: note %q, err %v; want 2 queued messages", note, err)
	}
	gone(t, path)

	// The same log again (as after a crash before its removal), one
	// message longer: one message is new.
	writeFile(t, path, append(two, queuedEntry(13, 3, "third")...))
	note, err = importDeliveryLog(db, path)
	if err != nil || !strings.Contains(note, "(1 queued message; 2 more in it were imported before)") {
		t.Fatalf("second import: note %q, err %v; want 1 new queued message, 2 imported before", note, err)
	}
	writeFile(t, path, two)
	note, err = importDeliveryLog(db, path)
	if err != nil || !strings.Contains(note, "(0 queued messages; 2 more in it were imported before)") {
		t.Fatalf("third import: note %q, err %v; want 0 new queued messages", note, err)
	}
	st, err := db.Load()
	if err != nil || len(st.Outbox) != 3 {
		t.Fatalf("outbox after the imports: %d messages (%v), want 3", len(st.Outbox), err)
	}
}

// TestImportDeliveryLogWipes: the old log holds message texts in the
// clear; it used to be only removed, leaving them in the freed blocks. It
// (and its .tmp) are now overwritten with zeros of the same length and
// synced before the removal: a second hard link to each file, which keeps
// its inode alive, shows zeros afterwards. A symbolic link at .tmp is
// removed without writing through it, and a wipe a crash cut short
// (a leftover .wipe file) is finished at the next start.
func TestImportDeliveryLogWipes(t *testing.T) {
	db := openTestDB(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "old.log")
	log := append(queuedEntry(21, 1, "secret plaintext 4f2a"), 'Q', 0, 0) // torn tail
	writeFile(t, path, log)
	writeFile(t, path+".tmp", []byte("stale secret"))
	for _, p := range []string{path, path + ".tmp"} {
		if err := os.Link(p, p+".keep"); err != nil {
			t.Skipf("no hard links here: %v", err)
		}
	}
	note, err := importDeliveryLog(db, path)
	if err != nil || !strings.Contains(note, "overwrote it with zeros") || strings.Contains(note, "could not overwrite") {
		t.Fatalf("import: note %q, err %v", note, err)
	}
	gone(t, path, path+".tmp", path+store.DeliveryLogWipeSuffix, path+".tmp"+store.DeliveryLogWipeSuffix)
	for p, size := range map[string]int{path + ".keep": len(log), path + ".tmp.keep": len("stale secret")} {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, make([]byte, size)) {
			t.Errorf("%s after the import: %q (%v), want %d zero bytes", p, got, err, size)
		}
	}

	// A symbolic link at .tmp: the link goes, its target is untouched.
	outside := filepath.Join(t.TempDir(), "not ours")
	writeFile(t, outside, []byte("keep me"))
	if err := os.Symlink(outside, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, queuedEntry(22, 2, "two"))
	if _, err := importDeliveryLog(db, path); err != nil {
		t.Fatal(err)
	}
	gone(t, path, path+".tmp", path+".tmp"+store.DeliveryLogWipeSuffix)
	if got, err := os.ReadFile(outside); err != nil || string(got) != "keep me" {
		t.Errorf("the symbolic link's target after the import: %q (%v)", got, err)
	}

	// A wipe cut short by a crash: finished at the next start, with no log.
	writeFile(t, path+store.DeliveryLogWipeSuffix, []byte("half wiped secret"))
	if err := os.Link(path+store.DeliveryLogWipeSuffix, path+".keep2"); err != nil {
		t.Fatal(err)
	}
	if note, err := importDeliveryLog(db, path); err != nil || note != "" {
		t.Fatalf("leftover wipe: note %q, err %v", note, err)
	}
	gone(t, path+store.DeliveryLogWipeSuffix)
	if got, _ := os.ReadFile(path + ".keep2"); !bytes.Equal(got, make([]byte, len("half wiped secret"))) {
		t.Errorf("leftover wipe file not overwritten: %q", got)
	}
}

// TestHistoryClearFunc: the line and headless modes' /clear is nil without
// a history (so it says there is none) and clears the database with one.
func TestHistoryClearFunc(t *testing.T) {
	if historyClear(nil) != nil {
		t.Fatal("historyClear(nil) is not nil: /clear would call Clear on a nil *store.DB")
	}
	db := openTestDB(t)
	db.Add(protocol.HistoryEntry{ID: 1, Text: "to be cleared"})
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Len(); err != nil || n != 1 {
		t.Fatalf("history before /clear: %d entries (%v), want 1", n, err)
	}
	if err := historyClear(db)(); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Len(); err != nil || n != 0 {
		t.Fatalf("history after /clear: %d entries (%v), want 0", n, err)
	}
}
