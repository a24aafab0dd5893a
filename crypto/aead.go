package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// AES-256-GCM parameters.
const (
	KeySize   = 32
	NonceSize = 12
	TagSize   = 16
)

// AEAD is AES-256-GCM with caller-supplied 96-bit nonces. The caller must
// never reuse a nonce under one key (see SendNonces); GCM loses both
// confidentiality and integrity on reuse. Safe for concurrent use.
type AEAD struct {
	g cipher.AEAD
}

// NewAEAD returns AES-256-GCM keyed with exactly 32 bytes.
func NewAEAD(key []byte) (*AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypto: AEAD key is %d bytes, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: AEAD: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("crypto: AEAD: %w", err)
	}
	return &AEAD{g: g}, nil
}

// Seal appends the encryption of plaintext plus a 16-byte tag over
// plaintext and ad to dst. dst and plaintext may alias only exactly
// (cipher.AEAD rules). It panics if nonce is nil.
func (a *AEAD) Seal(dst []byte, nonce *[12]byte, plaintext, ad []byte) []byte {
	return a.g.Seal(dst, nonce[:], plaintext, ad)
}

// Open authenticates and decrypts ciphertext (including its tag), appending
// the plaintext to dst. Every failure, including a too-short ciphertext,
// returns exactly ErrAuth. It panics if nonce is nil.
func (a *AEAD) Open(dst []byte, nonce *[12]byte, ciphertext, ad []byte) ([]byte, error) {
	if len(ciphertext) < TagSize {
		return nil, ErrAuth
	}
	pt, err := a.g.Open(dst, nonce[:], ciphertext, ad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}
