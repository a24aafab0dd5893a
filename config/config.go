// Package config reads and writes duet's config file,
// $XDG_CONFIG_HOME/duet/config.toml (TOML): defaults for the chat's flags
// and saved peers, [peer.NAME] tables. It holds addresses, ports, display
// names and file paths, never a key or a trust decision: a peer's pinned
// key and whether it was verified live in known_peers alone, so two stores
// can never disagree.
//
// Limits and invariants:
//   - The file is read under fsafe.UserFile (a regular file, a link only if
//     the user's own) and, like the identity key, refused when its mode
//     grants its group or others any access (ErrPermissions): it names the
//     identity file duet uses with each peer.
//   - At most MaxSize bytes; unknown keys are an error naming them (a typo
//     is never silently ignored).
//   - A peer's name is 1 to 32 of a-z, 0-9, '-' and '_', starting with a
//     letter or digit (ValidName): it is a word on the command line and a
//     TOML key.
//   - Add and Remove write atomically (a 0600 temporary file in the same
//     directory, fsynced, renamed over the file) and keep the file's text as
//     it was, comments included: Add appends the new table, Remove cuts one
//     [peer.NAME] table out (see Remove for which lines go with it).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"runtime"
	"sort"

	"github.com/BurntSushi/toml"

	"duet/internal/fsafe"
)

// FileName is the config file's name in duet's config directory.
const FileName = "config.toml"

// MaxSize bounds the file read (a config of thousands of peers is far
// below it).
const MaxSize = 1 << 20

// ErrPermissions reports a config file its group or others can access.
var ErrPermissions = errors.New("config file permissions too open")

// ErrPeerExists reports Add of a name already saved.
var ErrPeerExists = errors.New("peer already saved")

// ErrBadName reports a peer name ValidName refuses.
var ErrBadName = errors.New("not a peer name")

// ErrNoPeer reports Remove of a name not saved (or of any name when the
// file does not exist).
var ErrNoPeer = errors.New("no such saved peer")

// ErrByHand reports a peer Remove cannot take out of the file's text
// safely; the file is left as it was.
var ErrByHand = errors.New("cannot remove it safely: edit the file by hand")

// Peer is a saved peer ([peer.NAME]), or the defaults (top level). Zero
// fields are unset.
type Peer struct {
	Host       string `toml:"host,omitempty"`        // the peer's host (--peer-host)
	Main       int    `toml:"main,omitempty"`        // our port (--main)
	Sub        int    `toml:"sub,omitempty"`         // the peer's port (--sub)
	Identity   string `toml:"identity,omitempty"`    // our key with this peer (--identity)
	Name       string `toml:"name,omitempty"`        // our display name with this peer (--name)
	PeerName   string `toml:"peer_name,omitempty"`   // the peer's display name (--peer-name; default: the table's name)
	Bind       string `toml:"bind,omitempty"`        // address to bind (--bind)
	KnownPeers string `toml:"known_peers,omitempty"` // known_peers file (--known-peers)
	// How the full screen announces a message you cannot see, and the
	// courtesies (false: unset, so a layer can only turn them on).
	Notify         string `toml:"notify,omitempty"`           // bell, desktop or off (--notify; checked by duet)
	NotifyText     bool   `toml:"notify_text,omitempty"`      // --notify-text
	NoTyping       bool   `toml:"no_typing,omitempty"`        // --no-typing
	NoReadReceipts bool   `toml:"no_read_receipts,omitempty"` // --no-read-receipts
}

// File is the config file: the top level's defaults and the saved peers.
type File struct {
	Defaults Peer
	Peers    map[string]Peer
}

