package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// BlockSize is how many record keys one expansion of a chain key gives.
const BlockSize = 16

// LabelRecordKeys is the HKDF info of a chain block's expansion.
const LabelRecordKeys = "duet/2 record keys"

// expandSize is a block's expansion: BlockSize record keys, then the chain
// key of the next block.
const expandSize = BlockSize*Size + Size

// Chain is one direction's KDF chain, in blocks of BlockSize seqs counted
// from the chain's first seq: block b's chain key ck_b expands (HKDF) into
// the keys of its BlockSize records and ck_b+1. The chain holds the keys
// of its current block from Next on (those below are wiped) and ck of the
// block after, and nothing of earlier records: the state held after record
// n derives no key for n or earlier. Expanding one key for BlockSize
// records makes a record's key cost a sixteenth of an expansion instead of
// an HMAC key setup each (docs/DESIGN.md, "Issue 19's budgets").
//
// The receiver opens a record in two steps so that only an authentic
// record moves the chain: Peek gives the record's key without changing
// what the chain can derive, the caller authenticates the record with it,
// and Commit moves the chain past it (erasing the keys of the record and
// of every seq it skipped). The sender does the same with Peek(Next()).
//
// A Chain is a value with no pointers: a copy is an independent chain.
// It has no locks: its owner (the session) serialises use.
//
// Cost: a Peek inside the current block costs nothing but a copy; one
// further ahead expands each block from the next to the record's (at most
// MaxSkip/BlockSize+1 of them), and the chain keeps the chain key of every
// block it passed (at most about 2 KiB), so a later Peek anywhere up to
// the furthest costs one expansion. A stream of forged records just under
// MaxSkip ahead therefore costs one long walk, then one expansion each.
// Checkpoints are keys of blocks above the current one only (Commit wipes
// those it passes): they derive nothing the chain itself could not.
type Chain struct {
	origin uint64 // the chain's first seq: block b starts at origin + b*BlockSize
	cur    block  // the block holding Next
	next   uint64 // the lowest seq whose key the chain still gives; 2^32 or more: none
	dead   bool   // wiped: gives nothing
	cp     [checkpoints][Size]byte
	cpTop  uint64 // the highest block index with a checkpoint; 0: none
}

// block is the expansion of one chain key: the keys of seqs base ..
// base+BlockSize-1 and the chain key of the block after.
type block struct {
	base  uint64
	keys  [BlockSize][Size]byte
	after [Size]byte
}

func (b *block) wipe() {
	clear(b.keys[:])
	clear(b.after[:])
}

const checkpoints = MaxSkip/BlockSize + 2

func slot(index uint64) int { return int(index % checkpoints) }

// NewChain starts a chain whose first record is seq first, from its first
// chain key ck (expanded at once; ck is not kept).
func NewChain(ck [Size]byte, first uint32) Chain {
	c := Chain{origin: uint64(first), next: uint64(first)}
	expand(&ck, &c.cur)
	c.cur.base = uint64(first)
	clear(ck[:])
	return c
}

// Next is the lowest seq whose key the chain can still give.
func (c *Chain) Next() uint32 { return uint32(min(c.next, 1<<32-1)) }

// Step is the outcome of Peek: the record's key and, when the record is
// past the chain's current block, the block it is in. It is valid until
// Commit or Wipe.
type Step struct {
	seq     uint32
	key     [Size]byte // mk_seq
	crossed bool       // blk holds the record's block (past the current one)
	blk     block
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
	s.blk.wipe()
}

// Peek returns the key of record seq without changing what the chain can
// derive: seq must not be below Next (ErrErased: the key is gone, a late
// or replayed record) nor more than MaxSkip above it (ErrTooFar). It may
// record checkpoints (chain keys of blocks above the current one).
func (c *Chain) Peek(seq uint32) (Step, error) {
	s := uint64(seq)
	if c.dead || s < c.next {
		return Step{}, ErrErased
	}
	if s-c.next > MaxSkip {
		return Step{}, ErrTooFar
	}
	st := Step{seq: seq}
	if s < c.cur.base+BlockSize {
		st.key = c.cur.keys[s-c.cur.base]
		return st, nil
	}
	st.crossed = true
	c.walk(c.index(s), &st.blk)
	st.key = st.blk.keys[s-st.blk.base]
	return st, nil
}

// index is the number of the block that holds seq.
func (c *Chain) index(seq uint64) uint64 { return (seq - c.origin) / BlockSize }

// walk expands the block with the given index (above the current block's)
// into out, from the nearest checkpoint or the current block's after key,
// recording a checkpoint for every block it passes.
func (c *Chain) walk(target uint64, out *block) {
	at := c.index(c.cur.base) + 1
	ck := c.cur.after
	if top := min(target, c.cpTop); top > at {
		at, ck = top, c.cp[slot(top)]
	}
	for {
		expand(&ck, out)
		out.base = c.origin + at*BlockSize
		if at == target {
			break
		}
		at++
		ck = out.after
		if at > c.cpTop {
			c.cp[slot(at)], c.cpTop = ck, at
		}
	}
	clear(ck[:])
}

// Commit moves the chain past st's record (and any seqs it skipped) and
// wipes st: afterwards the chain derives no key for st.Seq() or below.
// st must come from Peek on this chain; a step the chain has already moved
// past (another Commit went further) is refused with ErrErased, the chain
// unchanged, and wiped all the same.
func (c *Chain) Commit(st *Step) error {
	s := uint64(st.seq)
	if c.dead || s < c.next || st.crossed && st.blk.base <= c.cur.base {
		st.Wipe()
		return ErrErased
	}
	if st.crossed {
		c.cur.wipe()
		c.cur = st.blk
		c.wipeCheckpoints(c.index(c.cur.base))
	}
	clear(c.cur.keys[c.next-min(c.next, c.cur.base) : s-c.cur.base+1])
	c.next = s + 1
	st.Wipe()
	return nil
}

// wipeCheckpoints wipes the checkpoints of blocks up to index (the chain
// is in that block now: its next block's key is cur.after).
func (c *Chain) wipeCheckpoints(index uint64) {
	if c.cpTop <= index+1 {
		clear(c.cp[:])
		c.cpTop = 0
		return
	}
	// Held checkpoints are of blocks within checkpoints-1 of cpTop (a walk
	// goes at most MaxSkip/BlockSize+1 blocks past the current one).
	for i := c.cpTop - min(c.cpTop, checkpoints-1); i <= index+1; i++ {
		clear(c.cp[slot(i)][:])
	}
}

// Wipe overwrites the chain's keys; the chain gives no key afterwards.
func (c *Chain) Wipe() {
	c.cur.wipe()
	clear(c.cp[:])
	c.cpTop = 0
	c.dead = true
}

// expand sets out's keys and after key from chain key ck:
// HKDF-Expand-SHA-256(ck, LabelRecordKeys, BlockSize*Size + Size).
func expand(ck *[Size]byte, out *block) {
	okm, err := hkdf.Expand(sha256.New, ck[:], LabelRecordKeys, expandSize)
	if err != nil {
		panic("keys: HKDF-Expand of a chain block: " + err.Error()) // 544 bytes is far below HKDF's 255*32
	}
	for i := range out.keys {
		copy(out.keys[i][:], okm[i*Size:])
	}
	copy(out.after[:], okm[BlockSize*Size:])
	clear(okm)
}
