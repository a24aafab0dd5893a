package crypto

import (
	"crypto/ecdh"
	"crypto/subtle"
	"fmt"
	"io"
)

// X25519Size is the length of X25519 scalars, public keys and shared secrets.
const X25519Size = 32

// Ephemeral is a single-use X25519 key pair.
type Ephemeral struct {
	priv *ecdh.PrivateKey
}

// GenerateEphemeral reads exactly 32 bytes from rand and uses them as the
// X25519 scalar, so the result is deterministic for a deterministic rand
// (unlike ecdh.Curve.GenerateKey, which ignores its reader in Go 1.26).
func GenerateEphemeral(rand io.Reader) (*Ephemeral, error) {
	var b [X25519Size]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("crypto: generate ephemeral: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(b[:])
	clear(b[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: generate ephemeral: %w", err)
	}
	return &Ephemeral{priv: priv}, nil
}

// PublicBytes returns the 32-byte public key (a fresh copy).
func (e *Ephemeral) PublicBytes() []byte { return e.priv.PublicKey().Bytes() }

// Shared computes the X25519 shared secret with peerPublic. It returns an
// error wrapping ErrBadECDH if peerPublic is not 32 bytes or the result is
// all zeros (a low-order peer point). The secret must go through HKDF
// before use as a key.
func (e *Ephemeral) Shared(peerPublic []byte) ([]byte, error) {
	if len(peerPublic) != X25519Size {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadECDH, len(peerPublic), X25519Size)
	}
	pub, err := ecdh.X25519().NewPublicKey(peerPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadECDH, err)
	}
	s, err := e.priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: low-order point", ErrBadECDH)
	}
	// crypto/ecdh already rejects the all-zero output; check anyway.
	var zero [X25519Size]byte
	if subtle.ConstantTimeCompare(s, zero[:]) == 1 {
		return nil, fmt.Errorf("%w: low-order point", ErrBadECDH)
	}
	return s, nil
}
