package store

// Removing an old delivery log (deliverylog.go) once it is imported: the log
// holds message texts in plaintext, so it is overwritten with zeros before
// it is removed.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"duet/internal/fsafe"
)

// DeliveryLogWipeSuffix names a delivery log (or its .tmp) being wiped:
// it is renamed first, so that a crash during the wipe never leaves a log
// of zeros under the log's own name (which would fail to read at the next
// start), only a file that the next start finishes wiping
// (FinishDeliveryLogWipes).
const DeliveryLogWipeSuffix = ".wipe"

// RemoveDeliveryLog wipes and removes the delivery log at path and its
// leftover temporary file (path.tmp), each renamed first (see
// DeliveryLogWipeSuffix). It returns a note for each overwrite that failed
// (the file is removed all the same), and an error, naming the file, if one
// could not be removed.
func RemoveDeliveryLog(path string) (wipeFailed []string, err error) {
	for _, p := range []string{path, path + ".tmp"} {
		if err := os.Rename(p, p+DeliveryLogWipeSuffix); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return wipeFailed, fmt.Errorf("cannot remove %s: %w", p, err)
		}
		fsafe.SyncDir(filepath.Dir(p)) // the rename is on disk before any zero is
		note, err := finishWipe(p + DeliveryLogWipeSuffix)
		if err != nil {
			return wipeFailed, err
		}
		if note != "" {
			wipeFailed = append(wipeFailed, note)
		}
	}
	return wipeFailed, nil
}

// FinishDeliveryLogWipes finishes the wipes of the log at path (and of its
// .tmp) that a crash cut short, as RemoveDeliveryLog reports.
func FinishDeliveryLogWipes(path string) (wipeFailed []string, err error) {
	for _, p := range []string{path + DeliveryLogWipeSuffix, path + ".tmp" + DeliveryLogWipeSuffix} {
		note, err := finishWipe(p)
		if err != nil {
			return wipeFailed, err
		}
		if note != "" {
			wipeFailed = append(wipeFailed, note)
		}
	}
	return wipeFailed, nil
}

// finishWipe overwrites the file at p with zeros (overwriteWithZeros),
// removes it and syncs its directory. A failed overwrite is returned as a
// note, not an error: the file is removed all the same.
func finishWipe(p string) (wipeFailed string, err error) {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err := overwriteWithZeros(p); err != nil {
		wipeFailed = fmt.Sprintf("could not overwrite %s with zeros before removing it: %v", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cannot remove %s: %w", p, err)
	}
	fsafe.SyncDir(filepath.Dir(p))
	return wipeFailed, nil
}

// overwriteWithZeros overwrites the regular file at p with zeros, in
// place and at the same length, and fsyncs it, so that the old log's
// plaintext (message texts) does not stay readable in the blocks a removal
// frees. Anything but a regular file is left to the removal untouched: a
// symbolic link is not followed (nothing outside is written), and a FIFO,
// device or directory is not even opened.
//
// Best effort only: on journaling filesystems (ext4 data=journal), on
// copy-on-write ones (btrfs, ZFS, APFS), under snapshots and on SSDs (wear
// levelling remaps blocks) the zeros may go to new blocks and leave the old
// ones readable until they are reused; only an encrypted disk covers that.
func overwriteWithZeros(p string) error {
	if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
		return nil // gone, or not a regular file
	}
	// openDBFile neither follows a link nor waits on a FIFO swapped in
	// since the Lstat, and checks the descriptor again.
	f, st, err := openDBFile(p, os.O_WRONLY)
	if err != nil {
		if errors.Is(err, errNotRegular) || errors.Is(err, syscall.ENXIO) || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	zeros := make([]byte, 64<<10)
	for off, size := int64(0), st.Size(); off < size; {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
		if err != nil {
			return err
		}
		off += int64(n)
	}
	return f.Sync()
}
