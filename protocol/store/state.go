package store

// The sealed state of the file (format version 3 and 4): one record in meta that
// says what the file holds, authenticated with the history key, so that
// what someone with write access to the file changes by hand is found at
// open instead of acted on (issue 16 items 4-7).
//
//	meta "state" -> u8 version(1) || nonce(12) || AES-256-GCM(key, nonce,
//	                state, AD = "duet/3 state")
//	state (281 bytes) = u8 2 || file id(16) || u64 generation
//	                || u64 history seq || u64 history entries || u64 clear epoch
//	                || u64 out_seq || u64 show_seq || u64 seen_seq || u64 read_seq
//	                || 5 x (u64 records || digest(32))   history, outbox, showing, seen, read
//
// (Format 3 files have state version 1: 233 bytes, no read_seq, 4 sets;
// it is read as a version 2 state with an empty read set, and the next
// write seals version 2: read.go.)
//
// The file id is 16 random bytes chosen when the file is made (or
// migrated): every record's AD holds it, so records from another file (a
// moved-away database for the same identity and peer included, which has
// the same key) do not open here. The clear epoch is raised by /clear and
// is in every history record's AD: records copied back from before a
// /clear do not open. The generation is raised by every write transaction.
// The sequence numbers only grow, and every record key is written once (an
// existing outbox key is never overwritten): so a record removed, added or
// copied back from an older copy changes the set of keys of its bucket.
// Each bucket's set is kept as its number of records and the XOR of
// HMAC-SHA-256(digest key, bucket index || record key) over its records:
// a commit updates it in O(keys changed), Open checks it in O(keys) (a
// cursor over the keys; values are authenticated as they are read), and
// without the key nobody can forge a change that keeps it. The digest key
// is HKDF-SHA-256(history key, info "duet/3 set digest").
//
// What this cannot detect: the whole file replaced by an older copy of
// itself (its state matches its records). Telling that apart needs a
// record of the newest generation kept somewhere the attacker cannot
// write, which the config directory is not (docs/DESIGN.md, "what an
// attacker with write access to the config directory can and cannot do").

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
)

const (
	stateVersion   = 2
	stateVersionV1 = 1 // format 3: no read set
	fileIDLen      = 16
	stateLen       = 1 + fileIDLen + 8*8 + setCount*(8+crypto.MACSize)
	stateLenV1     = 1 + fileIDLen + 7*8 + (setCount-1)*(8+crypto.MACSize)

	stateAD         = "duet/3 state"
	digestKeyLabel  = "duet/3 set digest"
	setHistory      = 0
	setOutbox       = 1
	setShowing      = 2
	setSeen         = 3
	setRead         = 4 // read.go; not in a state of version 1
	setCount        = 5
	fmtVersionState = 3 // the first format version with a sealed state
)

var (
	metaState = []byte("state")

	// The buckets whose key sets the state keeps, by set index.
	setBuckets = [setCount][]byte{bucketHistory, bucketOutbox, bucketShowing, bucketSeen, bucketRead}
	setNames   = [setCount]string{"history", "outbox", "showing", "seen", "read mark"}

	// ErrTampered: the file's records do not match its sealed state (records
	// removed, added or copied back by someone who could write the file),
	// or the state itself is missing or fails authentication.
	ErrTampered = errors.New("protocol: database does not match its sealed state")
)

// setDigest is one bucket's key set: its size and the XOR of the keys'
// MACs.
type setDigest struct {
	n uint64
	x [crypto.MACSize]byte
}

// fileState is the decoded sealed state.
type fileState struct {
	id                       [fileIDLen]byte
	gen                      uint64
	histSeq, histEntries     uint64
	epoch                    uint64
	outSeq, showSeq, seenSeq uint64
	readSeq                  uint64 // read.go
	sets                     [setCount]setDigest
	digestKey                []byte // not encoded: derived from the key
}

