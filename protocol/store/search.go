package store

import (
	"bytes"
	"errors"
	"strings"

	bolt "go.etcd.io/bbolt"

	"duet/protocol"
)

// SearchHit is one history entry that matched a Search, and its place:
// Before(Pos, n) returns the entries before it (the ones shown above it).
type SearchHit struct {
	Entry protocol.HistoryEntry
	Pos   HistoryCursor
}

// searchRecordsPerCall bounds the records one Search call reads (256
// entries each at most), so that a caller on a UI's goroutine gets an
// answer in bounded time and can go on from the cursor returned.
const searchRecordsPerCall = 4096

// Search looks for query in the texts of the committed entries older than
// from (the zero cursor: the end), newest first, case-insensitively, and
// returns up to n hits and the cursor to go on from. It reads at most
// searchRecordsPerCall records; done is true when it reached the start of
// the history. Entries are decrypted in memory only; nothing is written.
// Records that fail authentication are skipped as in Before, with an
// error wrapping ErrHistorySkipped (the hits and cursor are then valid).
func (db *DB) Search(query string, from HistoryCursor, n int) (hits []SearchHit, next HistoryCursor, done bool, err error) {
	if n <= 0 || query == "" {
		return nil, from, false, nil
	}
	q := strings.ToLower(query)
	next = from
	skipped := 0
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
			for read := 0; k != nil && len(hits) < n && read < searchRecordsPerCall; read++ {
				es, err := openRecord(db.aead, pre, k, v)
				if err != nil {
					skipped++
					es = nil
				}
				if limit >= 0 && limit < len(es) {
					es = es[:limit]
				}
				limit = -1
				i := len(es) - 1
				for ; i >= 0 && len(hits) < n; i-- {
					if strings.Contains(strings.ToLower(es[i].Text), q) {
						var pos HistoryCursor
						copy(pos.key[:], k)
						pos.index, pos.valid = i, true
						hits = append(hits, SearchHit{Entry: es[i], Pos: pos})
					}
				}
				copy(next.key[:], k)
				next.index, next.valid = i+1, true
				if i >= 0 {
					return nil // n hits: go on from entry i of this record
				}
				k, v = cur.Prev()
			}
			done = k == nil
			return nil
		})
	})
	if err != nil {
		return nil, from, false, err
	}
	if skipped > 0 {
		return hits, next, done, &historySkippedError{path: db.path, skipped: skipped}
	}
	return hits, next, done, nil
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
