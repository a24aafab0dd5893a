package crypto

import (
	"bytes"
	"testing"
)

func TestAEAD(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, KeySize)
	a, err := NewAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	pt := []byte("hello, duet")
	ad := []byte("header")
	ct := a.Seal(nil, &nonce, pt, ad)
	if len(ct) != len(pt)+TagSize {
		t.Fatalf("ct len %d", len(ct))
	}
	got, err := a.Open(nil, &nonce, ct, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("round trip: %q %v", got, err)
	}

	expectAuth := func(name string, n [12]byte, c, d []byte) {
		t.Helper()
		if _, err := a.Open(nil, &n, c, d); err != ErrAuth {
			t.Errorf("%s: err = %v, want exactly ErrAuth", name, err)
		}
	}
	for i := range ct { // covers ciphertext and tag bytes
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		expectAuth("ciphertext/tag byte", nonce, c, ad)
	}
	for i := range nonce {
		n := nonce
		n[i] ^= 0x80
		expectAuth("nonce byte", n, ct, ad)
	}
	for i := range ad {
		d := bytes.Clone(ad)
		d[i] ^= 0x01
		expectAuth("ad byte", nonce, ct, d)
	}
	expectAuth("missing ad", nonce, ct, nil)
	expectAuth("truncated", nonce, ct[:len(ct)-1], ad)
	expectAuth("short", nonce, ct[:TagSize-1], ad)
	expectAuth("empty", nonce, nil, ad)

	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewAEAD(make([]byte, n)); err == nil {
			t.Errorf("NewAEAD accepted %d-byte key", n)
		}
	}
}