// fileTOML is the file's TOML shape: the defaults inline at the top level.
type fileTOML struct {
	Peer
	Peers map[string]Peer `toml:"peer"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidName reports whether name may name a saved peer.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: %w (1 to 32 of a-z, 0-9, - and _, starting with a letter or digit)", name, ErrBadName)
	}
	return nil
}

// Load reads the config file at path. A missing file is an empty File
// (and exists false).
func Load(path string) (f *File, exists bool, err error) {
	data, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Peers: map[string]Peer{}}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("config %s: %w", path, err)
	}
	f, err = parse(data)
	if err != nil {
		return nil, true, fmt.Errorf("config %s: %w", path, err)
	}
	return f, true, nil
}

// read reads the file at path under fsafe.UserFile and the identity's mode
// rule, at most MaxSize bytes.
func read(path string) ([]byte, error) {
	fh, err := fsafe.Open(path, os.O_RDONLY, 0, fsafe.UserFile)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("permissions %04o are too open; run `chmod 600 %s`: %w", st.Mode().Perm(), path, ErrPermissions)
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	return data, nil
}

// write replaces the file at path with data atomically (a 0600 temporary
// file in the same directory, fsynced, renamed over it); a linked config
// stays linked: the link's target is replaced.
func write(path string, data []byte) error {
	target, err := fsafe.Resolve(path, fsafe.UserFile)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := fsafe.WriteAtomic(target, data); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// parse decodes the file's text, refusing unknown keys and bad names.
func parse(data []byte) (*File, error) {
	var t fileTOML
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&t)
	if err != nil {
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("unknown key %q", und[0].String())
	}
	for name := range t.Peers {
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("[peer.%s]: %w", name, err)
		}
	}
	if t.Peers == nil {
		t.Peers = map[string]Peer{}
	}
	return &File{Defaults: t.Peer, Peers: t.Peers}, nil
}

// Names is the saved peers' names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Peers))
	for n := range f.Peers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Add saves peer p as name in the config file at path, appending its
// table to the file's text (created 0600, its directory 0700, when
// missing). A name already saved is refused (ErrPeerExists): the file is
// the place to edit it.
func Add(path, name string, p Peer) error {
	if err := ValidName(name); err != nil {
		return err
	}
	data, err := read(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	old, err := parse(data)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if _, dup := old.Peers[name]; dup {
		return fmt.Errorf("config %s: %q: %w (edit it there)", path, name, ErrPeerExists)
	}
	table := bytes.NewBufferString("[peer." + name + "]\n") // a valid name is a bare key
	if err := toml.NewEncoder(table).Encode(p); err != nil {
		return fmt.Errorf("config: encode peer %s: %w", name, err)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	if len(data) > 0 {
		data = append(data, '\n')
	}
	data = append(data, table.Bytes()...)
	if _, err := parse(data); err != nil { // what is written reads back
		return fmt.Errorf("config %s: the new entry would not read back: %w", path, err)
	}
	return write(path, data)
}

// Remove deletes the saved peer name from the config file at path by
// cutting its table out of the file's text; every other byte stays as it
// was (the defaults, the other peers, comments, blank lines).
//
// What is cut: the table's header line ([peer.NAME], in any spelling TOML
// allows: [ peer . "NAME" ], ['peer'.NAME], ...) and every line after it up
// to the next table header, except the comment lines directly above that
// header (no blank line between), which are kept with the table they
// introduce. Comment lines directly above NAME's own header are kept too:
// they may be about more than NAME, and a comment left over is better than
// one lost. When the table is the file's last, the blank lines before its
// header go with it, so the file does not end in blank lines.
//
// Limits and invariants:
//   - The file is read as Load reads it (fsafe.UserFile, the mode rule,
//     MaxSize, unknown keys refused) and must hold name: a missing file
//     or a name not saved is ErrNoPeer, a bad name ErrBadName.
//   - Table headers are found line by line outside multi-line strings,
//     each read by the TOML decoder itself. A peer defined any other way
//     (peer.NAME = {...} at the top level, NAME = {...} under [peer],
//     dotted keys) is refused with ErrByHand: the text search cannot
//     remove it safely.
//   - Before anything is written, the new text is parsed and must equal
//     the old file minus exactly that peer (the same defaults, every other
//     peer equal); if not, ErrByHand. On any error the file is untouched.
//   - The write is atomic, as Add's (fsafe.Resolve keeps a linked config
//     linked; the file is 0600 afterwards). known_peers is not touched:
//     the peer's key and trust stay there.
func Remove(path, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	data, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config %s: %q: %w (the file does not exist: no peers are saved)", path, name, ErrNoPeer)
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	old, err := parse(data)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if _, ok := old.Peers[name]; !ok {
		return fmt.Errorf("config %s: %q: %w", path, name, ErrNoPeer)
	}
	start, end, err := tableSpan(data, name)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	out := append(append([]byte{}, data[:start]...), data[end:]...)
	now, err := parse(out)
	if err != nil || !sameBut(old, now, name) {
		return fmt.Errorf("config %s: removing the [peer.%s] table would change more than that peer: %w", path, name, ErrByHand)
	}
	return write(path, out)
}

// sameBut reports whether now is old without the peer name: the same
// defaults and every other peer equal.
func sameBut(old, now *File, name string) bool {
	if now.Defaults != old.Defaults || len(now.Peers) != len(old.Peers)-1 {
		return false
	}
	if _, ok := now.Peers[name]; ok {
		return false
	}
	for n, p := range now.Peers {
		if q, ok := old.Peers[n]; !ok || p != q {
			return false
		}
	}
	return true
}

// A line of the file's text, as Remove sees it: where it starts and what
// it is. A key/value line whose multi-line string runs on is one line.
type line struct {
	start int
	kind  lineKind
	key   []string // a header's key (nil if it does not read as one)
	array bool     // a header of an array of tables, [[...]]
}

type lineKind int

const (
	lineOther   lineKind = iota // a key/value pair (with its multi-line strings)
	lineBlank                   // spaces and tabs at most
	lineComment                 // a comment alone
	lineHeader                  // a table header, [KEY] or [[KEY]]
)

// tableSpan is the part of data Remove cuts for the table [peer.NAME]:
// see Remove. It is an ErrByHand error when the table is not found as one
// header line, or when a line starting with '[' does not read as a header.
func tableSpan(data []byte, name string) (start, end int, err error) {
	lines := scanLines(data)
	at := -1
	for i, l := range lines {
		if l.kind != lineHeader {
			continue
		}
		if l.key == nil {
			return 0, 0, fmt.Errorf("line %d reads as no table header: %w", lineNo(data, l.start), ErrByHand)
		}
		if len(l.key) == 2 && l.key[0] == "peer" && l.key[1] == name && !l.array {
			if at >= 0 {
				return 0, 0, fmt.Errorf("[peer.%s] is opened twice: %w", name, ErrByHand)
			}
			at = i
		}
	}
	if at < 0 {
		return 0, 0, fmt.Errorf("%q is not written as a [peer.%s] table of its own (inline or with dotted keys): %w", name, name, ErrByHand)
	}
	next := at + 1
	for next < len(lines) && lines[next].kind != lineHeader {
		next++
	}
	start = lines[at].start
	if next == len(lines) { // the last table: the blank lines before it go too
		for i := at - 1; i >= 0 && lines[i].kind == lineBlank; i-- {
			start = lines[i].start
		}
		return start, len(data), nil
	}
	end = lines[next].start
	for i := next - 1; i > at && lines[i].kind == lineComment; i-- { // the next table's comments stay
		end = lines[i].start
	}
	return start, end, nil
}

// lineNo is the 1-based number of the line holding offset i.
func lineNo(data []byte, i int) int { return bytes.Count(data[:i], []byte("\n")) + 1 }

// scanLines splits data into lines outside multi-line strings and says
// what each is; a header line is read by the TOML decoder alone.
func scanLines(data []byte) []line {
	var lines []line
	for i := 0; i < len(data); {
		j := i
		for j < len(data) && (data[j] == ' ' || data[j] == '\t') {
			j++
		}
		next := skipLine(data, j)
		l := line{start: i}
		switch rest := bytes.TrimRight(data[j:next], "\r\n"); {
		case len(rest) == 0:
			l.kind = lineBlank
		case rest[0] == '#':
			l.kind = lineComment
		case rest[0] == '[':
			l.kind = lineHeader
			l.key, l.array = readHeader(rest)
		}
		lines = append(lines, l)
		i = next
	}
	return lines
}

// readHeader is the key a header line opens, decoded as TOML on its own,
// and whether it is an array of tables; nil if the line is not a header.
func readHeader(text []byte) ([]string, bool) {
	var m map[string]any
	md, err := toml.Decode(string(text), &m)
	if err != nil || len(md.Keys()) != 1 {
		return nil, false
	}
	key := md.Keys()[0]
	return key, md.Type(key...) == "ArrayHash"
}

// skipLine is the offset past the newline that ends the line going on at
// data[i], reading its strings (a multi-line one runs on over newlines)
// and its comment; len(data) at the end.
func skipLine(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case '\n':
			return i + 1
		case '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case '"', '\'':
			i = skipString(data, i)
		default:
			i++
		}
	}
	return len(data)
}

// skipString is the offset past the string opened at data[i] (a quote):
// basic or literal, on one line or multi-line.
func skipString(data []byte, i int) int {
	q := data[i]
	delim := []byte{q, q, q}
	if bytes.HasPrefix(data[i:], delim) {
		for i += 3; i < len(data); {
			switch {
			case q == '"' && data[i] == '\\':
				i += 2
			case bytes.HasPrefix(data[i:], delim):
				i += 3
				for n := 0; n < 2 && i < len(data) && data[i] == q; n++ { // """a"""" is `a"`
					i++
				}
				return i
			default:
				i++
			}
		}
		return len(data)
	}
	for i++; i < len(data) && data[i] != '\n'; i++ {
		switch {
		case q == '"' && data[i] == '\\':
			i++
		case data[i] == q:
			return i + 1
		}
	}
	return min(i, len(data))
}
