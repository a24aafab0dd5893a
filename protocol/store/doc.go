// Package store is duet's database: one bbolt file per (identity, peer),
// opened with Open, holding the encrypted chat history (history.go) and the
// delivery state that makes exactly-once delivery survive a crash: the
// outbox, and the ids being shown and already shown (delivery.go). Every
// record is sealed with AES-256-GCM under the (identity, peer) history key,
// with an AD binding it to its bucket, key and file (a random file id), and
// one sealed state per file (state.go) holds the counters and a digest of
// each bucket's keys, checked at open: a record removed, copied back from
// an older copy or moved from another file is found, and a changed outbox
// makes Open refuse (ErrTampered) rather than send or drop anything. A
// whole file rolled back to an older copy of itself cannot be told apart
// (state.go says why). Older formats are migrated at open, in one
// transaction (migrate.go).
// A structural checker (boltcheck.go) reads the file before bbolt does, so
// a damaged file is refused as damaged instead of crashing the process; one
// writer goroutine commits in grouped, fsynced transactions (db.go). The
// delivery log that duet kept before the database is no longer read (it is
// plaintext and unauthenticated: the front end only names it). store is
// the only package of duet that
// imports bbolt. Package protocol does not import it: the Node consumes
// the database through the protocol.Store interface, which *DB implements;
// store imports protocol for the types they share (Chat, HistoryEntry,
// DeliveryState) and protocol.MaxSeenIDs. Its error texts keep the prefix
// "protocol: database <path>" of the time it was part of protocol: scripts
// and tests match them.
package store
