package store

// Delivery state in the database (the Store the Node uses): the outbox, the
// ids already shown ("seen") and the ids about to be shown ("showing"). It
// shares the DB's writer goroutine, so every change joins a grouped,
// fsynced transaction with the history entries it implies: messages of
// ours are in the outbox and in our history in one commit, and received
// messages are marked "showing" and put in the history in one commit.
//
// Records hold a group of messages (from one Queue, Showing or Seen call;
// outbox records of at most histRecordEntries messages and histRecordBytes
// of text), not one each: a record costs one B+tree insert and one seal
// whatever its size, and messages arrive in groups under load.
//
// File layout (format version 3 and 4; a version 1 file gets these buckets,
// empty, on its first open; a version 2 file's are sealed again: migrate.go).
// All integers are big-endian. The sequence numbers are the sealed
// state's (state.go); every key is written once.
//
//	bucket "outbox"
//	  key:   u64 out_seq               only grows: key order is the order
//	                                   written; an existing key is never
//	                                   overwritten (the write fails)
//	  value: u8 version(1) || nonce(12) || AES-256-GCM(key, nonce,
//	         messages, AD = "duet/3 outbox" || file id || the 8 key bytes)
//	         messages = { u64 id || i64 sent_at_unix_nano || u32 len || text }...
//	         The record is deleted once every message in it is delivered.
//	bucket "showing"
//	  key:   u64 show_seq
//	  value: u8 version(1) || nonce(12) || AES-256-GCM(key, nonce,
//	         { u64 id }..., AD = "duet/3 showing" || file id || key)
//	                                   marked before the messages are shown;
//	                                   deleted once every id is seen
//	bucket "seen"
//	  key:   u64 seen_seq
//	  value: as "showing", AD = "duet/3 seen" || file id || key
//	                                   messages shown; the oldest records
//	                                   are deleted while MaxSeenIDs ids
//	                                   remain without them (counted at open)
//
// (Format 2 had AD "duet/1 outbox" || key, and plaintext "showing" and
// "seen" values.)
//
// After a crash a record may hold messages already delivered (they are
// resent, and the peer drops them as seen) or ids already seen (they are
// not interrupted). What the file reveals without the key: the number and
// lengths of queued messages, and the ids shown (random 64-bit numbers).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
	"duet/protocol"
)

var (
	bucketOutbox  = []byte("outbox")
	bucketSeen    = []byte("seen")
	bucketShowing = []byte("showing")

	// Format 2's plaintext counters (migrate.go reads and deletes them).
	metaOutSeq    = []byte("out_seq")
	metaShowSeq   = []byte("show_seq")
	metaSeenSeq   = []byte("seen_seq")
	metaSeenCount = []byte("seen_count")

	outboxADv2 = []byte("duet/1 outbox")
)

const outMsgHeader = 8 + 8 + 4 // id, sent_at, len

// *DB is the Node's Store.
var _ protocol.Store = (*DB)(nil)

// deliveryIndex maps ids to the records holding them, with the number of
// ids each record still needs (a record is deleted when it reaches zero).
// Only the writer goroutine uses it once the DB is open.
type deliveryIndex struct {
	outRec  map[uint64]uint64 // outbox message id -> record key
	outLeft map[uint64]uint64 // outbox record key -> messages not delivered
	showRec map[uint64]uint64 // showing id -> record key
	showLef map[uint64]uint64 // showing record key -> ids not seen
	// seenCount: the ids in the seen records, counted at open (the
	// meta "seen_count" is not trusted: a lowered one made the pruning
	// subtraction wrap) and kept by the writer.
	seenCount uint64
}

func newDeliveryIndex() deliveryIndex {
	return deliveryIndex{outRec: map[uint64]uint64{}, outLeft: map[uint64]uint64{}, showRec: map[uint64]uint64{}, showLef: map[uint64]uint64{}}
}

// Load returns the delivery state read when the DB was opened. The Node calls it once, before it runs.
func (db *DB) Load() (protocol.DeliveryState, error) {
	db.loadMu.Lock()
	defer db.loadMu.Unlock()
	st := db.loaded
	db.loaded = protocol.DeliveryState{} // the Node owns it now
	return st, nil
}

