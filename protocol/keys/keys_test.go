package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"
)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, Size) }

func testSecrets() Secrets { return Secrets{MLKEM: secret(1), X25519: secret(2), RSA: secret(3)} }

var transcript = bytes.Repeat([]byte{0x7e}, 32)

// TestCombineFollowsTheFormula: Combine is HKDF-Extract over mlkem ||
// x25519 || rsa salted with the transcript, then one Expand per label,
// recomputed here from the standard library as the package doc writes it.
func TestCombineFollowsTheFormula(t *testing.T) {
	s, err := Combine(testSecrets(), transcript)
	if err != nil {
		t.Fatal(err)
	}
	ikm := append(append(secret(1), secret(2)...), secret(3)...)
	prk, _ := hkdf.Extract(sha256.New, ikm, transcript)
	for _, c := range []struct {
		label string
		got   []byte
	}{
		{LabelRoot, s.Root[:]},
		{LabelChainAB, s.AB[:]},
		{LabelChainBA, s.BA[:]},
		{LabelMacAB, s.MacAB[:]},
		{LabelMacBA, s.MacBA[:]},
	} {
		want, _ := hkdf.Expand(sha256.New, prk, c.label, Size)
		if !bytes.Equal(c.got, want) {
			t.Errorf("%s: %x, want %x", c.label, c.got, want)
		}
	}
}

// TestCombineDependsOnEverySecret: changing any one secret, or the
// transcript, changes the root and both chains (each input is mixed in;
// the combiner holds while any one of them is secret).
func TestCombineDependsOnEverySecret(t *testing.T) {
	base, _ := Combine(testSecrets(), transcript)
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[Size-1] ^= 1; return c }
	for name, change := range map[string]func(*Secrets, *[]byte){
		"mlkem":      func(s *Secrets, _ *[]byte) { s.MLKEM = flip(s.MLKEM) },
		"x25519":     func(s *Secrets, _ *[]byte) { s.X25519 = flip(s.X25519) },
		"rsa":        func(s *Secrets, _ *[]byte) { s.RSA = flip(s.RSA) },
		"transcript": func(_ *Secrets, th *[]byte) { *th = flip(*th) },
	} {
		s, th := testSecrets(), bytes.Clone(transcript)
		change(&s, &th)
		got, err := Combine(s, th)
		if err != nil {
			t.Fatal(err)
		}
		if got.Root == base.Root || got.AB == base.AB || got.BA == base.BA || got.MacAB == base.MacAB || got.MacBA == base.MacBA {
			t.Errorf("changing %s left a key unchanged", name)
		}
	}
	if base.AB == base.BA || base.MacAB == base.MacBA {
		t.Error("both directions have one key")
	}
}

// TestCombineRefusesWrongLengths: every secret must be Size bytes (the
// concatenation is injective only so); nothing is derived otherwise.
func TestCombineRefusesWrongLengths(t *testing.T) {
	for name, s := range map[string]Secrets{
		"short mlkem":  {MLKEM: secret(1)[:31], X25519: secret(2), RSA: secret(3)},
		"long x25519":  {MLKEM: secret(1), X25519: append(secret(2), 0), RSA: secret(3)},
		"missing rsa":  {MLKEM: secret(1), X25519: secret(2)},
		"empty shares": {},
	} {
		got, err := Combine(s, transcript)
		if !errors.Is(err, ErrSecretLength) || got.Root != [Size]byte{} {
			t.Errorf("%s: %v, root %x; want ErrSecretLength and nothing", name, err, got.Root)
		}
	}
	if _, err := Heal([Size]byte{}, testSecrets(), nil); !errors.Is(err, ErrSecretLength) {
		t.Errorf("Heal with an RSA secret: %v, want ErrSecretLength", err)
	}
}

// TestChainFollowsTheFormula: K_b || ck_b+1 = HKDF-Expand(ck_b,
// "duet/2 record keys", 544) and mk of seq first+16b+j is K_b[32j:],
// recomputed with crypto/hkdf, across three blocks.
func TestChainFollowsTheFormula(t *testing.T) {
	ck := [Size]byte{9}
	c := NewChain(ck, 100)
	k := ck[:]
	for b := range 3 {
		okm, err := hkdf.Expand(sha256.New, k, "duet/2 record keys", 16*32+32)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 16 {
			seq := uint32(100 + 16*b + j)
			st, err := c.Peek(seq)
			if err != nil {
				t.Fatal(err)
			}
			if want := okm[32*j : 32*j+32]; !bytes.Equal(st.Key(), want) {
				t.Fatalf("key of %d: %x, want %x", seq, st.Key(), want)
			}
			if err := c.Commit(&st); err != nil {
				t.Fatal(err)
			}
		}
		k = okm[16*32:]
		if !bytes.Equal(c.cur.after[:], k) {
			// The chain moves into block b+1 on its first Peek: until then it holds ck_b+1.
			t.Fatalf("block %d: chain key of the next block %x, want %x", b, c.cur.after, k)
		}
	}
}

