package store

// The chat history in the database: every message shown or sent, sealed,
// in records of up to histRecordEntries entries and histRecordBytes bytes
// of text (a record costs one B+tree insert and one seal, whatever it
// holds; under load messages are committed in groups).
//
//	bucket "history"
//	  key:   u64 at_unix_nano || u64 seq                    (16 bytes)
//	         seq comes from meta "seq" and only grows; at is the time the
//	         record was stored, by the local clock (never an entry's time:
//	         a peer's sent_at cannot move it), raised to the previous
//	         record's at if that is later by less than histClockBack, so
//	         key order is the order entries were stored (the order they
//	         were shown), and retention (prune) goes by the local time of
//	         storing. Records written before this rule (at: their newest
//	         entry's time) keep their keys; one of them dated far ahead is
//	         not followed by later records, and goes when its own time
//	         passes the cutoff.
//	  value: u8 version(1) || u16 n || nonce(12) || AES-256-GCM(key, nonce,
//	         entries, AD = "duet/3 history" || file id(16) || u64 clear
//	         epoch || the 16 key bytes || n)    (state.go; format 2 had
//	         AD = "duet/1 history" || the 16 key bytes || n)
//	         n is the number of entries (1..histRecordEntries); entries =
//	         { u8 flags || u64 id || i64 at_unix_nano || u32 len || text
//	         [|| i64 claimed_unix_nano] }...
//	         flags: bit 0 own (we wrote it), bit 1 possible duplicate, bit 2
//	         claimed: the peer's implausible sent_at follows the text, as
//	         it came (any int64), and at is the arrival it was shown at;
//	         the other bits are zero. at is clamped to [1970, 2262].
//
// What the file reveals without the key: the number of entries, roughly
// when they were written, and their total size per record. /clear (Clear)
// deletes the bucket; bbolt keeps the freed pages (still holding
// ciphertext) in the file for reuse.

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
	"duet/protocol"
)

const (
	histRecordEntries = 256
	histRecordBytes   = 64 << 10
	histEntryHeader   = 1 + 8 + 8 + 4 // flags, id, at, len
	histRecordHeader  = 1 + 2 + crypto.NonceSize

	histFlagOwn     = 1 << 0
	histFlagDup     = 1 << 1
	histFlagClaimed = 1 << 2 // an i64 claimed time follows the text

	histFlagsV1 = histFlagOwn | histFlagDup // the flags a version 1 entry may have
)

// historyADv2 is the AD prefix of format 2's history records (migrate.go).
var historyADv2 = []byte("duet/1 history")

// HistoryCursor marks a position in the history for Before: an entry of a
// record. The zero cursor is the end of the history (Before(HistoryCursor{},
// n) is Last(n)).
type HistoryCursor struct {
	key   [histKeyLen]byte
	index int // the entry's index in the record
	valid bool
}

// histClockBack is how far the local clock may have gone back since the
// previous record for the new one to still take the previous record's
// time (keeping key order the storing order across a clock step). A
// previous key further ahead is not followed: that is a record keyed by a
// far-future entry time under the old rule, or a clock that was wrong,
// and following it would keep every later record from being pruned.
const histClockBack = 24 * time.Hour

