package main

// End-to-end tests of a damaged database that an outside audit found
// handled silently: an emptied file, and a damaged newest commit record.

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// queuedAndQuit runs A alone, queues texts (one commit each), and quits;
// it returns A's database path.
func queuedAndQuit(t *testing.T, pr pair, texts ...string) string {
	t.Helper()
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	for i, text := range texts {
		a.send(text)
		a.waitN(t, i+1, sessionTimeout, "queued", isEv("queued"))
	}
	a.send("/quit")
	if code, ok := a.waitExit(exitTimeout); !ok || code != exitOK {
		t.Fatalf("A after /quit: exited %v, code %d", ok, code)
	}
	dbs, _ := filepath.Glob(filepath.Join(pr.dir, "delivery", "*.db"))
	if len(dbs) != 1 {
		t.Fatalf("want one database, found %v", dbs)
	}
	return dbs[0]
}

// TestE2EEmptiedDatabase: a database truncated to nothing while messages
// were queued in it stops duet with an error naming the file and saying
// it is empty (before, duet started afresh and the queued messages were
// gone without a word); the file is left as it is.
func TestE2EEmptiedDatabase(t *testing.T) {
	pr := newPair(t)
	path := queuedAndQuit(t, pr, "queued, then the file is emptied")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	code, ok := a.waitExit(exitTimeout)
	if !ok || code != exitRuntime {
		t.Fatalf("A on an emptied database: exited %v, code %d, want %d", ok, code, exitRuntime)
	}
	if stderr := a.stderrText(); !strings.Contains(stderr, path) || !strings.Contains(stderr, "is damaged: the file is empty") || !strings.Contains(stderr, "move the file away") {
		t.Errorf("stderr does not name the file, say it is empty and what to do:\n%s", stderr)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Errorf("the emptied database was changed: %v, %v", st, err)
	}
}

// TestE2EDamagedNewestCommit: when the newest of bbolt's two commit
// records (meta pages) is damaged, duet opens the commit before it, as
// bbolt does, but says on stderr that the last moment's messages may be
// missing, naming the file; then it works (a session with B, a message
// each way).
func TestE2EDamagedNewestCommit(t *testing.T) {
	pr := newPair(t)
	path := queuedAndQuit(t, pr, "first", "second")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt's meta: a 16-byte page header, then magic, version, page
	// size (u32 each), ..., the txid at 48 (little-endian).
	pageSize := int(binary.LittleEndian.Uint32(data[16+8:]))
	txid := func(off int) uint64 { return binary.LittleEndian.Uint64(data[off+16+48:]) }
	newer := 0
	if txid(pageSize) > txid(0) {
		newer = pageSize
	}
	data[newer+16+20] ^= 0x01 // the root page id: fails the checksum
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	b := startDuet(t, "B", pr.args("B", "b.pem")...)
	a.waitFor(t, sessionTimeout, "session established", established)
	b.waitFor(t, sessionTimeout, "session established", established)
	if stderr := a.waitStderr(msgTimeout, "duet: warning: database "+path, "newest commit record is damaged"); !strings.Contains(stderr, "duet: warning: database "+path) || !strings.Contains(stderr, "newest commit record is damaged") {
		t.Errorf("A's stderr does not warn of the fallback, naming the file:\n%s", stderr)
	}
	a.send("after the fallback")
	b.waitFor(t, msgTimeout, "A's message", textPrefix("after the fallback"))
	b.send("and back")
	a.waitFor(t, msgTimeout, "B's message", textPrefix("and back"))
}

// TestE2EDamagedHistoryRecord: a history record that fails authentication
// no longer stops the line mode (before, it refused to start and advised
// moving the file away, which would have lost the queued messages in it):
// the other messages are shown, stderr says what was skipped, and the
// queued messages are still there.
func TestE2EDamagedHistoryRecord(t *testing.T) {
	pr := newPair(t)
	path := queuedAndQuit(t, pr, "in the first record", "in the second record")

	// Flip a ciphertext byte of the newest history record, in every copy
	// of it in the file (bbolt's freed pages can hold an older one).
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var value []byte
	if err := db.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket([]byte("history")).Cursor().Last()
		value = bytes.Clone(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for i := 0; ; {
		j := bytes.Index(data[i:], value)
		if j < 0 {
			break
		}
		data[i+j+len(value)-1] ^= 0x01 // the tag's last byte
		copies++
		i += j + len(value)
	}
	if copies == 0 {
		t.Fatal("the history record's value is not in the file")
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	text, stderr := runLines(t, pr, "")
	if !strings.Contains(text, "in the first record") || strings.Contains(text, "in the second record") {
		t.Errorf("line mode shows:\n%s\nwant the first message and not the damaged second", text)
	}
	if !strings.Contains(stderr, "duet: warning: database "+path) || !strings.Contains(stderr, "1 damaged history record skipped") || strings.Contains(stderr, "move the file away") {
		t.Errorf("stderr does not say which record was skipped (and must not advise moving the file away):\n%s", stderr)
	}
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	b := startDuet(t, "B", pr.args("B", "b.pem")...)
	b.waitFor(t, msgTimeout, "the first queued message", textPrefix("in the first record"))
	b.waitFor(t, msgTimeout, "the second queued message", textPrefix("in the second record"))
	a.kill()
}

// TestE2EModesSetBack: a database and its "delivery" directory found open
// to other users are set back to 0600 and 0700, and duet says so on
// stderr, naming each and what the wider mode allowed.
func TestE2EModesSetBack(t *testing.T) {
	pr := newPair(t)
	path := queuedAndQuit(t, pr, "queued")
	dir := filepath.Dir(path)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	wants := []string{
		"duet: warning: directory " + dir + " had mode 0755",
		"duet: warning: database " + path + " had mode 0666, so other users could change or damage it; set back to 0600",
	}
	stderr := a.waitStderr(msgTimeout, wants...)
	for _, want := range wants {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", p, st.Mode().Perm(), err, want)
		}
	}
	a.kill()
}
