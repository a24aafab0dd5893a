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
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
	"duet/protocol"
)

// seenSync calls Seen and waits for its commit.
func seenSync(t testing.TB, h *DB, ids []uint64) {
	t.Helper()
	errc := make(chan error, 1)
	h.Seen(ids, func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// updateRaw opens path with bbolt (the DB must be closed) and runs fn in
// a write transaction: what an attacker with write access to the file
// can do.
func updateRaw(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestSeenCountLoweredKeepsSeen (issue 16 item 7): a seen_count lowered
// in the file below the ids its records hold made the pruning subtraction
// wrap, so the next commit deleted every seen record and duplicates were
// no longer caught across restarts. The count is now taken from the
// records at open and the pruning arithmetic is checked: every seen id
// survives the next commits and a reopen.
func TestSeenCountLoweredKeepsSeen(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	seenSync(t, h, []uint64{1, 2, 3, 4, 5})
	seenSync(t, h, []uint64{6, 7, 8, 9, 10})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	updateRaw(t, path, func(tx *bolt.Tx) error {
		return putU64(tx.Bucket(bucketMeta), metaSeenCount, 1)
	})
	h = openTestDB(t, path, Options{})
	seenSync(t, h, []uint64{11})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h = openTestDB(t, path, Options{})
	st, _ := h.Load()
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(st.Seen, want) {
		t.Fatalf("seen ids after a lowered seen_count: %v, want %v", st.Seen, want)
	}
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, v))
}

// fileStateOf reads the sealed state of the (closed) file at path, under
// testKey.
func fileStateOf(t testing.TB, path string) *fileState {
	t.Helper()
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	dk, err := digestKeyFor(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var s *fileState
	viewRaw(t, path, func(tx *bolt.Tx) error {
		s, err = openState(a, tx.Bucket(bucketMeta).Get(metaState), dk)
		return err
	})
	return s
}

// idsOnDisk returns the ids in the sealed records of set (setShowing or
// setSeen) of the closed file at path, in key order.
func idsOnDisk(t testing.TB, path string, set int) []uint64 {
	t.Helper()
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	fs := fileStateOf(t, path)
	pre := map[int][]byte{setShowing: fs.showingAD(), setSeen: fs.seenAD()}[set]
	var ids []uint64
	viewRaw(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(setBuckets[set]).ForEach(func(k, v []byte) error {
			pt, err := openIDs(a, pre, k, v)
			if err != nil {
				return err
			}
			for ; len(pt) > 0; pt = pt[8:] {
				ids = append(ids, binary.BigEndian.Uint64(pt))
			}
			return nil
		})
	})
	return ids
}

// copyTestdata copies testdata/name into a temporary directory and
// returns its path.
func copyTestdata(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keys6302 returns the history key and the legacy key of testdata's
// identity for the peer of testdata/6302def.db.
func keys6302(t testing.TB) (key, legacy [32]byte) {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join("testdata", "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.ParseIdentityPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if key, err = crypto.HistoryKey(id, "127.0.0.1:4001"); err != nil {
		t.Fatal(err)
	}
	if legacy, err = crypto.LegacyHistoryKey(id, "127.0.0.1:4001"); err != nil {
		t.Fatal(err)
	}
	return key, legacy
}

// TestMigrate6302def (issue 16 items 4-7 and 9): a database written by
// duet at 6302def (format 2, under the legacy history key) opens, is
// migrated once (format 3, sealed state, the stable history key) and keeps
// its history, queued messages, seen ids and showing marks; its queued
// messages can still be delivered. Reopened, it opens under the new key
// alone, without a warning.
func TestMigrate6302def(t *testing.T) {
	path := copyTestdata(t, "6302def.db")
	key, legacy := keys6302(t)
	if _, err := Open(path, key, Options{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open without the legacy key: %v, want ErrWrongKey", err)
	}
	h, err := Open(path, key, Options{LegacyKey: &legacy})
	if err != nil {
		t.Fatalf("Open with the legacy key: %v", err)
	}
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], "stable derivation") || !strings.Contains(w[0], path) {
		t.Errorf("warnings %q, want one saying the file was sealed again", w)
	}
	st, _ := h.Load()
	if got := fmt.Sprint(chatIDs(st.Outbox)); got != "[1 2 3]" || st.Outbox[2].Text != "queued three 🔒" {
		t.Errorf("outbox %v", st.Outbox)
	}
	if !slices.Equal(st.Seen, []uint64{101, 201, 202}) || !slices.Equal(st.Interrupted, []uint64{102}) {
		t.Errorf("seen %v interrupted %v, want [101 201 202] [102]", st.Seen, st.Interrupted)
	}
	es, _, err := h.Last(100)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range es {
		texts = append(texts, e.Text)
	}
	if got := strings.Join(texts, "|"); got != "queued one|queued two|queued three 🔒|delivered four|received 101|received 102 (shown, not yet seen)" {
		t.Errorf("history %q", got)
	}
	// The queued messages can still be sent: delivered, they leave the
	// outbox; a new one is queued after them.
	if err := h.Queue([]protocol.Chat{{ID: 5, SentAt: 5, Text: "after the migration"}}); err != nil {
		t.Fatal(err)
	}
	h.Delivered([]uint64{1, 2, 3})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	viewRaw(t, path, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaVersion); !bytes.Equal(v, []byte{formatVersion}) {
			t.Errorf("format version %x after the migration", v)
		}
		for _, k := range [][]byte{metaSeq, metaCount, metaOutSeq, metaShowSeq, metaSeenSeq, metaSeenCount} {
			if meta.Get(k) != nil {
				t.Errorf("plaintext counter %s left", k)
			}
		}
		return nil
	})
	h, err = Open(path, key, Options{})
	if err != nil {
		t.Fatalf("reopen under the new key alone: %v", err)
	}
	defer h.Close()
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings at the second open: %q", w)
	}
	st, _ = h.Load()
	if got := fmt.Sprint(chatIDs(st.Outbox)); got != "[5]" {
		t.Errorf("outbox after delivery %s, want [5]", got)
	}
	if n, _ := h.Len(); n != 7 {
		t.Errorf("Len = %d, want 7", n)
	}
}

