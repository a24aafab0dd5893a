package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"duet/crypto"
	"duet/protocol"
)

// openStores opens two fresh databases in a temporary directory for
// duet bench's durable measures, and a func closing and removing them.
func openStores(ids [2]*crypto.Identity) (protocol.Store, protocol.Store, func(), error) {
	dir, err := os.MkdirTemp("", "duet-bench-")
	if err != nil {
		return nil, nil, nil, err
	}
	var dbs [2]*protocol.DB
	cleanup := func() {
		for _, db := range dbs {
			if db != nil {
				db.Close()
			}
		}
		os.RemoveAll(dir)
	}
	for i, id := range ids {
		key, err := crypto.HistoryKey(id, "bench")
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
		if dbs[i], err = protocol.OpenDB(filepath.Join(dir, fmt.Sprintf("%d.db", i)), key, protocol.DBOptions{}); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	return dbs[0], dbs[1], cleanup, nil
}
