package store

// Read marks: the ids of our messages the peer reported read (its READ
// records, protocol.ReadEvent), kept so that the history shows them read
// (✔✔) after a restart, not only delivered (✓✓).
//
//	bucket "read"  (format version 4; created by the upgrade of a format 3 file)
//	  key:   u64 read_seq      the sealed state's read_seq: only grows, every
//	                           key written once
//	  value: u8 version(1) || nonce(12) || AES-256-GCM(key, nonce,
//	         { u64 id }..., AD = "duet/4 read" || file id || u64 clear
//	         epoch || key)     up to readRecordIDs ids, those marked
//	                           since the previous commit
//
// Why a set of ids and not a flag in the history record: history records
// are written once and are not found by id (a flag would mean rewriting,
// under a new key, a record of up to 256 messages per mark), and a mark
// often comes for a message whose record holds others.
//
// Integrity: the bucket is the state's fifth key set (setRead), checked at
// open like the seen ids: a removed record, or one copied back (after it
// was pruned), or another file's, is found and warned about; the marks in
// it then show as delivered. A record that does not open (damaged, another
// file's, from before the last /clear: the epoch is in the AD) is skipped
// and Warnings says how many. Nothing a record can hold is a wrong mark: a
// record opens only if this file's writer sealed it, and it holds only ids
// the peer reported read; being read never ends, so an old record put back
// can only re-assert marks that were true. The worst the config
// directory's attacker can do is turn ✔✔ back into ✓✓, which a cosmetic
// mark allows (and which is warned about).
//
// Bounds: the newest MaxReadMarks ids (the oldest records are deleted
// while at least MaxReadMarks ids remain without them); older messages
// show as delivered. In memory, a set of the newest MaxReadMarks ids.
//
// Written without waiting: PeerRead never blocks (the node's loop emits
// the ReadEvent), its ids join the next grouped commit (at most asyncDelay
// later under no other load); a kill -9 loses at most the marks of that
// last moment, a full disk keeps them for the retry, Close commits them.
// With Options.NoHistory nothing is written; /clear deletes them all.

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

const (
	// MaxReadMarks bounds the read marks kept (on disk at least this many
	// of the newest, by whole records; in memory exactly).
	MaxReadMarks = 1 << 16
	// readRecordIDs bounds the ids of one record (16 KiB of plaintext).
	readRecordIDs = 2048
	// maxReadPending bounds the ids waiting for the writer: past it the
	// newest are dropped (they still show read in this run).
	maxReadPending = MaxReadMarks
)

var bucketRead = []byte("read")

// readAD is the AD prefix of a read record: the bucket, the file id and
// the clear epoch; the record key follows.
func (s *fileState) readAD() []byte {
	ad := append([]byte("duet/4 read"), s.id[:]...)
	return binary.BigEndian.AppendUint64(ad, s.epoch)
}

// readMarks is the DB's read marks: the set (mu) that ReadByPeer answers
// from, the ids waiting for the writer (mu), and the writer's count of
// the ids in the bucket.
type readMarks struct {
	mu      sync.Mutex
	set     map[uint64]struct{}
	order   []uint64 // set's ids, oldest first
	pending []uint64 // marked and not yet taken by the writer
	queued  bool     // an opRead waits in the queue for pending

	count uint64  // writer: ids in the bucket's records (by value size)
	tx    *readTx // writer: the read changes of the transaction being committed
}

// add puts id in the set, dropping the oldest past MaxReadMarks; false if
// it was there. mu held.
func (r *readMarks) add(id uint64) bool {
	if _, ok := r.set[id]; ok {
		return false
	}
	if r.set == nil {
		r.set = map[uint64]struct{}{}
	}
	r.set[id] = struct{}{}
	r.order = append(r.order, id)
	for len(r.order) > MaxReadMarks {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	return true
}

// PeerRead records that the peer read our messages ids (a ReadEvent). It
// never waits: ReadByPeer says so at once, and the ids are committed with
// the writer's next transaction. Ids already marked are skipped; with
// Options.NoHistory nothing is kept. After Close it does nothing.
func (db *DB) PeerRead(ids []uint64) {
	if !db.record || len(ids) == 0 {
		return
	}
	r := &db.reads
	r.mu.Lock()
	for _, id := range ids {
		if id != 0 && r.add(id) && len(r.pending) < maxReadPending {
			r.pending = append(r.pending, id)
		}
	}
	send := len(r.pending) > 0 && !r.queued
	r.queued = r.queued || send
	r.mu.Unlock()
	if !send {
		return
	}
	select {
	case <-db.quit:
	case db.q <- writeOp{kind: opRead}:
		return
	default: // the queue is full: the next PeerRead, or Close, takes them
	}
	r.mu.Lock()
	r.queued = false
	r.mu.Unlock()
}

// ReadByPeer reports whether the peer read our message id: marked by
// PeerRead in this run or an earlier one (the newest MaxReadMarks). Safe
// for concurrent use.
func (db *DB) ReadByPeer(id uint64) bool {
	db.reads.mu.Lock()
	defer db.reads.mu.Unlock()
	_, ok := db.reads.set[id]
	return ok
}

// takeReads returns the ids waiting for the writer and empties the list.
func (r *readMarks) take() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := r.pending
	r.pending, r.queued = nil, false
	return ids
}

