package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// maxPeerNameLen bounds peer names stored in known_peers.
const maxPeerNameLen = 255

// maxKnownPeersSize bounds the known_peers file read by OpenKnownPeers.
const maxKnownPeersSize = 16 << 20

// KnownPeers is a trust-on-first-use store of peer fingerprints, like ssh's
// known_hosts. File format, one entry per line:
//
//	<peer-name> <64 lowercase hex digits of the fingerprint>
//
// Lines that are blank or whose first non-space character is '#' are
// ignored; fields are separated by spaces or tabs; a trailing '\r' is
// tolerated. Peer names are non-empty, at most 255 bytes of valid UTF-8,
// without whitespace or control characters, and do not start with '#'.
// A name may repeat only with the same fingerprint.
//
// A KnownPeers is safe for concurrent use within one process. Entries are
// only ever appended; concurrent appends from several processes may
// duplicate an entry but cannot interleave within one line (O_APPEND, one
// write per line).
type KnownPeers struct {
	path  string
	mu    sync.Mutex
	peers map[string]Fingerprint
}

// OpenKnownPeers reads the known_peers file at path. A missing file is an
// empty store (it is created on first contact). A malformed file is an
// error naming the file and line number; it is never silently rewritten.
func OpenKnownPeers(path string) (*KnownPeers, error) {
	data, err := readLimited(path, maxKnownPeersSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return nil, fmt.Errorf("crypto: open known peers %s: %w", path, err)
	}
	peers, err := parseKnownPeers(data)
	if err != nil {
		return nil, fmt.Errorf("crypto: known peers %s: %w", path, err)
	}
	return &KnownPeers{path: path, peers: peers}, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file larger than %d bytes", limit)
	}
	return data, nil
}

// parseKnownPeers parses the known_peers format described on KnownPeers.
// Errors name the 1-based line number.
func parseKnownPeers(data []byte) (map[string]Fingerprint, error) {
	peers := make(map[string]Fingerprint)
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		s := strings.Trim(string(line), " \t")
		if s == "" || s[0] == '#' {
			continue
		}
		fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"<peer-name> <fingerprint>\", got %d fields", lineNo, len(fields))
		}
		name, fpHex := fields[0], fields[1]
		if err := checkPeerName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		fp, err := parseLowerHexFingerprint(fpHex)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if old, ok := peers[name]; ok && old != fp {
			return nil, fmt.Errorf("line %d: peer %q listed again with a different fingerprint", lineNo, name)
		}
		peers[name] = fp
	}
	return peers, nil
}

func parseLowerHexFingerprint(s string) (Fingerprint, error) {
	var fp Fingerprint
	if len(s) != 64 {
		return fp, fmt.Errorf("%w: want 64 lowercase hex digits", ErrBadFingerprint)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fp, fmt.Errorf("%w: want 64 lowercase hex digits", ErrBadFingerprint)
		}
	}
	if _, err := hex.Decode(fp[:], []byte(s)); err != nil {
		return fp, fmt.Errorf("%w: want 64 lowercase hex digits", ErrBadFingerprint)
	}
	return fp, nil
}

func checkPeerName(name string) error {
	if name == "" || len(name) > maxPeerNameLen || name[0] == '#' || !utf8.ValidString(name) {
		return fmt.Errorf("%w: %q", ErrBadPeerName, name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: %q", ErrBadPeerName, name)
		}
	}
	return nil
}

// formatKnownPeer is one known_peers line, newline included.
func formatKnownPeer(peer string, fp Fingerprint) string {
	return peer + " " + hex.EncodeToString(fp[:]) + "\n"
}

// Path returns the file this store reads and appends to.
func (k *KnownPeers) Path() string { return k.path }

// Check compares fp with the recorded fingerprint of peer.
//
//   - Unknown peer: appends "<peer> <hex>" to the file (creating it 0600,
//     and missing parent directories 0700), records it in memory and
//     returns firstContact=true, err=nil. If the append fails, the error
//     is returned (with firstContact=true) and nothing is recorded; callers
//     must treat any error as "do not proceed".
//   - Same fingerprint: (false, nil).
//   - Different fingerprint: (false, *KeyChangedError), which Is
//     ErrKeyChanged. The file is left unchanged.
//
// An invalid peer name returns an error wrapping ErrBadPeerName.
func (k *KnownPeers) Check(peer string, fp Fingerprint) (firstContact bool, err error) {
	if err := checkPeerName(peer); err != nil {
		return false, fmt.Errorf("crypto: known peers %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if known, ok := k.peers[peer]; ok {
		if known != fp {
			return false, &KeyChangedError{Peer: peer, Known: known, Got: fp, Path: k.path}
		}
		return false, nil
	}
	if err := appendLine(k.path, formatKnownPeer(peer, fp)); err != nil {
		return true, fmt.Errorf("crypto: record peer %q in %s: %w", peer, k.path, err)
	}
	k.peers[peer] = fp
	return true, nil
}

// appendLine appends line to path (0600, parents 0700), first adding a
// newline if the file does not end with one, and fsyncs.
func appendLine(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() > 0 {
		var last [1]byte
		if _, err = f.ReadAt(last[:], st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if err == nil {
		_, err = f.WriteString(line)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// KeyChangedError reports that a peer presented a fingerprint different
// from the recorded (or pinned) one. It Is ErrKeyChanged.
type KeyChangedError struct {
	Peer  string
	Known Fingerprint // recorded or pinned
	Got   Fingerprint // presented now
	Path  string      // known_peers file holding the entry; "" if none (pinned)
}

func (e *KeyChangedError) Error() string {
	msg := fmt.Sprintf("crypto: key for peer %q changed: known %s, got %s", e.Peer, e.Known, e.Got)
	if e.Path != "" {
		msg += "; if this is expected, remove the line from " + e.Path
	}
	return msg
}

// Unwrap returns ErrKeyChanged.
func (e *KeyChangedError) Unwrap() error { return ErrKeyChanged }

// CheckPinned compares a fingerprint pinned on the command line
// (--peer-fingerprint) with the one presented. A mismatch is a
// *KeyChangedError with Peer "pinned".
func CheckPinned(want, got Fingerprint) error {
	if want != got {
		return &KeyChangedError{Peer: "pinned", Known: want, Got: got}
	}
	return nil
}
