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
	"runtime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"duet/internal/fsafe"
)

// maxPeerNameLen bounds peer names stored in known_peers.
const maxPeerNameLen = 255

// maxKnownPeersSize bounds the known_peers file read by OpenKnownPeers.
const maxKnownPeersSize = 16 << 20

// KnownPeers is a trust-on-first-use store of peer fingerprints, like ssh's
// known_hosts. File format, one entry per line:
//
//	<peer-name> <64 lowercase hex digits of the fingerprint> [verified]
//
// The optional third field is exactly the word "verified" (lowercase): the
// user compared the safety number with the peer out of band for this
// fingerprint (MarkVerified). Any other third field, or a fourth, is an
// error. Lines that are blank or whose first non-space character is '#' are
// ignored; fields are separated by spaces or tabs; a trailing '\r' is
// tolerated. Peer names are non-empty, at most 255 bytes of valid UTF-8,
// without whitespace or control characters, and do not start with '#'.
// A name may repeat only with the same fingerprint; it is verified if any
// of its lines says so.
//
// A KnownPeers is safe for concurrent use within one process. First contact
// (Check) only ever appends; concurrent appends from several processes may
// duplicate an entry but cannot interleave within one line (O_APPEND, one
// write per line). MarkVerified and Replace rewrite the whole file
// atomically (a 0600 temporary file in the same directory, fsynced, renamed
// over the file): a reader sees the old file or the new one, never a mix,
// and every other line, comments included, is kept as it is on disk. An
// entry another process appends between the rewrite's read and its rename
// is lost (it is recorded again at that process's next first contact).
type KnownPeers struct {
	path     string
	mu       sync.Mutex
	peers    map[string]Fingerprint
	verified map[string]bool // peers whose recorded fingerprint is verified
}

// ErrNotRecorded reports a MarkVerified for a fingerprint that is not the
// one recorded for the peer (or a peer with no entry): only the recorded key
// can be marked verified.
var ErrNotRecorded = errors.New("crypto: fingerprint is not the recorded one")

// verifiedWord is the optional third field of a known_peers line.
const verifiedWord = "verified"

// OpenKnownPeers reads the known_peers file at path. A missing file is an
// empty store (it is created on first contact). A malformed file is an
// error naming the file and line number; it is never silently rewritten.
// The file is opened as openFile says (fsafe.UserFile; refused, as every
// later append and rewrite is, while others can write it).
func OpenKnownPeers(path string) (*KnownPeers, error) {
	data, err := readLimited(path, maxKnownPeersSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return nil, fmt.Errorf("crypto: open known peers %s: %w", path, err)
	}
	peers, verified, err := parseKnownPeersVerified(data)
	if err != nil {
		return nil, fmt.Errorf("crypto: known peers %s: %w", path, err)
	}
	return &KnownPeers{path: path, peers: peers, verified: verified}, nil
}

// openFile opens the known_peers file at path (flag as os.OpenFile; a
// created file is 0600) under fsafe.UserFile, and refuses a file that
// users other than its owner can write (ErrKnownPeersPermissions), as
// ssh's StrictModes does: they could have recorded their own key for a
// peer. It is refused rather than set back to a safe mode, because setting
// it back would bless whatever was written while it was open; the database,
// whose content is authenticated, is set back instead. The file is left as
// it is; the error names it, its mode and the chmod that fixes it.
func openFile(path string, flag int) (*os.File, error) {
	f, err := fsafe.Open(path, flag, 0o600, fsafe.UserFile)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o022 != 0 {
		perm := st.Mode().Perm()
		who := "its group and everyone"
		switch perm & 0o022 {
		case 0o020:
			who = "its group"
		case 0o002:
			who = "everyone"
		}
		err = fmt.Errorf("mode %04o lets other users (%s) write it, and so choose which key duet trusts for a peer; run `chmod go-w %s`: %w",
			perm, who, path, ErrKnownPeersPermissions)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := openFile(path, os.O_RDONLY)
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
	peers, _, err := parseKnownPeersVerified(data)
	return peers, err
}

// parseKnownPeersVerified is parseKnownPeers also returning the verified
// peers.
func parseKnownPeersVerified(data []byte) (map[string]Fingerprint, map[string]bool, error) {
	peers := make(map[string]Fingerprint)
	verified := make(map[string]bool)
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
		fields := splitFields(s)
		if len(fields) != 2 && len(fields) != 3 {
			return nil, nil, fmt.Errorf("line %d: want \"<peer-name> <fingerprint> [verified]\", got %d fields", lineNo, len(fields))
		}
		name, fpHex := fields[0], fields[1]
		if err := checkPeerName(name); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		fp, err := parseLowerHexFingerprint(fpHex)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if len(fields) == 3 && fields[2] != verifiedWord {
			return nil, nil, fmt.Errorf("line %d: third field must be %q, got %q", lineNo, verifiedWord, fields[2])
		}
		if old, ok := peers[name]; ok && old != fp {
			return nil, nil, fmt.Errorf("line %d: peer %q listed again with a different fingerprint", lineNo, name)
		}
		peers[name] = fp
		if len(fields) == 3 {
			verified[name] = true
		}
	}
	return peers, verified, nil
}

func splitFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
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

// formatVerifiedPeer is one known_peers line of a verified entry.
func formatVerifiedPeer(peer string, fp Fingerprint) string {
	return peer + " " + hex.EncodeToString(fp[:]) + " " + verifiedWord + "\n"
}

// Recorded returns the fingerprint recorded for peer and whether it is
// marked verified; ok is false when peer has no entry. It reads only (duet
// peer list shows trust through it).
func (k *KnownPeers) Recorded(peer string) (fp Fingerprint, verified, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	fp, ok = k.peers[peer]
	return fp, ok && k.verified[peer], ok
}

// Verified reports whether fp is the recorded fingerprint of peer and the
// user marked it verified.
func (k *KnownPeers) Verified(peer string, fp Fingerprint) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	known, ok := k.peers[peer]
	return ok && known == fp && k.verified[peer]
}

// MarkVerified records that the user compared the safety number for peer's
// fingerprint fp out of band. fp must be the recorded fingerprint (else an
// error wrapping ErrNotRecorded, and nothing changes). The file is rewritten
// atomically with the entry's line ending in "verified"; marking an entry
// already verified does nothing.
func (k *KnownPeers) MarkVerified(peer string, fp Fingerprint) error {
	if err := checkPeerName(peer); err != nil {
		return fmt.Errorf("crypto: known peers %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	known, ok := k.peers[peer]
	if !ok || known != fp {
		return fmt.Errorf("crypto: mark peer %q verified in %s: %w", peer, k.path, ErrNotRecorded)
	}
	if k.verified[peer] {
		return nil
	}
	if err := rewriteKnownPeers(k.path, peer, formatVerifiedPeer(peer, fp)); err != nil {
		return fmt.Errorf("crypto: mark peer %q verified in %s: %w", peer, k.path, err)
	}
	k.verified[peer] = true
	return nil
}

// Replace records fp as peer's fingerprint in place of the recorded one:
// the user accepted a new key on purpose (after a "key changed" warning).
// The new entry is not verified. The file is rewritten atomically: the
// peer's first line is replaced, its other lines dropped (or the line
// appended if there was none); every other line is kept. On error nothing
// changes, in the file or in memory.
func (k *KnownPeers) Replace(peer string, fp Fingerprint) error {
	if err := checkPeerName(peer); err != nil {
		return fmt.Errorf("crypto: known peers %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := rewriteKnownPeers(k.path, peer, formatKnownPeer(peer, fp)); err != nil {
		return fmt.Errorf("crypto: replace key of peer %q in %s: %w", peer, k.path, err)
	}
	k.peers[peer] = fp
	delete(k.verified, peer)
	return nil
}

// rewriteKnownPeers replaces peer's lines in the file at path by line (one
// line, at the place of the first), keeping every other line byte for byte,
// and writes the result atomically: a temporary file (0600) in the same
// directory, fsynced, renamed over path, then the directory fsynced. A
// symbolic link at path that fsafe.UserFile follows stays in place: the
// file it leads to is the one replaced (fsafe.Resolve). A file that no
// longer parses is left alone (an error).
func rewriteKnownPeers(path, peer, line string) error {
	path, err := fsafe.Resolve(path, fsafe.UserFile)
	if err != nil {
		return err
	}
	data, err := readLimited(path, maxKnownPeersSize)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, _, err := parseKnownPeersVerified(data); err != nil {
		return err
	}
	var out strings.Builder
	replaced := false
	for len(data) > 0 {
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i+1], data[i+1:]
		} else {
			l, data = append(data, '\n'), nil
		}
		s := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(string(l), "\n"), "\r"), " \t")
		if s != "" && s[0] != '#' && splitFields(s)[0] == peer {
			if !replaced {
				out.WriteString(line)
				replaced = true
			}
			continue
		}
		out.Write(l)
	}
	if !replaced {
		out.WriteString(line)
	}
	return fsafe.WriteAtomic(path, []byte(out.String()))
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
	if err := appendKnownPeer(k.path, formatKnownPeer(peer, fp)); err != nil {
		return true, fmt.Errorf("crypto: could not record the peer's key in %s: %w", k.path, err)
	}
	k.peers[peer] = fp
	return true, nil
}

// appendKnownPeer is how Check appends a first-contact line: appendLine,
// replaced by tests to simulate a full disk.
var appendKnownPeer = appendLine

// appendLine appends line to path (0600, parents 0700), first adding a
// newline if the file does not end with one, and fsyncs.
func appendLine(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := openFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE)
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
