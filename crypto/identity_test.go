package crypto

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg", "duet")
	path := filepath.Join(dir, "identity.pem")

	id, created, err := LoadOrCreateIdentity(path, rand.Reader)
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %04o, want 0600", got)
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := dst.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %04o, want 0700", got)
	}
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("file is not a PRIVATE KEY PEM block")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatalf("not PKCS#8: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %v", entries)
	}

	id2, created, err := LoadOrCreateIdentity(path, rand.Reader)
	if err != nil || created {
		t.Fatalf("reload: created=%v err=%v", created, err)
	}
	if id2.Public().Fingerprint() != id.Public().Fingerprint() {
		t.Error("reloaded identity has a different fingerprint")
	}
	id3, err := LoadIdentity(path)
	if err != nil || id3.Public().Fingerprint() != id.Public().Fingerprint() {
		t.Errorf("LoadIdentity: err=%v, same fp=%v", err, err == nil && id3.Public().Fingerprint() == id.Public().Fingerprint())
	}
}

func TestLoadIdentityErrors(t *testing.T) {
	f := testFixtures(t)
	goodPEM, err := f.a.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		mode     os.FileMode
		missing  bool
		wantIs   error
		wantText []string
	}{
		{name: "ok", data: goodPEM, mode: 0o600},
		{name: "owner read-only ok", data: goodPEM, mode: 0o400},
		{name: "0644 refused", data: goodPEM, mode: 0o644, wantIs: ErrKeyPermissions, wantText: []string{"chmod 600 ", "0644"}},
		{name: "0640 refused", data: goodPEM, mode: 0o640, wantIs: ErrKeyPermissions},
		{name: "0604 refused", data: goodPEM, mode: 0o604, wantIs: ErrKeyPermissions},
		{name: "garbage", data: []byte("hello, not a key\n"), mode: 0o600, wantIs: ErrBadIdentity, wantText: []string{"no PEM block"}},
		{name: "wrong block type", data: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}}), mode: 0o600, wantIs: ErrBadIdentity, wantText: []string{"PKCS#8"}},
		{name: "1024-bit key", data: pemPKCS8(t, f.rsa1024), mode: 0o600, wantIs: ErrBadIdentity, wantText: []string{"1024 bits"}},
		{name: "ecdsa key", data: pemPKCS8(t, f.ecdsaKey), mode: 0o600, wantIs: ErrBadIdentity, wantText: []string{"want RSA"}},
		{name: "missing", missing: true, wantIs: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "identity.pem")
			if !tt.missing {
				if err := os.WriteFile(path, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			id, err := LoadIdentity(path)
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if id.Public().Fingerprint() != f.a.Public().Fingerprint() {
					t.Fatal("wrong key loaded")
				}
				return
			}
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadOrCreateDoesNotOverwriteBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.pem")
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateIdentity(path, rand.Reader); !errors.Is(err, ErrBadIdentity) {
		t.Fatalf("err = %v, want ErrBadIdentity", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "junk" {
		t.Fatal("existing file was overwritten")
	}
}

func TestWriteNewFileExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	if err := writeNewFile(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := writeNewFile(path, []byte("two")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: err = %v, want fs.ErrExist", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Fatalf("content = %q, want original", data)
	}
}

func TestNewIdentityRejects(t *testing.T) {
	f := testFixtures(t)
	if _, err := NewIdentity(f.rsa1024); !errors.Is(err, ErrBadIdentity) {
		t.Errorf("1024-bit: err = %v", err)
	}
	if _, err := NewIdentity(nil); !errors.Is(err, ErrBadIdentity) {
		t.Errorf("nil: err = %v", err)
	}
}

func TestParseIdentityPEM(t *testing.T) {
	f := testFixtures(t)
	good, _ := f.a.MarshalPEM()
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"round trip", good, true},
		{"trailing whitespace", append(bytes.Clone(good), "\n\n  "...), true},
		{"leading whitespace", append([]byte("\r\n \t\n"), good...), true},
		{"CRLF line ends", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), true},
		{"text before", append([]byte("hello\n"), good...), false},
		{"comment before", append([]byte("# my key\n"), good...), false},
		{"another block's END before", append([]byte("-----END PRIVATE KEY-----\n"), good...), false},
		{"a broken BEGIN before", append([]byte("-----BEGIN PRIVATE KEY-----\n"), good...), false},
		{"text after", append(bytes.Clone(good), "bye\n"...), false},
		{"form feed after", append(bytes.Clone(good), "\f"...), false},
		{"two blocks", append(bytes.Clone(good), good...), false},
		{"headers", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{0}}), false},
		{"empty", nil, false},
		{"bad der", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x00}}), false},
		{"huge", bytes.Repeat([]byte("A"), maxPEMSize+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseIdentityPEM(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ok=%v err=%v", tt.ok, err)
			}
			if err != nil && !errors.Is(err, ErrBadIdentity) {
				t.Errorf("err %v does not wrap ErrBadIdentity", err)
			}
			if tt.ok && id.Public().Fingerprint() != f.a.Public().Fingerprint() {
				t.Error("fingerprint changed across PEM round trip")
			}
		})
	}
}

