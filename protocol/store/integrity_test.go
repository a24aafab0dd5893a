package store

import (
	"encoding/binary"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
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
