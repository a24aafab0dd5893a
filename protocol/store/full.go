package store

// A full file system (ENOSPC, or EDQUOT: the user's quota) is the one write
// error the DB recovers from by itself. bbolt's Tx.Commit writes the
// transaction's pages (WriteAt), fdatasyncs them, then writes and
// fdatasyncs the meta page; a WriteAt that fails rolls the transaction
// back before the meta page is written: the file's valid meta still points
// at the last commit, the pages written went to free space, and the
// in-memory free list is reloaded from the file, so the next transaction
// works. Such a write is transient: nothing of it is on disk, and it can
// be made again once there is room.
//
// An fdatasync that fails is not: Linux may already have dropped the
// dirty pages it could not write and cleared the error ("fsyncgate"), so a
// later fsync can succeed without the data being on disk, and after the
// meta page's fdatasync the file may or may not hold the commit. So an
// error from fdatasync (bbolt returns it as a bare errno, without the
// *fs.PathError of a write) stays sticky whatever its errno, as every other
// write error does: the DB refuses further writes and the user restarts
// duet, which reads the file as it really is.

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"duet/protocol"
)

// fullRetry is how often the writer retries the writes it keeps (those
// nobody waits for) while the file system is full.
const fullRetry = 500 * time.Millisecond

// isDiskFull reports whether err is a write (or file extension) that
// failed for lack of space: ENOSPC or EDQUOT in a *fs.PathError of a
// "write" or "truncate", or bbolt's "file resize error" (which formats
// Truncate's error with %s, losing the errno) naming one of them. A bare
// errno (bbolt's fdatasync) is not: see above.
func isDiskFull(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) && (pe.Op == "write" || pe.Op == "truncate") {
		return errors.Is(pe.Err, syscall.ENOSPC) || errors.Is(pe.Err, syscall.EDQUOT)
	}
	s := err.Error()
	return strings.HasPrefix(s, "file resize error: ") &&
		(strings.HasSuffix(s, syscall.ENOSPC.Error()) || strings.HasSuffix(s, syscall.EDQUOT.Error()))
}

// fullErr is the error for a write that found the file system full: it
// wraps protocol.ErrDiskFull and the system's error, and says which file
// system to free space on.
func fullErr(path string, err error) error {
	cause := error(syscall.ENOSPC)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	dir := filepath.Dir(path)
	return dbErr(path, fmt.Errorf("%w (%w)", protocol.ErrDiskFull, cause),
		fmt.Sprintf("free space on the file system that holds %s (see df %s); duet keeps what it could not save in memory and saves it by itself once there is room", dir, dir))
}

// writeFault, when set (tests), is called in every write transaction after
// its changes are applied; an error it returns fails the transaction as
// bbolt's own write would (rolled back, nothing written).
type writeFault func() error

// SetWriteFault makes every later write transaction call f after applying
// its changes and fail with the error f returns, if any (nil f: no fault).
// For tests: a *fs.PathError{Op: "write", Err: syscall.ENOSPC} is what a
// full file system gives.
func (db *DB) SetWriteFault(f func() error) {
	if f == nil {
		db.fault.Store(nil)
		return
	}
	wf := writeFault(f)
	db.fault.Store(&wf)
}

// faultErr returns the test fault's error, if any.
func (db *DB) faultErr() error {
	if f := db.fault.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// Full reports whether the last write transaction found the file system
// full (cleared by the next that commits).
func (db *DB) Full() bool { return db.full.Load() }