// histTime is the key time of t: Unix nanoseconds clamped to [0, MaxInt64].
func histTime(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

func histKey(at, seq uint64) [histKeyLen]byte {
	var k [histKeyLen]byte
	binary.BigEndian.PutUint64(k[:8], at)
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// randomNonce returns 12 bytes from crypto/rand.
func randomNonce() ([crypto.NonceSize]byte, error) {
	var nonce [crypto.NonceSize]byte
	_, err := rand.Read(nonce[:])
	return nonce, err
}

// recordAD is a history record's AD: the prefix pre (fileState.histAD),
// the key and the entry count.
func recordAD(pre, k []byte, n uint16) []byte {
	ad := make([]byte, 0, len(pre)+len(k)+2)
	ad = append(append(ad, pre...), k...)
	return binary.BigEndian.AppendUint16(ad, n)
}

// sealRecord encrypts entries (1..histRecordEntries) as the record stored
// under key k, with the AD prefix pre.
func sealRecord(a *crypto.AEAD, pre, k []byte, entries []protocol.HistoryEntry) ([]byte, error) {
	size := 0
	for _, e := range entries {
		size += histEntryHeader + len(e.Text) + 8
	}
	// The plaintext is built where its ciphertext goes and sealed in place.
	v := make([]byte, histRecordHeader, histRecordHeader+size+crypto.TagSize)
	for _, e := range entries {
		var flags byte
		if e.Own {
			flags |= histFlagOwn
		}
		if e.PossibleDuplicate {
			flags |= histFlagDup
		}
		claimed := !e.ClaimedAt.IsZero()
		if claimed {
			flags |= histFlagClaimed
		}
		v = append(v, flags)
		v = binary.BigEndian.AppendUint64(v, e.ID)
		v = binary.BigEndian.AppendUint64(v, histTime(e.At))
		v = binary.BigEndian.AppendUint32(v, uint32(len(e.Text)))
		v = append(v, e.Text...)
		if claimed {
			v = binary.BigEndian.AppendUint64(v, uint64(e.ClaimedAt.UnixNano()))
		}
	}
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	n := uint16(len(entries))
	v[0] = valueVersion
	binary.BigEndian.PutUint16(v[1:], n)
	copy(v[3:], nonce[:])
	return a.Seal(v[:histRecordHeader], &nonce, v[histRecordHeader:], recordAD(pre, k, n)), nil
}

// recordCount returns the entry count a record declares (0 if the value
// is too short to be a record).
func recordCount(v []byte) int {
	if len(v) < histRecordHeader+crypto.TagSize {
		return 0
	}
	return int(binary.BigEndian.Uint16(v[1:]))
}

// openRecord authenticates, decrypts and parses the record v stored under
// key k, with the AD prefix pre. Any failure is an error wrapping ErrCorrupt (without the file
// name: the caller adds it).
func openRecord(a *crypto.AEAD, pre, k, v []byte) ([]protocol.HistoryEntry, error) {
	if len(k) != histKeyLen {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(k))
	}
	if len(v) < histRecordHeader+crypto.TagSize {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(v))
	}
	if v[0] != valueVersion {
		return nil, fmt.Errorf("%w: record version %d", ErrCorrupt, v[0])
	}
	n := binary.BigEndian.Uint16(v[1:])
	var nonce [crypto.NonceSize]byte
	copy(nonce[:], v[3:])
	pt, err := a.Open(nil, &nonce, v[histRecordHeader:], recordAD(pre, k, n))
	if err != nil {
		return nil, fmt.Errorf("%w: record fails authentication", ErrCorrupt)
	}
	return parseRecord(pt, int(n))
}

// parseRecord parses a decrypted record of n entries.
func parseRecord(pt []byte, n int) ([]protocol.HistoryEntry, error) {
	if n < 1 || n > histRecordEntries {
		return nil, fmt.Errorf("%w: record of %d entries", ErrCorrupt, n)
	}
	out := make([]protocol.HistoryEntry, 0, n)
	for len(pt) > 0 {
		if len(pt) < histEntryHeader {
			return nil, fmt.Errorf("%w: entry cut short", ErrCorrupt)
		}
		flags := pt[0]
		if flags&^(histFlagOwn|histFlagDup|histFlagClaimed) != 0 {
			return nil, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
		}
		e := protocol.HistoryEntry{
			Own:               flags&histFlagOwn != 0,
			PossibleDuplicate: flags&histFlagDup != 0,
			ID:                binary.BigEndian.Uint64(pt[1:]),
			At:                time.Unix(0, int64(binary.BigEndian.Uint64(pt[9:]))),
		}
		size := binary.BigEndian.Uint32(pt[17:])
		pt = pt[histEntryHeader:]
		if size > protocol.MaxTextSize || int(size) > len(pt) {
			return nil, fmt.Errorf("%w: entry text of %d bytes", ErrCorrupt, size)
		}
		e.Text = string(pt[:size])
		pt = pt[size:]
		if flags&histFlagClaimed != 0 {
			if len(pt) < 8 {
				return nil, fmt.Errorf("%w: entry's claimed time cut short", ErrCorrupt)
			}
			e.ClaimedAt = time.Unix(0, int64(binary.BigEndian.Uint64(pt)))
			pt = pt[8:]
		}
		if e.ID == 0 {
			return nil, fmt.Errorf("%w: entry with id 0", ErrCorrupt)
		}
		out = append(out, e)
	}
	if len(out) != n {
		return nil, fmt.Errorf("%w: record declares %d entries, holds %d", ErrCorrupt, n, len(out))
	}
	return out, nil
}

