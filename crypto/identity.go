package crypto

import (
	"bytes"
	stdcrypto "crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"duet/internal/fsafe"
)

// RSABits is the only accepted RSA modulus size, for identities and peers.
const RSABits = 2048

// rsaExponent is the only accepted RSA public exponent.
const rsaExponent = 65537

// SignatureSize is the length of an RSA-2048 PSS signature and of an
// RSA-2048 OAEP ciphertext.
const SignatureSize = RSABits / 8

// MaxOAEPPlaintext is the largest plaintext EncryptOAEP accepts:
// 256 - 2*32 - 2 bytes for RSA-2048 with SHA-256.
const MaxOAEPPlaintext = SignatureSize - 2*sha256.Size - 2

// maxPEMSize bounds identity files and ParseIdentityPEM input. A PKCS#8
// RSA-2048 PEM is about 1.7 KiB.
const maxPEMSize = 64 << 10

const pemTypePrivateKey = "PRIVATE KEY"

// Identity is a long-term RSA-2048 (e=65537) signing and decryption key.
// It is immutable and safe for concurrent use.
type Identity struct {
	key *rsa.PrivateKey
	pub *PublicKey
}

// GenerateIdentity creates a new RSA-2048, e=65537 identity. In Go 1.26
// rand is ignored by rsa.GenerateKey (see package doc); it is still passed
// through so a GODEBUG=cryptocustomrand=1 build can honour it.
func GenerateIdentity(rand io.Reader) (*Identity, error) {
	key, err := rsa.GenerateKey(rand, RSABits)
	if err != nil {
		return nil, fmt.Errorf("crypto: generate identity: %w", err)
	}
	return NewIdentity(key)
}

// NewIdentity wraps key. It refuses keys whose modulus is not exactly 2048
// bits or whose public exponent is not 65537, and keys failing Validate.
func NewIdentity(key *rsa.PrivateKey) (*Identity, error) {
	if key == nil || key.N == nil {
		return nil, fmt.Errorf("%w: missing key", ErrBadIdentity)
	}
	if n := key.N.BitLen(); n != RSABits {
		return nil, fmt.Errorf("%w: RSA modulus is %d bits, want %d", ErrBadIdentity, n, RSABits)
	}
	if key.E != rsaExponent {
		return nil, fmt.Errorf("%w: RSA public exponent is not %d", ErrBadIdentity, rsaExponent)
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%w: invalid RSA key", ErrBadIdentity)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("crypto: marshal identity public key: %w", err)
	}
	pub, err := ParsePublicKey(der)
	if err != nil {
		return nil, err
	}
	return &Identity{key: key, pub: pub}, nil
}

// ParseIdentityPEM parses a single PEM block of type "PRIVATE KEY"
// holding a PKCS#8 RSA-2048 (e=65537) key. The input is the block and
// nothing else: only whitespace (spaces, tabs, CR, LF) may come before
// its BEGIN line or after its END line. Text before or after the block,
// encrypted PEM, PEM headers, other block types and inputs over 64 KiB are
// refused. Errors wrap ErrBadIdentity and never include key bytes.
func ParseIdentityPEM(pemBytes []byte) (*Identity, error) {
	if len(pemBytes) > maxPEMSize {
		return nil, fmt.Errorf("%w: PEM larger than %d bytes", ErrBadIdentity, maxPEMSize)
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrBadIdentity)
	}
	// pem.Decode skips anything before a BEGIN line: an identity file is
	// read as the key it holds and nothing else, so the block must come
	// first (whitespace aside), and its BEGIN line is the only one (a
	// broken block before it would be skipped too).
	begin := []byte("-----BEGIN ")
	if !bytes.HasPrefix(bytes.TrimLeft(pemBytes, " \t\r\n"), begin) || bytes.Count(pemBytes, begin) != 1 {
		return nil, fmt.Errorf("%w: text before the PEM block (the file must hold the key and nothing else)", ErrBadIdentity)
	}
	if block.Type != pemTypePrivateKey {
		return nil, fmt.Errorf("%w: PEM block type %q, want %q (PKCS#8)", ErrBadIdentity, block.Type, pemTypePrivateKey)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM headers are not supported (encrypted key?)", ErrBadIdentity)
	}
	if len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("%w: text after the PEM block (the file must hold the key and nothing else)", ErrBadIdentity)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		// x509 errors describe structure, never key material.
		return nil, fmt.Errorf("%w: not a PKCS#8 private key: %v", ErrBadIdentity, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#8 key is %T, want RSA", ErrBadIdentity, k)
	}
	return NewIdentity(key)
}

// LoadIdentity reads a PKCS#8 PEM identity from path. Like ssh, it refuses
// (ErrKeyPermissions) a file whose mode grants any group/other access
// (mode&0o077 != 0); the error tells the user to run `chmod 600 FILE`.
// The mode is checked on the opened descriptor, not a separate stat. The
// file is opened under fsafe.UserFile: a path that is not a regular file (a
// FIFO, device, socket, directory), a symbolic link someone else could have
// put there, or a key owned by another user is refused with an error
// wrapping ErrBadIdentity and fsafe's reason, without blocking.
func LoadIdentity(path string) (*Identity, error) {
	f, err := fsafe.Open(path, os.O_RDONLY, 0, fsafe.UserFile)
	if refusedFile(err) {
		return nil, fmt.Errorf("crypto: load identity %s: %w", path, badIdentityFile{err})
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: load identity %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("crypto: load identity %s: %w", path, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("crypto: load identity %s: permissions %04o are too open; run `chmod 600 %s`: %w",
			path, st.Mode().Perm(), path, ErrKeyPermissions)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEMSize+1))
	if err != nil {
		return nil, fmt.Errorf("crypto: load identity %s: %w", path, err)
	}
	id, err := ParseIdentityPEM(data)
	if err != nil {
		return nil, fmt.Errorf("crypto: load identity %s: %w", path, err)
	}
	return id, nil
}

