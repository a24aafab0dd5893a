// Package keys is the key schedule of duet protocol 2 (issue 19): the
// hybrid combiner that turns the handshake's three shared secrets into a
// root key and one chain per direction, the chains that give every record
// its own key and erase it once used, and the healing step that mixes a
// fresh exchange into the root during a session.
//
//	exchange:  prk    = HKDF-Extract(SHA-256, salt = transcript hash,
//	                                 ikm  = mlkem_ss || x25519_ss || rsa_secret)
//	           root   = HKDF-Expand(prk, "duet/2 root", 32)
//	           ck_AB  = HKDF-Expand(prk, "duet/2 chain A to B", 32)
//	           ck_BA  = HKDF-Expand(prk, "duet/2 chain B to A", 32)
//	           mac_AB = HKDF-Expand(prk, "duet/2 mac A to B", 32)  (KT_MAC)
//	           mac_BA = HKDF-Expand(prk, "duet/2 mac B to A", 32)  (ACK_MAC)
//	healing:   prk   = HKDF-Extract(SHA-256, salt = root,
//	                                ikm  = mlkem_ss || x25519_ss || context hash)
//	           (then root, ck_AB, ck_BA as above, with "duet/2 heal ..." labels;
//	           no MAC keys)
//	chain:     K_b || ck_b+1 = HKDF-Expand(ck_b, "duet/2 record keys", 16*32 + 32)
//	           mk_first+16b+j = K_b[32j : 32j+32]   the key of record first+16b+j
//	           (ck_0 = ck_AB or ck_BA; first = the direction's first seq)
//
// Why the combiner is sound: HKDF-Extract is a randomness extractor keyed
// by the salt and a PRF in its input when modelled as HMAC; every secret
// has a fixed length (32 bytes each, checked), so the concatenation is
// injective and an attacker who controls or knows two of the three secrets
// still faces the third, unknown and uniformly distributed, inside the
// PRF's input: the output stays pseudorandom as long as any one of ML-KEM,
// X25519 or RSA-OAEP holds. This is the concatenation combiner of
// X25519MLKEM768 (TLS) and mlkem768x25519-sha256 (OpenSSH), with the
// transcript as salt binding the keys to everything both sides signed.
//
// Erasure: a Chain holds the keys of its current block from the next
// record on and the chain key of the block after; a block's own chain key
// is dropped once expanded, and Commit wipes the keys of the opened record
// and of every seq before it, so the state held after record n derives
// nothing for record n or earlier (HKDF-Expand is one-way in its key).
// Records skipped by a gap have their keys wiped by the Commit past them. Go cannot promise that no copy of a slice
// survives in freed memory or on a stack: Wipe overwrites what the package
// holds; the guarantee is against anyone who reads the live state later,
// as the protocol needs, not against a memory dump of freed pages.
package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Size is the size of every key and secret of the schedule.
const Size = 32

// MaxSkip bounds how far ahead of its chain a record may be: opening one
// costs one expansion per block from the chain's to the record's, so a
// forged seq far ahead would otherwise buy an attacker 2^28 expansions
// per record.
const MaxSkip = 1024

// Labels of the schedule (HKDF info strings).
const (
	LabelRoot       = "duet/2 root"
	LabelChainAB    = "duet/2 chain A to B"
	LabelChainBA    = "duet/2 chain B to A"
	LabelMacAB      = "duet/2 mac A to B"
	LabelMacBA      = "duet/2 mac B to A"
	LabelHealRoot   = "duet/2 heal root"
	LabelHealChainA = "duet/2 heal chain A to B"
	LabelHealChainB = "duet/2 heal chain B to A"
)

// Rejection reasons.
var (
	// ErrSecretLength: a shared secret is not Size bytes.
	ErrSecretLength = errors.New("keys: shared secret of the wrong length")
	// ErrErased: the record's key is gone (the chain moved past its seq).
	ErrErased = errors.New("keys: the record's key is erased")
	// ErrTooFar: the record is more than MaxSkip seqs ahead of its chain.
	ErrTooFar = errors.New("keys: record too far ahead of its chain")
)

// Secrets are the shared secrets of one exchange, Size bytes each. RSA is
// the secret the handshake carries under RSA-OAEP; it is empty (and not
// mixed in) for healing, where the context hash takes its place.
type Secrets struct {
	MLKEM, X25519, RSA []byte
}

// Schedule is the outcome of an exchange or a healing: the root that the
// next healing starts from, the first chain key of each direction (A, the
// initiator, to B, and B to A: NewChain them once the first seqs are
// known), and, from an exchange only, the handshake's MAC keys.
type Schedule struct {
	Root         [Size]byte
	AB, BA       [Size]byte // ck_AB, ck_BA
	MacAB, MacBA [Size]byte // KT_MAC and ACK_MAC keys; zero after Heal
}

// Wipe overwrites the schedule's keys.
func (s *Schedule) Wipe() { *s = Schedule{} }

// Combine derives the session's schedule from the handshake's three
// secrets and its transcript hash.
func Combine(s Secrets, transcript []byte) (Schedule, error) {
	if err := checkLen(s.MLKEM, s.X25519, s.RSA); err != nil {
		return Schedule{}, err
	}
	ikm := concat(s.MLKEM, s.X25519, s.RSA)
	defer clear(ikm)
	return derive(ikm, transcript, []string{LabelRoot, LabelChainAB, LabelChainBA, LabelMacAB, LabelMacBA})
}

// Heal mixes a fresh exchange's secrets (s.RSA must be empty) into root,
// bound to context (the hash of the healing messages), and returns the
// next schedule. Whoever knew the old root and chains but not the fresh
// secrets learns nothing of the new ones.
func Heal(root [Size]byte, s Secrets, context []byte) (Schedule, error) {
	if s.RSA != nil {
		return Schedule{}, fmt.Errorf("%w: healing takes no RSA secret", ErrSecretLength)
	}
	if err := checkLen(s.MLKEM, s.X25519); err != nil {
		return Schedule{}, err
	}
	ikm := concat(s.MLKEM, s.X25519, context)
	defer clear(ikm)
	return derive(ikm, root[:], []string{LabelHealRoot, LabelHealChainA, LabelHealChainB})
}

func checkLen(secrets ...[]byte) error {
	for _, s := range secrets {
		if len(s) != Size {
			return fmt.Errorf("%w: %d bytes, want %d", ErrSecretLength, len(s), Size)
		}
	}
	return nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// derive is the extract-then-expand both Combine and Heal use: labels
// name, in order, the root, ck_AB, ck_BA and optionally mac_AB, mac_BA.
func derive(ikm, salt []byte, labels []string) (Schedule, error) {
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return Schedule{}, fmt.Errorf("keys: extract: %w", err)
	}
	defer clear(prk)
	var out [5][Size]byte
	for i, label := range labels {
		k, err := hkdf.Expand(sha256.New, prk, label, Size)
		if err != nil {
			return Schedule{}, fmt.Errorf("keys: expand %q: %w", label, err)
		}
		copy(out[i][:], k)
		clear(k)
	}
	return Schedule{Root: out[0], AB: out[1], BA: out[2], MacAB: out[3], MacBA: out[4]}, nil
}
