package main

// Unit tests of small fixes in the root package: they call run and
// importDeliveryLog in this process (no duet binary, no network).

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestOldDeliveryLogOnlyNamed (issue 16 item 3): an old delivery log and
// its leftovers are named at start (each by path, saying that nothing was
// sent from it and that it can be deleted by hand) and never opened,
// changed or removed: a FIFO there does not block, a link is not followed.
func TestOldDeliveryLogOnlyNamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.log")
	if notes := oldDeliveryLogNotes(path); len(notes) != 0 {
		t.Fatalf("no log: notes %q", notes)
	}
	forged := []byte("Q forged by whoever could write the directory")
	writeFile(t, path, forged)
	if err := syscall.Mkfifo(path+".tmp", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), path+".wipe"); err != nil {
		t.Fatal(err)
	}
	notes := oldDeliveryLogNotes(path)
	if len(notes) != 3 {
		t.Fatalf("%d notes, want 3: %q", len(notes), notes)
	}
	for i, p := range []string{path, path + ".tmp", path + ".wipe"} {
		if !strings.Contains(notes[i], p) || !strings.Contains(notes[i], "no longer imports it and sent nothing from it") ||
			!strings.Contains(notes[i], "delete it by hand") {
			t.Errorf("note %d %q does not name %s and say what to do", i, notes[i], p)
		}
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, forged) {
		t.Errorf("the log changed: %q (%v)", got, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link was followed: %v", err)
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