// QueuedAtOpen reports whether our message id was in the outbox when the
// database was opened: not known to be
// delivered. (An outbox record keeps a delivered message until all of its
// messages are delivered; this run resends it and the peer acknowledges it
// again.) An own message in the history for which it is false was
// delivered before this run: the outbox is the only place an undelivered
// message is kept. Safe for concurrent use.
func (db *DB) QueuedAtOpen(id uint64) bool {
	db.loadMu.Lock()
	defer db.loadMu.Unlock()
	_, ok := db.queuedAtOpen[id]
	return ok
}

// Queue commits chats to the outbox, in order, with their entries in our
// history (unless the DB keeps no history), and returns once the commit is
// on disk. It is what makes SendMessage durable.
func (db *DB) Queue(chats []protocol.Chat) error {
	return db.requestOp(writeOp{kind: opQueue, chats: chats})
}

// Showing marks the messages as about to be shown and stores them in the
// history (unless the DB keeps no history, or the message is a possible
// duplicate: the commit that marked it showing before stored it), and
// returns once the commit is on disk.
func (db *DB) Showing(msgs []protocol.HistoryEntry) error {
	return db.requestOp(writeOp{kind: opShowing, entries: msgs})
}

// MarkShowing is Showing without waiting: done is called from the writer
// goroutine once the commit is on disk (or with the error that prevented
// it). It is committed as promptly as Showing (nothing waits to share its
// commit), so the Node can go on decrypting while the disk syncs, and shows
// the messages from done onwards.
func (db *DB) MarkShowing(msgs []protocol.HistoryEntry, done func(error)) {
	db.asyncOp(writeOp{kind: opShowing, entries: msgs, cb: done, urgent: true})
}

// Seen records that ids were shown (replacing their showing marks). It
// does not wait: done (if not nil) is called from the writer goroutine once
// the commit is on disk, or with the error that prevented it. The Node
// acknowledges the messages only then.
func (db *DB) Seen(ids []uint64, done func(error)) {
	db.asyncOp(writeOp{kind: opSeen, ids: ids, cb: done})
}

// Delivered removes acknowledged messages from the outbox. It does not
// wait: a crash before the commit only makes the peer see (and drop) a
// resend.
func (db *DB) Delivered(ids []uint64) {
	db.asyncOp(writeOp{kind: opDelivered, ids: ids})
}

// asyncOp queues op without waiting for its commit. After Close op.cb
// gets ErrClosed.
func (db *DB) asyncOp(op writeOp) {
	select {
	case <-db.quit:
		if op.cb != nil {
			op.cb(ErrClosed)
		}
		return
	default:
	}
	select {
	case db.q <- op:
	case <-db.quit:
		if op.cb != nil {
			op.cb(ErrClosed)
		}
	}
}

// requestOp queues op and waits for its commit.
func (db *DB) requestOp(op writeOp) error {
	op.done = make(chan error, 1)
	return db.send(op)
}

// Pending returns the newest n of our messages that Load will hand to the
// Node (the outbox when the DB was opened),
// oldest first, and how many there are in all: what a front end that shows
// no history lists as not delivered yet. After Load it returns nothing.
// (Like QueuedAtOpen, it may list a message delivered before this run whose
// outbox record still held others.)
func (db *DB) Pending(n int) ([]protocol.Chat, int) {
	db.loadMu.Lock()
	defer db.loadMu.Unlock()
	out := db.loaded.Outbox
	total := len(out)
	if n < len(out) {
		out = out[len(out)-max(n, 0):]
	}
	return slices.Clone(out), total
}

