package main

// End-to-end tests of issue 16's items 4 and 5 at the level they were
// found: a user's database changed by someone who could write the config
// directory, then duet started on it.

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// outboxRecords returns the outbox's key/value pairs in path.
func outboxRecords(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]byte{}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("outbox")).ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// editOutbox changes path's outbox in one bbolt transaction, as someone
// with write access to the file could.
func editOutbox(t *testing.T, path string, edit func(b *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return edit(tx.Bucket([]byte("outbox"))) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// refusesTampered starts A on its database at path and checks that it
// exits 1 before sending anything, saying on stderr that the file does not
// match its sealed state (with finding), naming the file, and that the
// file is left byte for byte as it was.
func refusesTampered(t *testing.T, pr pair, path, finding string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	code, ok := a.waitExit(exitTimeout)
	if !ok || code != exitRuntime {
		t.Fatalf("A on a tampered database: exited %v, code %d, want %d", ok, code, exitRuntime)
	}
	stderr := a.stderrText()
	for _, want := range []string{path, "does not match its sealed state", finding, "duet sent nothing and changed nothing in it"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := a.count(isEv("session")); n != 0 {
		t.Errorf("A reported %d session events; it must stop before the network", n)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the refused database was changed")
	}
}

// TestE2EOutboxRecordRemoved (issue 16 item 4): a queued message whose
// outbox record was deleted is not lost without a word (before, it was
// gone and the history showed it delivered): duet refuses to start, says
// what is missing, and leaves the file as it is.
func TestE2EOutboxRecordRemoved(t *testing.T) {
	pr := newPair(t)
	path := queuedAndQuit(t, pr, "queued one", "queued two")
	recs := outboxRecords(t, path)
	if len(recs) == 0 {
		t.Fatal("no outbox records after queueing")
	}
	editOutbox(t, path, func(b *bolt.Bucket) error {
		k, _ := b.Cursor().First()
		return b.Delete(bytes.Clone(k))
	})
	refusesTampered(t, pr, path, "outbox records missing")
}

// TestE2EOldOutboxRecordCopiedBack (issue 16 item 5): an outbox record
// copied back from an older copy of the file, after its message was
// delivered, is not sent again (before, the peer showed it again as new):
// duet refuses to start, before the network.
func TestE2EOldOutboxRecordCopiedBack(t *testing.T) {
	pr := newPair(t)
	path := queuedAndQuit(t, pr, "pay 100 to carol")
	old := outboxRecords(t, path)
	if len(old) != 1 {
		t.Fatalf("%d outbox records, want 1", len(old))
	}

	a, b := startPair(t, pr, "a.pem", "b.pem")
	b.waitFor(t, msgTimeout, "the queued message", textPrefix("pay 100 to carol"))
	a.waitFor(t, msgTimeout, "its receipt", isEv("delivered"))
	for _, p := range []*proc{a, b} {
		p.send("/quit")
		if code, ok := p.waitExit(exitTimeout); !ok || code != exitOK {
			t.Fatalf("/quit: exited %v, code %d", ok, code)
		}
	}
	if n := len(outboxRecords(t, path)); n != 0 {
		t.Fatalf("%d outbox records after delivery, want 0", n)
	}

	editOutbox(t, path, func(bk *bolt.Bucket) error {
		for k, v := range old {
			if err := bk.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	refusesTampered(t, pr, path, "outbox records not written by this file")
}
