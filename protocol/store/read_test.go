package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"duet/protocol"
)

// markReadSync calls PeerRead and waits until the marks are committed.
func markReadSync(t testing.TB, h *DB, ids ...uint64) {
	t.Helper()
	h.PeerRead(ids)
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
}

// readRecords returns the keys of the read records of the closed file at
// path, in order.
func readRecords(t testing.TB, path string) [][]byte {
	t.Helper()
	var keys [][]byte
	viewRaw(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRead)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	})
	return keys
}

func closeDB(t testing.TB, h *DB) {
	t.Helper()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReadMarksSurviveReopen (issue 17): the peer's read marks are kept
// across a restart; an id never marked is not read; marking an id twice
// writes it once; the file holds no id in the clear.
func TestReadMarksSurviveReopen(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	if err := h.Queue([]protocol.Chat{{ID: 0x1111222233334444, SentAt: 1, Text: "ours"}, {ID: 7, SentAt: 1, Text: "ours too"}}); err != nil {
		t.Fatal(err)
	}
	h.PeerRead([]uint64{0x1111222233334444})
	if !h.ReadByPeer(0x1111222233334444) {
		t.Fatal("not read at once after PeerRead")
	}
	markReadSync(t, h, 0x1111222233334444, 9)
	closeDB(t, h)
	if n := len(readRecords(t, path)); n != 1 {
		t.Errorf("%d read records, want 1 (the marks of one commit share a record)", n)
	}
	viewRaw(t, path, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRead).Get(u64Key(1)); len(v) != valueMinLen+2*8 {
			t.Errorf("read record of %d bytes, want 2 ids (the repeated one written once)", len(v))
		}
		return nil
	})
	viewRaw(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRead).ForEach(func(_, v []byte) error {
			if bytes.Contains(v, []byte{0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44}) {
				t.Error("a read record holds an id in the clear")
			}
			return nil
		})
	})

	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	for id, want := range map[uint64]bool{0x1111222233334444: true, 9: true, 7: false, 8: false} {
		if got := h.ReadByPeer(id); got != want {
			t.Errorf("after reopen ReadByPeer(%d) = %v, want %v", id, got, want)
		}
	}
}

// TestReadMarksBounded: at most MaxReadMarks ids are kept (by whole
// records, the oldest go first), on disk and after a reopen.
func TestReadMarksBounded(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	const batches = MaxReadMarks/readRecordIDs + 3
	id := uint64(0)
	for range batches {
		ids := make([]uint64, readRecordIDs)
		for i := range ids {
			id++
			ids[i] = id
		}
		markReadSync(t, h, ids...)
	}
	closeDB(t, h)
	if n := len(readRecords(t, path)); n != MaxReadMarks/readRecordIDs {
		t.Errorf("%d read records on disk, want %d", n, MaxReadMarks/readRecordIDs)
	}
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	oldestKept := id - MaxReadMarks + 1
	if h.ReadByPeer(oldestKept-1) || !h.ReadByPeer(oldestKept) || !h.ReadByPeer(id) || h.ReadByPeer(1) {
		t.Errorf("after reopen: read(%d)=%v read(%d)=%v read(%d)=%v read(1)=%v; want the newest %d kept",
			oldestKept-1, h.ReadByPeer(oldestKept-1), oldestKept, h.ReadByPeer(oldestKept), id, h.ReadByPeer(id), h.ReadByPeer(1), MaxReadMarks)
	}
	if n := len(h.reads.set); n != MaxReadMarks {
		t.Errorf("%d ids in memory, want %d", n, MaxReadMarks)
	}
}

// TestReadMarkRecordRemovedWarns: a read record removed by hand is found
// at open (the state's key set) and said; its marks show as not read, the
// others stay, and the warning is given once.
func TestReadMarkRecordRemovedWarns(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	markReadSync(t, h, 1, 2)
	markReadSync(t, h, 3)
	closeDB(t, h)
	updateRaw(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketRead).Delete(u64Key(1)) })

	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], "1 read mark records missing") || !strings.Contains(w[0], path) {
		t.Errorf("warnings %q, want one naming the file and the missing read record", w)
	}
	if h.ReadByPeer(1) || h.ReadByPeer(2) || !h.ReadByPeer(3) {
		t.Errorf("read 1 %v, 2 %v, 3 %v: want false false true", h.ReadByPeer(1), h.ReadByPeer(2), h.ReadByPeer(3))
	}
	closeDB(t, h)
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings at the second open: %q", w)
	}
}

// TestReadMarkRecordCopiedDoesNotOpen: a read record copied under another
// key (or copied back after it was pruned) is found by the key set, and
// does not open (its key is in its AD): it marks nothing.
func TestReadMarkRecordCopiedDoesNotOpen(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	markReadSync(t, h, 1)
	closeDB(t, h)
	updateRaw(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRead)
		v := bytes.Clone(b.Get(u64Key(1)))
		if err := b.Delete(u64Key(1)); err != nil {
			return err
		}
		return b.Put(u64Key(50), v)
	})
	h = openTestDB(t, path, Options{})
	w := strings.Join(h.Warnings(), "\n")
	if !strings.Contains(w, "read mark records replaced") || !strings.Contains(w, "1 damaged read-mark records skipped") {
		t.Errorf("warnings %q, want the replaced set and the skipped record", w)
	}
	if h.ReadByPeer(1) {
		t.Error("a moved record still marks its id read")
	}
	// Marks go on after it (the next key comes from the state's sequence).
	markReadSync(t, h, 2)
	if !h.ReadByPeer(2) {
		t.Error("a new mark after the warning is not read")
	}
}