// ErrHistorySkipped: some history records failed authentication or
// decoding and were skipped; the rest of the history and the delivery
// state are intact.
var ErrHistorySkipped = errors.New("protocol: damaged history records skipped")

// historySkippedError is Before's error when it skipped damaged records:
// it names the file and how many records that call skipped, and wraps
// ErrHistorySkipped.
type historySkippedError struct {
	path    string
	skipped int
}

func (e *historySkippedError) Error() string {
	what := "records skipped (they fail"
	if e.skipped == 1 {
		what = "record skipped (it fails"
	}
	return fmt.Sprintf("protocol: database %s: %d damaged history %s authentication); the rest of the history and undelivered messages are intact; /clear removes the damaged history", e.path, e.skipped, what)
}

func (e *historySkippedError) Unwrap() error { return ErrHistorySkipped }

// historyTx collects one write transaction's history entries and writes
// them as records when the transaction ends (finish).
// Its counters and key set are the state s's (written by the caller).
type historyTx struct {
	db      *DB
	tx      *bolt.Tx
	s       *fileState
	hist    *bolt.Bucket
	lastAt  uint64 // the newest record key's at
	now     uint64 // the time of storing (histTime of the DB's clock)
	pending []protocol.HistoryEntry
}

func (db *DB) beginHistory(tx *bolt.Tx, s *fileState) (*historyTx, error) {
	t := &historyTx{db: db, tx: tx, s: s, hist: tx.Bucket(bucketHistory), now: histTime(db.now())}
	if t.hist == nil {
		return nil, corruptErr(db.path, errors.New("bucket missing"))
	}
	t.hist.FillPercent = histFillPercent
	if k, _ := t.hist.Cursor().Last(); len(k) == histKeyLen {
		t.lastAt = binary.BigEndian.Uint64(k)
	}
	return t, nil
}

// add queues e for this transaction (id 0 is never stored; a zero At is now).
func (t *historyTx) add(e protocol.HistoryEntry) {
	if e.ID == 0 {
		return
	}
	if e.At.IsZero() {
		e.At = t.db.now()
	}
	t.pending = append(t.pending, e)
}

// finish writes the pending entries as records.
func (t *historyTx) finish() error {
	for len(t.pending) > 0 {
		n, size := 0, 0
		for n < len(t.pending) && n < histRecordEntries && (n == 0 || size+len(t.pending[n].Text) <= histRecordBytes) {
			size += len(t.pending[n].Text)
			n++
		}
		if err := t.put(t.pending[:n]); err != nil {
			return err
		}
		t.pending = t.pending[n:]
	}
	return nil
}

// put writes one record, keyed by the time of storing (recordTime).
func (t *historyTx) put(entries []protocol.HistoryEntry) error {
	at := recordTime(t.now, t.lastAt)
	t.s.histSeq++
	k := histKey(at, t.s.histSeq)
	v, err := sealRecord(t.db.aead, t.s.histAD(), k[:], entries)
	if err != nil {
		return err
	}
	if t.hist.Get(k[:]) != nil {
		return fmt.Errorf("%w: history key %x exists (its sequence number went back)", ErrTampered, k)
	}
	if err := t.hist.Put(k[:], v); err != nil {
		return err
	}
	t.s.added(setHistory, k[:])
	t.lastAt = at
	t.s.histEntries += uint64(len(entries))
	return nil
}

