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
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
	"duet/protocol"
)

// chatIDs returns the ids of chats, in order.
func chatIDs(chats []protocol.Chat) []uint64 {
	ids := make([]uint64, len(chats))
	for i, c := range chats {
		ids[i] = c.ID
	}
	return ids
}

// checkChats compares chats field by field (Prev is always 0 in a Load).
func checkChats(t testing.TB, got, want []protocol.Chat) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d chats %v, want %d %v", len(got), chatIDs(got), len(want), chatIDs(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("chat %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// chatsByID picks chats out of all, in the order of ids.
func chatsByID(all []protocol.Chat, ids ...uint64) []protocol.Chat {
	var out []protocol.Chat
	for _, id := range ids {
		for _, c := range all {
			if c.ID == id {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// viewRaw opens path read-only with bbolt (the DB must be closed) and runs fn.
func viewRaw(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

// outboxRecords returns the outbox records in the file at path, decrypted,
// in key order.
func outboxRecords(t testing.TB, path string) [][]protocol.Chat {
	t.Helper()
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]protocol.Chat
	pre := fileStateOf(t, path).outboxAD()
	viewRaw(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			chats, err := openOutboxRecord(a, pre, k, v)
			if err != nil {
				return fmt.Errorf("outbox record %x: %w", k, err)
			}
			recs = append(recs, chats)
			return nil
		})
	})
	return recs
}

// everyCopy returns the offsets of every copy of val in data: bbolt copies
// pages on write, so freed pages may still hold older copies.
func everyCopy(data, val []byte) []int {
	var offs []int
	for from := 0; ; {
		i := bytes.Index(data[from:], val)
		if i < 0 {
			return offs
		}
		offs = append(offs, from+i)
		from += i + 1
	}
}

// writeFlipped writes a copy of the database data with one bit flipped at
// offset at of every copy of a value (offs, from everyCopy: bbolt copies
// pages on write, so freed pages may hold older copies) and returns its path.
func writeFlipped(t *testing.T, data []byte, offs []int, at int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "history.db")
	if err := os.WriteFile(p, flipped(data, offs, at), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flipped is data with one bit flipped at offset at of every copy (offs).
func flipped(data []byte, offs []int, at int) []byte {
	d := bytes.Clone(data)
	for _, off := range offs {
		d[off+at] ^= 0x20
	}
	return d
}

// TestDeliveryRoundTrip: what Queue, Delivered, Showing and Seen commit
// comes back after a reopen: the outbox in the order written minus the
// delivered messages, the seen ids in order, and the ids marked showing
// and never seen as interrupted. Load hands the state over once.
func TestDeliveryRoundTrip(t *testing.T) {
	path := testDBPath(t)
	h := openTestDB(t, path, Options{})
	if st, err := h.Load(); err != nil || len(st.Outbox)+len(st.Seen)+len(st.Interrupted) != 0 {
		t.Fatalf("Load of a new DB = %+v, %v; want an empty state", st, err)
	}
	at := func(i int) int64 { return histT0.Add(time.Duration(i) * time.Second).UnixNano() }
	groups := [][]protocol.Chat{
		{
			{ID: 1, SentAt: at(1), Text: "héllo wörld"},
			{ID: 2, SentAt: at(2), Text: "日本語のテキスト"},
			{ID: 3, SentAt: at(3), Text: "emoji 🎉🔐 and ZWJ 👩‍👩‍👧"},
		},
		{
			{ID: 4, SentAt: at(4), Text: "Ελληνικά"},
			{ID: 5, SentAt: at(5), Text: ""},
		},
		{
			{ID: 6, SentAt: at(6), Text: "русский текст"},
			{ID: 7, SentAt: at(7), Text: "line one\nline two"},
			{ID: 8, SentAt: at(8), Text: "עברית"},
			{ID: 2, SentAt: at(9), Text: "2 again: already queued, ignored"},
		},
	}
	for _, g := range groups {
		if err := h.Queue(g); err != nil {
			t.Fatal(err)
		}
	}
	all := slices.Concat(groups[0], groups[1], groups[2][:3])
	// All of the second record, part of the third; 999 was never queued.
	h.Delivered([]uint64{4, 7, 999})
	h.Delivered([]uint64{5})

	shown := []protocol.HistoryEntry{
		{ID: 100, Text: "ça va ?", At: histT0.Add(10 * time.Second)},
		{ID: 101, Text: "straße", At: histT0.Add(11 * time.Second)},
		{ID: 102, Text: "中文", At: histT0.Add(12 * time.Second)},
		{ID: 103, Text: "interrupted, alone in its record", At: histT0.Add(13 * time.Second)},
		{ID: 104, Text: "interrupted, its neighbour seen", At: histT0.Add(14 * time.Second)},
		{ID: 105, Text: "seen 🙂", At: histT0.Add(15 * time.Second)},
	}
	for _, g := range [][]protocol.HistoryEntry{shown[:3], shown[3:4], shown[4:]} {
		if err := h.Showing(g); err != nil {
			t.Fatal(err)
		}
	}
	var cbErrs []error
	cbDone := make(chan struct{}, 4)
	cb := func(err error) { cbErrs = append(cbErrs, err); cbDone <- struct{}{} }
	h.Seen([]uint64{101, 100, 102}, cb) // every id of the first showing record
	h.Seen([]uint64{200}, cb)           // never marked showing
	h.Seen([]uint64{105, 101}, cb)      // half of the third; 101 twice
	for range 3 {
		select {
		case <-cbDone:
		case <-time.After(5 * time.Second):
			t.Fatal("Seen callback not called")
		}
	}
	for _, err := range cbErrs {
		if err != nil {
			t.Fatalf("Seen callback: %v", err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	h = openTestDB(t, path, Options{})
	st, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	// 4 and 5 filled a record, which is gone. 7 was delivered but shares
	// its record with 6 and 8, which are not: only the in-memory index
	// dropped it, the record still holds it, so it is back in the outbox
	// after the reopen. Resending it is harmless: the peer has it in its
	// seen ids, drops the resend and acknowledges it again (which then
	// deletes the record once 6 and 8 are delivered too).
	checkChats(t, st.Outbox, chatsByID(all, 1, 2, 3, 6, 7, 8))
	if want := []uint64{101, 100, 102, 200, 105}; !slices.Equal(st.Seen, want) {
		t.Fatalf("Seen %v, want %v (in order, each once)", st.Seen, want)
	}
	if want := []uint64{103, 104}; !slices.Equal(st.Interrupted, want) {
		t.Fatalf("Interrupted %v, want %v", st.Interrupted, want)
	}
	if st2, err := h.Load(); err != nil || st2.Outbox != nil || st2.Seen != nil || st2.Interrupted != nil {
		t.Fatalf("second Load = %+v, %v; want an empty state (the Node owns it)", st2, err)
	}
	// Each message is in the history once: ours when queued (the ignored
	// re-queue of 2 is not), the peer's when marked showing.
	var want []protocol.HistoryEntry
	for _, c := range all {
		want = append(want, protocol.HistoryEntry{ID: c.ID, Own: true, Text: c.Text, At: time.Unix(0, c.SentAt)})
	}
	want = append(want, shown...)
	checkEntries(t, allHistory(t, h, 4), want)
	if n, err := h.Len(); err != nil || n != len(want) {
		t.Fatalf("Len = %d, %v; want %d", n, err, len(want))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// On disk: the second outbox record and the first showing record are
	// deleted.
	recs := outboxRecords(t, path)
	if len(recs) != 2 || !slices.Equal(chatIDs(recs[0]), []uint64{1, 2, 3}) || !slices.Equal(chatIDs(recs[1]), []uint64{6, 7, 8}) {
		t.Fatalf("outbox records %v, want [1 2 3] [6 7 8]", recs)
	}
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	pre := fileStateOf(t, path).showingAD()
	viewRaw(t, path, func(tx *bolt.Tx) error {
		var marks [][]uint64
		tx.Bucket(bucketShowing).ForEach(func(k, v []byte) error {
			v, err := openIDs(a, pre, k, v)
			if err != nil {
				t.Errorf("showing record %x: %v", k, err)
			}
			var ids []uint64
			for ; len(v) >= 8; v = v[8:] {
				ids = append(ids, binary.BigEndian.Uint64(v))
			}
			marks = append(marks, ids)
			return nil
		})
		if fmt.Sprint(marks) != "[[103] [104 105]]" {
			t.Errorf("showing records %v, want [[103] [104 105]]", marks)
		}
		return nil
	})
}

// TestDeliveryRecordsSplit: a large Queue is written as several outbox
// records, each of at most histRecordEntries messages and
// histRecordBytes of text, in order; once every message is delivered the
// outbox bucket is empty.
func TestDeliveryRecordsSplit(t *testing.T) {
	tests := []struct {
		name    string
		n, size int
		records int
	}{
		{"1 KiB texts: split by bytes", 600, 1 << 10, (600 + 63) / 64},
		{"1 byte texts: split by count", 600, 1, (600 + histRecordEntries - 1) / histRecordEntries},
		{"a text of MaxTextSize fills a record", 3, protocol.MaxTextSize, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := testDBPath(t)
			h := openTestDB(t, path, Options{})
			chats := make([]protocol.Chat, tc.n)
			for i := range chats {
				text := fmt.Sprintf("é%04d", i) // 6 bytes, 2 of them one rune
				text += strings.Repeat("x", max(0, tc.size-len(text)))
				text = text[:tc.size]
				if !utf8.ValidString(text) {
					text = strings.Repeat("y", tc.size)
				}
				chats[i] = protocol.Chat{ID: uint64(i + 1), SentAt: histT0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Text: text}
			}
			if err := h.Queue(chats); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			recs := outboxRecords(t, path)
			if len(recs) != tc.records {
				t.Fatalf("%d outbox records, want %d", len(recs), tc.records)
			}
			var got []protocol.Chat
			for i, r := range recs {
				size := 0
				for _, c := range r {
					size += len(c.Text)
				}
				if len(r) == 0 || len(r) > histRecordEntries || size > histRecordBytes {
					t.Fatalf("record %d: %d messages, %d bytes of text; want 1..%d and at most %d", i, len(r), size, histRecordEntries, histRecordBytes)
				}
				got = append(got, r...)
			}
			checkChats(t, got, chats)

			h = openTestDB(t, path, Options{})
			st, _ := h.Load()
			checkChats(t, st.Outbox, chats)
			ids := chatIDs(chats)
			h.Delivered(ids[:len(ids)/2])
			h.Delivered(ids[len(ids)/2:])
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			viewRaw(t, path, func(tx *bolt.Tx) error {
				if n := tx.Bucket(bucketOutbox).Stats().KeyN; n != 0 {
					t.Errorf("%d outbox records left after every message was delivered", n)
				}
				return nil
			})
			h = openTestDB(t, path, Options{})
			if st, _ := h.Load(); len(st.Outbox) != 0 {
				t.Fatalf("outbox after delivery: %d messages", len(st.Outbox))
			}
			// The history keeps our messages.
			if n, _ := h.Len(); n != tc.n {
				t.Fatalf("Len = %d, want %d", n, tc.n)
			}
		})
	}
}

// TestDeliverySeenPruned: the oldest seen records are deleted while the
// newer ones hold at least MaxSeenIDs ids; the newest MaxSeenIDs are
// always kept.
func TestDeliverySeenPruned(t *testing.T) {
	if testing.Short() {
		t.Skip("writes millions of seen ids")
	}
	ids := func(from, n int) []uint64 {
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(from + i)
		}
		return out
	}
	tests := []struct {
		name  string
		calls [][]uint64 // Seen calls, oldest first
		want  []uint64   // the ids in the seen records kept (Load returns the newest MaxSeenIDs)
	}{
		{
			// The newer record alone holds MaxSeenIDs ids: the older goes.
			name:  "exactly MaxSeenIDs kept",
			calls: [][]uint64{ids(1, 100_000), ids(1<<30, protocol.MaxSeenIDs)},
			want:  ids(1<<30, protocol.MaxSeenIDs),
		},
		{
			// Below the bound nothing goes.
			name:  "below the bound",
			calls: [][]uint64{ids(1, 300_000), ids(1<<30, 600_000)},
			want:  slices.Concat(ids(1, 300_000), ids(1<<30, 600_000)),
		},
		{
			// Records go whole: the first (400,000) goes since 1,100,000
			// remain; the second (700,000) stays since only 400,000 would.
			name:  "whole records",
			calls: [][]uint64{ids(1, 400_000), ids(1<<30, 700_000), ids(1<<31, 400_000)},
			want:  slices.Concat(ids(1<<30, 700_000), ids(1<<31, 400_000)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := testDBPath(t)
			h := openTestDB(t, path, Options{})
			for _, c := range tc.calls {
				errc := make(chan error, 1)
				h.Seen(c, func(err error) { errc <- err })
				if err := <-errc; err != nil { // one commit per call: one record each
					t.Fatal(err)
				}
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			h = openTestDB(t, path, Options{})
			st, _ := h.Load()
			if want := tc.want[max(0, len(tc.want)-protocol.MaxSeenIDs):]; !slices.Equal(st.Seen, want) {
				t.Fatalf("Seen holds %d ids, want %d", len(st.Seen), len(want))
			}
			newest := slices.Concat(tc.calls...)
			newest = newest[max(0, len(newest)-protocol.MaxSeenIDs):]
			if len(st.Seen) < len(newest) || !slices.Equal(st.Seen[len(st.Seen)-len(newest):], newest) {
				t.Fatalf("the newest %d ids are not all kept", len(newest))
			}
			h.Close()
			if n := len(idsOnDisk(t, path, setSeen)); n != len(tc.want) {
				t.Errorf("%d ids in the seen records, want %d", n, len(tc.want))
			}
			t.Run("at most MaxSeenIDs", func(t *testing.T) {
				if len(st.Seen) > protocol.MaxSeenIDs {
					t.Fatalf("Load().Seen holds %d ids, more than MaxSeenIDs (%d)", len(st.Seen), protocol.MaxSeenIDs)
				}
			})
		})
	}
}

// buildOutboxFile queues n messages of about 1 KiB in several Queue calls
// and closes the DB.
func buildOutboxFile(t testing.TB, n int) (string, []protocol.Chat) {
	t.Helper()
	path := testDBPath(t)
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var chats []protocol.Chat
	for i := range n {
		chats = append(chats, protocol.Chat{ID: uint64(i + 1), SentAt: histT0.Add(time.Duration(i) * time.Second).UnixNano(), Text: fmt.Sprintf("queued %d %s", i, strings.Repeat("ü", 500))})
	}
	for g := range slices.Chunk(chats, 50) {
		if err := h.Queue(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return path, chats
}

// TestDeliveryOutboxDamaged: an outbox record that fails authentication
// makes Open fail (ErrCorrupt, naming the file and the lost queued
// messages): queued messages are never dropped silently. A file cut below
// bbolt's high-water mark fails too.
func TestDeliveryOutboxDamaged(t *testing.T) {
	orig, _ := buildOutboxFile(t, 600)
	var val []byte
	viewRaw(t, orig, func(tx *bolt.Tx) error {
		// A record in the middle of the outbox.
		c := tx.Bucket(bucketOutbox).Cursor()
		k, v := c.First()
		for range 5 {
			k, v = c.Next()
		}
		if k == nil {
			return errors.New("fewer than 6 outbox records")
		}
		val = bytes.Clone(v)
		return nil
	})
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	offs := everyCopy(data, val)
	if len(offs) == 0 {
		t.Fatal("outbox record not found in the file")
	}
	for _, where := range []struct {
		name string
		at   int
	}{{"version", 0}, {"nonce", 1}, {"ciphertext", 1 + crypto.NonceSize + 3}, {"text", 1 + crypto.NonceSize + outMsgHeader + 7}, {"tag", len(val) - 1}} {
		t.Run(where.name, func(t *testing.T) {
			p := writeFlipped(t, data, offs, where.at)
			h, err := Open(p, testKey, Options{})
			if err == nil {
				h.Close()
				t.Fatal("Open of a file with a damaged outbox record succeeded")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "queued messages in it cannot be read") {
				t.Fatalf("err = %v, want ErrCorrupt naming %s and the queued messages", err, p)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(after, flipped(data, offs, where.at)) {
				t.Fatal("the refused file was changed")
			}
		})
	}

	// The intact file opens (the flips above are what fails).
	h, err := Open(orig, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := h.Load()
	h.Close()
	if len(st.Outbox) != 600 {
		t.Fatalf("intact file: %d queued messages, want 600", len(st.Outbox))
	}

	var hw int
	viewRaw(t, orig, func(tx *bolt.Tx) error { hw = int(tx.Size()); return nil })
	if hw > len(data) || hw < 16*4096 {
		t.Fatalf("high-water mark %d, file %d bytes", hw, len(data))
	}
	for _, size := range []int{1, 4096, 4 * 4096, hw / 2, hw - 4096, hw - 1} {
		t.Run(fmt.Sprint("truncated to ", size), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "history.db")
			if err := os.WriteFile(p, data[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := Open(p, testKey, Options{})
			if err == nil {
				h.Close()
				t.Fatal("Open of a truncated file succeeded")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want ErrCorrupt naming %s", err, p)
			}
		})
	}
}

// TestDeliveryNoPlaintext: neither queued messages nor messages marked
// showing appear in the file in clear, with or without history.
func TestDeliveryNoPlaintext(t *testing.T) {
	const ours, theirs = "the falcon flies at dawn ✈", "la contraseña es pájaro"
	for _, opt := range []struct {
		name string
		opt  Options
	}{{"history", Options{}}, {"no history", Options{NoHistory: true}}} {
		t.Run(opt.name, func(t *testing.T) {
			path := testDBPath(t)
			h := openTestDB(t, path, opt.opt)
			var chats []protocol.Chat
			var shown []protocol.HistoryEntry
			for i := range 50 {
				chats = append(chats, protocol.Chat{ID: uint64(i + 1), SentAt: histT0.UnixNano(), Text: fmt.Sprintf("%s %d", ours, i)})
				shown = append(shown, protocol.HistoryEntry{ID: uint64(1000 + i), Text: fmt.Sprintf("%s %d", theirs, i), At: histT0})
			}
			if err := h.Queue(chats); err != nil {
				t.Fatal(err)
			}
			if err := h.Showing(shown); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{ours, theirs, "falcon", "dawn", "contraseña", "pájaro"} {
				if bytes.Contains(data, []byte(s)) {
					t.Fatalf("file contains %q", s)
				}
			}
			// And they are there, under the key.
			h = openTestDB(t, path, Options{})
			st, _ := h.Load()
			if len(st.Outbox) != 50 || len(st.Interrupted) != 50 || st.Outbox[0].Text != ours+" 0" {
				t.Fatalf("outbox %d, interrupted %d", len(st.Outbox), len(st.Interrupted))
			}
		})
	}
}

// writeV1File makes a format version 1 file holding entries: a current
// file taken back to version 1 by hand (one value per entry, a
// "history_ids" bucket, no delivery buckets).
func writeV1File(t testing.TB, entries []protocol.HistoryEntry) string {
	t.Helper()
	path := testDBPath(t)
	h, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOutbox, bucketSeen, bucketShowing, bucketHistory} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		hist, err := tx.CreateBucket(bucketHistory)
		if err != nil {
			return err
		}
		ids, err := tx.CreateBucket(bucketHistoryIDs)
		if err != nil {
			return err
		}
		for i, e := range entries {
			k := histKey(histTime(e.At), uint64(i+1))
			var flags byte
			if e.Own {
				flags |= histFlagOwn
			}
			if e.PossibleDuplicate {
				flags |= histFlagDup
			}
			pt := binary.BigEndian.AppendUint64([]byte{flags}, e.ID)
			pt = append(pt, e.Text...)
			nonce, err := randomNonce()
			if err != nil {
				return err
			}
			v := append([]byte{valueVersion}, nonce[:]...)
			v = a.Seal(v, &nonce, pt, k[:])
			if err := hist.Put(k[:], v); err != nil {
				return err
			}
			if err := ids.Put(binary.BigEndian.AppendUint64(nil, e.ID), k[:]); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(metaVersion, []byte{1}); err != nil {
			return err
		}
		if err := putU64(meta, metaSeq, uint64(len(entries))); err != nil {
			return err
		}
		return putU64(meta, metaCount, uint64(len(entries)))
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDBUpgradeV1: a format version 1 file opens: its entries come back in
// order with their texts, flags and times, rewritten as records; the file
// becomes version 3 with the delivery buckets and without "history_ids".
// A damaged version 1 entry fails the upgrade and leaves the file as it was.
func TestDBUpgradeV1(t *testing.T) {
	var entries []protocol.HistoryEntry
	for i := range 300 { // more than a record's worth
		entries = append(entries, protocol.HistoryEntry{
			ID:                uint64(i + 1),
			Own:               i%2 == 0,
			PossibleDuplicate: i%7 == 3,
			Text:              fmt.Sprintf("v1 entry %d: %s", i, strings.Repeat("ø", i%5)),
			At:                histT0.Add(time.Duration(i/3) * time.Second), // some share a time
		})
	}
	entries[10].Text = ""
	entries[11].Text = "👩‍👩‍👧 日本語"

	t.Run("upgrade", func(t *testing.T) {
		path := writeV1File(t, entries)
		h, err := Open(path, testKey, Options{})
		if err != nil {
			t.Fatalf("Open of a version 1 file: %v", err)
		}
		t.Cleanup(func() { h.Close() })
		checkEntries(t, allHistory(t, h, 64), entries)
		if n, err := h.Len(); err != nil || n != len(entries) {
			t.Fatalf("Len = %d, %v; want %d", n, err, len(entries))
		}
		if st, _ := h.Load(); len(st.Outbox)+len(st.Seen)+len(st.Interrupted) != 0 {
			t.Fatalf("Load after the upgrade = %+v, want empty", st)
		}
		// The upgraded file works as a version 2 one.
		if err := h.Queue([]protocol.Chat{{ID: 9999, SentAt: histT0.Add(time.Hour).UnixNano(), Text: "after the upgrade"}}); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		viewRaw(t, path, func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(metaVersion); len(v) != 1 || v[0] != formatVersion {
				t.Errorf("version %x, want %d", v, formatVersion)
			}
			if tx.Bucket(bucketHistoryIDs) != nil {
				t.Error(`"history_ids" bucket still there`)
			}
			for _, b := range [][]byte{bucketOutbox, bucketSeen, bucketShowing} {
				if tx.Bucket(b) == nil {
					t.Errorf("no %q bucket", b)
				}
			}
			n := 0
			tx.Bucket(bucketHistory).ForEach(func(_, v []byte) error { n += recordCount(v); return nil })
			if recs := tx.Bucket(bucketHistory).Stats().KeyN; recs >= len(entries) || n != len(entries)+1 {
				t.Errorf("history: %d records holding %d entries, want records holding %d", recs, n, len(entries)+1)
			}
			return nil
		})
		h = openTestDB(t, path, Options{})
		all := allHistory(t, h, 100)
		checkEntries(t, all[:len(entries)], entries)
		if st, _ := h.Load(); len(st.Outbox) != 1 || st.Outbox[0].ID != 9999 {
			t.Fatalf("outbox after reopen %+v", st.Outbox)
		}
	})

	t.Run("damaged entry", func(t *testing.T) {
		path := writeV1File(t, entries[:20])
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketHistory)
			k, v := b.Cursor().First()
			v = bytes.Clone(v)
			v[len(v)-1] ^= 1
			return b.Put(bytes.Clone(k), v)
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		h, err := Open(path, testKey, Options{})
		if err == nil {
			h.Close()
			t.Fatal("Open of a version 1 file with a damaged entry succeeded")
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want ErrCorrupt naming %s", err, path)
		}
		viewRaw(t, path, func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(metaVersion); len(v) != 1 || v[0] != 1 {
				t.Errorf("version %x after a failed upgrade, want 1", v)
			}
			if tx.Bucket(bucketHistoryIDs) == nil || tx.Bucket(bucketOutbox) != nil || tx.Bucket(bucketHistory).Stats().KeyN != 20 {
				t.Error("a failed upgrade changed the file")
			}
			return nil
		})
	})
}

// TestQueuedAtOpen: an own message is reported queued at open exactly when
// it was still in the outbox when the database was opened; one delivered before, one queued only in this run and an unknown
// id are not.
func TestQueuedAtOpen(t *testing.T) {
	path := testDBPath(t)
	at := func(i int) int64 { return histT0.Add(time.Duration(i) * time.Second).UnixNano() }
	h := openTestDB(t, path, Options{})
	// Two outbox records: a record keeps a delivered message until all of
	// its messages are delivered (the next run resends it, and the peer
	// acknowledges it again).
	for _, c := range []protocol.Chat{{ID: 1, SentAt: at(1), Text: "delivered"}, {ID: 2, SentAt: at(2), Text: "waiting"}} {
		if err := h.Queue([]protocol.Chat{c}); err != nil {
			t.Fatal(err)
		}
	}
	h.Delivered([]uint64{1})
	if h.QueuedAtOpen(1) || h.QueuedAtOpen(2) {
		t.Fatal("queued in this run: reported as queued at open")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	h = openTestDB(t, path, Options{})
	for _, c := range []struct {
		id   uint64
		want bool
	}{{1, false}, {2, true}, {3, false}} {
		if got := h.QueuedAtOpen(c.id); got != c.want {
			t.Errorf("QueuedAtOpen(%d) = %v, want %v", c.id, got, c.want)
		}
	}
	// Delivered in this run: still "queued at open" (the front end moves
	// it on from the node's events); the state does not change under it.
	h.Delivered([]uint64{2})
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if !h.QueuedAtOpen(2) {
		t.Error("QueuedAtOpen changed after open")
	}
}