// loadDelivery reads the delivery state and builds the index (called by
// Open, before the writer starts). A record that fails authentication is
// an error: queued messages are never dropped silently.
func (db *DB) loadDelivery() error {
	db.dx = newDeliveryIndex()
	db.queuedAtOpen = map[uint64]struct{}{}
	st := &db.loaded
	return db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			out, seen, showing := tx.Bucket(bucketOutbox), tx.Bucket(bucketSeen), tx.Bucket(bucketShowing)
			if out == nil || seen == nil || showing == nil {
				return corruptErr(db.path, errors.New("delivery bucket missing"))
			}
			fs, err := db.readState(tx)
			if err != nil {
				return err
			}
			outPre, seenPre, showPre := fs.outboxAD(), fs.seenAD(), fs.showingAD()
			err = out.ForEach(func(k, v []byte) error {
				chats, err := openOutboxRecord(db.aead, outPre, k, v)
				if err != nil {
					return dbErr(db.path, fmt.Errorf("%w (outbox record %x)", err, k), "the queued messages in it cannot be read: restore the file from a backup, or move it away (losing them)")
				}
				key := binary.BigEndian.Uint64(k)
				for _, c := range chats {
					if _, dup := db.dx.outRec[c.ID]; dup {
						continue
					}
					db.dx.outRec[c.ID] = key
					db.dx.outLeft[key]++
					db.queuedAtOpen[c.ID] = struct{}{}
					st.Outbox = append(st.Outbox, c)
				}
				return nil
			})
			if err != nil {
				return err
			}
			seenSet := map[uint64]struct{}{}
			err = seen.ForEach(func(k, v []byte) error {
				v, err := openIDs(db.aead, seenPre, k, v)
				if err != nil {
					return corruptErr(db.path, fmt.Errorf("seen record %x: %w", k, err))
				}
				db.dx.seenCount += uint64(len(v) / 8)
				for ; len(v) > 0; v = v[8:] {
					id := binary.BigEndian.Uint64(v)
					if _, dup := seenSet[id]; !dup {
						seenSet[id] = struct{}{}
						st.Seen = append(st.Seen, id)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(st.Seen) > protocol.MaxSeenIDs { // records are pruned whole
				st.Seen = st.Seen[len(st.Seen)-protocol.MaxSeenIDs:]
			}
			return showing.ForEach(func(k, v []byte) error {
				v, err := openIDs(db.aead, showPre, k, v)
				if err != nil {
					return corruptErr(db.path, fmt.Errorf("showing record %x: %w", k, err))
				}
				key := binary.BigEndian.Uint64(k)
				db.dx.showLef[key] = 0 // a record whose ids are all seen is deleted by the next commit
				for ; len(v) > 0; v = v[8:] {
					id := binary.BigEndian.Uint64(v)
					if _, done := seenSet[id]; done {
						continue
					}
					if _, dup := db.dx.showRec[id]; dup {
						continue
					}
					db.dx.showRec[id] = key
					db.dx.showLef[key]++
					st.Interrupted = append(st.Interrupted, id)
				}
				return nil
			})
		})
	})
}

// sealIDs encrypts ids as one showing or seen record under key k, with
// the AD prefix pre.
func sealIDs(a *crypto.AEAD, pre, k []byte, ids []uint64) ([]byte, error) {
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	v := make([]byte, 1+crypto.NonceSize, 1+crypto.NonceSize+8*len(ids)+crypto.TagSize)
	v[0] = valueVersion
	copy(v[1:], nonce[:])
	pt := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		pt = binary.BigEndian.AppendUint64(pt, id)
	}
	return a.Seal(v, &nonce, pt, concatAD(pre, k)), nil
}

// openIDs authenticates a showing or seen record and returns its ids
// (u64 each, at least one).
func openIDs(a *crypto.AEAD, pre, k, v []byte) ([]byte, error) {
	if len(k) != 8 || len(v) < valueMinLen || v[0] != valueVersion {
		return nil, fmt.Errorf("%w: record of %d+%d bytes", ErrCorrupt, len(k), len(v))
	}
	pt, err := openValue(a, v, pre, k)
	if err != nil {
		return nil, err
	}
	if len(pt) == 0 || len(pt)%8 != 0 {
		return nil, fmt.Errorf("%w: %d bytes of ids", ErrCorrupt, len(pt))
	}
	return pt, nil
}