// recordTime is the key time of a record stored at now after a record
// keyed lastAt: now, or lastAt when the clock went back by less than
// histClockBack since (see the key's description above).
func recordTime(now, lastAt uint64) uint64 {
	if lastAt > now && lastAt-now < uint64(histClockBack) {
		return lastAt
	}
	return now
}

// clear empties the history (Clear), entries pending in this transaction
// included, and raises the clear epoch: records copied back from before
// it do not open.
func (t *historyTx) clear() error {
	t.pending = nil
	if err := t.tx.DeleteBucket(bucketHistory); err != nil {
		return err
	}
	var err error
	if t.hist, err = t.tx.CreateBucket(bucketHistory); err != nil {
		return err
	}
	t.hist.FillPercent = histFillPercent
	t.lastAt = 0
	t.s.histEntries = 0
	t.s.epoch++
	t.s.clearSet(setHistory)
	return nil
}

// Add records e. It does not wait for the disk: e goes to a bounded queue
// (4096 entries) that one goroutine commits in grouped transactions; when
// the queue is full, Add waits (it never drops). Add does not look for an
// entry with the same ID (the delivery state is what shows a message
// once); an entry with ID 0 is not stored; a zero At is the time of Add. A
// write error (a full disk) is returned by the next Flush or Close, and
// from then on nothing more is written (the error is sticky). After Close,
// Add does nothing.
func (db *DB) Add(e protocol.HistoryEntry) {
	if e.ID == 0 {
		return
	}
	if e.At.IsZero() {
		e.At = db.now()
	}
	select {
	case <-db.quit:
		return
	default:
	}
	if !db.reserve(len(e.Text)) {
		return
	}
	select {
	case db.q <- writeOp{kind: opAdd, entry: e}:
	case <-db.quit:
		db.release(len(e.Text))
	}
}

// reserve waits until n more bytes of text fit in the queue budget (one
// entry always fits in an empty queue); false if the DB is closing.
func (db *DB) reserve(n int) bool {
	db.budgetMu.Lock()
	defer db.budgetMu.Unlock()
	for db.queued > 0 && db.queued+n > writeQueueBytes {
		select {
		case <-db.quit:
			return false
		default:
		}
		db.budgetCond.Wait()
	}
	db.queued += n
	return true
}

// release returns n bytes to the budget.
func (db *DB) release(n int) {
	db.budgetMu.Lock()
	db.queued -= n
	db.budgetMu.Unlock()
	db.budgetCond.Broadcast()
}

// Flush waits until everything added so far is committed (fsynced) and
// returns the first write error, if any.
func (db *DB) Flush() error { return db.request(opFlush) }

// Clear removes every entry (the /clear command), after committing what
// was added before it. The file does not shrink: bbolt reuses the freed
// pages (which still hold ciphertext until reused).
func (db *DB) Clear() error { return db.request(opClear) }

// prune deletes the records whose newest entry was written before cutoff,
// in transactions of histPruneBatch records, from the oldest.
func (db *DB) prune(cutoff time.Time) error {
	end := histKey(histTime(cutoff), 0)
	for {
		more := false
		err := db.guard(func() error {
			return db.bolt.Update(func(tx *bolt.Tx) error {
				s, err := db.readState(tx)
				if err != nil {
					return err
				}
				hist := tx.Bucket(bucketHistory)
				c := hist.Cursor()
				n := 0
				for k, v := c.First(); k != nil && bytes.Compare(k, end[:]) < 0; k, v = c.First() {
					if n == histPruneBatch {
						more = true
						break
					}
					s.histEntries -= min(s.histEntries, uint64(recordCount(v)))
					s.removed(setHistory, k)
					if err := c.Delete(); err != nil {
						return err
					}
					n++
				}
				if n == 0 {
					return nil
				}
				return db.writeState(tx, s)
			})
		})
		if err != nil {
			return fmt.Errorf("protocol: database %s: prune: %w", db.path, err)
		}
		if !more {
			return nil
		}
	}
}