// newFileState returns the state of a new, empty file: a fresh random id.
func newFileState(digestKey []byte) (*fileState, error) {
	s := &fileState{digestKey: digestKey}
	if _, err := rand.Read(s.id[:]); err != nil {
		return nil, err
	}
	return s, nil
}

// digestKeyFor derives the set digest key from the history key.
func digestKeyFor(key [32]byte) ([]byte, error) {
	return crypto.HKDF(key[:], nil, digestKeyLabel, crypto.MACSize)
}

// encode returns the state's bytes (stateLen).
func (s *fileState) encode() []byte {
	b := make([]byte, 0, stateLen)
	b = append(b, stateVersion)
	b = append(b, s.id[:]...)
	for _, v := range []uint64{s.gen, s.histSeq, s.histEntries, s.epoch, s.outSeq, s.showSeq, s.seenSeq, s.readSeq} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	for _, d := range s.sets {
		b = binary.BigEndian.AppendUint64(b, d.n)
		b = append(b, d.x[:]...)
	}
	return b
}

// decodeState parses encoded state bytes (from disk, after authentication):
// exactly stateLen bytes of version 2, or stateLenV1 bytes of version 1
// (read_seq 0, an empty read set), or an error wrapping ErrTampered.
func decodeState(b []byte) (*fileState, error) {
	sets, counters := setCount, 8
	switch {
	case len(b) == stateLen && b[0] == stateVersion:
	case len(b) == stateLenV1 && b[0] == stateVersionV1:
		sets, counters = setCount-1, 7
	default:
		return nil, fmt.Errorf("%w: state of %d bytes", ErrTampered, len(b))
	}
	s := &fileState{}
	b = b[1:]
	copy(s.id[:], b)
	b = b[fileIDLen:]
	for _, p := range []*uint64{&s.gen, &s.histSeq, &s.histEntries, &s.epoch, &s.outSeq, &s.showSeq, &s.seenSeq, &s.readSeq}[:counters] {
		*p = binary.BigEndian.Uint64(b)
		b = b[8:]
	}
	for i := range s.sets[:sets] {
		s.sets[i].n = binary.BigEndian.Uint64(b)
		copy(s.sets[i].x[:], b[8:])
		b = b[8+crypto.MACSize:]
	}
	return s, nil
}

// sealState seals s for meta "state".
func sealState(a *crypto.AEAD, s *fileState) ([]byte, error) {
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	v := append([]byte{valueVersion}, nonce[:]...)
	return a.Seal(v, &nonce, s.encode(), []byte(stateAD)), nil
}

// openState authenticates and decodes meta "state"; digestKey is attached.
func openState(a *crypto.AEAD, v, digestKey []byte) (*fileState, error) {
	if len(v) < valueMinLen || v[0] != valueVersion {
		return nil, fmt.Errorf("%w: sealed state missing or of %d bytes", ErrTampered, len(v))
	}
	var nonce [crypto.NonceSize]byte
	copy(nonce[:], v[1:])
	pt, err := a.Open(nil, &nonce, v[1+crypto.NonceSize:], []byte(stateAD))
	if err != nil {
		return nil, fmt.Errorf("%w: the sealed state fails authentication", ErrTampered)
	}
	s, err := decodeState(pt)
	if err != nil {
		return nil, err
	}
	s.digestKey = digestKey
	return s, nil
}

// mac is the MAC of key k of set i.
func (s *fileState) mac(i int, k []byte) [crypto.MACSize]byte {
	return crypto.MAC(s.digestKey, []byte{byte(i)}, k)
}

func xorInto(x *[crypto.MACSize]byte, m [crypto.MACSize]byte) {
	for j := range x {
		x[j] ^= m[j]
	}
}

// added records that key k was put in set i (a key not there before).
func (s *fileState) added(i int, k []byte) {
	s.sets[i].n++
	xorInto(&s.sets[i].x, s.mac(i, k))
}

// removed records that key k (there before) was deleted from set i.
func (s *fileState) removed(i int, k []byte) {
	s.sets[i].n--
	xorInto(&s.sets[i].x, s.mac(i, k))
}

