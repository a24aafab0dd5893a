package store

// The input bucket: the unsent draft and the input history (the lines
// entered, recalled with up and down) of the full-screen UI, kept across
// restarts.

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"duet/crypto"
	"duet/protocol"
)

// Input is what the full screen keeps of its input line across restarts.
type Input struct {
	Draft  string   // the unsent draft ("" for none)
	Recall []string // the lines entered, oldest first
}

// Limits of Input: SaveInput keeps the newest MaxRecall lines, and drops
// a draft or a line longer than protocol.MaxTextSize (no message can be
// longer); decodeInput refuses a record beyond them.
const (
	MaxRecall     = 500
	inputValueVer = 1
)

var (
	bucketInput = []byte("input")
	inputKey    = []byte("v")
)

// errInputRecord: an input record that does not decode.
var errInputRecord = errors.New("input record malformed")

// inputAD is the AD of the input record: the bucket, the file id and the
// history's clear epoch (a record from before /clear history does not
// open), then the record key. The input record is not in the state's key
// sets (state.go): it has one fixed key, and an older copy of it put back
// can only bring back an older draft.
func (s *fileState) inputAD() []byte {
	ad := append([]byte("duet/3 input"), s.id[:]...)
	ad = binary.BigEndian.AppendUint64(ad, s.epoch)
	return append(ad, inputKey...)
}

// encodeInput lays in out as: the draft, then the count of lines and each
// line, every string as a uint32 length and its bytes. Over-long strings
// are dropped and only the newest MaxRecall lines kept.
func encodeInput(in Input) []byte {
	draft := in.Draft
	if len(draft) > protocol.MaxTextSize {
		draft = ""
	}
	lines := make([]string, 0, min(len(in.Recall), MaxRecall))
	for _, l := range in.Recall {
		if len(l) <= protocol.MaxTextSize {
			lines = append(lines, l)
		}
	}
	if len(lines) > MaxRecall {
		lines = lines[len(lines)-MaxRecall:]
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(draft)))
	b = append(b, draft...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(lines)))
	for _, l := range lines {
		b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
		b = append(b, l...)
	}
	return b
}

// decodeInput parses what encodeInput wrote. Anything else (a length
// beyond the record or the limits, more than MaxRecall lines, bytes left
// over) is an error wrapping errInputRecord; it never allocates more than
// the record's own size.
func decodeInput(b []byte) (Input, error) {
	var in Input
	str := func() (string, error) {
		if len(b) < 4 {
			return "", fmt.Errorf("%w: truncated", errInputRecord)
		}
		n := binary.BigEndian.Uint32(b)
		if n > protocol.MaxTextSize || uint64(n) > uint64(len(b)-4) {
			return "", fmt.Errorf("%w: string of %d bytes", errInputRecord, n)
		}
		s := string(b[4 : 4+n])
		b = b[4+n:]
		return s, nil
	}
	var err error
	if in.Draft, err = str(); err != nil {
		return Input{}, err
	}
	if len(b) < 4 {
		return Input{}, fmt.Errorf("%w: truncated", errInputRecord)
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	if count > MaxRecall || uint64(count)*4 > uint64(len(b)) {
		return Input{}, fmt.Errorf("%w: %d lines", errInputRecord, count)
	}
	in.Recall = make([]string, 0, count)
	for range count {
		l, err := str()
		if err != nil {
			return Input{}, err
		}
		in.Recall = append(in.Recall, l)
	}
	if len(b) != 0 {
		return Input{}, fmt.Errorf("%w: %d bytes left over", errInputRecord, len(b))
	}
	return in, nil
}

// sealInput seals the encoded input pt under the AD ad: a version byte,
// the nonce, the ciphertext.
func sealInput(a *crypto.AEAD, ad, pt []byte) ([]byte, error) {
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	v := append([]byte{inputValueVer}, nonce[:]...)
	return a.Seal(v, &nonce, pt, ad), nil
}

// openInput opens a value sealInput made.
func openInput(a *crypto.AEAD, ad, v []byte) (Input, error) {
	if len(v) < 1+crypto.NonceSize+crypto.TagSize || v[0] != inputValueVer {
		return Input{}, fmt.Errorf("%w: %w: value of %d bytes", ErrCorrupt, errInputRecord, len(v))
	}
	var nonce [crypto.NonceSize]byte
	copy(nonce[:], v[1:])
	pt, err := a.Open(nil, &nonce, v[1+crypto.NonceSize:], ad)
	if err != nil {
		return Input{}, fmt.Errorf("%w: input record fails authentication", ErrCorrupt)
	}
	in, err := decodeInput(pt)
	if err != nil {
		return Input{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return in, nil
}

// SaveInput replaces the kept draft and input history with in, sealed,
// and waits for the commit. With Options.NoHistory it keeps nothing (and
// deletes what an earlier run kept). Clear deletes it too.
func (db *DB) SaveInput(in Input) error {
	op := writeOp{kind: opInput, done: make(chan error, 1)}
	if db.record {
		op.input = encodeInput(in)
	}
	return db.send(op)
}

// LoadInput returns the kept draft and input history: empty when none
// is kept. A record that does not open (damaged, or from before the last
// Clear) is an error wrapping ErrCorrupt: the caller starts empty.
func (db *DB) LoadInput() (Input, error) {
	var in Input
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInput)
		if b == nil {
			return nil
		}
		v := b.Get(inputKey)
		if v == nil {
			return nil
		}
		s, err := db.readState(tx)
		if err != nil {
			return err
		}
		in, err = openInput(db.aead, s.inputAD(), v)
		return err
	})
	var e *Error
	switch {
	case err == nil:
		return in, nil
	case errors.As(err, &e):
		return Input{}, err
	}
	return Input{}, dbErr(db.path, err, "the draft and input history are not restored; the next quit replaces them")
}

// putInput is opInput in the writer's transaction: pt nil deletes.
func putInput(tx *bolt.Tx, a *crypto.AEAD, s *fileState, pt []byte) error {
	if pt == nil {
		return clearInput(tx)
	}
	b, err := tx.CreateBucketIfNotExists(bucketInput)
	if err != nil {
		return err
	}
	v, err := sealInput(a, s.inputAD(), pt)
	if err != nil {
		return err
	}
	return b.Put(inputKey, v)
}

// clearInput deletes the input bucket (Clear, SaveInput without history).
func clearInput(tx *bolt.Tx) error {
	if tx.Bucket(bucketInput) == nil {
		return nil
	}
	return tx.DeleteBucket(bucketInput)
}
