package protocol

// Delivery state in the database (the Store the Node uses): the outbox, the
// ids already shown ("seen") and the ids about to be shown ("showing"). It
// shares the DB's writer goroutine, so every change joins a grouped,
// fsynced transaction with the history entries it implies: a message of
// ours is in the outbox and in our history in one commit, and a received
// message is marked "showing" and put in the history in one commit.
//
// File layout (format version 2 adds these to version 1's buckets; a
// version 1 file gets them, empty, on its first open):
//
//	bucket "outbox"
//	  key:   u64 queue_seq             from meta "out_seq", only grows:
//	                                   key order is the order written
//	  value: u8 version(1) || nonce(12) || AES-256-GCM(key, nonce,
//	         u64 id || i64 sent_at_unix_nano || text,
//	         AD = "duet/1 outbox" || the 8 key bytes)
//	bucket "seen"
//	  key:   u64 seen_seq              from meta "seen_seq", only grows
//	  value: u64 id                    a message shown; the newest
//	                                   maxSeenIDs are kept (meta "seen_count")
//	bucket "showing"
//	  key:   u64 id  ->  value: empty  marked before the message is shown,
//	                                   removed when it is marked seen
//
// What the file reveals without the key: the number of queued messages,
// their lengths, and the ids shown (random 64-bit numbers).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
)

var (
	bucketOutbox  = []byte("outbox")
	bucketSeen    = []byte("seen")
	bucketShowing = []byte("showing")

	metaOutSeq    = []byte("out_seq")
	metaSeenSeq   = []byte("seen_seq")
	metaSeenCount = []byte("seen_count")

	outboxAD = []byte("duet/1 outbox")
)

const (
	outPTHeader = 8 + 8 // id, sent_at
	outValueMin = 1 + crypto.NonceSize + crypto.TagSize + outPTHeader
)

// DeliveryState is the delivery state a DB holds when opened.
type DeliveryState struct {
	Outbox      []Chat   // written, not acknowledged, in the order written (Prev is 0)
	Seen        []uint64 // shown, oldest first (at most maxSeenIDs)
	Interrupted []uint64 // marked showing and never seen: a crash interrupted them
}

// Load returns the delivery state read when the DB was opened (and
// anything Import added since). The Node calls it once, before it runs.
func (h *DB) Load() (DeliveryState, error) {
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	st := h.loaded
	h.loaded = DeliveryState{} // the Node owns it now
	return st, nil
}

// Queue commits chats to the outbox, in order, with their entries in our
// history (unless the DB keeps no history), and returns once the commit is
// on disk. It is what makes SendMessage durable.
func (h *DB) Queue(chats []Chat) error {
	return h.requestOp(histOp{kind: opQueue, chats: chats})
}

// Showing marks the messages as about to be shown and stores them in the
// history (unless the DB keeps no history; an id already stored is not
// stored again), and returns once the commit is on disk.
func (h *DB) Showing(msgs []HistoryEntry) error {
	return h.requestOp(histOp{kind: opShowing, entries: msgs})
}

// Seen records that ids were shown (replacing their showing marks). It
// does not wait: done (if not nil) is called from the writer goroutine once
// the commit is on disk, or with the error that prevented it. The Node
// acknowledges the messages only then.
func (h *DB) Seen(ids []uint64, done func(error)) {
	h.asyncOp(histOp{kind: opSeen, ids: ids, cb: done})
}

// Delivered removes acknowledged messages from the outbox. It does not
// wait: a crash before the commit only makes the peer see (and drop) a
// resend.
func (h *DB) Delivered(ids []uint64) {
	h.asyncOp(histOp{kind: opDelivered, ids: ids})
}

// Import adds an old delivery log's state (migration): outbox messages not
// already queued, seen ids not already seen, and showing marks. It is
// idempotent, so a crash between Import and removing the old log is
// harmless. The imported state is part of what Load returns.
func (h *DB) Import(st DeliveryState) error {
	return h.requestOp(histOp{kind: opImport, imported: st})
}

// asyncOp queues op without waiting for its commit. After Close (or with
// the writer stopped) op.cb gets ErrDBClosed.
func (h *DB) asyncOp(op histOp) {
	select {
	case <-h.quit:
		if op.cb != nil {
			op.cb(ErrDBClosed)
		}
		return
	default:
	}
	select {
	case h.q <- op:
	case <-h.quit:
		if op.cb != nil {
			op.cb(ErrDBClosed)
		}
	}
}

// requestOp queues op and waits for its commit.
func (h *DB) requestOp(op histOp) error {
	op.done = make(chan error, 1)
	return h.send(op)
}