// TestMigrateAllOrNothing: a format 2 file whose outbox record fails
// authentication is not migrated at all: Open fails naming the file and
// the file is left byte for byte as it was.
func TestMigrateAllOrNothing(t *testing.T) {
	path := copyTestdata(t, "6302def.db")
	key, legacy := keys6302(t)
	updateRaw(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).Put(u64Key(99), bytes.Repeat([]byte{1}, 60))
	})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, key, Options{LegacyKey: &legacy}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open: %v, want ErrCorrupt naming the file", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a failed migration changed the file")
	}
}

// rawGet returns a copy of the value at key k of bucket b in the closed
// file at path (nil if none).
func rawGet(t testing.TB, path string, b, k []byte) []byte {
	t.Helper()
	var v []byte
	viewRaw(t, path, func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(b).Get(k))
		return nil
	})
	return v
}

// checkRefused checks that Open of path fails with an error wrapping
// ErrTampered that names the file and says what differs (want), and that
// the file is left as it was.
func checkRefused(t *testing.T, path, want string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(path, testKey, Options{})
	if err == nil {
		st, _ := h.Load()
		h.Close()
		t.Fatalf("Open accepted a file that does not match its state; outbox %v", chatIDs(st.Outbox))
	}
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "sent nothing") {
		t.Fatalf("Open: %v; want ErrTampered naming the file, saying %q and that nothing was sent", err, want)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the refused file was changed")
	}
}

