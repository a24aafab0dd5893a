package crypto

import (
	"errors"

	"duet/internal/fsafe"
)

// ErrNotRegular reports an identity or known_peers path that names
// something other than a regular file (a named pipe, a device, a socket, a
// directory). duet never opens those for reading: a FIFO would block the
// open (or the read) forever. It is fsafe.ErrNotRegular, which says which
// file follows a symbolic link and why.
var ErrNotRegular = fsafe.ErrNotRegular

// refusedFile reports whether err is fsafe's refusal of a path: not a
// regular file, a symbolic link someone else could have put there, or a
// file owned by another user.
func refusedFile(err error) bool {
	return errors.Is(err, fsafe.ErrNotRegular) || errors.Is(err, fsafe.ErrUntrustedLink) || errors.Is(err, fsafe.ErrNotOwned)
}

// badIdentityFile is an identity path that fsafe refused: its text is the
// underlying error's, and it Is both that error and ErrBadIdentity.
type badIdentityFile struct{ err error }

func (e badIdentityFile) Error() string   { return e.err.Error() }
func (e badIdentityFile) Unwrap() []error { return []error{e.err, ErrBadIdentity} }