// TestChainErasesUsedAndSkippedKeys: after record n is committed the
// chain gives no key for n or any earlier seq, nor for the seqs a gap
// skipped; the step itself is wiped. Peek changes nothing.
func TestChainErasesUsedAndSkippedKeys(t *testing.T) {
	c := NewChain([Size]byte{1}, 50)
	first, _ := c.Peek(55)
	again, _ := c.Peek(55)
	if !bytes.Equal(first.Key(), again.Key()) || c.Next() != 50 {
		t.Fatal("Peek changed the chain")
	}
	key55 := bytes.Clone(first.Key())
	if err := c.Commit(&first); err != nil {
		t.Fatal(err)
	}
	if first.key != [Size]byte{} || first.blk != (block{}) {
		t.Error("Commit left the step's keys in place")
	}
	var zero [Size]byte
	for seq := uint64(50); seq <= 55; seq++ {
		if c.cur.keys[seq-c.cur.base] != zero {
			t.Errorf("the chain still holds the key of %d", seq)
		}
	}
	if c.Next() != 56 {
		t.Fatalf("next %d after committing 55", c.Next())
	}
	for _, seq := range []uint32{0, 49, 50, 51, 54, 55} {
		if _, err := c.Peek(seq); !errors.Is(err, ErrErased) {
			t.Errorf("Peek(%d) after 55: %v, want ErrErased", seq, err)
		}
	}
	for seq := uint32(56); seq < 56+64; seq++ {
		st, err := c.Peek(seq)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(st.Key(), key55) {
			t.Fatalf("seq %d has record 55's key", seq)
		}
	}
	if err := c.Commit(&again); !errors.Is(err, ErrErased) || c.Next() != 56 {
		t.Errorf("a stale step: %v, next %d; want ErrErased and 56", err, c.Next())
	}
	if again.key != [Size]byte{} {
		t.Error("a refused step was not wiped")
	}
}

// TestChainRefusesTooFar: a record more than MaxSkip ahead is refused
// before any hashing, the chain unchanged; exactly MaxSkip ahead opens.
func TestChainRefusesTooFar(t *testing.T) {
	c := NewChain([Size]byte{2}, 1000)
	if _, err := c.Peek(1000 + MaxSkip + 1); !errors.Is(err, ErrTooFar) {
		t.Errorf("MaxSkip+1 ahead: %v, want ErrTooFar", err)
	}
	if _, err := c.Peek(1<<32 - 1); !errors.Is(err, ErrTooFar) {
		t.Errorf("2^32-1: %v, want ErrTooFar", err)
	}
	if c.Next() != 1000 {
		t.Errorf("a refused peek moved the chain to %d", c.Next())
	}
	if _, err := c.Peek(1000 + MaxSkip); err != nil {
		t.Errorf("MaxSkip ahead: %v", err)
	}
}

