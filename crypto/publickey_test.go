package crypto

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestParsePublicKey(t *testing.T) {
	f := testFixtures(t)
	der := f.a.Public().DER()
	if len(der) != 294 {
		t.Errorf("RSA-2048 SPKI is %d bytes, want 294", len(der))
	}
	p, err := ParsePublicKey(der)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if !bytes.Equal(p.DER(), der) {
		t.Error("DER() differs from parsed input")
	}
	if p.Fingerprint() != Fingerprint(sha256.Sum256(der)) || p.Fingerprint() != f.a.Public().Fingerprint() {
		t.Error("fingerprint is not SHA-256 of the DER")
	}
	p.DER()[0] ^= 0xff // DER returns a copy
	if !bytes.Equal(p.DER(), der) {
		t.Error("DER() exposes internal storage")
	}

	bad := []struct {
		name string
		in   []byte
	}{
		{"ecdsa", f.ecdsaSPKI},
		{"1024-bit", f.spki1024},
		{"e=3", f.e3SPKI},
		{"trailing byte", append(bytes.Clone(der), 0)},
		{"truncated", der[:len(der)-1]},
		{"garbage", []byte("not a key at all")},
		{"empty", nil},
		{"flipped tag", flipBit(der, 0)},
		{"huge", make([]byte, 4096)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePublicKey(tt.in); !errors.Is(err, ErrBadPublicKey) {
				t.Fatalf("err = %v, want ErrBadPublicKey", err)
			}
		})
	}
}