// readsWaiting reports whether ids wait for the writer (Close drains them).
func (r *readMarks) waiting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending) > 0
}

// readTx is one write transaction's read changes: the ids it took (given
// back if the commit fails) and the count after it.
type readTx struct {
	r     *readMarks
	taken []uint64
	count uint64
}

// readTxFor returns the transaction's readTx, beginning it.
func (db *DB) readTxFor() *readTx {
	if db.reads.tx == nil {
		db.reads.tx = &readTx{r: &db.reads, count: db.reads.count}
	}
	return db.reads.tx
}

// endReadTx settles the transaction's read changes: kept if err is nil,
// else the ids taken wait again (a full disk retries them).
func (db *DB) endReadTx(err error) {
	t := db.reads.tx
	db.reads.tx = nil
	if t == nil {
		return
	}
	if err == nil {
		db.reads.count = t.count
		return
	}
	r := t.r
	r.mu.Lock()
	r.pending = append(t.taken, r.pending...)
	if len(r.pending) > maxReadPending {
		r.pending = r.pending[:maxReadPending]
	}
	r.mu.Unlock()
}

// putReads is opRead in the writer's transaction: the waiting ids as new
// records, then the oldest records pruned past MaxReadMarks.
func (db *DB) putReads(tx *bolt.Tx, s *fileState) error {
	t := db.readTxFor()
	ids := db.reads.take()
	t.taken = append(t.taken, ids...)
	if len(ids) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketRead)
	if err != nil {
		return err
	}
	b.FillPercent = histFillPercent
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), readRecordIDs)
		s.readSeq++
		k := u64Key(s.readSeq)
		if b.Get(k) != nil {
			return fmt.Errorf("%w: read mark key %x exists", ErrTampered, k)
		}
		v, err := sealIDs(db.aead, s.readAD(), k, rest[:n])
		if err != nil {
			return err
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
		s.added(setRead, k)
		t.count += uint64(n)
		rest = rest[n:]
	}
	return t.prune(b, s)
}

// prune deletes the oldest records while at least MaxReadMarks ids remain
// without them (checked arithmetic, as pruneSeen).
func (t *readTx) prune(b *bolt.Bucket, s *fileState) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		n := uint64(max(len(v)-valueMinLen, 0) / 8)
		if t.count < n || t.count-n < MaxReadMarks {
			return nil
		}
		t.count -= n
		s.removed(setRead, k)
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// clearReads deletes every read mark (Clear), in the writer's transaction
// and in memory.
func (db *DB) clearReads(tx *bolt.Tx, s *fileState) error {
	t := db.readTxFor()
	t.count = 0
	db.reads.mu.Lock()
	db.reads.set, db.reads.order, db.reads.pending = nil, nil, nil
	db.reads.mu.Unlock()
	s.clearSet(setRead)
	if tx.Bucket(bucketRead) == nil {
		return nil
	}
	return tx.DeleteBucket(bucketRead)
}

// loadReads reads the read marks at open (before the writer starts): the
// newest MaxReadMarks ids into the set, every record's ids into the
// count. Records that do not open are skipped, and Warnings says how
// many.
func (db *DB) loadReads() error {
	damaged := 0
	err := db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRead)
			if b == nil {
				return nil
			}
			s, err := db.readState(tx)
			if err != nil {
				return err
			}
			pre := s.readAD()
			return b.ForEach(func(k, v []byte) error {
				db.reads.count += uint64(max(len(v)-valueMinLen, 0) / 8)
				pt, err := openIDs(db.aead, pre, k, v)
				if err != nil {
					damaged++
					return nil
				}
				for ; len(pt) > 0; pt = pt[8:] {
					db.reads.add(binary.BigEndian.Uint64(pt))
				}
				return nil
			})
		})
	})
	if err != nil {
		return err
	}
	db.reads.order = slices.Clip(db.reads.order)
	if damaged > 0 {
		db.warnings = append(db.warnings, fmt.Sprintf("database %s: %d damaged read-mark records skipped; the messages they marked read show as delivered", db.path, damaged))
	}
	return nil
}
