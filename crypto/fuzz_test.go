package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/pem"
	"strings"
	"testing"
)

func FuzzParsePublicKey(f *testing.F) {
	fx := testFixtures(f)
	der := fx.a.Public().DER()
	for _, s := range [][]byte{der, fx.b.Public().DER(), fx.ecdsaSPKI, fx.spki1024, fx.e3SPKI,
		append(bytes.Clone(der), 0), der[:100], nil, {0x30, 0x00}, []byte("garbage")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParsePublicKey(in)
		if err != nil {
			return
		}
		if !bytes.Equal(p.DER(), in) {
			t.Fatal("DER differs from accepted input")
		}
		if p.Fingerprint() != Fingerprint(sha256.Sum256(in)) {
			t.Fatal("fingerprint is not SHA-256 of the input")
		}
		if p.key.N.BitLen() != RSABits || p.key.E != 65537 {
			t.Fatal("accepted a key outside RSA-2048/e=65537")
		}
	})
}

func FuzzParseIdentityPEM(f *testing.F) {
	fx := testFixtures(f)
	good, _ := fx.a.MarshalPEM()
	f.Add(good)
	f.Add(pemPKCS8(f, fx.rsa1024))
	f.Add(pemPKCS8(f, fx.ecdsaKey))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		id, err := ParseIdentityPEM(in)
		if err != nil {
			return
		}
		out, err := id.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		id2, err := ParseIdentityPEM(out)
		if err != nil || id2.Public().Fingerprint() != id.Public().Fingerprint() {
			t.Fatalf("re-marshal round trip failed: %v", err)
		}
	})
}

func FuzzParseKnownPeers(f *testing.F) {
	line := formatKnownPeer("127.0.0.1:5556", fpSeq(1))
	f.Add([]byte(line))
	f.Add([]byte("# comment\n\n" + line + "[::1]:1 " + strings.Repeat("ab", 32) + "\r\n"))
	f.Add([]byte("host\n"))
	f.Add([]byte("a " + strings.Repeat("AB", 32)))
	f.Add([]byte(line + strings.Replace(line, "01", "ff", 1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parseKnownPeers(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without line number: %v", err)
			}
			return
		}
		var sb strings.Builder
		for name, fp := range m {
			sb.WriteString(formatKnownPeer(name, fp))
		}
		m2, err := parseKnownPeers([]byte(sb.String()))
		if err != nil || len(m2) != len(m) {
			t.Fatalf("serialised store does not reparse: %v", err)
		}
		for name, fp := range m {
			if m2[name] != fp {
				t.Fatalf("entry %q changed", name)
			}
		}
	})
}

func FuzzParseFingerprint(f *testing.F) {
	fp := fpSeq(0x3f)
	f.Add(fp.String())
	f.Add("SHA256:" + strings.ReplaceAll(fp.String(), " ", ":"))
	f.Add(strings.ToUpper(strings.ReplaceAll(fp.String(), " ", "")))
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		again, err := ParseFingerprint(got.String())
		if err != nil || again != got {
			t.Fatalf("String/Parse round trip failed: %v", err)
		}
	})
}