func TestDefaultPaths(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if p, _ := DefaultIdentityPath(); p != "/xdg/duet/identity.pem" {
		t.Errorf("identity path with XDG = %q", p)
	}
	if p, _ := DefaultKnownPeersPath(); p != "/xdg/duet/known_peers" {
		t.Errorf("known peers path with XDG = %q", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	if p, _ := DefaultIdentityPath(); p != "/home/u/.config/duet/identity.pem" {
		t.Errorf("identity path without XDG = %q", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "relative/dir")
	if p, _ := DefaultKnownPeersPath(); p != "/home/u/.config/duet/known_peers" {
		t.Errorf("relative XDG not ignored: %q", p)
	}
}

func TestSignVerify(t *testing.T) {
	f := testFixtures(t)
	msg := []byte("duet handshake transcript")
	sig, err := f.a.Sign(rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 256 {
		t.Fatalf("signature is %d bytes, want 256", len(sig))
	}
	tests := []struct {
		name string
		pub  *PublicKey
		msg  []byte
		sig  []byte
		ok   bool
	}{
		{"good", f.a.Public(), msg, sig, true},
		{"flipped msg bit", f.a.Public(), flipBit(msg, 3), sig, false},
		{"flipped sig first bit", f.a.Public(), msg, flipBit(sig, 0), false},
		{"flipped sig last bit", f.a.Public(), msg, flipBit(sig, len(sig)*8-1), false},
		{"wrong key", f.b.Public(), msg, sig, false},
		{"short sig", f.a.Public(), msg, sig[:255], false},
		{"long sig", f.a.Public(), msg, append(bytes.Clone(sig), 0), false},
		{"empty sig", f.a.Public(), msg, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pub.Verify(tt.msg, tt.sig)
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok && err != ErrBadSignature {
				t.Fatalf("Verify err = %v, want exactly ErrBadSignature", err)
			}
		})
	}
}

func TestOAEP(t *testing.T) {
	f := testFixtures(t)
	pt := []byte("32-byte session secret.........!")
	label := []byte("duet/1 oaep")
	ct, err := f.a.Public().EncryptOAEP(rand.Reader, pt, label)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != 256 {
		t.Fatalf("ciphertext is %d bytes", len(ct))
	}
	tests := []struct {
		name  string
		id    *Identity
		ct    []byte
		label []byte
		ok    bool
	}{
		{"round trip", f.a, ct, label, true},
		{"wrong label", f.a, ct, []byte("duet/1 other"), false},
		{"no label", f.a, ct, nil, false},
		{"tampered", f.a, flipBit(ct, 1000), label, false},
		{"truncated", f.a, ct[:255], label, false},
		{"wrong key", f.b, ct, label, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.id.DecryptOAEP(tt.ct, tt.label)
			if tt.ok {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if err != ErrDecrypt {
				t.Fatalf("err = %v, want exactly ErrDecrypt", err)
			}
		})
	}
	if _, err := f.a.Public().EncryptOAEP(rand.Reader, make([]byte, MaxOAEPPlaintext+1), nil); err == nil {
		t.Error("oversized plaintext accepted")
	}
	if _, err := f.a.Public().EncryptOAEP(rand.Reader, make([]byte, MaxOAEPPlaintext), nil); err != nil {
		t.Errorf("max plaintext refused: %v", err)
	}
}

// TestDeterminism pins what the package doc claims about Go 1.26: PSS and
// OAEP consume the supplied reader, so fixed randomness gives fixed output.
func TestDeterminism(t *testing.T) {
	f := testFixtures(t)
	s1, err1 := f.a.Sign(repeatReader(7), []byte("m"))
	s2, err2 := f.a.Sign(repeatReader(7), []byte("m"))
	if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) {
		t.Errorf("Sign with fixed rand not deterministic (%v, %v)", err1, err2)
	}
	c1, err1 := f.a.Public().EncryptOAEP(repeatReader(9), []byte("p"), nil)
	c2, err2 := f.a.Public().EncryptOAEP(repeatReader(9), []byte("p"), nil)
	if err1 != nil || err2 != nil || !bytes.Equal(c1, c2) {
		t.Errorf("EncryptOAEP with fixed rand not deterministic (%v, %v)", err1, err2)
	}
	e1, _ := GenerateEphemeral(repeatReader(5))
	e2, _ := GenerateEphemeral(repeatReader(5))
	if !bytes.Equal(e1.PublicBytes(), e2.PublicBytes()) {
		t.Error("GenerateEphemeral with fixed rand not deterministic")
	}
}

// TestParseIdentityPEMSaysWhere: text around the block is refused with an
// error that says where the stray text is, not a generic parse failure.
func TestParseIdentityPEMSaysWhere(t *testing.T) {
	f := testFixtures(t)
	good, _ := f.a.MarshalPEM()
	for in, want := range map[string]string{
		"Bag Attributes\n" + string(good): "text before the PEM block",
		string(good) + "junk":             "text after the PEM block",
	} {
		_, err := ParseIdentityPEM([]byte(in))
		if !errors.Is(err, ErrBadIdentity) || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want ErrBadIdentity saying %q", err, want)
		}
	}
}

// TestTempIdentityFile: the temporary copy of a new key is 0600 and empty
// when it is created (nothing is written before its mode is right), and
// what a crash left of such copies is removed at the next start: only
// regular files of duet's own pattern owned by the user, never through a
// symbolic link, and never by overwriting (a leftover can be a second link
// to the identity itself).
func TestTempIdentityFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.pem")
	var seen bool
	tempCreated = func(f *os.File) {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if seen = true; st.Mode().Perm() != 0o600 || st.Size() != 0 {
			t.Errorf("temporary file created with mode %04o and %d bytes, want 0600 and empty", st.Mode().Perm(), st.Size())
		}
	}
	t.Cleanup(func() { tempCreated = func(*os.File) {} })
	if _, _, err := LoadOrCreateIdentity(path, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Fatal("writeNewFile did not report its temporary file")
	}
	key, _ := os.ReadFile(path)

	// A crash between the link and the removal: the leftover is the
	// identity's own inode. A crash before the link: a copy of some key.
	stale := []string{".tmp-identity.pem-123", ".tmp-identity.pem-4294967295"}
	if err := os.Link(path, filepath.Join(dir, stale[0])); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stale[1]), key, 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("not duet's"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := []string{".tmp-identity.pem-abc", ".tmp-identity.pem-", ".tmp-other.pem-123", "tmp-identity.pem-1", ".tmp-identity.pem-12x"}
	for _, n := range kept {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, ".tmp-identity.pem-77")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".tmp-identity.pem-78"), 0o700); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".tmp-identity.pem-77", ".tmp-identity.pem-78")
	if os.Geteuid() == 0 { // a file of another user's, where root can make one
		n := ".tmp-identity.pem-79"
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, n), 12345, 12345); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, n)
	}

	id, created, err := LoadOrCreateIdentity(path, rand.Reader)
	if err != nil || created {
		t.Fatalf("next start: created=%v err=%v", created, err)
	}
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (err %v)", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
	if data, _ := os.ReadFile(outside); string(data) != "not duet's" {
		t.Errorf("symlink target changed: %q", data)
	}
	if data, _ := os.ReadFile(path); !bytes.Equal(data, key) {
		t.Error("the identity changed when its second link was removed")
	}
	if id2, err := LoadIdentity(path); err != nil || id2.Public().Fingerprint() != id.Public().Fingerprint() {
		t.Fatalf("identity after cleanup: %v", err)
	}
}
