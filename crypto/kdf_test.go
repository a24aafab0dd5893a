package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestHKDFRFC5869(t *testing.T) {
	// RFC 5869 A.1.
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	salt := unhex("000102030405060708090a0b0c")
	info := string(unhex("f0f1f2f3f4f5f6f7f8f9"))
	okm := unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
	prk := unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
	got, err := HKDF(ikm, salt, info, 42)
	if err != nil || !bytes.Equal(got, okm) {
		t.Fatalf("HKDF = %x, %v", got, err)
	}
	got, err = HKDFExpand(prk, info, 42)
	if err != nil || !bytes.Equal(got, okm) {
		t.Fatalf("HKDFExpand = %x, %v", got, err)
	}
	if _, err := HKDF(ikm, salt, info, 255*32+1); err == nil {
		t.Error("overlong HKDF accepted")
	}
}

func TestMAC(t *testing.T) {
	// RFC 4231 test case 2, with the data split into parts.
	key := []byte("Jefe")
	want := unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
	got := MAC(key, []byte("what do ya"), []byte(" want "), nil, []byte("for nothing?"))
	if !bytes.Equal(got[:], want) {
		t.Fatalf("MAC = %x", got)
	}
	tests := []struct {
		name string
		tag  []byte
		ok   bool
	}{
		{"good", want, true},
		{"flipped", flipBit(want, 9), false},
		{"short", want[:31], false},
		{"long", append(bytes.Clone(want), 0), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := VerifyMAC(key, tt.tag, []byte("what do ya want for nothing?")); got != tt.ok {
			t.Errorf("%s: VerifyMAC = %v", tt.name, got)
		}
	}
}

func TestECDH(t *testing.T) {
	a, err := GenerateEphemeral(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateEphemeral(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PublicBytes()) != 32 {
		t.Fatal("public key not 32 bytes")
	}
	sa, err1 := a.Shared(b.PublicBytes())
	sb, err2 := b.Shared(a.PublicBytes())
	if err1 != nil || err2 != nil || !bytes.Equal(sa, sb) || len(sa) != 32 {
		t.Fatalf("sides disagree: %v %v", err1, err2)
	}
	one := make([]byte, 32)
	one[0] = 1 // u = 1, a low-order point
	bad := map[string][]byte{
		"all zero": make([]byte, 32),
		"u=1":      one,
		"short":    make([]byte, 31),
		"long":     append(b.PublicBytes(), 0),
		"empty":    nil,
	}
	for name, pub := range bad {
		if _, err := a.Shared(pub); !errors.Is(err, ErrBadECDH) {
			t.Errorf("%s: err = %v, want ErrBadECDH", name, err)
		}
	}
	if _, err := GenerateEphemeral(&seqReader{chunks: [][]byte{make([]byte, 31)}}); err == nil {
		t.Error("short rand accepted")
	}
}
