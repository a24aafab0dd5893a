package fsafe

import (
	"os"
	"path/filepath"
)

// WriteAtomic replaces path with data: a 0600 temporary file in the same
// directory (created 0700 if missing), fsync, rename, then a best-effort
// fsync of the directory. A reader sees the old file or the new one, never
// a part; a failure leaves no temporary file behind.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	SyncDir(dir) // the rename is durable once the directory is
	return nil
}
