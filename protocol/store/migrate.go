package store

// Migrations of older files to format version 4 (the sealed state,
// state.go), each in the one transaction Open runs it in: all or nothing.
// A crash midway leaves the old file as it was, and the next start
// migrates it again.
//
// Format 3 (duet up to 4bdae26): the sealed state of version 1, no "read"
// bucket. It needs no record rewritten: Open (carryOut) adds the bucket,
// writes the version and seals the state again as version 2 (read.go).
//
// Format 2 (duet up to 6302def): plaintext counters in meta, outbox
// records with AD "duet/1 outbox" || key, history records with AD
// "duet/1 history" || key || n, plaintext "showing" and "seen" values.
// Every record is sealed again for the new file id (history records that
// fail authentication are kept as they are: they were skipped as damaged
// before and still are), the counters go into the state (each at least the
// largest key in use, so no key is ever written twice), and the key check
// value is written again. from is the key the file opens under: the key,
// or the legacy key (crypto.LegacyHistoryKey) of older duets, so the same
// pass moves the file to the stable key derivation (issue 16 item 9).
//
// Cost: every record is read and written once (the history in batches of
// migrateBatch records); a history of millions of entries takes seconds,
// once.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
)

const migrateBatch = 256 // records read before they are written back

// migrateV2 migrates a format 2 file written under from.
func (db *DB) migrateV2(tx *bolt.Tx, from *crypto.AEAD) error {
	s, err := newFileState(db.digestKey)
	if err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	s.histEntries = metaU64(meta, metaCount)
	s.histSeq = max(metaU64(meta, metaSeq), lastSeq(tx.Bucket(bucketHistory), histKeyLen))
	s.outSeq = max(metaU64(meta, metaOutSeq), lastSeq(tx.Bucket(bucketOutbox), 8))
	s.showSeq = max(metaU64(meta, metaShowSeq), lastSeq(tx.Bucket(bucketShowing), 8))
	s.seenSeq = max(metaU64(meta, metaSeenSeq), lastSeq(tx.Bucket(bucketSeen), 8))

	err = db.reseal(tx, s, setHistory, func(k, v []byte) ([]byte, error) {
		es, err := openRecord(from, historyADv2, k, v)
		if err != nil {
			return v, nil // damaged: kept, and still skipped as damaged
		}
		return sealRecord(db.aead, s.histAD(), k, es)
	})
	if err != nil {
		return err
	}
	err = db.reseal(tx, s, setOutbox, func(k, v []byte) ([]byte, error) {
		chats, err := openOutboxRecord(from, outboxADv2, k, v)
		if err != nil {
			return nil, dbErr(db.path, fmt.Errorf("%w (outbox record %x)", err, k), "the queued messages in it cannot be read: restore the file from a backup, or move it away (losing them)")
		}
		return sealOutboxRecord(db.aead, s.outboxAD(), k, chats)
	})
	if err != nil {
		return err
	}
	for _, set := range []int{setShowing, setSeen} {
		pre := map[int][]byte{setShowing: s.showingAD(), setSeen: s.seenAD()}[set]
		err = db.reseal(tx, s, set, func(k, v []byte) ([]byte, error) {
			if len(k) != 8 || len(v)%8 != 0 {
				return nil, corruptErr(db.path, fmt.Errorf("%s record of %d+%d bytes", setNames[set], len(k), len(v)))
			}
			ids := make([]uint64, 0, len(v)/8)
			for ; len(v) > 0; v = v[8:] {
				ids = append(ids, binary.BigEndian.Uint64(v))
			}
			if len(ids) == 0 {
				return nil, nil // nothing to keep: deleted
			}
			return sealIDs(db.aead, pre, k, ids)
		})
		if err != nil {
			return err
		}
	}
	return db.finishFormat(tx, s)
}

// upgradeV1 migrates a format 1 file written under from: delivery buckets
// (empty), the history rewritten as records.
func (db *DB) upgradeV1(tx *bolt.Tx, from *crypto.AEAD) error {
	if err := createDeliveryBuckets(tx); err != nil {
		return err
	}
	s, err := newFileState(db.digestKey)
	if err != nil {
		return err
	}
	if err := db.upgradeV1History(tx, s, from); err != nil {
		return err
	}
	return db.finishFormat(tx, s)
}

// lastSeq returns the sequence number in the last key of b (keys of
// keyLen bytes, the sequence number in the last 8), or 0.
func lastSeq(b *bolt.Bucket, keyLen int) uint64 {
	if b == nil {
		return 0
	}
	var top uint64
	if keyLen == 8 {
		if k, _ := b.Cursor().Last(); len(k) == 8 {
			top = binary.BigEndian.Uint64(k)
		}
		return top
	}
	// History keys are at || seq: the seq is not in key order.
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) == keyLen {
			top = max(top, binary.BigEndian.Uint64(k[keyLen-8:]))
		}
	}
	return top
}

// reseal rewrites every record of set i with fn (nil: the record is
// deleted), in batches, and adds each key kept to s.
func (db *DB) reseal(tx *bolt.Tx, s *fileState, i int, fn func(k, v []byte) ([]byte, error)) error {
	b := tx.Bucket(setBuckets[i])
	if b == nil {
		return corruptErr(db.path, errors.New("bucket missing"))
	}
	type kv struct{ k, v []byte }
	var from []byte
	for {
		var batch []kv
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
			if k != nil && bytes.Equal(k, from) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(batch) < migrateBatch; k, v = c.Next() {
			batch = append(batch, kv{bytes.Clone(k), bytes.Clone(v)})
		}
		if len(batch) == 0 {
			return nil
		}
		for _, r := range batch {
			nv, err := fn(r.k, r.v)
			if err != nil {
				return err
			}
			if nv == nil {
				if err := b.Delete(r.k); err != nil {
					return err
				}
				continue
			}
			if err := b.Put(r.k, nv); err != nil {
				return err
			}
			s.added(i, r.k)
		}
		from = batch[len(batch)-1].k
	}
}