// queueRecords queues each text as its own outbox record (ids from 1).
func queueRecords(t testing.TB, h *DB, texts ...string) {
	t.Helper()
	for i, text := range texts {
		if err := h.Queue([]protocol.Chat{{ID: uint64(i + 1), SentAt: int64(i + 1), Text: text}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOutboxRecordRemovedRefused (issue 16 item 4): an outbox record
// deleted from the file by hand (an undelivered message lost, then shown
// as delivered) is found at open: duet refuses to start, says how many
// records are missing, sends nothing and changes nothing.
func TestOutboxRecordRemovedRefused(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	queueRecords(t, h, "first", "pay 100 to carol", "third")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	updateRaw(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Delete(u64Key(2)) })
	checkRefused(t, path, "1 outbox records missing")
}

// TestOutSeqResetNoOverwrite (issue 16 item 4): the plaintext out_seq
// that format 2 kept, reset so that the next send overwrote a queued
// message, no longer exists: the sequence number is in the sealed state;
// a message queued after the reset is added, and every earlier one is
// kept.
func TestOutSeqResetNoOverwrite(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	queueRecords(t, h, "first", "second")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	updateRaw(t, path, func(tx *bolt.Tx) error { return putU64(tx.Bucket(bucketMeta), metaOutSeq, 0) })
	h = openTestDB(t, path, Options{})
	if err := h.Queue([]protocol.Chat{{ID: 9, SentAt: 9, Text: "after the reset"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h = openTestDB(t, path, Options{})
	st, _ := h.Load()
	if got := fmt.Sprint(chatIDs(st.Outbox)); got != "[1 2 9]" {
		t.Fatalf("outbox %s, want [1 2 9]: a queued message was overwritten", got)
	}
}

// TestOutboxKeyNeverOverwritten: a write that would put an outbox record
// on a key in use (the sequence number gone back) fails with
// ErrOutboxKeyExists; the transaction is rolled back and both messages
// stay queued.
func TestOutboxKeyNeverOverwritten(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	queueRecords(t, h, "queued")
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	var d *deliveryTx
	err := h.bolt.Update(func(tx *bolt.Tx) error {
		s, err := h.readState(tx)
		if err != nil {
			return err
		}
		s.outSeq-- // as if it had gone back
		if d, err = h.beginDelivery(tx, s); err != nil {
			return err
		}
		_, err = d.queue([]protocol.Chat{{ID: 2, SentAt: 2, Text: "would overwrite"}})
		return err
	})
	if !errors.Is(err, ErrOutboxKeyExists) {
		t.Fatalf("queue on a key in use: %v, want ErrOutboxKeyExists", err)
	}
	d.rollback()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := outboxRecords(t, path); len(recs) != 1 || recs[0][0].Text != "queued" {
		t.Fatalf("outbox records %v after the refused overwrite", recs)
	}
}

// TestOutboxCopyBackRefused (issue 16 item 5): a delivered outbox record
// copied back from an older copy of the file opened and was sent again.
// Its key is no longer in the sealed key set: duet refuses to start,
// sends nothing, and says a record is not the file's.
func TestOutboxCopyBackRefused(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	queueRecords(t, h, "pay 100 to carol", "still queued")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	old := rawGet(t, path, bucketOutbox, u64Key(1))
	h = openTestDB(t, path, Options{})
	h.Delivered([]uint64{1})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	updateRaw(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Put(u64Key(1), old) })
	checkRefused(t, path, "1 outbox records not written by this file")
}

// TestSeenRemovedWarns (issue 16 item 5): seen and showing records are
// sealed (no id is in the file in plaintext, a changed one fails
// authentication) and in the state's key set: a seen record removed by
// hand (so a resent old message would show as new) is reported by name
// at open; duet goes on with the rest (nothing is queued there to lose)
// and warns once.
func TestSeenRemovedWarns(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	seenSync(t, h, []uint64{0x1111222233334444})
	seenSync(t, h, []uint64{0x5555666677778888})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if offs := everyCopy(data, u64Key(0x1111222233334444)); len(offs) != 0 {
		t.Fatal("a seen id is in the file in plaintext")
	}
	updateRaw(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketSeen).Delete(u64Key(1)) })
	h = openTestDB(t, path, Options{})
	w := h.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], path) || !strings.Contains(w[0], "1 seen records missing") {
		t.Fatalf("warnings %q, want one naming the file and the missing seen record", w)
	}
	st, _ := h.Load()
	if !slices.Equal(st.Seen, []uint64{0x5555666677778888}) {
		t.Fatalf("seen %x", st.Seen)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Fatalf("warned again: %q", w)
	}
}

// TestRecordsOfAnotherFileDoNotOpen (issue 16 item 6): a database moved
// away and its replacement share the key, but not the file id: a record
// of the old file copied into the new one does not open there (it is
// skipped as damaged, and reported as not the file's).
func TestRecordsOfAnotherFileDoNotOpen(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	h.Add(protocol.HistoryEntry{ID: 1, Text: "from the old file", At: histT0})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	h = openTestDB(t, path, Options{})
	h.Add(protocol.HistoryEntry{ID: 2, Text: "in the new file", At: histT0.Add(time.Hour)})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	var k, v []byte
	viewRaw(t, path+".old", func(tx *bolt.Tx) error {
		k, v = tx.Bucket(bucketHistory).Cursor().First()
		k, v = bytes.Clone(k), bytes.Clone(v)
		return nil
	})
	updateRaw(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketHistory).Put(k, v) })
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], "1 history records not written by this file") {
		t.Errorf("warnings %q", w)
	}
	es, _, err := h.Last(10)
	if !errors.Is(err, ErrHistorySkipped) || len(es) != 1 || es[0].ID != 2 {
		t.Fatalf("history %v, %v: want only the new file's entry, the old record skipped", es, err)
	}
}