// Last returns the newest n committed entries, oldest first, and a cursor
// for Before (the oldest entry returned). Damaged records are skipped as
// in Before: with an error wrapping ErrHistorySkipped the entries and the
// cursor are valid.
func (db *DB) Last(n int) ([]protocol.HistoryEntry, HistoryCursor, error) {
	return db.Before(HistoryCursor{}, n)
}

// Before returns up to n committed entries older than c, oldest first, and
// the cursor for the next call. An empty result means the start of the
// history (the cursor returned is then c, unless records were skipped).
// The zero cursor is the end.
//
// A record that fails authentication or decoding is skipped: Before reads
// on until it has n entries or reaches the start, and returns what it read
// with an error wrapping ErrHistorySkipped that names the file and how many
// records this call skipped. With such an error the entries and the cursor
// are valid (the cursor is past the skipped records, so a further call
// does not report them again). Any other error (a damaged file, wrapping
// ErrCorrupt) comes with no entries and the cursor c.
func (db *DB) Before(c HistoryCursor, n int) ([]protocol.HistoryEntry, HistoryCursor, error) {
	if n <= 0 {
		return nil, c, nil
	}
	var out []protocol.HistoryEntry // newest first
	next, skipped, _, err := db.walkBack(c, 0, func(e protocol.HistoryEntry, _ HistoryCursor) bool {
		out = append(out, e)
		return len(out) < n
	})
	if err != nil {
		return nil, c, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if skipped > 0 {
		return out, next, &historySkippedError{path: db.path, skipped: skipped}
	}
	return out, next, nil
}

// Len returns the number of committed entries.
func (db *DB) Len() (int, error) {
	var n uint64
	err := db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			s, err := db.readState(tx)
			if err != nil {
				return err
			}
			n = s.histEntries
			return nil
		})
	})
	return int(n), err
}

// upgradeV1History rewrites a format version 1 history (one value per
// entry: u8 version || nonce || AES-256-GCM(u8 flags || u64 id || text,
// AD = the key), key u64 at || u64 seq) as records, in the same order,
// sealed for the state s, and deletes "history_ids".
func (db *DB) upgradeV1History(tx *bolt.Tx, s *fileState, from *crypto.AEAD) error {
	old := tx.Bucket(bucketHistory)
	var entries []protocol.HistoryEntry
	err := old.ForEach(func(k, v []byte) error {
		if len(k) != histKeyLen || len(v) < 1+crypto.NonceSize+crypto.TagSize+9 || v[0] != valueVersion {
			return corruptErr(db.path, fmt.Errorf("version 1 history entry %x", k))
		}
		var nonce [crypto.NonceSize]byte
		copy(nonce[:], v[1:])
		pt, err := from.Open(nil, &nonce, v[1+crypto.NonceSize:], k)
		if err != nil || pt[0]&^histFlagsV1 != 0 {
			return corruptErr(db.path, fmt.Errorf("version 1 history entry %x fails authentication", k))
		}
		entries = append(entries, protocol.HistoryEntry{
			Own: pt[0]&histFlagOwn != 0, PossibleDuplicate: pt[0]&histFlagDup != 0,
			ID: binary.BigEndian.Uint64(pt[1:]), Text: string(pt[9:]),
			At: time.Unix(0, int64(binary.BigEndian.Uint64(k))),
		})
		return nil
	})
	if err != nil {
		return err
	}
	if tx.Bucket(bucketHistoryIDs) != nil {
		if err := tx.DeleteBucket(bucketHistoryIDs); err != nil {
			return err
		}
	}
	t, err := db.beginHistory(tx, s)
	if err != nil {
		return err
	}
	if err := t.clear(); err != nil {
		return err
	}
	s.epoch = 0
	for _, e := range entries {
		t.add(e)
	}
	return t.finish()
}
