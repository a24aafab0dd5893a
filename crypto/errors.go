package crypto

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	ErrBadSignature   = errors.New("crypto: bad signature")
	ErrBadPublicKey   = errors.New("crypto: bad public key") // not SPKI DER RSA-2048 with e=65537
	ErrKeyPermissions = errors.New("crypto: identity key file is readable by others")
	ErrKeyChanged     = errors.New("crypto: peer key changed")
	ErrAuth           = errors.New("crypto: message authentication failed") // AEAD open failure (one error shape for all tag failures)
	ErrDecrypt        = errors.New("crypto: decryption failed")             // OAEP failure (one shape, no detail)
	ErrBadFingerprint = errors.New("crypto: malformed fingerprint")
	ErrEpochFull      = errors.New("crypto: nonce epoch full, rekey required")

	// ErrBadIdentity reports an identity key that cannot be used: not PEM,
	// not PKCS#8, not RSA, or not RSA-2048 with e=65537.
	ErrBadIdentity = errors.New("crypto: bad identity key")
	// ErrBadECDH reports an X25519 peer public key of the wrong length or
	// one producing the all-zero shared secret (low-order point).
	ErrBadECDH = errors.New("crypto: bad X25519 public key")
	// ErrBadPeerName reports a known_peers name that cannot be stored
	// (empty, too long, containing whitespace/control characters, or
	// starting with '#').
	ErrBadPeerName = errors.New("crypto: bad peer name")
	// ErrKnownPeersPermissions reports a known_peers file that users other
	// than its owner can write (mode&0o022 != 0): they could record their
	// own key for a peer. It is refused, never set back (see OpenKnownPeers).
	ErrKnownPeersPermissions = errors.New("crypto: known_peers file is writable by others")
)