// TestClearNotUndone (issue 16 item 6): /clear could be undone by copying
// the cleared records back (and the count was then wrong). The clear
// epoch is in every history record's AD: records from before it do not
// open, the count stays 0, and the open says records are not the file's.
func TestClearNotUndone(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	for i := range 3 {
		h.Add(protocol.HistoryEntry{ID: uint64(i + 1), Text: "cleared", At: histT0.Add(time.Duration(i) * time.Second)})
		if err := h.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	type kv struct{ k, v []byte }
	var recs []kv
	viewRaw(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHistory).ForEach(func(k, v []byte) error {
			recs = append(recs, kv{bytes.Clone(k), bytes.Clone(v)})
			return nil
		})
	})
	h = openTestDB(t, path, Options{})
	if err := h.Clear(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	updateRaw(t, path, func(tx *bolt.Tx) error {
		for _, r := range recs {
			if err := tx.Bucket(bucketHistory).Put(r.k, r.v); err != nil {
				return err
			}
		}
		return nil
	})
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], "3 history records not written by this file") {
		t.Errorf("warnings %q", w)
	}
	if es, _, _ := h.Last(10); len(es) != 0 {
		t.Fatalf("cleared entries back: %v", es)
	}
	if n, _ := h.Len(); n != 0 {
		t.Fatalf("Len = %d after /clear and a copy-back, want 0", n)
	}
}

// TestStateTamperedRefused: a sealed state that is missing, damaged or
// from another file (sealed under another key) is refused with
// ErrTampered naming the file; nothing is changed.
func TestStateTamperedRefused(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	queueRecords(t, h, "queued")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	good := rawGet(t, path, bucketMeta, metaState)
	for _, tc := range []struct {
		name string
		v    []byte // nil: deleted
	}{
		{"missing", nil},
		{"flipped", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1)},
		{"short", good[:10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.db")
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			updateRaw(t, p, func(tx *bolt.Tx) error {
				if tc.v == nil {
					return tx.Bucket(bucketMeta).Delete(metaState)
				}
				return tx.Bucket(bucketMeta).Put(metaState, tc.v)
			})
			checkRefused(t, p, "sealed state")
		})
	}
}
