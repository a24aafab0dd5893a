package crypto

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// historyKeyLabel is the HKDF label of the chat-history key. No other key in
// duet is derived with it.
const historyKeyLabel = "duet/2 history key"

// legacyHistoryKeyLabel is the label of the history key older duets
// derived (LegacyHistoryKey).
const legacyHistoryKeyLabel = "duet/1 history key"

// HistoryKey derives the 32-byte key that encrypts the chat history with
// peer at rest:
//
//	HKDF-SHA-256(secret = d || n, each big-endian and left-padded with
//	                      zeros to the modulus length in bytes,
//	             salt   = none (RFC 5869: a string of 32 zero bytes),
//	             info   = "duet/2 history key" || 0x00 || peer)
//
// where d is the identity's private exponent and n its modulus: numbers
// that define the key, in an encoding fixed here, so the history key does
// not change with the Go version or GODEBUG settings (the legacy key hashed
// Go's PKCS#8 re-encoding of the key, which could: issue 16 item 9). The
// peer name is context, so it goes in info (the 0x00 separator keeps label
// and name unambiguous); the secret is already secret key material, so no
// salt is needed. The database alone therefore reveals no text, a history
// copied to another peer's path does not open, and another identity's key
// opens nothing. peer must be a valid peer name (non-empty, at most 255
// bytes of UTF-8, no spaces or control characters, not starting with '#'):
// the same rule as known_peers. The result is secret.
func HistoryKey(id *Identity, peer string) ([32]byte, error) {
	var k [32]byte
	if err := checkHistoryKeyArgs(id, peer); err != nil {
		return k, err
	}
	size := (id.key.N.BitLen() + 7) / 8
	secret := make([]byte, 2*size)
	defer clear(secret)
	id.key.D.FillBytes(secret[:size])
	id.key.N.FillBytes(secret[size:])
	return historyKeyFrom(secret, historyKeyLabel, peer)
}

// LegacyHistoryKey is the history key of older duets (up to 6302def):
// HKDF-SHA-256 over the PKCS#8 DER that Go encodes the private key to,
// info "duet/1 history key" || 0x00 || peer. It is only used to open a
// database they wrote, which is then sealed again under HistoryKey. It
// fails if this Go cannot encode the key.
func LegacyHistoryKey(id *Identity, peer string) ([32]byte, error) {
	var k [32]byte
	if err := checkHistoryKeyArgs(id, peer); err != nil {
		return k, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return k, fmt.Errorf("crypto: history key: %w", err)
	}
	defer clear(der)
	return historyKeyFrom(der, legacyHistoryKeyLabel, peer)
}

func checkHistoryKeyArgs(id *Identity, peer string) error {
	if id == nil || id.key == nil {
		return errors.New("crypto: history key: no identity")
	}
	if err := checkPeerName(peer); err != nil {
		return fmt.Errorf("crypto: history key: %w", err)
	}
	return nil
}

// historyKeyFrom is HKDF-SHA-256(secret, no salt, label || 0x00 || peer).
func historyKeyFrom(secret []byte, label, peer string) ([32]byte, error) {
	var k [32]byte
	out, err := HKDF(secret, nil, label+"\x00"+peer, len(k))
	if err != nil {
		return k, err
	}
	copy(k[:], out)
	clear(out)
	return k, nil
}
