package keys

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Chain is one direction's KDF chain: it holds the chain key of the next
// record it can give a key for (seq next) and nothing of earlier ones.
//
// The receiver opens a record in two steps so that only an authentic
// record moves the chain: Peek computes the record's key without changing
// the chain, the caller authenticates the record with it, and Commit moves
// the chain past it (erasing the keys of the record and of every seq it
// skipped). The sender does the same with Peek(Next()).
//
// A Chain is a value with no locks: its owner (the session) serialises use.
//
// Cost: Peek from Next to seq takes seq-Next steps the first time; the
// chain keeps the chain key of every checkpointStride-th seq it passed
// above Next (at most MaxSkip/checkpointStride+1 of them, about 2 KiB), so
// a later Peek anywhere up to the furthest one takes at most
// checkpointStride steps. A stream of forged records just under MaxSkip
// ahead therefore costs one long walk, then a few HMACs each, not MaxSkip
// each. Checkpoints are keys of seqs at or above Next only (Commit wipes
// those it passes): they derive nothing the chain itself could not.
type Chain struct {
	key  [Size]byte // ck_next
	next uint32     // the seq whose key ck_next derives
	done bool       // the chain gave the key of seq 2^32-1: nothing follows
	// cp holds ck_p for every multiple p of checkpointStride with
	// next < p <= cpTop, at slot (p/checkpointStride) % len(cp).
	cp    [checkpoints][Size]byte
	cpTop uint32
}

const (
	checkpointStride = 16
	checkpoints      = MaxSkip/checkpointStride + 1
)

func slot(p uint32) int { return int(p/checkpointStride) % checkpoints }

// NewChain starts a chain whose first record is seq first.
func NewChain(ck [Size]byte, first uint32) Chain {
	return Chain{key: ck, next: first}
}

// Next is the lowest seq whose key the chain can still give.
func (c *Chain) Next() uint32 { return c.next }

// Step is the outcome of Peek: the record's key and the chain key that
// follows it. It is valid until Commit or Wipe.
type Step struct {
	seq   uint32
	key   [Size]byte // mk_seq
	after [Size]byte // ck_seq+1
}

// Seq is the record seq the step is for.
func (s *Step) Seq() uint32 { return s.seq }

// Key is the record's key (Size bytes; the AEAD key of record Seq). The
// slice aliases the step: copy it to keep it past Wipe or Commit.
func (s *Step) Key() []byte { return s.key[:] }

// Wipe overwrites the step's keys: a record that failed authentication
// leaves nothing behind.
func (s *Step) Wipe() {
	clear(s.key[:])
	clear(s.after[:])
}

// Peek returns the key of record seq without changing the chain: seq must
// not be below Next (ErrErased: the key is gone, a late or replayed
// record) nor more than MaxSkip above it (ErrTooFar). It costs one HMAC
// pair per seq from Next to seq.
func (c *Chain) Peek(seq uint32) (Step, error) {
	if c.done || seq < c.next {
		return Step{}, ErrErased
	}
	if seq-c.next > MaxSkip {
		return Step{}, ErrTooFar
	}
	pos, ck := c.next, c.key
	if p := min(seq-seq%checkpointStride, c.cpTop); p > c.next {
		pos, ck = p, c.cp[slot(p)]
	}
	for pos < seq {
		next := advance(&ck)
		clear(ck[:])
		ck = next
		pos++
		if pos%checkpointStride == 0 && pos > c.cpTop {
			c.cp[slot(pos)], c.cpTop = ck, pos
		}
	}
	st := Step{seq: seq}
	st.key, st.after = split(&ck)
	clear(ck[:])
	return st, nil
}

// Commit moves the chain past st's record (and any seqs it skipped) and
// wipes st: afterwards the chain derives no key for st.Seq() or below.
// st must come from Peek on this chain; a step the chain has already moved
// past (another Commit went further) is refused with ErrErased, the chain
// unchanged, and wiped all the same.
func (c *Chain) Commit(st *Step) error {
	if c.done || st.seq < c.next {
		st.Wipe()
		return ErrErased
	}
	c.key = st.after
	c.wipeCheckpoints(c.next, uint64(st.seq)+1)
	if st.seq == 1<<32-1 {
		c.done = true
		clear(c.key[:])
	} else {
		c.next = st.seq + 1
	}
	st.Wipe()
	return nil
}

// wipeCheckpoints wipes the checkpoints of seqs in (from, to]: the chain
// moved past them.
func (c *Chain) wipeCheckpoints(from uint32, to uint64) {
	top := min(to, uint64(c.cpTop))
	for p := uint64(from) - uint64(from)%checkpointStride + checkpointStride; p <= top; p += checkpointStride {
		clear(c.cp[slot(uint32(p))][:])
	}
	if uint64(c.cpTop) <= to {
		c.cpTop = 0
	}
}

// Wipe overwrites the chain's keys; the chain gives no key afterwards.
func (c *Chain) Wipe() {
	clear(c.key[:])
	clear(c.cp[:])
	c.cpTop = 0
	c.done = true
}

// split is mk = HMAC-SHA-256(ck, 0x01) and ck' = HMAC-SHA-256(ck, 0x02),
// with one HMAC key setup for both.
func split(ck *[Size]byte) (mk, next [Size]byte) {
	m := hmac.New(sha256.New, ck[:])
	m.Write([]byte{0x01})
	m.Sum(mk[:0])
	m.Reset()
	m.Write([]byte{0x02})
	m.Sum(next[:0])
	return mk, next
}

// advance is ck' = HMAC-SHA-256(ck, 0x02), for a skipped seq.
func advance(ck *[Size]byte) [Size]byte {
	m := hmac.New(sha256.New, ck[:])
	m.Write([]byte{0x02})
	var out [Size]byte
	m.Sum(out[:0])
	return out
}