// LoadOrCreateIdentity loads the identity at path, or, if the file does not
// exist, generates one and stores it as PKCS#8 PEM. Creation makes missing
// parent directories with mode 0700 and writes the key to a 0600 temporary
// file in the same directory, fsyncs it, then links it into place, which
// fails if path appeared meanwhile (O_EXCL semantics: an existing key is
// never overwritten; a concurrent creator wins and its key is loaded).
// created reports whether a new key was written. Once the identity is in
// place, the temporary files a crash during an earlier creation left
// beside it are removed (removeStaleTemps).
func LoadOrCreateIdentity(path string, rand io.Reader) (id *Identity, created bool, err error) {
	id, created, err = loadOrCreateIdentity(path, rand)
	if err == nil {
		removeStaleTemps(path)
	}
	return id, created, err
}

func loadOrCreateIdentity(path string, rand io.Reader) (id *Identity, created bool, err error) {
	id, err = LoadIdentity(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, false, err
	}
	id, err = GenerateIdentity(rand)
	if err != nil {
		return nil, false, err
	}
	pemBytes, err := id.MarshalPEM()
	if err != nil {
		return nil, false, err
	}
	if err := writeNewFile(path, pemBytes); err != nil {
		if errors.Is(err, fs.ErrExist) {
			id, err = LoadIdentity(path)
			return id, false, err
		}
		return nil, false, fmt.Errorf("crypto: create identity %s: %w", path, err)
	}
	return id, true, nil
}

// tempPrefix starts the name of writeNewFile's temporary file for path;
// os.CreateTemp adds decimal digits.
func tempPrefix(path string) string { return ".tmp-" + filepath.Base(path) + "-" }

// tempCreated is called with writeNewFile's temporary file right after it
// is created, before anything is written to it (tests look at its mode).
var tempCreated = func(*os.File) {}

// removeStaleTemps removes what a crash during writeNewFile left beside
// path: names of the form tempPrefix(path) followed by digits only, that
// are regular files (a symbolic link is never followed, nor removed) owned
// by the user. It unlinks them and never overwrites them first: a crash
// between the link and the removal leaves the temporary name as a second
// link to the identity itself. Best effort: what cannot be read or removed
// stays (nothing is lost by that; it is tried again at the next start).
// Called once the identity is in place, so a concurrent creator whose
// temporary file goes loses to the existing key anyway (its Link then
// fails, and its O_EXCL fallback finds the key).
func removeStaleTemps(path string) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if st, err := os.Lstat(name); err == nil && st.Mode().IsRegular() && fsafe.OwnedByUser(st) {
			os.Remove(name)
		}
	}
}

// writeNewFile atomically creates path (mode 0600, parents 0700) with data,
// failing with an fs.ErrExist error if path already exists. The temporary
// file is 0600 from its creation (os.CreateTemp), before the key is in it.
func writeNewFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*") // mode 0600
	if err != nil {
		return err
	}
	tempCreated(tmp)
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// os.Link never replaces an existing path, unlike os.Rename.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// Filesystems without hard links: fall back to an O_EXCL create.
		f, err2 := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err2 != nil {
			return err2
		}
		if _, err2 = f.Write(data); err2 == nil {
			err2 = f.Sync()
		}
		if cerr := f.Close(); err2 == nil {
			err2 = cerr
		}
		if err2 != nil {
			os.Remove(path)
		}
		return err2
	}
	fsafe.SyncDir(dir) // best effort: persist the directory entry
	return nil
}

// configDir returns $XDG_CONFIG_HOME/duet if XDG_CONFIG_HOME is an
// absolute path, else $HOME/.config/duet.
func configDir() (string, error) {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "duet"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("crypto: locate config directory: %w", err)
	}
	return filepath.Join(home, ".config", "duet"), nil
}

// DefaultIdentityPath is $XDG_CONFIG_HOME/duet/identity.pem, or
// $HOME/.config/duet/identity.pem when XDG_CONFIG_HOME is unset or relative.
func DefaultIdentityPath() (string, error) {
	d, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "identity.pem"), nil
}

// DefaultKnownPeersPath is the known_peers file next to the default identity.
func DefaultKnownPeersPath() (string, error) {
	d, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "known_peers"), nil
}

// Public returns the identity's public key.
func (id *Identity) Public() *PublicKey { return id.pub }

// pssOptions: salt length 32 = SHA-256 size, on both sign and verify.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: stdcrypto.SHA256}

// Sign returns the 256-byte RSA-PSS signature of SHA-256(msg), MGF1-SHA-256,
// salt length 32. It reads exactly 32 salt bytes from rand.
func (id *Identity) Sign(rand io.Reader, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPSS(rand, id.key, stdcrypto.SHA256, h[:], pssOptions)
	if err != nil {
		return nil, fmt.Errorf("crypto: sign: %w", err)
	}
	return sig, nil
}

// DecryptOAEP decrypts an RSA-OAEP (SHA-256, MGF1-SHA-256) ciphertext
// with the given label. Every failure returns exactly ErrDecrypt, with no
// detail, so callers cannot build a padding oracle from error text.
func (id *Identity) DecryptOAEP(ciphertext, label []byte) ([]byte, error) {
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, id.key, ciphertext, label)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// MarshalPEM encodes the private key as a PKCS#8 "PRIVATE KEY" PEM block.
// The result is secret.
func (id *Identity) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return nil, fmt.Errorf("crypto: marshal identity: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}), nil
}
