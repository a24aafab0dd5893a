// Package crypto holds duet's cryptographic building blocks: the long-term
// RSA-2048 identity, strict SPKI public-key parsing, fingerprints and safety
// numbers, the known_peers trust-on-first-use store, HKDF/HMAC helpers,
// X25519 ephemerals, AES-256-GCM, and the sender/receiver nonce bookkeeping.
//
// Every primitive comes from the Go standard library; this package only
// fixes parameters, validates inputs strictly and maps failures onto the
// sentinel errors in errors.go (use errors.Is). Error messages never contain
// secret material (private keys, shared secrets, plaintexts, MAC keys).
//
// # Determinism (Go 1.26)
//
//   - rsa.GenerateKey ignores its io.Reader (it always uses the system DRBG
//     unless GODEBUG=cryptocustomrand=1), so GenerateIdentity is never
//     reproducible. Test vectors use fixed PEM keys instead.
//   - rsa.SignPSS reads exactly 32 salt bytes from the supplied reader and
//     rsa.EncryptOAEP reads exactly 32 seed bytes (SHA-256 size), so Sign and
//     EncryptOAEP are deterministic given a deterministic reader. (In
//     GODEBUG=fips140=only mode a non-default reader is refused.)
//   - GenerateEphemeral reads exactly 32 bytes and is deterministic given a
//     deterministic reader (ecdh.Curve.GenerateKey would ignore the reader).
//   - SendNonces reads exactly 12 bytes per draw.
package crypto
