package bench

// The databases the bench opens: two fresh ones for the in-process durable
// measures, and two for the disk floor of --processes, each in a directory
// removed afterwards.

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/store"
)

// openStores opens two fresh databases in a temporary directory for
// duet bench's durable measures, and a func closing and removing them.
func openStores(ids [2]*crypto.Identity) (protocol.Store, protocol.Store, func(), error) {
	dir, err := os.MkdirTemp("", "duet-bench-")
	if err != nil {
		return nil, nil, nil, err
	}
	var dbs [2]*store.DB
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
		if dbs[i], err = store.Open(filepath.Join(dir, fmt.Sprintf("%d.db", i)), key, store.Options{}); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	return dbs[0], dbs[1], cleanup, nil
}

// floorSamples is how many pairs of commits commitFloor times.
const floorSamples = 100

// commitFloor times what a durable message waits for on the disk, in
// series: the sender's commit of its outbox (Queue) and the receiver's
// commit of its showing mark (Showing), each a bbolt transaction with two
// fdatasyncs, on two databases in dir as duet makes them. It returns n
// durations, one per pair, sorted. The durable idle latency cannot go
// below it.
func commitFloor(dir string, n int) ([]time.Duration, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("bench: disk floor: %w", err)
	}
	defer os.RemoveAll(dir)
	var dbs [2]*store.DB
	for i := range dbs {
		var key [32]byte
		if _, err := rand.Read(key[:]); err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		db, err := store.Open(filepath.Join(dir, fmt.Sprintf("%c.db", 'a'+i)), key, store.Options{})
		if err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		defer db.Close()
		dbs[i] = db
	}
	text := strings.Repeat("x", 48) // as the latency measure's lines
	out := make([]time.Duration, 0, n)
	for i := range n {
		id := uint64(i + 1)
		t0 := time.Now()
		if err := dbs[0].Queue([]protocol.Chat{{ID: id, SentAt: t0.UnixNano(), Text: text}}); err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		if err := dbs[1].Showing([]protocol.HistoryEntry{{ID: id, Text: text, At: t0}}); err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}