// TestChainEndsAtTheLastSeq: the key of seq 2^32-1 is the last the chain
// gives; Wipe ends a chain too.
func TestChainEndsAtTheLastSeq(t *testing.T) {
	c := NewChain([Size]byte{3}, 1<<32-2)
	for _, seq := range []uint32{1<<32 - 2, 1<<32 - 1} {
		st, err := c.Peek(seq)
		if err != nil {
			t.Fatalf("Peek(%d): %v", seq, err)
		}
		if err := c.Commit(&st); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Peek(1<<32 - 1); !errors.Is(err, ErrErased) || c.Next() != 1<<32-1 {
		t.Errorf("after the last seq: %v, next %d; want ErrErased", err, c.Next())
	}
	d := NewChain([Size]byte{4}, 0)
	d.Wipe()
	if _, err := d.Peek(0); !errors.Is(err, ErrErased) || d.cur != (block{}) {
		t.Errorf("after Wipe: %v, block %x", err, d.cur.keys[0])
	}
}

// TestHealBreaksFromTheOldState: the schedule after healing depends on the
// fresh secrets and the context; none of its chain keys appears among the
// next keys the old chains would have given (whoever copied the old state
// reads nothing after healing).
func TestHealBreaksFromTheOldState(t *testing.T) {
	old, _ := Combine(testSecrets(), transcript)
	fresh := Secrets{MLKEM: secret(5), X25519: secret(6)}
	healed, err := Heal(old.Root, fresh, []byte("context"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Heal(old.Root, Secrets{MLKEM: secret(5), X25519: secret(7)}, []byte("context"))
	if other.Root == healed.Root {
		t.Error("healing ignored the X25519 secret")
	}
	ctx, _ := Heal(old.Root, fresh, []byte("contexu"))
	if ctx.Root == healed.Root {
		t.Error("healing ignored the context")
	}
	seen := map[[Size]byte]bool{}
	if healed.MacAB != [Size]byte{} || healed.MacBA != [Size]byte{} {
		t.Error("healing made MAC keys")
	}
	for _, ch := range []Chain{NewChain(old.AB, 0), NewChain(old.BA, 0)} {
		for seq := uint32(0); seq < 256; seq++ {
			st, _ := ch.Peek(seq)
			seen[st.key] = true
		}
	}
	for _, ch := range []Chain{NewChain(healed.AB, 500), NewChain(healed.BA, 600)} {
		start := ch.Next()
		for seq := start; seq < start+256; seq++ {
			st, err := ch.Peek(seq)
			if err != nil {
				t.Fatal(err)
			}
			if seen[st.key] {
				t.Fatalf("healed seq %d reuses a key of the old chains", seq)
			}
		}
	}
	healed.Wipe()
	if healed.Root != [Size]byte{} {
		t.Error("Wipe left the root")
	}
}

// BenchmarkChainStep is the per-record cost the chains add: one Peek of
// the next seq and its Commit (the AEAD key setup is the record layer's).
func BenchmarkChainStep(b *testing.B) {
	c := NewChain([Size]byte{1}, 0)
	for b.Loop() {
		st, err := c.Peek(c.Next())
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Commit(&st); err != nil {
			b.Fatal(err)
		}
	}
}

// naiveKey is the key of record seq of a chain whose first chain key (at
// seq first) is ck, by the formula alone (no checkpoints, no state).
func naiveKey(ck [Size]byte, first, seq uint32) []byte {
	k := ck[:]
	for range (seq - first) / BlockSize {
		okm, _ := hkdf.Expand(sha256.New, k, LabelRecordKeys, expandSize)
		k = okm[BlockSize*Size:]
	}
	okm, _ := hkdf.Expand(sha256.New, k, LabelRecordKeys, expandSize)
	j := (seq - first) % BlockSize
	return okm[j*Size : (j+1)*Size]
}

// TestChainCheckpointsGiveTheFormulasKeys: with checkpoints made by Peeks
// far ahead, every Peek and Commit, in any order of seqs, gives the key the
// formula gives, across commits that pass checkpoints and across the end
// of the seq space.
func TestChainCheckpointsGiveTheFormulasKeys(t *testing.T) {
	for _, first := range []uint32{0, 7, 1<<32 - 3*MaxSkip} {
		ck := [Size]byte{3, byte(first)}
		c := NewChain(ck, first)
		rng := rand.New(rand.NewPCG(1, uint64(first)))
		for range 400 {
			seq := c.Next() + uint32(rng.IntN(MaxSkip+1))
			if seq < c.Next() { // wrapped past 2^32-1
				continue
			}
			st, err := c.Peek(seq)
			if err != nil {
				t.Fatal(err)
			}
			if want := naiveKey(ck, first, seq); !bytes.Equal(st.Key(), want) {
				t.Fatalf("first %d, key of %d (next %d, checkpoint top %d): %x, want %x", first, seq, c.Next(), c.cpTop, st.Key(), want)
			}
			if rng.IntN(4) == 0 { // commit a nearby seq now and then
				to := c.Next() + uint32(rng.IntN(3*BlockSize))
				if to < c.Next() {
					continue
				}
				near, err := c.Peek(to)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Commit(&near); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestChainCommitWipesPassedCheckpoints: after a Commit the chain holds no
// checkpoint of a block at or below its current one (or the one after,
// whose key it holds anyway), and keeps those above.
func TestChainCommitWipesPassedCheckpoints(t *testing.T) {
	ck := [Size]byte{5}
	c := NewChain(ck, 100)
	if _, err := c.Peek(100 + MaxSkip); err != nil { // checkpoints of blocks 2 .. 64
		t.Fatal(err)
	}
	if c.cpTop != MaxSkip/BlockSize {
		t.Fatalf("checkpoint top %d after a Peek MaxSkip ahead, want %d", c.cpTop, MaxSkip/BlockSize)
	}
	st, _ := c.Peek(500) // block 25
	if err := c.Commit(&st); err != nil {
		t.Fatal(err)
	}
	var zero [Size]byte
	cur := c.index(c.cur.base)
	for i := uint64(2); i <= c.cpTop; i++ {
		held := c.cp[slot(i)] != zero
		if want := i > cur+1; held != want {
			t.Errorf("checkpoint of block %d held %v with the chain in block %d, want %v", i, held, cur, want)
		}
	}
	// What is held is the formula's chain key of that block.
	for i := cur + 2; i <= c.cpTop; i++ {
		first := uint32(100 + i*BlockSize)
		d := NewChain(c.cp[slot(i)], first)
		if st, _ := d.Peek(first); !bytes.Equal(st.Key(), naiveKey(ck, 100, first)) {
			t.Fatalf("checkpoint of block %d is not ck of that block", i)
		}
	}
}

// BenchmarkPeekFarAhead is what a forged record just under MaxSkip ahead
// costs the receiver once the checkpoints exist (the chain does not move:
// the record fails authentication).
func BenchmarkPeekFarAhead(b *testing.B) {
	c := NewChain([Size]byte{1}, 0)
	c.Peek(MaxSkip)
	i := 0
	for b.Loop() {
		st, err := c.Peek(uint32(MaxSkip - i%(4*BlockSize)))
		if err != nil {
			b.Fatal(err)
		}
		st.Wipe()
		i++
	}
}
