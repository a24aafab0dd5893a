package store

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duet/protocol"
)

// searchDB holds 700 entries in 7 records of 100 ("message i"), every
// 10th also containing "Needle" (mixed case).
func searchDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := testDBPath(t)
	h := openOneRecordPerFlush(t, path)
	for r := range 7 {
		for j := range 100 {
			i := r*100 + j
			text := fmt.Sprintf("message %d", i)
			if i%10 == 0 {
				text += " with a NeEdLe"
			}
			h.Add(protocol.HistoryEntry{ID: uint64(i + 1), Text: text, At: histT0.Add(time.Duration(i) * time.Second)})
		}
		if err := h.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return h, path
}

// TestSearch: hits come newest first, case-insensitively; paging by n
// returns every hit exactly once; each hit's Pos gives the entries before
// it; an empty query or n 0 finds nothing.
func TestSearch(t *testing.T) {
	h, _ := searchDB(t)
	var ids []uint64
	var c HistoryCursor
	for calls := 0; ; calls++ {
		hits, next, done, err := h.Search("needle", c, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, hit := range hits {
			ids = append(ids, hit.Entry.ID)
			before, _, err := h.Before(hit.Pos, 1)
			if err != nil {
				t.Fatal(err)
			}
			if hit.Entry.ID > 1 && (len(before) != 1 || before[0].ID != hit.Entry.ID-1) {
				t.Errorf("Before(hit %d's Pos, 1) = %+v, want entry %d", hit.Entry.ID, before, hit.Entry.ID-1)
			}
		}
		c = next
		if done || calls > 100 {
			break
		}
		if len(hits) == 0 {
			t.Fatal("a call found nothing and is not done")
		}
	}
	if len(ids) != 70 {
		t.Fatalf("%d hits, want 70: %v", len(ids), ids)
	}
	for k, id := range ids {
		if want := uint64(691 - 10*k); id != want {
			t.Fatalf("hit %d is entry %d, want %d (newest first, each once)", k, id, want)
		}
	}
	if hits, _, _, _ := h.Search("", HistoryCursor{}, 10); len(hits) != 0 {
		t.Errorf("empty query: %d hits", len(hits))
	}
	if hits, _, _, _ := h.Search("needle", HistoryCursor{}, 0); len(hits) != 0 {
		t.Errorf("n 0: %d hits", len(hits))
	}
	if hits, _, done, err := h.Search("not there", HistoryCursor{}, 10); len(hits) != 0 || !done || err != nil {
		t.Errorf("no match: %d hits, done %v, %v", len(hits), done, err)
	}
}

// TestSearchSkipsDamaged: a record that fails authentication is skipped
// with ErrHistorySkipped; the hits of the others are found.
func TestSearchSkipsDamaged(t *testing.T) {
	h, path := searchDB(t)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h = openTestDB(t, withDamagedRecords(t, data, []int{6}), Options{})
	var n int
	var c HistoryCursor
	var skippedErr error
	for {
		hits, next, done, err := h.Search("needle", c, 100)
		if err != nil {
			if !errors.Is(err, ErrHistorySkipped) {
				t.Fatal(err)
			}
			skippedErr = err
		}
		n += len(hits)
		c = next
		if done {
			break
		}
	}
	if n != 60 || skippedErr == nil {
		t.Errorf("%d hits (want 60: one record of 10 damaged), skipped error %v", n, skippedErr)
	}
}

// recordIDs returns the entry ids of each history record, oldest record
// first, as the file holds them.
func recordIDs(t *testing.T, db *DB) [][]uint64 {
	t.Helper()
	var recs [][]uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		s, err := db.readState(tx)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketHistory).ForEach(func(k, v []byte) error {
			es, err := openRecord(db.aead, s.histAD(), k, v)
			if err != nil {
				return err
			}
			var ids []uint64
			for _, e := range es {
				ids = append(ids, e.ID)
			}
			recs = append(recs, ids)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestSearchReadsBoundedRecords: one call reads at most
// searchRecordsPerCall records and says whether it reached the start; a
// search that stops on the oldest entry is done, one that stops on the
// first entry of a newer record is not.
func TestSearchReadsBoundedRecords(t *testing.T) {
	h, _ := searchDB(t)
	recs := recordIDs(t, h)
	if len(recs) != 7 {
		t.Fatalf("%d history records, want one per flush (7)", len(recs))
	}
	old := searchRecordsPerCall
	searchRecordsPerCall = 2
	t.Cleanup(func() { searchRecordsPerCall = old })

	var c HistoryCursor
	var dones []bool
	for calls := 0; calls < 2*len(recs); calls++ {
		hits, next, done, err := h.Search("not there", c, 10)
		if err != nil || len(hits) != 0 {
			t.Fatalf("call %d: %d hits, %v", calls, len(hits), err)
		}
		dones = append(dones, done)
		if done {
			break
		}
		if next == c {
			t.Fatalf("call %d: the cursor did not move", calls)
		}
		c = next
	}
	want := make([]bool, (len(recs)+1)/2) // 2 records a call, the last call done
	want[len(want)-1] = true
	if fmt.Sprint(dones) != fmt.Sprint(want) {
		t.Errorf("done per call %v, want %v (%d records, 2 a call)", dones, want, len(recs))
	}

	// One record a call: each call gives that record's hits (every tenth
	// message, id 1 mod 10), newest first, and no more.
	searchRecordsPerCall = 1
	c = HistoryCursor{}
	for r := len(recs) - 1; r >= 0; r-- {
		var wantIDs []uint64
		for i := len(recs[r]) - 1; i >= 0; i-- {
			if id := recs[r][i]; id%10 == 1 {
				wantIDs = append(wantIDs, id)
			}
		}
		hits, next, _, err := h.Search("needle", c, 1000)
		var got []uint64
		for _, hit := range hits {
			got = append(got, hit.Entry.ID)
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(wantIDs) {
			t.Fatalf("record %d (ids %d-%d): hits %v, want %v, %v", r, recs[r][0], recs[r][len(recs[r])-1], got, wantIDs, err)
		}
		c = next
	}

	searchRecordsPerCall = old
	for _, e := range []struct {
		query string
		done  bool
	}{
		{"message 0 with", true},    // the oldest entry
		{"message 100 with", false}, // the first entry of record 1: record 0 is older
	} {
		hits, _, done, err := h.Search(e.query, HistoryCursor{}, 1)
		if err != nil || len(hits) != 1 || done != e.done {
			t.Errorf("%q: %d hits, done %v (want %v), %v", e.query, len(hits), done, e.done, err)
		}
	}
}
