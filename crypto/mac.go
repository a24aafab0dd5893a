package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
)

// MACSize is the length of a MAC tag.
const MACSize = sha256.Size

// MAC returns HMAC-SHA-256(key, parts[0] || parts[1] || ...). The parts are
// concatenated without separators, so callers must make the split
// unambiguous (fixed-length or length-prefixed fields).
func MAC(key []byte, parts ...[]byte) [32]byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// VerifyMAC reports whether tag equals MAC(key, parts...), in constant time
// (hmac.Equal). A tag that is not exactly 32 bytes is false.
func VerifyMAC(key, tag []byte, parts ...[]byte) bool {
	if len(tag) != MACSize {
		return false
	}
	want := MAC(key, parts...)
	return hmac.Equal(want[:], tag)
}
