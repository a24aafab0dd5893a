package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// HKDF derives length bytes with HKDF-SHA-256 (RFC 5869 extract+expand).
// length must be in 1..255*32.
func HKDF(secret, salt []byte, info string, length int) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secret, salt, info, length)
	if err != nil {
		return nil, fmt.Errorf("crypto: hkdf %q: %w", info, err)
	}
	return k, nil
}

// HKDFExpand is HKDF-Expand with SHA-256 from a pseudorandom key prk
// (normally at least 32 bytes). length must be in 1..255*32.
func HKDFExpand(prk []byte, info string, length int) ([]byte, error) {
	k, err := hkdf.Expand(sha256.New, prk, info, length)
	if err != nil {
		return nil, fmt.Errorf("crypto: hkdf expand %q: %w", info, err)
	}
	return k, nil
}