// TestReadMarkDamagedSkipped: a read record whose bytes are damaged is
// skipped (a cosmetic mark never stops duet), with a warning naming the
// file; the other marks and the queued messages are intact.
func TestReadMarkDamagedSkipped(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	if err := h.Queue([]protocol.Chat{{ID: 5, SentAt: 1, Text: "queued"}}); err != nil {
		t.Fatal(err)
	}
	markReadSync(t, h, 1)
	markReadSync(t, h, 2)
	closeDB(t, h)
	updateRaw(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRead)
		v := bytes.Clone(b.Get(u64Key(1)))
		v[len(v)-1] ^= 0x40
		return b.Put(u64Key(1), v)
	})
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 1 || !strings.Contains(w[0], "1 damaged read-mark records skipped") || !strings.Contains(w[0], path) {
		t.Errorf("warnings %q", w)
	}
	if h.ReadByPeer(1) || !h.ReadByPeer(2) {
		t.Errorf("read 1 %v, 2 %v: want false true", h.ReadByPeer(1), h.ReadByPeer(2))
	}
	if st, _ := h.Load(); len(st.Outbox) != 1 || st.Outbox[0].ID != 5 {
		t.Errorf("outbox %v", st.Outbox)
	}
	markReadSync(t, h, 3) // writing goes on
}

// TestReadMarksNoHistory: with --no-history (and so in every front end
// that keeps nothing) no read mark is written.
func TestReadMarksNoHistory(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{NoHistory: true})
	markReadSync(t, h, 1, 2)
	if h.ReadByPeer(1) {
		t.Error("read without history")
	}
	closeDB(t, h)
	if n := len(readRecords(t, path)); n != 0 {
		t.Errorf("%d read records written with NoHistory", n)
	}
	h = openTestDB(t, path, Options{})
	if h.ReadByPeer(1) {
		t.Error("read after a run with NoHistory")
	}
}

// TestReadMarksCleared: /clear history deletes the read marks with the
// history, on disk and in memory.
func TestReadMarksCleared(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	markReadSync(t, h, 1)
	if err := h.Clear(); err != nil {
		t.Fatal(err)
	}
	if h.ReadByPeer(1) {
		t.Error("read after Clear")
	}
	markReadSync(t, h, 2)
	closeDB(t, h)
	if n := len(readRecords(t, path)); n != 1 {
		t.Errorf("%d read records after Clear and one mark, want 1", n)
	}
	h = openTestDB(t, path, Options{})
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	if h.ReadByPeer(1) || !h.ReadByPeer(2) {
		t.Errorf("after reopen read 1 %v, 2 %v: want false true", h.ReadByPeer(1), h.ReadByPeer(2))
	}
}

// TestReadMarksAfterClose: PeerRead after Close does nothing (no panic, no
// wait); Close commits the marks still queued.
func TestReadMarksAfterClose(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	h.PeerRead([]uint64{1})
	closeDB(t, h)
	h.PeerRead([]uint64{2})
	h = openTestDB(t, path, Options{})
	if !h.ReadByPeer(1) || h.ReadByPeer(2) {
		t.Errorf("read 1 %v, 2 %v: want true false", h.ReadByPeer(1), h.ReadByPeer(2))
	}
}

// TestMigrate4bdae26: a database written by duet at 4bdae26 (format 3,
// state version 1, no read marks) opens without a warning, keeps what it
// holds, becomes format 4, and keeps read marks from then on.
func TestMigrate4bdae26(t *testing.T) {
	path := copyTestdata(t, "4bdae26.db")
	key, _ := keys6302(t)
	h, err := Open(path, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	st, _ := h.Load()
	if got := fmt.Sprint(chatIDs(st.Outbox)); got != "[3]" || st.Outbox[0].Text != "queued three 🔒" {
		t.Errorf("outbox %v", st.Outbox)
	}
	if !slices.Equal(st.Seen, []uint64{101}) {
		t.Errorf("seen %v", st.Seen)
	}
	es, _, err := h.Last(10)
	var texts []string
	for _, e := range es {
		texts = append(texts, e.Text)
	}
	if got := strings.Join(texts, "|"); err != nil || got != "read one|delivered two|queued three 🔒|received 101" {
		t.Errorf("history %q, %v", got, err)
	}
	markReadSync(t, h, 1)
	closeDB(t, h)
	viewRaw(t, path, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaVersion); !bytes.Equal(v, []byte{formatVersion}) || formatVersion != 4 {
			t.Errorf("format version %x", v)
		}
		return nil
	})
	h, err = Open(path, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings at the second open %q", w)
	}
	if !h.ReadByPeer(1) || h.ReadByPeer(2) {
		t.Errorf("read 1 %v, 2 %v: want true false", h.ReadByPeer(1), h.ReadByPeer(2))
	}
}

// TestReadMarksDiskFullKept: marks whose commit finds the disk full are
// kept and committed once there is room (the writer's retry), without
// reopening; meanwhile they show as read.
func TestReadMarksDiskFullKept(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	h.SetWriteFault(func() error { return enospc(path) })
	h.PeerRead([]uint64{1, 2})
	if err := h.Flush(); !errors.Is(err, protocol.ErrDiskFull) {
		t.Fatalf("Flush on a full disk: %v", err)
	}
	if !h.ReadByPeer(1) {
		t.Error("a mark the disk refused is not read in this run")
	}
	h.SetWriteFault(nil)
	markReadSync(t, h, 3)
	closeDB(t, h)
	h = openTestDB(t, path, Options{})
	for _, id := range []uint64{1, 2, 3} {
		if !h.ReadByPeer(id) {
			t.Errorf("id %d not read after the disk had room again and a reopen", id)
		}
	}
}
