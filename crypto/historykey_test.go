package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
)

func TestHistoryKey(t *testing.T) {
	f := testFixtures(t)
	a1, err := HistoryKey(f.a, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// Known construction: HKDF-SHA-256(d || n fixed-length big-endian, no
	// salt, label 0 peer), independent of any encoding Go chooses.
	size := (f.a.key.N.BitLen() + 7) / 8
	secret := append(f.a.key.D.FillBytes(make([]byte, size)), f.a.key.N.FillBytes(make([]byte, size))...)
	want, err := hkdf.Key(sha256.New, secret, nil, "duet/2 history key\x00bob", 32)
	if err != nil {
		t.Fatal(err)
	}
	if string(a1[:]) != string(want) {
		t.Fatal("HistoryKey does not match HKDF-SHA-256(d||n, nil, label||0||peer)")
	}
	// The legacy key is the old construction over PKCS#8 DER, and differs.
	der, err := x509.MarshalPKCS8PrivateKey(f.a.key)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := LegacyHistoryKey(f.a, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if wantLegacy, _ := hkdf.Key(sha256.New, der, nil, "duet/1 history key\x00bob", 32); string(legacy[:]) != string(wantLegacy) {
		t.Fatal("LegacyHistoryKey does not match HKDF-SHA-256(PKCS#8, nil, duet/1 label||0||peer)")
	}
	if legacy == a1 {
		t.Fatal("the history key is still the legacy one")
	}

	// Same key after a PEM round trip (the identity as loaded from disk).
	pemBytes, err := f.a.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	reloaded, err := ParseIdentityPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := HistoryKey(reloaded, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if a1 != a2 {
		t.Fatal("HistoryKey differs after a PEM round trip")
	}

	distinct := map[string]func() ([32]byte, error){
		"other peer":     func() ([32]byte, error) { return HistoryKey(f.a, "carol") },
		"other identity": func() ([32]byte, error) { return HistoryKey(f.b, "bob") },
		"prefix peer":    func() ([32]byte, error) { return HistoryKey(f.a, "bo") },
	}
	for name, fn := range distinct {
		k, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if k == a1 {
			t.Errorf("%s: same key", name)
		}
	}
	// Not the same as any other HKDF use of the identity with another label.
	other, _ := hkdf.Key(sha256.New, der, nil, "bob", 32)
	if string(other) == string(a1[:]) {
		t.Error("label does not separate the key")
	}
}

func TestHistoryKeyRefuses(t *testing.T) {
	f := testFixtures(t)
	for _, tc := range []struct {
		name string
		id   *Identity
		peer string
		bad  error
	}{
		{"nil identity", nil, "bob", nil},
		{"empty peer", f.a, "", ErrBadPeerName},
		{"space", f.a, "bo b", ErrBadPeerName},
		{"control", f.a, "bob\x00", ErrBadPeerName},
		{"comment", f.a, "#bob", ErrBadPeerName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := HistoryKey(tc.id, tc.peer)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.bad != nil && !errors.Is(err, tc.bad) {
				t.Fatalf("err = %v, want %v", err, tc.bad)
			}
			if k != ([32]byte{}) {
				t.Fatal("key returned with an error")
			}
		})
	}
}