// loadDelivery reads the delivery state (called by OpenDB, before the
// writer starts). A value that fails authentication is an error: queued
// messages are never dropped silently.
func (h *DB) loadDelivery() error {
	h.outKeys = make(map[uint64]uint64)
	seenSet := make(map[uint64]struct{})
	return h.guard(func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			out, seen, showing := tx.Bucket(bucketOutbox), tx.Bucket(bucketSeen), tx.Bucket(bucketShowing)
			if out == nil || seen == nil || showing == nil {
				return corruptErr(h.path, errors.New("delivery bucket missing"))
			}
			st := &h.loaded
			err := out.ForEach(func(k, v []byte) error {
				c, err := openOutboxValue(h.aead, k, v)
				if err != nil {
					return fmt.Errorf("protocol: database %s: outbox entry %x: %w; the queued messages in it cannot be read: restore the file from a backup, or move it away (losing them)", h.path, k, err)
				}
				h.outKeys[c.ID] = binary.BigEndian.Uint64(k)
				st.Outbox = append(st.Outbox, c)
				return nil
			})
			if err != nil {
				return err
			}
			err = seen.ForEach(func(k, v []byte) error {
				if len(k) != 8 || len(v) != 8 {
					return corruptErr(h.path, fmt.Errorf("seen entry of %d+%d bytes", len(k), len(v)))
				}
				id := binary.BigEndian.Uint64(v)
				if _, dup := seenSet[id]; !dup {
					seenSet[id] = struct{}{}
					st.Seen = append(st.Seen, id)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return showing.ForEach(func(k, _ []byte) error {
				if len(k) != 8 {
					return corruptErr(h.path, fmt.Errorf("showing entry of %d bytes", len(k)))
				}
				st.Interrupted = append(st.Interrupted, binary.BigEndian.Uint64(k))
				return nil
			})
		})
	})
}

// sealOutbox encrypts c for the outbox under key k (the 8-byte bucket key).
func sealOutbox(a *crypto.AEAD, k []byte, c Chat) ([]byte, error) {
	pt := make([]byte, outPTHeader, outPTHeader+len(c.Text))
	binary.BigEndian.PutUint64(pt, c.ID)
	binary.BigEndian.PutUint64(pt[8:], uint64(c.SentAt))
	pt = append(pt, c.Text...)
	return sealValue(a, pt, outboxAD, k)
}

// openOutboxValue authenticates and parses an outbox value.
func openOutboxValue(a *crypto.AEAD, k, v []byte) (Chat, error) {
	if len(k) != 8 {
		return Chat{}, fmt.Errorf("%w: outbox key of %d bytes", ErrDBCorrupt, len(k))
	}
	if len(v) < outValueMin || v[0] != histValueVer {
		return Chat{}, fmt.Errorf("%w: outbox value of %d bytes", ErrDBCorrupt, len(v))
	}
	pt, err := openValue(a, v, outboxAD, k)
	if err != nil {
		return Chat{}, err
	}
	c := Chat{ID: binary.BigEndian.Uint64(pt), SentAt: int64(binary.BigEndian.Uint64(pt[8:])), Text: string(pt[outPTHeader:])}
	if c.ID == 0 || len(c.Text) > MaxTextSize || !utf8.ValidString(c.Text) {
		return Chat{}, fmt.Errorf("%w: bad outbox message", ErrDBCorrupt)
	}
	return c, nil
}

// deliveryTx is the state of one write transaction's delivery changes.
type deliveryTx struct {
	h                   *DB
	out, seen, showing  *bolt.Bucket
	meta                *bolt.Bucket
	outSeq, seenSeq     uint64
	seenCount           uint64
	seenAdded, outAdded []uint64 // applied to the in-memory indexes after the commit
	outKeysAdded        []uint64
	outRemoved          []uint64
}

func (h *DB) beginDelivery(tx *bolt.Tx) (*deliveryTx, error) {
	d := &deliveryTx{h: h, meta: tx.Bucket(bucketMeta), out: tx.Bucket(bucketOutbox), seen: tx.Bucket(bucketSeen), showing: tx.Bucket(bucketShowing)}
	if d.meta == nil || d.out == nil || d.seen == nil || d.showing == nil {
		return nil, corruptErr(h.path, errors.New("delivery bucket missing"))
	}
	d.out.FillPercent = histFillPercent
	d.seen.FillPercent = histFillPercent
	d.outSeq = metaU64(d.meta, metaOutSeq)
	d.seenSeq = metaU64(d.meta, metaSeenSeq)
	d.seenCount = metaU64(d.meta, metaSeenCount)
	return d, nil
}

func metaU64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(k, buf[:])
}

