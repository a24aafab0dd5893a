package crypto

import (
	"bytes"
	stdcrypto "crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
)

// maxSPKISize bounds ParsePublicKey input before any ASN.1 work. The
// canonical RSA-2048/e=65537 SPKI DER is 294 bytes.
const maxSPKISize = 1024

// PublicKey is a peer's (or our own) RSA-2048, e=65537 public key together
// with its exact SPKI DER encoding and fingerprint. It is immutable and
// safe for concurrent use.
type PublicKey struct {
	key *rsa.PublicKey
	der []byte
	fp  Fingerprint
}

// ParsePublicKey strictly decodes an SPKI DER public key received from the
// network. It accepts only RSA keys with an exactly 2048-bit modulus and
// e = 65537 whose DER is canonical: re-marshalling must reproduce the input
// byte for byte (so no trailing bytes or alternative encodings, and the
// fingerprint is a function of the key alone). Any failure wraps
// ErrBadPublicKey. The input is copied.
func ParsePublicKey(spkiDER []byte) (*PublicKey, error) {
	if len(spkiDER) == 0 || len(spkiDER) > maxSPKISize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadPublicKey, len(spkiDER))
	}
	k, err := x509.ParsePKIXPublicKey(spkiDER)
	if err != nil {
		return nil, fmt.Errorf("%w: not SPKI DER", ErrBadPublicKey)
	}
	key, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: key type %T, want RSA", ErrBadPublicKey, k)
	}
	if n := key.N.BitLen(); n != RSABits {
		return nil, fmt.Errorf("%w: RSA modulus is %d bits, want %d", ErrBadPublicKey, n, RSABits)
	}
	if key.E != rsaExponent {
		return nil, fmt.Errorf("%w: RSA exponent is %d, want %d", ErrBadPublicKey, key.E, rsaExponent)
	}
	again, err := x509.MarshalPKIXPublicKey(key)
	if err != nil || !bytes.Equal(again, spkiDER) {
		return nil, fmt.Errorf("%w: non-canonical encoding", ErrBadPublicKey)
	}
	return &PublicKey{key: key, der: again, fp: sha256.Sum256(again)}, nil
}

// DER returns a copy of the SPKI DER encoding, exactly the bytes that were
// parsed or generated.
func (p *PublicKey) DER() []byte { return bytes.Clone(p.der) }

// Fingerprint is SHA-256 of DER().
func (p *PublicKey) Fingerprint() Fingerprint { return p.fp }

// Verify checks an RSA-PSS signature over SHA-256(msg), MGF1-SHA-256, salt
// length exactly 32. Any failure, including a signature that is not 256
// bytes, returns exactly ErrBadSignature.
func (p *PublicKey) Verify(msg, sig []byte) error {
	if len(sig) != SignatureSize {
		return ErrBadSignature
	}
	h := sha256.Sum256(msg)
	if err := rsa.VerifyPSS(p.key, stdcrypto.SHA256, h[:], sig, pssOptions); err != nil {
		return ErrBadSignature
	}
	return nil
}

// EncryptOAEP encrypts plaintext (at most MaxOAEPPlaintext = 190 bytes)
// with RSA-OAEP SHA-256 / MGF1-SHA-256 and label, returning 256 bytes. It
// reads exactly 32 seed bytes from rand.
func (p *PublicKey) EncryptOAEP(rand io.Reader, plaintext, label []byte) ([]byte, error) {
	ct, err := rsa.EncryptOAEP(sha256.New(), rand, p.key, plaintext, label)
	if err != nil {
		return nil, fmt.Errorf("crypto: encrypt OAEP: %w", err)
	}
	return ct, nil
}