// sealOutboxRecord encrypts chats as one outbox record under key k, with
// the AD prefix pre.
func sealOutboxRecord(a *crypto.AEAD, pre, k []byte, chats []protocol.Chat) ([]byte, error) {
	n := 0
	for _, c := range chats {
		n += outMsgHeader + len(c.Text)
	}
	// The plaintext is built where its ciphertext goes and sealed in place.
	v := make([]byte, 1+crypto.NonceSize, 1+crypto.NonceSize+n+crypto.TagSize)
	for _, c := range chats {
		v = binary.BigEndian.AppendUint64(v, c.ID)
		v = binary.BigEndian.AppendUint64(v, uint64(c.SentAt))
		v = binary.BigEndian.AppendUint32(v, uint32(len(c.Text)))
		v = append(v, c.Text...)
	}
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	v[0] = valueVersion
	copy(v[1:], nonce[:])
	return a.Seal(v[:1+crypto.NonceSize], &nonce, v[1+crypto.NonceSize:], concatAD(pre, k)), nil
}

// openOutboxRecord authenticates and parses an outbox record sealed with
// the AD prefix pre.
func openOutboxRecord(a *crypto.AEAD, pre, k, v []byte) ([]protocol.Chat, error) {
	if len(k) != 8 {
		return nil, fmt.Errorf("%w: outbox key of %d bytes", ErrCorrupt, len(k))
	}
	if len(v) < 1+crypto.NonceSize+crypto.TagSize || v[0] != valueVersion {
		return nil, fmt.Errorf("%w: outbox value of %d bytes", ErrCorrupt, len(v))
	}
	pt, err := openValue(a, v, pre, k)
	if err != nil {
		return nil, err
	}
	return parseOutbox(pt)
}

// parseOutbox parses a decrypted outbox record.
func parseOutbox(pt []byte) ([]protocol.Chat, error) {
	var chats []protocol.Chat
	for len(pt) > 0 {
		if len(pt) < outMsgHeader {
			return nil, fmt.Errorf("%w: outbox record cut short", ErrCorrupt)
		}
		c := protocol.Chat{ID: binary.BigEndian.Uint64(pt), SentAt: int64(binary.BigEndian.Uint64(pt[8:]))}
		n := binary.BigEndian.Uint32(pt[16:])
		pt = pt[outMsgHeader:]
		if n > protocol.MaxTextSize || int(n) > len(pt) {
			return nil, fmt.Errorf("%w: outbox message of %d bytes", ErrCorrupt, n)
		}
		c.Text = string(pt[:n])
		pt = pt[n:]
		if c.ID == 0 || !utf8.ValidString(c.Text) {
			return nil, fmt.Errorf("%w: bad outbox message", ErrCorrupt)
		}
		chats = append(chats, c)
	}
	return chats, nil
}

// deliveryTx is one write transaction's delivery changes. The index
// changes are recorded as undo steps, applied to dx at once and rolled back
// if the commit fails (the writer goroutine is the only user of dx).
// Its sequence numbers and key sets are the state s's (written by the
// caller).
type deliveryTx struct {
	db                    *DB
	s                     *fileState
	out, seen, showing    *bolt.Bucket
	seenCount, seenCount0 uint64 // now, and at the start (rollback)
	undo                  []undoStep
}

func (db *DB) beginDelivery(tx *bolt.Tx, s *fileState) (*deliveryTx, error) {
	d := &deliveryTx{db: db, s: s, out: tx.Bucket(bucketOutbox), seen: tx.Bucket(bucketSeen), showing: tx.Bucket(bucketShowing)}
	if d.out == nil || d.seen == nil || d.showing == nil {
		return nil, corruptErr(db.path, errors.New("delivery bucket missing"))
	}
	d.out.FillPercent = histFillPercent
	d.seen.FillPercent = histFillPercent
	d.showing.FillPercent = histFillPercent
	d.seenCount = db.dx.seenCount
	d.seenCount0 = d.seenCount
	return d, nil
}

