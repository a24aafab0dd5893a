// Package fsafe opens the files duet keeps (its identity key, known_peers,
// the database): regular files only, never blocking on a FIFO, and a
// symbolic link followed only where no one else could have put it. It is
// the one place that decides; every file duet opens goes through Open.
//
// # Which file follows a link, and why
//
//	file                       policy    a symbolic link at the path
//	identity key (read)        UserFile  followed if it is the user's own
//	identity key (create)      -         never written through: a 0600
//	                                     temporary file is hard-linked to the
//	                                     path, which fails on any existing
//	                                     name, a dangling link included
//	known_peers (read, append) UserFile  followed if it is the user's own
//	known_peers (rewrite)      UserFile  the file the link points to is
//	                                     replaced (Resolve), the link kept
//	database                   OwnFile   refused
//	its temporary file         -         created O_EXCL (os.CreateTemp, never
//	                                     through a link) in the database's
//	                                     directory, which duet keeps 0700
//	old delivery log           -         never opened (only named, by
//	                                     lstat): duet no longer imports it
//	the lock                   -         bbolt's flock on the database's own
//	                                     descriptor: no separate file
//
// The identity key and known_peers are the user's configuration: a user
// may keep them in a dotfile repository and link them into place (GNU
// stow), as ssh follows a linked id_* or known_hosts. Such a link is the
// user's own. A link someone else planted must redirect neither duet's
// writes (a first-contact line appended to a file of the user's choosing)
// nor its trust (a known_peers or key of theirs). So a link is followed
// only if it is owned by the user running duet (or root), in a directory
// owned by the user (or root) that no one else can write to, or that is
// sticky (/tmp: there no one else can replace the user's link). No one
// else can then swap the link between the check and the open. The file
// opened must be a regular file owned by the user (or root), as ssh's
// StrictModes asks; the callers check its mode (crypto: an identity readable
// by others, a known_peers writable by others, are refused).
//
// The database is duet's own data in duet's own directory, never placed by
// hand: nothing is gained by following a link there, and a link would let
// whoever put it have bbolt write (and truncate) a file of their
// choosing. A link there is refused, with O_NOFOLLOW on the open itself,
// so a link swapped in after a check is refused too.
//
// Owners and O_NOFOLLOW are Unix's (fsafe_unix.go); elsewhere (the crypto
// package still builds on Windows) no owner is checked and a link found by
// the Lstat is still refused or checked, but one swapped in after it is not.
package fsafe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotRegular reports a path that names something other than a regular
// file (a named pipe, a device, a socket, a directory, or a symbolic link
// where none is followed). duet never opens those: a FIFO would block the
// open (or the read) forever.
var ErrNotRegular = errors.New("not a regular file")

// ErrUntrustedLink reports a symbolic link that someone else could have
// put at the path (see the package documentation): it is not followed.
var ErrUntrustedLink = errors.New("symbolic link not followed")

// ErrNotOwned reports a file owned by neither the user running duet nor
// root.
var ErrNotOwned = errors.New("not owned by you")

// Policy says how Open treats a path.
type Policy struct {
	// FollowOwnLinks follows a symbolic link at the path if it is the
	// user's own (see the package documentation); a link someone else
	// could have put there is refused (ErrUntrustedLink). Without it every
	// symbolic link at the path is refused (ErrNotRegular).
	FollowOwnLinks bool
	// Owned refuses a file owned by neither the user nor root
	// (ErrNotOwned).
	Owned bool
}

// The policies, one per kind of file (the table in the package
// documentation says which file takes which).
var (
	// UserFile is for the user's configuration: the identity key and
	// known_peers.
	UserFile = Policy{FollowOwnLinks: true, Owned: true}
	// OwnFile is for duet's own data: the database and the old delivery
	// log.
	OwnFile = Policy{}
)

