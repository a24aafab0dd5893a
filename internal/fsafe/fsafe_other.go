//go:build !unix

package fsafe

import (
	"io/fs"
	"syscall"
)

const openFlags = syscall.O_NONBLOCK

// noFollow: no O_NOFOLLOW here; the Lstat before the open decides.
const noFollow = 0

// owner: not known here, so not checked.
func owner(fs.FileInfo) (uint32, bool) { return 0, false }