func metaU64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func u64Key(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

// undoStep restores m[k] to old (or deletes it if it was absent).
type undoStep struct {
	m      map[uint64]uint64
	k, old uint64
	had    bool
}

// setMap sets m[k] = v, recording how to undo it.
func (d *deliveryTx) setMap(m map[uint64]uint64, k, v uint64) {
	old, had := m[k]
	m[k] = v
	d.undo = append(d.undo, undoStep{m, k, old, had})
}

// delMap deletes m[k], recording how to undo it.
func (d *deliveryTx) delMap(m map[uint64]uint64, k uint64) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	d.undo = append(d.undo, undoStep{m, k, old, true})
}

// rollback undoes the index changes (the commit failed).
func (d *deliveryTx) rollback() {
	for i := len(d.undo) - 1; i >= 0; i-- {
		if u := d.undo[i]; u.had {
			u.m[u.k] = u.old
		} else {
			delete(u.m, u.k)
		}
	}
	d.undo = nil
	d.db.dx.seenCount = d.seenCount0
}

// queue adds the chats not already queued to the outbox, in records of up
// to histRecordEntries messages and histRecordBytes bytes of text (bbolt
// handles small values best), and returns them.
func (d *deliveryTx) queue(chats []protocol.Chat) ([]protocol.Chat, error) {
	fresh := make([]protocol.Chat, 0, len(chats))
	for _, c := range chats {
		if _, dup := d.db.dx.outRec[c.ID]; dup || c.ID == 0 {
			continue
		}
		fresh = append(fresh, c)
	}
	for rest := fresh; len(rest) > 0; {
		n, size := 0, 0
		for n < len(rest) && n < histRecordEntries && (n == 0 || size+len(rest[n].Text) <= histRecordBytes) {
			size += len(rest[n].Text)
			n++
		}
		if err := d.putOutbox(rest[:n]); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return fresh, nil
}

// ErrOutboxKeyExists: an outbox record would overwrite another (its
// sequence number went back): the write fails, the queued messages in
// both are kept.
var ErrOutboxKeyExists = errors.New("protocol: database outbox record exists")

// putOutbox writes one outbox record. It never overwrites one: a key in
// use fails the transaction with ErrOutboxKeyExists.
func (d *deliveryTx) putOutbox(chats []protocol.Chat) error {
	d.s.outSeq++
	k := u64Key(d.s.outSeq)
	if d.out.Get(k) != nil {
		return fmt.Errorf("%w: key %d", ErrOutboxKeyExists, d.s.outSeq)
	}
	v, err := sealOutboxRecord(d.db.aead, d.s.outboxAD(), k, chats)
	if err != nil {
		return err
	}
	if err := d.out.Put(k, v); err != nil {
		return err
	}
	d.s.added(setOutbox, k)
	for _, c := range chats {
		d.setMap(d.db.dx.outRec, c.ID, d.s.outSeq)
	}
	d.setMap(d.db.dx.outLeft, d.s.outSeq, uint64(len(chats)))
	return nil
}

// delivered drops ids from their outbox records, deleting the records
// left empty.
func (d *deliveryTx) delivered(ids []uint64) error {
	return d.dropIDs(ids, d.db.dx.outRec, d.db.dx.outLeft, d.out, setOutbox)
}

// dropIDs drops ids from the records that hold them (rec: id -> record
// key; left: record key -> ids it still holds), deleting from b each
// record left empty. Ids in no record are skipped.
func (d *deliveryTx) dropIDs(ids []uint64, rec, left map[uint64]uint64, b *bolt.Bucket, set int) error {
	for _, id := range ids {
		key, ok := rec[id]
		if !ok {
			continue
		}
		d.delMap(rec, id)
		if n := left[key]; n > 1 {
			d.setMap(left, key, n-1)
			continue
		}
		d.delMap(left, key)
		if err := d.deleteRecord(b, set, u64Key(key)); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecord deletes key k of set i (if it is there) and updates the
// state's key set.
func (d *deliveryTx) deleteRecord(b *bolt.Bucket, i int, k []byte) error {
	if b.Get(k) == nil {
		return nil
	}
	if err := b.Delete(k); err != nil {
		return err
	}
	d.s.removed(i, k)
	return nil
}

// putIDs writes a showing or seen record (set i) of ids under k, which is
// new (its sequence number just grew).
func (d *deliveryTx) putIDs(b *bolt.Bucket, i int, pre, k []byte, ids []uint64) error {
	if b.Get(k) != nil {
		return fmt.Errorf("%w: %s key %x exists", ErrTampered, setNames[i], k)
	}
	v, err := sealIDs(d.db.aead, pre, k, ids)
	if err != nil {
		return err
	}
	if err := b.Put(k, v); err != nil {
		return err
	}
	d.s.added(i, k)
	return nil
}

// showingMark writes one showing record for ids. An id already marked by
// an older record (a possible duplicate shown again) moves to this one.
func (d *deliveryTx) showingMark(ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := d.unmarkShowing(ids); err != nil {
		return err
	}
	d.s.showSeq++
	for _, id := range ids {
		d.setMap(d.db.dx.showRec, id, d.s.showSeq)
	}
	d.setMap(d.db.dx.showLef, d.s.showSeq, uint64(len(ids)))
	return d.putIDs(d.showing, setShowing, d.s.showingAD(), u64Key(d.s.showSeq), ids)
}

// unmarkShowing drops ids from their showing records, deleting the
// records left empty.
func (d *deliveryTx) unmarkShowing(ids []uint64) error {
	return d.dropIDs(ids, d.db.dx.showRec, d.db.dx.showLef, d.showing, setShowing)
}

// seenMark records ids as seen (one record) and drops their showing marks.
func (d *deliveryTx) seenMark(ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := d.unmarkShowing(ids); err != nil {
		return err
	}
	d.s.seenSeq++
	d.seenCount += uint64(len(ids))
	return d.putIDs(d.seen, setSeen, d.s.seenAD(), u64Key(d.s.seenSeq), ids)
}

// finish deletes showing records left with no unseen id (found at open
// after a crash) and prunes the oldest seen records while at least
// MaxSeenIDs ids remain without them.
func (d *deliveryTx) finish() error {
	for key, left := range d.db.dx.showLef {
		if left == 0 {
			d.delMap(d.db.dx.showLef, key)
			if err := d.deleteRecord(d.showing, setShowing, u64Key(key)); err != nil {
				return err
			}
		}
	}
	if err := d.pruneSeen(); err != nil {
		return err
	}
	d.db.dx.seenCount = d.seenCount
	return nil
}

// pruneSeen deletes the oldest seen records while at least MaxSeenIDs
// ids remain without them. The arithmetic is checked: a count below a
// record's size stops the pruning instead of wrapping around (which would
// delete every record).
func (d *deliveryTx) pruneSeen() error {
	c := d.seen.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		n := uint64(max(len(v)-valueMinLen, 0) / 8) // sealed ids: 8 bytes each
		if d.seenCount < n || d.seenCount-n < protocol.MaxSeenIDs {
			return nil
		}
		d.seenCount -= n
		d.s.removed(setSeen, k)
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// createDeliveryBuckets adds the delivery buckets (a new file, or a
// version 1 file being upgraded).
func createDeliveryBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketOutbox, bucketSeen, bucketShowing} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// openValue authenticates and decrypts a value u8 version || nonce(12) ||
// AES-256-GCM(pt, AD = ad || k).
func openValue(a *crypto.AEAD, v, ad, k []byte) ([]byte, error) {
	var nonce [crypto.NonceSize]byte
	copy(nonce[:], v[1:])
	pt, err := a.Open(nil, &nonce, v[1+crypto.NonceSize:], concatAD(ad, k))
	if err != nil {
		return nil, fmt.Errorf("%w: value fails authentication", ErrCorrupt)
	}
	return pt, nil
}

func concatAD(ad, k []byte) []byte {
	if len(ad) == 0 {
		return k
	}
	return append(append(make([]byte, 0, len(ad)+len(k)), ad...), k...)
}
