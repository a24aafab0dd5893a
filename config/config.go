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
//   - Add writes atomically (a 0600 temporary file in the same directory,
//     fsynced, renamed over the file) and keeps the file's text as it was,
//     comments included: the new table is appended.
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
	target, err := fsafe.Resolve(path, fsafe.UserFile) // a linked config stays linked
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := fsafe.WriteAtomic(target, data); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}