func (d *deliveryTx) queue(c Chat) error {
	if _, dup := d.h.outKeys[c.ID]; dup {
		return nil
	}
	for _, id := range d.outAdded {
		if id == c.ID {
			return nil
		}
	}
	d.outSeq++
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], d.outSeq)
	v, err := sealOutbox(d.h.aead, k[:], c)
	if err != nil {
		return err
	}
	if err := d.out.Put(k[:], v); err != nil {
		return err
	}
	d.outAdded = append(d.outAdded, c.ID)
	d.outKeysAdded = append(d.outKeysAdded, d.outSeq)
	return nil
}

func (d *deliveryTx) delivered(id uint64) error {
	seq, ok := d.h.outKeys[id]
	if !ok {
		return nil
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	if err := d.out.Delete(k[:]); err != nil {
		return err
	}
	d.outRemoved = append(d.outRemoved, id)
	return nil
}

func (d *deliveryTx) showingMark(id uint64) error {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return d.showing.Put(k[:], nil)
}

// seenMark records id as seen and drops its showing mark.
func (d *deliveryTx) seenMark(id uint64) error {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	if err := d.showing.Delete(k[:]); err != nil {
		return err
	}
	d.seenSeq++
	var sk [8]byte
	binary.BigEndian.PutUint64(sk[:], d.seenSeq)
	if err := d.seen.Put(sk[:], k[:]); err != nil {
		return err
	}
	d.seenCount++
	return nil
}

// finish prunes the oldest seen ids past maxSeenIDs and stores the counters.
func (d *deliveryTx) finish() error {
	if d.seenCount > maxSeenIDs {
		c := d.seen.Cursor()
		for k, _ := c.First(); k != nil && d.seenCount > maxSeenIDs; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			d.seenCount--
		}
	}
	for _, kv := range []struct {
		k []byte
		v uint64
	}{{metaOutSeq, d.outSeq}, {metaSeenSeq, d.seenSeq}, {metaSeenCount, d.seenCount}} {
		if err := putU64(d.meta, kv.k, kv.v); err != nil {
			return err
		}
	}
	return nil
}

// committed applies the transaction's changes to the in-memory index
// (after the commit succeeded; only the writer goroutine calls it).
func (d *deliveryTx) committed() {
	for i, id := range d.outAdded {
		d.h.outKeys[id] = d.outKeysAdded[i]
	}
	for _, id := range d.outRemoved {
		delete(d.h.outKeys, id)
	}
}

// importState applies an Import (see DB.Import) inside the transaction.
func (d *deliveryTx) importState(st DeliveryState, addHistory func(HistoryEntry) error) (added DeliveryState, err error) {
	for _, c := range st.Outbox {
		if _, dup := d.h.outKeys[c.ID]; dup || c.ID == 0 {
			continue
		}
		if err := d.queue(c); err != nil {
			return added, err
		}
		if err := addHistory(HistoryEntry{ID: c.ID, Own: true, Text: c.Text, At: time.Unix(0, c.SentAt)}); err != nil {
			return added, err
		}
		added.Outbox = append(added.Outbox, c)
	}
	seenSet := make(map[uint64]struct{})
	err = d.seen.ForEach(func(_, v []byte) error {
		if len(v) == 8 {
			seenSet[binary.BigEndian.Uint64(v)] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return added, err
	}
	for _, id := range st.Seen {
		if _, dup := seenSet[id]; dup {
			continue
		}
		if err := d.seenMark(id); err != nil {
			return added, err
		}
		seenSet[id] = struct{}{}
		added.Seen = append(added.Seen, id)
	}
	for _, id := range st.Interrupted {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], id)
		if d.showing.Get(k[:]) != nil {
			continue
		}
		if _, seen := seenSet[id]; seen {
			continue
		}
		if err := d.showingMark(id); err != nil {
			return added, err
		}
		added.Interrupted = append(added.Interrupted, id)
	}
	return added, nil
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

// sealValue encrypts pt: u8 version || nonce || AES-256-GCM(pt, AD = ad || k).
func sealValue(a *crypto.AEAD, pt, ad, k []byte) ([]byte, error) {
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	v := make([]byte, 1+crypto.NonceSize, 1+crypto.NonceSize+len(pt)+crypto.TagSize)
	v[0] = histValueVer
	copy(v[1:], nonce[:])
	return a.Seal(v, &nonce, pt, concatAD(ad, k)), nil
}

// openValue authenticates and decrypts a value sealed by sealValue.
func openValue(a *crypto.AEAD, v, ad, k []byte) ([]byte, error) {
	var nonce [crypto.NonceSize]byte
	copy(nonce[:], v[1:])
	pt, err := a.Open(nil, &nonce, v[1+crypto.NonceSize:], concatAD(ad, k))
	if err != nil {
		return nil, fmt.Errorf("%w: value fails authentication", ErrDBCorrupt)
	}
	return pt, nil
}

func concatAD(ad, k []byte) []byte {
	if len(ad) == 0 {
		return k
	}
	return bytes.Join([][]byte{ad, k}, nil)
}
