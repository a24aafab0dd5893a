package crypto

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// historyKeyLabel is the HKDF label of the chat-history key. No other key in
// duet is derived with it.
const historyKeyLabel = "duet/1 history key"

// HistoryKey derives the 32-byte key that encrypts the chat history with
// peer at rest:
//
//	HKDF-SHA-256(secret = PKCS#8 DER of the identity's private key,
//	             salt   = none (RFC 5869: a string of 32 zero bytes),
//	             info   = "duet/1 history key" || 0x00 || peer)
//
// The peer name is context, so it goes in info (the 0x00 separator keeps
// label and name unambiguous); the secret is already uniformly secret key
// material, so no salt is needed. The database alone therefore reveals no
// text, a history copied to another peer's path does not open, and another
// identity's key opens nothing. peer must be a valid peer name (non-empty,
// at most 255 bytes of UTF-8, no spaces or control characters, not starting
// with '#'): the same rule as known_peers. The result is secret.
func HistoryKey(id *Identity, peer string) ([32]byte, error) {
	var k [32]byte
	if id == nil || id.key == nil {
		return k, errors.New("crypto: history key: no identity")
	}
	if err := checkPeerName(peer); err != nil {
		return k, fmt.Errorf("crypto: history key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return k, fmt.Errorf("crypto: history key: %w", err)
	}
	defer clear(der)
	out, err := HKDF(der, nil, historyKeyLabel+"\x00"+peer, len(k))
	if err != nil {
		return k, err
	}
	copy(k[:], out)
	clear(out)
	return k, nil
}
