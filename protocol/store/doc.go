// Package store is duet's database: one bbolt file per (identity, peer),
// opened with Open, holding the encrypted chat history (history.go) and the
// delivery state that makes exactly-once delivery survive a crash: the
// outbox, and the ids being shown and already shown (delivery.go). History
// and outbox records are sealed with AES-256-GCM under the (identity, peer)
// history key.
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