// Open opens path (flag and perm as os.OpenFile, O_CREATE included) only
// if it is a regular file, under policy p. The path is first checked with
// Lstat (a device is not even opened), then opened with O_NONBLOCK (a FIFO
// swapped in meanwhile cannot block the open; it has no effect on regular
// files), O_CLOEXEC, and O_NOFOLLOW unless a link was found and may be
// followed; the opened descriptor is checked again. A refusal is an error
// wrapping ErrNotRegular, ErrUntrustedLink or ErrNotOwned that says what
// the file is; it does not name the path (callers do).
func Open(path string, flag int, perm fs.FileMode, p Policy) (*os.File, error) {
	follow := false
	if lst, err := os.Lstat(path); err == nil {
		switch {
		case lst.Mode()&fs.ModeSymlink != 0:
			if !p.FollowOwnLinks {
				return nil, notRegular(lst.Mode())
			}
			if err := checkLink(path, lst); err != nil {
				return nil, err
			}
			follow = true
			if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
				return nil, notRegular(st.Mode())
			}
		case !lst.Mode().IsRegular():
			return nil, notRegular(lst.Mode())
		}
	}
	extra := openFlags
	if !follow {
		extra |= noFollow
	}
	f, err := os.OpenFile(path, flag|extra, perm)
	if err != nil {
		if !follow && errors.Is(err, syscall.ELOOP) {
			return nil, notRegular(fs.ModeSymlink) // a link swapped in since the Lstat
		}
		if !errors.Is(err, fs.ErrNotExist) {
			// A socket fails to open (ENXIO): say what it is instead.
			stat := os.Lstat
			if follow {
				stat = os.Stat
			}
			if st, serr := stat(path); serr == nil && !st.Mode().IsRegular() {
				return nil, notRegular(st.Mode())
			}
		}
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = notRegular(st.Mode())
	}
	if err == nil && p.Owned {
		err = checkOwner(st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Resolve returns the path a rewrite of path should replace: path itself,
// or, if it is a symbolic link that policy p follows, the file it leads to
// (so a rename over it keeps the user's link). A link p refuses is an
// error, as in Open. A path that does not exist resolves to itself.
func Resolve(path string, p Policy) (string, error) {
	lst, err := os.Lstat(path)
	if err != nil || lst.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	if !p.FollowOwnLinks {
		return "", notRegular(lst.Mode())
	}
	if err := checkLink(path, lst); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(path)
}

// checkLink returns nil if the link lst at path is the user's own and no
// one else can replace it: owned by the user or root, in a directory owned
// by the user or root that only they can write to, or that is sticky.
func checkLink(path string, lst fs.FileInfo) error {
	if uid, ok := owner(lst); ok && !trusted(uid) {
		return fmt.Errorf("%w: it is a symbolic link owned by another user (uid %d)", ErrUntrustedLink, uid)
	}
	dir := filepath.Dir(path)
	dst, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if uid, ok := owner(dst); ok && !trusted(uid) {
		return fmt.Errorf("%w: it is a symbolic link in %s, a directory owned by another user (uid %d)", ErrUntrustedLink, dir, uid)
	}
	if m := dst.Mode(); m.Perm()&0o022 != 0 && m&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: it is a symbolic link in %s, a directory other users can write to (mode %04o)", ErrUntrustedLink, dir, m.Perm())
	}
	return nil
}

// checkOwner returns nil for a file owned by the user or root.
func checkOwner(st fs.FileInfo) error {
	if uid, ok := owner(st); ok && !trusted(uid) {
		return fmt.Errorf("%w: it belongs to another user (uid %d)", ErrNotOwned, uid)
	}
	return nil
}

// OwnedByUser reports whether st (from Lstat or Stat) describes a file
// owned by the user running duet; true where owners are not known
// (fsafe_other.go). Root's files are not the user's here: it is for
// deciding what duet may remove as its own leftovers.
func OwnedByUser(st fs.FileInfo) bool {
	uid, ok := owner(st)
	return !ok || int(uid) == os.Geteuid()
}

// trusted: the user running duet, or root (who can change anything anyway).
func trusted(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// notRegular returns nil for a regular file's mode, else an error wrapping
// ErrNotRegular that says what the file is (Kind).
func notRegular(m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	return fmt.Errorf("%w: it is %s", ErrNotRegular, Kind(m))
}

// Kind names what a non-regular file mode is, for error messages: "a named
// pipe (FIFO)", "a symbolic link", "a directory"...
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// SyncDir fsyncs the directory dir, so that an entry created, renamed or
// removed in it is on disk. Callers treat it as best effort (some
// filesystems cannot sync a directory); the error says why it failed.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
