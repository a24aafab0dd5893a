package crypto

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular reports an identity or known_peers path that names
// something other than a regular file (a named pipe, a device, a socket, a
// directory). duet never opens those for reading: a FIFO would block the
// open (or the read) forever.
var ErrNotRegular = errors.New("not a regular file")

// openRegular opens path (flag, perm as os.OpenFile) only if it is a
// regular file, or creates one when flag has O_CREATE. The path is first
// checked with Stat (so a device is not even opened), then opened with
// O_NONBLOCK (so a FIFO swapped in meanwhile cannot block the open) and
// its mode is checked again on the opened descriptor. O_NONBLOCK has no
// effect on regular files.
func openRegular(path string, flag int, perm os.FileMode) (*os.File, error) {
	if st, err := os.Stat(path); err == nil {
		if err := checkRegular(st); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			// A socket fails to open (ENXIO): say what it is instead.
			if st, serr := os.Stat(path); serr == nil && !st.Mode().IsRegular() {
				return nil, checkRegular(st)
			}
		}
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = checkRegular(st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkRegular returns nil for a regular file, else an error wrapping
// ErrNotRegular that says what the file is.
func checkRegular(st fs.FileInfo) error {
	return notRegular(st.Mode())
}

func notRegular(m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	kind := "a special file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	case m.IsDir():
		kind = "a directory"
	}
	return fmt.Errorf("%w: it is %s", ErrNotRegular, kind)
}

// badIdentityFile is an identity path that is not a regular file: its text
// is the underlying error's, and it Is both that error and ErrBadIdentity.
type badIdentityFile struct{ err error }

func (e badIdentityFile) Error() string   { return e.err.Error() }
func (e badIdentityFile) Unwrap() []error { return []error{e.err, ErrBadIdentity} }
