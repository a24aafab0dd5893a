package store

import (
	"bytes"
	"errors"

	bolt "go.etcd.io/bbolt"

	"duet/protocol"
)

// walkBack reads the committed history entries older than from (the zero
// cursor: the end), newest first, in one read transaction, and gives each
// to take with its position; take returns false to stop after it. It
// reads at most maxRecords records (0: no limit). A record that fails
// authentication or decoding is skipped and counted.
//
// It returns the position to go on from: the last entry given, or past a
// skipped record (that record, index 0) when that came last; from when
// nothing was read. start reports that no older entry is left. On an error
// (a damaged file, wrapping ErrCorrupt) next is from.
func (db *DB) walkBack(from HistoryCursor, maxRecords int, take func(e protocol.HistoryEntry, pos HistoryCursor) bool) (next HistoryCursor, skipped int, start bool, err error) {
	next = from
	err = db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			hist := tx.Bucket(bucketHistory)
			if hist == nil {
				return corruptErr(db.path, errors.New("history bucket missing"))
			}
			s, err := db.readState(tx)
			if err != nil {
				return err
			}
			pre := s.histAD()
			cur := hist.Cursor()
			k, v, limit := startBefore(cur, from)
			for read := 0; k != nil && (maxRecords == 0 || read < maxRecords); read++ {
				es, err := openRecord(db.aead, pre, k, v)
				if err != nil {
					skipped++
					es = nil
				}
				if limit >= 0 && limit < len(es) {
					es = es[:limit]
				}
				limit = -1
				copy(next.key[:], k)
				next.index, next.valid = 0, true // past this record, unless stopped in it
				for i := len(es) - 1; i >= 0; i-- {
					next.index = i
					if !take(es[i], next) {
						if i == 0 { // the record is done: is there an older one?
							older, _ := cur.Prev()
							start = older == nil
						}
						return nil
					}
				}
				k, v = cur.Prev()
			}
			start = k == nil
			return nil
		})
	})
	if err != nil {
		return from, 0, false, err
	}
	return next, skipped, start, nil
}

// startBefore positions cur at the record holding the entries older than
// c (the zero cursor: the last record) and returns it with the number of
// its entries to take (-1: all).
func startBefore(cur *bolt.Cursor, c HistoryCursor) (k, v []byte, limit int) {
	if !c.valid {
		k, v = cur.Last()
		return k, v, -1
	}
	k, v = cur.Seek(c.key[:])
	if k != nil && bytes.Equal(k, c.key[:]) {
		if c.index == 0 {
			k, v = cur.Prev()
			return k, v, -1
		}
		return k, v, c.index
	}
	// c's record is gone (cleared or pruned): start before it.
	if k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	for k != nil && bytes.Compare(k, c.key[:]) >= 0 {
		k, v = cur.Prev()
	}
	return k, v, -1
}
