package crypto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"sync"
	"testing"
)

// fixtures are generated once per test binary: RSA key generation is the
// slow part of this package's tests.
type fixtures struct {
	a, b      *Identity
	rsa1024   *rsa.PrivateKey
	ecdsaKey  *ecdsa.PrivateKey
	ecdsaSPKI []byte
	e3SPKI    []byte // 2048-bit modulus, e = 3
	spki1024  []byte
}

var (
	fixOnce sync.Once
	fix     fixtures
	fixErr  error
)

func testFixtures(tb testing.TB) *fixtures {
	tb.Helper()
	fixOnce.Do(func() {
		must := func(err error) {
			if err != nil && fixErr == nil {
				fixErr = err
			}
		}
		var err error
		fix.a, err = GenerateIdentity(rand.Reader)
		must(err)
		fix.b, err = GenerateIdentity(rand.Reader)
		must(err)
		fix.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
		fix.ecdsaKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		if fixErr != nil {
			return
		}
		fix.ecdsaSPKI, err = x509.MarshalPKIXPublicKey(&fix.ecdsaKey.PublicKey)
		must(err)
		fix.e3SPKI, err = x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: fix.a.key.N, E: 3})
		must(err)
		fix.spki1024, err = x509.MarshalPKIXPublicKey(&fix.rsa1024.PublicKey)
		must(err)
	})
	if fixErr != nil {
		tb.Fatalf("fixtures: %v", fixErr)
	}
	return &fix
}

func pemPKCS8(tb testing.TB, key any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// repeatReader returns an endless stream of a fixed byte.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// seqReader serves chunks in order, then fails.
type seqReader struct{ chunks [][]byte }

func (s *seqReader) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, errTestRandExhausted
	}
	n := copy(p, s.chunks[0])
	s.chunks[0] = s.chunks[0][n:]
	if len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

var errTestRandExhausted = errors.New("test rand exhausted")

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i/8] ^= 1 << (i % 8)
	return c
}
