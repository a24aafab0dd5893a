package protocol

import (
	"crypto/sha256"
	"encoding/binary"
)

// transcript accumulates the handshake transcript T (docs/PROTOCOL.md,
// "Transcript"): the context string, both public keys (u16 length-prefixed,
// initiator first), then every handshake field in the order sent. Signatures
// and MACs cover SHA-256 of a prefix of T, so each one binds the protocol
// version, both identities and everything exchanged before it.
type transcript struct{ b []byte }

func newTranscript(pkA, pkB []byte) *transcript {
	t := &transcript{b: make([]byte, 0, 2048)}
	t.b = append(t.b, TranscriptContext...)
	t.b = binary.BigEndian.AppendUint16(t.b, uint16(len(pkA)))
	t.b = append(t.b, pkA...)
	t.b = binary.BigEndian.AppendUint16(t.b, uint16(len(pkB)))
	t.b = append(t.b, pkB...)
	return t
}

func (t *transcript) add(parts ...[]byte) {
	for _, p := range parts {
		t.b = append(t.b, p...)
	}
}

func (t *transcript) hash() [HashSize]byte { return sha256.Sum256(t.b) }

// labelled returns label || 0x00 || SHA-256(T): what a signature or MAC
// covers, so that a signature made for one purpose is useless for another.
func (t *transcript) labelled(label string) []byte {
	h := t.hash()
	out := make([]byte, 0, len(label)+1+HashSize)
	out = append(out, label...)
	out = append(out, 0)
	return append(out, h[:]...)
}
