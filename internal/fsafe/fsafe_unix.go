//go:build unix

package fsafe

import (
	"io/fs"
	"syscall"
)

// openFlags are added to every open: a FIFO cannot block it, and the
// descriptor does not leak into a child process.
const openFlags = syscall.O_NONBLOCK | syscall.O_CLOEXEC

// noFollow makes the open itself refuse a symbolic link (ELOOP).
const noFollow = syscall.O_NOFOLLOW

// owner is the uid owning the file st describes.
func owner(st fs.FileInfo) (uint32, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return s.Uid, true
}
