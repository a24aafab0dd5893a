package store

import (
	"strings"

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
var searchRecordsPerCall = 4096 // a var for the tests only

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
	next, skipped, done, err := db.walkBack(from, searchRecordsPerCall, func(e protocol.HistoryEntry, pos HistoryCursor) bool {
		if strings.Contains(strings.ToLower(e.Text), q) {
			hits = append(hits, SearchHit{Entry: e, Pos: pos})
		}
		return len(hits) < n
	})
	if err != nil {
		return nil, from, false, err
	}
	if skipped > 0 {
		return hits, next, done, &historySkippedError{path: db.path, skipped: skipped}
	}
	return hits, next, done, nil
}