// clearSet records that set i was emptied.
func (s *fileState) clearSet(i int) { s.sets[i] = setDigest{} }

// The AD prefixes of format 3 records: the bucket, the file id and, for
// the history, the clear epoch; the record key (and for the history its
// entry count) follow.
func (s *fileState) histAD() []byte {
	ad := append([]byte("duet/3 history"), s.id[:]...)
	return binary.BigEndian.AppendUint64(ad, s.epoch)
}
func (s *fileState) outboxAD() []byte  { return append([]byte("duet/3 outbox"), s.id[:]...) }
func (s *fileState) showingAD() []byte { return append([]byte("duet/3 showing"), s.id[:]...) }
func (s *fileState) seenAD() []byte    { return append([]byte("duet/3 seen"), s.id[:]...) }

// readState reads and opens the state in tx.
func (db *DB) readState(tx *bolt.Tx) (*fileState, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil, corruptErr(db.path, errors.New("meta bucket missing"))
	}
	s, err := openState(db.aead, meta.Get(metaState), db.digestKey)
	if err != nil {
		return nil, dbErr(db.path, err, hintTampered)
	}
	return s, nil
}

// writeState raises the generation and stores s in tx.
func (db *DB) writeState(tx *bolt.Tx, s *fileState) error {
	s.gen++
	v, err := sealState(db.aead, s)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(metaState, v)
}

const hintTampered = "duet sent nothing and changed nothing in it; restore the file from a backup you trust, or move it away (duet then starts a new, empty database; the moved file keeps what it holds)"

// scanSets computes each set's digest from the keys in tx.
func (s *fileState) scanSets(tx *bolt.Tx) ([setCount]setDigest, error) {
	var got [setCount]setDigest
	for i, name := range setBuckets {
		b := tx.Bucket(name)
		if b == nil && i == setRead {
			continue // a format 3 file, or none written yet: an empty set
		}
		if b == nil {
			return got, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, name)
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			got[i].n++
			xorInto(&got[i].x, s.mac(i, k))
		}
	}
	return got, nil
}

// setFinding says how set i differs: the state records want, the file
// holds got.
func setFinding(i int, want, got setDigest) string {
	switch {
	case got.n < want.n:
		return fmt.Sprintf("%d %s records missing", want.n-got.n, setNames[i])
	case got.n > want.n:
		return fmt.Sprintf("%d %s records not written by this file", got.n-want.n, setNames[i])
	}
	return fmt.Sprintf("%s records replaced (%d records, as many as recorded, but not the same ones)", setNames[i], got.n)
}

// checkSets compares the key sets in tx with the state. It returns an
// error wrapping ErrTampered if the outbox differs (queued messages
// removed, or old ones copied back: duet refuses to start rather than
// send or drop anything), and warnings for the other sets (the history,
// the showing marks and the seen ids: duet goes on, and the state is
// sealed again to what the file holds, so the warning is given once).
func (db *DB) checkSets(tx *bolt.Tx, s *fileState) (warnings []string, fix bool, err error) {
	got, err := s.scanSets(tx)
	if err != nil {
		return nil, false, corruptErr(db.path, err)
	}
	if got[setOutbox] != s.sets[setOutbox] {
		return nil, false, dbErr(db.path, fmt.Errorf("%w: %s (queued messages removed, or records copied back from an older copy of the file)", ErrTampered, setFinding(setOutbox, s.sets[setOutbox], got[setOutbox])), hintTampered)
	}
	var found []string
	for i := range got { // the outbox matches (above)
		if got[i] != s.sets[i] {
			found = append(found, setFinding(i, s.sets[i], got[i]))
			s.sets[i] = got[i]
		}
	}
	if len(found) == 0 {
		return nil, false, nil
	}
	w := fmt.Sprintf("database %s does not match its sealed state: %s (changed by someone who could write the file, or records copied from an older copy); nothing was sent from them, duet goes on with what it holds, and history records that do not open are skipped as damaged", db.path, strings.Join(found, ", "))
	return []string{w}, true, nil
}
