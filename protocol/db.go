package protocol

// Chat history at rest: one bbolt database per identity and peer.
//
// File layout (format version 1). All integers are big-endian.
//
//	bucket "meta"
//	  "version" -> u8 1                the format version of the whole file
//	  "seq"     -> u64                 the last history sequence number used
//	  "count"   -> u64                 the number of entries in "history"
//	  "check"   -> u8 1 || nonce(12) || AES-256-GCM(key, nonce,
//	                 "duet history key check v1", AD = "duet/1 history check")
//	             a key check value: opening with another key (another
//	             identity, or another peer's history) fails to authenticate
//	             it, and OpenDB refuses with ErrDBWrongKey.
//	bucket "history"
//	  key:   u64 at_unix_nano || u64 seq                    (16 bytes)
//	         at is when the message was written (CHAT sent_at), clamped to
//	         [1970, 2262]; seq comes from meta "seq" and only grows, so
//	         equal times keep insertion order and key order is display order.
//	  value: u8 version(1) || nonce(12) || AES-256-GCM(key, nonce, plaintext,
//	         AD = the 16 key bytes)
//	         plaintext = u8 flags || u64 id || text (UTF-8, the rest)
//	         flags: bit 0 own (we wrote it), bit 1 possible duplicate;
//	         the other bits are zero.
//	bucket "history_ids"
//	  key:   u8 own(0|1) || u64 id   ->  value: the 16-byte "history" key
//	         duplicate suppression: an id already stored (own and peer
//	         separately) is not stored again.
//	reserved bucket names (next step, delivery state; not created here):
//	  "outbox", "seen", "showing"
//
// The key is crypto.HistoryKey(identity, peer). Nonces are 12 random bytes
// (crypto/rand) per value. What the file does reveal without the key: the
// number of entries, their times, text lengths, and the message ids in
// "history_ids". /clear (Clear) deletes both history buckets; bbolt keeps
// the freed pages (still holding ciphertext) in the file for reuse.
//
// The file is created 0600 in a 0700 directory (a wider mode found at open
// is set back to 0600); only a regular file is opened (no symlink, FIFO,
// device). bbolt's exclusive flock, taken with a 100 ms timeout, keeps a
// second duet off the file (ErrDBLocked). One writer goroutine commits
// everything queued (up to 4096 operations) in one fsynced transaction;
// the delivery state of the next step joins the same writer and commits.

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"duet/crypto"
)

// Errors of the chat history. Test with errors.Is.
var (
	// ErrDBLocked: another process (another duet with the same
	// identity and peer) holds the database.
	ErrDBLocked = errors.New("protocol: database is in use by another duet")
	// ErrDBCorrupt: the file is not a bbolt database, fails bbolt's
	// checks, or an entry fails authentication.
	ErrDBCorrupt = errors.New("protocol: database is damaged")
	// ErrDBWrongKey: the database was written under another key
	// (another identity, or the history of another peer).
	ErrDBWrongKey = errors.New("protocol: database belongs to another identity")
	// ErrDBClosed: the DB was closed.
	ErrDBClosed = errors.New("protocol: database is closed")
)

// HistoryEntry is one chat line kept in the history.
type HistoryEntry struct {
	ID                uint64    // chat id (ours or the peer's); an entry with ID 0 is never stored
	Own               bool      // we wrote it
	Text              string    // the message text
	At                time.Time // when it was written (CHAT sent_at); zero: the time of Add
	PossibleDuplicate bool      // shown after a crash that may have shown it already
}

// DBOptions tune OpenDB.
type DBOptions struct {
	Retention time.Duration    // prune entries older than this at open (0: keep all)
	NoHistory bool             // Queue and Showing add no history entries (--no-history)
	Now       func() time.Time // time.Now if nil
}

// HistoryCursor marks a position in the history for Before. The zero
// cursor is the end of the history (Before(HistoryCursor{}, n) is Last(n)).
type HistoryCursor struct {
	key   [histKeyLen]byte
	valid bool
}

// DB is the database of one (identity, peer): the encrypted chat history and the delivery state. Its methods are safe for
// concurrent use. Writes (Add, Clear) go through one writer goroutine that
// commits in grouped transactions; reads (Last, Before, Len) see what has
// been committed (call Flush first to see everything added).
type DB struct {
	path string
	db   *bolt.DB
	aead *crypto.AEAD
	now  func() time.Time

	q     chan histOp
	quit  chan struct{} // closed by Close: the writer drains q and exits
	done  chan struct{} // closed when the writer has exited
	once  sync.Once
	cerr  error
	errMu sync.Mutex
	err   error // first write error (sticky), returned by Flush

	commits atomic.Uint64 // write transactions committed by the writer
	record  bool          // keep history entries for Queue and Showing

	// Delivery state: loaded at open (Load hands it to the Node); outKeys
	// maps an outbox message id to its key and is owned by the writer once
	// it runs.
	loadMu  sync.Mutex
	loaded  DeliveryState
	outKeys map[uint64]uint64

	// Bytes of text queued and not yet committed, bounded by
	// histQueueBytes: Add waits while the budget is used (the count bound
	// alone would allow 4096 texts of 64 KiB).
	budgetMu   sync.Mutex
	budgetCond *sync.Cond
	queued     int
}

const (
	histFormat     = 2
	histValueVer   = 1
	histKeyLen     = 16
	histIDKeyLen   = 9
	histPTHeader   = 1 + 8
	histValueMin   = 1 + crypto.NonceSize + crypto.TagSize + histPTHeader
	histQueueLen   = 4096
	histQueueBytes = 8 << 20 // text bytes queued and not yet committed
	histMaxBatch   = 4096
	histPruneBatch = 10000
	histLockWait   = 100 * time.Millisecond

	// histFillPercent: history keys are nearly always appended (time
	// order), so split pages 90% full instead of bbolt's default half.
	histFillPercent = 0.9

	histFlagOwn = 1 << 0
	histFlagDup = 1 << 1

	histCheckText = "duet history key check v1"
	histCheckAD   = "duet/1 history check"
)

var (
	bucketMeta       = []byte("meta")
	bucketHistory    = []byte("history")
	bucketHistoryIDs = []byte("history_ids")

	metaVersion = []byte("version")
	metaSeq     = []byte("seq")
	metaCount   = []byte("count")
	metaCheck   = []byte("check")
)

type histOpKind uint8

const (
	opAdd       histOpKind = iota // entry
	opFlush                       // nothing: answered after the commit
	opClear                       // the history buckets
	opQueue                       // chats: outbox (and own history)
	opShowing                     // entries: showing marks (and history)
	opSeen                        // ids: seen marks, showing marks dropped
	opDelivered                   // ids: removed from the outbox
	opImport                      // imported: an old delivery log's state
)

// histOp is one request to the writer goroutine: history and delivery
// changes share its grouped commits.
type histOp struct {
	kind     histOpKind
	entry    HistoryEntry
	entries  []HistoryEntry
	chats    []Chat
	ids      []uint64
	imported DeliveryState
	done     chan error  // answered after the commit, with its error
	cb       func(error) // called after the commit, with its error
}

// OpenDB opens the history database at path, creating it (mode 0600,
// parent directory 0700) if needed. The path must be a regular file: a
// symbolic link, FIFO, device, socket or directory is refused with an error
// naming the path, without blocking. An existing file with a wider mode is
// fixed to 0600 (its content is encrypted; only metadata would leak). A
// damaged file gives an error wrapping ErrDBCorrupt; a file held by
// another duet, ErrDBLocked; a file written under another key,
// ErrDBWrongKey. Each error names the file and says what to do.
// Entries older than opt.Retention are deleted before OpenDB returns.
func OpenDB(path string, key [32]byte, opt DBOptions) (h *DB, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("protocol: database %s: %w", path, err)
	}
	st, err := os.Lstat(path)
	existed := err == nil
	if err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("protocol: database %s: %w: it is %s; move it away", path, errNotRegular, histFileKind(st.Mode()))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("protocol: database %s: %w", path, err)
	}
	aead, err := crypto.NewAEAD(key[:])
	if err != nil {
		return nil, err
	}

	// bbolt opens the file itself; this hook makes that open refuse
	// anything but a regular file, without following a symlink or blocking
	// on a FIFO swapped in since the Lstat, and fixes a too-wide mode.
	var opened *os.File
	openFile := func(name string, flag int, _ os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			if errors.Is(err, syscall.ELOOP) {
				return nil, fmt.Errorf("%w: it is a symbolic link", errNotRegular)
			}
			return nil, err
		}
		st, err := f.Stat()
		if err == nil && !st.Mode().IsRegular() {
			err = fmt.Errorf("%w: it is %s", errNotRegular, histFileKind(st.Mode()))
		}
		if err == nil && runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			err = f.Chmod(0o600)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		opened = f
		return f, nil
	}

	// bbolt may panic (or fault on the mapping) on a damaged file.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var db *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			} else if opened != nil {
				opened.Close() // releases the lock
			}
			h, err = nil, corruptErr(path, fmt.Errorf("%v", r))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: histLockWait, OpenFile: openFile, FreelistType: bolt.FreelistMapType})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("protocol: database %s: %w (is duet already running for this identity and peer?)", path, ErrDBLocked)
		case errors.Is(err, errNotRegular):
			return nil, fmt.Errorf("protocol: database %s: %w; move it away", path, err)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch), isBoltSizeErr(err):
			return nil, corruptErr(path, err)
		}
		return nil, fmt.Errorf("protocol: database %s: %w", path, err)
	}
	h = &DB{path: path, db: db, aead: aead, now: opt.Now, record: !opt.NoHistory}
	if h.now == nil {
		h.now = time.Now
	}
	if err := h.init(); err != nil {
		db.Close()
		return nil, err
	}
	if !existed {
		syncDir(filepath.Dir(path)) // persist the new file's directory entry
	}
	if opt.Retention > 0 {
		if err := h.prune(h.now().Add(-opt.Retention)); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := h.loadDelivery(); err != nil {
		db.Close()
		return nil, err
	}
	h.q = make(chan histOp, histQueueLen)
	h.budgetCond = sync.NewCond(&h.budgetMu)
	h.quit = make(chan struct{})
	h.done = make(chan struct{})
	go h.writer()
	return h, nil
}

// syncDir fsyncs a directory, best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func isBoltSizeErr(err error) bool {
	return bytes.Contains([]byte(err.Error()), []byte("file size too small"))
}

func corruptErr(path string, cause error) error {
	return fmt.Errorf("protocol: database %s: %w (%v); move the file away (duet starts a new history) or restore it from a backup", path, ErrDBCorrupt, cause)
}

func histFileKind(m fs.FileMode) string {
	if m&fs.ModeSymlink != 0 {
		return "a symbolic link"
	}
	return fileKind(m)
}

// init checks the file's size against bbolt's high-water mark (a truncated
// file would otherwise fault when read), its format version and key check
// value, or, for a new file, writes them. Opening an existing file writes
// nothing (unless entries are pruned).
func (h *DB) init() error {
	st, err := os.Stat(h.path)
	if err != nil {
		return fmt.Errorf("protocol: database %s: %w", h.path, err)
	}
	create, upgrade := false, false
	err = h.guard(func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			if tx.Size() > st.Size() {
				return corruptErr(h.path, fmt.Errorf("file is %d bytes, its pages need %d: truncated", st.Size(), tx.Size()))
			}
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				if tx.Bucket(bucketHistory) != nil || tx.Bucket(bucketHistoryIDs) != nil {
					return corruptErr(h.path, errors.New("meta bucket missing"))
				}
				create = true
				return nil
			}
			v := meta.Get(metaVersion)
			if len(v) != 1 {
				return corruptErr(h.path, errors.New("no format version"))
			}
			if v[0] == 1 {
				upgrade = true // version 1: no delivery buckets yet
			} else if v[0] != histFormat {
				return fmt.Errorf("protocol: database %s: format version %d, this duet reads %d: use a newer duet or move the file away", h.path, v[0], histFormat)
			}
			if len(meta.Get(metaSeq)) != 8 || len(meta.Get(metaCount)) != 8 {
				return corruptErr(h.path, errors.New("bad counters"))
			}
			if tx.Bucket(bucketHistory) == nil || tx.Bucket(bucketHistoryIDs) == nil {
				return corruptErr(h.path, errors.New("history bucket missing"))
			}
			if !upgrade && (tx.Bucket(bucketOutbox) == nil || tx.Bucket(bucketSeen) == nil || tx.Bucket(bucketShowing) == nil) {
				return corruptErr(h.path, errors.New("delivery bucket missing"))
			}
			chk := meta.Get(metaCheck)
			if len(chk) < 1+crypto.NonceSize+crypto.TagSize || chk[0] != histValueVer {
				return corruptErr(h.path, errors.New("no key check value"))
			}
			var nonce [crypto.NonceSize]byte
			copy(nonce[:], chk[1:])
			pt, err := h.aead.Open(nil, &nonce, chk[1+crypto.NonceSize:], []byte(histCheckAD))
			if err != nil || string(pt) != histCheckText {
				return fmt.Errorf("protocol: database %s: %w: it was written under another identity's key (or for another peer), or its key check is damaged; start duet with the identity that wrote it, or move the file away", h.path, ErrDBWrongKey)
			}
			return nil
		})
	})
	switch {
	case err != nil:
		return err
	case upgrade:
		return h.guard(func() error {
			return h.db.Update(func(tx *bolt.Tx) error {
				if err := createDeliveryBuckets(tx); err != nil {
					return err
				}
				return tx.Bucket(bucketMeta).Put(metaVersion, []byte{histFormat})
			})
		})
	case create:
		return h.guard(func() error { return h.db.Update(h.create) })
	}
	return nil
}

func (h *DB) create(tx *bolt.Tx) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketHistory); err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketHistoryIDs); err != nil {
		return err
	}
	if err := createDeliveryBuckets(tx); err != nil {
		return err
	}
	var nonce [crypto.NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	chk := append([]byte{histValueVer}, nonce[:]...)
	chk = h.aead.Seal(chk, &nonce, []byte(histCheckText), []byte(histCheckAD))
	var zero [8]byte
	for k, v := range map[string][]byte{"version": {histFormat}, "seq": zero[:], "count": zero[:], "check": chk} {
		if err := meta.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// guard runs fn turning a panic or memory fault (bbolt on a damaged file)
// into ErrDBCorrupt.
func (h *DB) guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corruptErr(h.path, fmt.Errorf("%v", r))
		}
	}()
	return fn()
}

// histTime is the key time of t: Unix nanoseconds clamped to [0, MaxInt64].
func histTime(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

func histKey(at, seq uint64) [histKeyLen]byte {
	var k [histKeyLen]byte
	binary.BigEndian.PutUint64(k[:8], at)
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func histIDKey(own bool, id uint64) [histIDKeyLen]byte {
	var k [histIDKeyLen]byte
	if own {
		k[0] = 1
	}
	binary.BigEndian.PutUint64(k[1:], id)
	return k
}

// sealEntry encrypts e under the history key k.
func sealEntry(a *crypto.AEAD, k []byte, e HistoryEntry) ([]byte, error) {
	pt := make([]byte, histPTHeader, histPTHeader+len(e.Text))
	if e.Own {
		pt[0] |= histFlagOwn
	}
	if e.PossibleDuplicate {
		pt[0] |= histFlagDup
	}
	binary.BigEndian.PutUint64(pt[1:], e.ID)
	pt = append(pt, e.Text...)
	return sealValue(a, pt, nil, k)
}

// randomNonce returns 12 bytes from crypto/rand.
func randomNonce() ([crypto.NonceSize]byte, error) {
	var nonce [crypto.NonceSize]byte
	_, err := rand.Read(nonce[:])
	return nonce, err
}

// openEntry authenticates, decrypts and parses the value v stored under
// key k. Any failure is an error wrapping ErrDBCorrupt (without the
// file name: the caller adds it).
func openEntry(a *crypto.AEAD, k, v []byte) (HistoryEntry, error) {
	if len(k) != histKeyLen {
		return HistoryEntry{}, fmt.Errorf("%w: key of %d bytes", ErrDBCorrupt, len(k))
	}
	if len(v) < histValueMin {
		return HistoryEntry{}, fmt.Errorf("%w: value of %d bytes", ErrDBCorrupt, len(v))
	}
	if v[0] != histValueVer {
		return HistoryEntry{}, fmt.Errorf("%w: value version %d", ErrDBCorrupt, v[0])
	}
	pt, err := openValue(a, v, nil, k)
	if err != nil {
		return HistoryEntry{}, err
	}
	e, err := parseEntry(pt)
	if err != nil {
		return HistoryEntry{}, err
	}
	e.At = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
	return e, nil
}

// parseEntry parses a decrypted plaintext (At is left zero).
func parseEntry(pt []byte) (HistoryEntry, error) {
	if len(pt) < histPTHeader {
		return HistoryEntry{}, fmt.Errorf("%w: plaintext of %d bytes", ErrDBCorrupt, len(pt))
	}
	if pt[0]&^(histFlagOwn|histFlagDup) != 0 {
		return HistoryEntry{}, fmt.Errorf("%w: unknown flags %#x", ErrDBCorrupt, pt[0])
	}
	e := HistoryEntry{
		Own:               pt[0]&histFlagOwn != 0,
		PossibleDuplicate: pt[0]&histFlagDup != 0,
		ID:                binary.BigEndian.Uint64(pt[1:]),
		Text:              string(pt[histPTHeader:]),
	}
	if e.ID == 0 {
		return HistoryEntry{}, fmt.Errorf("%w: entry with id 0", ErrDBCorrupt)
	}
	return e, nil
}

// entryErr names the file and the entry for a decoding error.
func (h *DB) entryErr(k []byte, err error) error {
	return fmt.Errorf("protocol: database %s: entry %s: %w; move the file away (duet starts a new history) or restore it from a backup", h.path, hex.EncodeToString(k), err)
}

// Add records e. It does not wait for the disk: e goes to a bounded queue
// (4096 entries) that one goroutine commits in grouped transactions; when
// the queue is full, Add waits (it never drops). An entry whose ID is
// already stored (own and peer ids separately) is not stored twice; an
// entry with ID 0 is not stored; a zero At is the time of Add. A write
// error (a full disk) is returned by the next Flush or Close, and from then
// on nothing more is written (the error is sticky). After Close, Add does
// nothing.
func (h *DB) Add(e HistoryEntry) {
	if e.ID == 0 {
		return
	}
	if e.At.IsZero() {
		e.At = h.now()
	}
	select {
	case <-h.quit:
		return
	default:
	}
	if !h.reserve(len(e.Text)) {
		return
	}
	select {
	case h.q <- histOp{kind: opAdd, entry: e}:
	case <-h.quit:
		h.release(len(e.Text))
	}
}

// reserve waits until n more bytes of text fit in the queue budget (one
// entry always fits in an empty queue); false if the history is closing.
func (h *DB) reserve(n int) bool {
	h.budgetMu.Lock()
	defer h.budgetMu.Unlock()
	for h.queued > 0 && h.queued+n > histQueueBytes {
		select {
		case <-h.quit:
			return false
		default:
		}
		h.budgetCond.Wait()
	}
	h.queued += n
	return true
}

// release returns n bytes to the budget.
func (h *DB) release(n int) {
	h.budgetMu.Lock()
	h.queued -= n
	h.budgetMu.Unlock()
	h.budgetCond.Broadcast()
}

// request sends an operation of kind to the writer and waits for its commit.
func (h *DB) request(kind histOpKind) error {
	return h.send(histOp{kind: kind, done: make(chan error, 1)})
}

// send queues op (which has a done channel) and waits for its answer.
func (h *DB) send(op histOp) error {
	select {
	case <-h.quit:
		return ErrDBClosed
	default:
	}
	select {
	case h.q <- op:
	case <-h.quit:
		return ErrDBClosed
	}
	select {
	case err := <-op.done:
		return err
	case <-h.done:
		// The writer drained q before exiting, so op was answered.
		select {
		case err := <-op.done:
			return err
		default:
			return ErrDBClosed
		}
	}
}

// Flush waits until everything added so far is committed (fsynced) and
// returns the first write error, if any.
func (h *DB) Flush() error { return h.request(opFlush) }

// Clear removes every entry (the /clear command), after committing what
// was added before it. The file does not shrink: bbolt reuses the freed
// pages (which still hold ciphertext until reused).
func (h *DB) Clear() error { return h.request(opClear) }

// Close commits what was added, stops the writer and closes the database.
// It is safe to call twice; later calls return the first result.
func (h *DB) Close() error {
	h.once.Do(func() {
		close(h.quit)
		h.budgetMu.Lock() // wake an Add waiting for budget: it sees quit
		h.budgetCond.Broadcast()
		h.budgetMu.Unlock()
		<-h.done
		err := h.stickyErr()
		if cerr := h.db.Close(); err == nil {
			err = cerr
		}
		h.cerr = err
	})
	return h.cerr
}

func (h *DB) stickyErr() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return h.err
}

func (h *DB) setErr(err error) {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	if h.err == nil {
		h.err = err
	}
}

// writer is the single goroutine that writes: it takes what is queued
// (up to histMaxBatch operations) and commits it in one transaction.
func (h *DB) writer() {
	defer close(h.done)
	batch := make([]histOp, 0, histMaxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-h.q:
			batch = append(batch, op)
		case <-h.quit:
			// Drain what is left, then stop.
			for {
				batch = batch[:0]
				h.take(&batch)
				if len(batch) == 0 {
					return
				}
				h.commit(batch)
			}
		}
		h.take(&batch)
		h.commit(batch)
	}
}

// take appends queued operations to batch without waiting.
func (h *DB) take(batch *[]histOp) {
	for len(*batch) < histMaxBatch {
		select {
		case op := <-h.q:
			*batch = append(*batch, op)
		default:
			return
		}
	}
}

// commit applies batch in one transaction (a Clear in the batch applies
// in its place) and answers the waiting Flush/Clear calls.
func (h *DB) commit(batch []histOp) {
	err := h.stickyErr()
	if err == nil {
		var d *deliveryTx
		var imported []DeliveryState
		err = h.guard(func() error {
			return h.db.Update(func(tx *bolt.Tx) error {
				var err error
				d, imported, err = h.apply(tx, batch)
				return err
			})
		})
		if err == nil {
			h.commits.Add(1)
			if d != nil {
				d.committed()
			}
			h.addLoaded(imported)
		} else {
			h.setErr(fmt.Errorf("protocol: database %s: write: %w", h.path, err))
			err = h.stickyErr()
		}
	}
	n := 0 // the budget goes back before any Flush or Clear returns
	for _, op := range batch {
		if op.kind == opAdd {
			n += len(op.entry.Text)
		}
	}
	if n > 0 {
		h.release(n)
	}
	for _, op := range batch {
		if op.done != nil {
			op.done <- err
		}
		if op.cb != nil {
			op.cb(err)
		}
	}
}

// addLoaded appends imported state to what Load returns.
func (h *DB) addLoaded(imported []DeliveryState) {
	if len(imported) == 0 {
		return
	}
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	for _, st := range imported {
		h.loaded.Outbox = append(h.loaded.Outbox, st.Outbox...)
		h.loaded.Seen = append(h.loaded.Seen, st.Seen...)
		h.loaded.Interrupted = append(h.loaded.Interrupted, st.Interrupted...)
	}
}

// historyTx is the state of one write transaction's history changes.
type historyTx struct {
	h          *DB
	hist, ids  *bolt.Bucket
	seq, count uint64
}

// add stores e unless its id (own and peer ids separately) is stored.
func (t *historyTx) add(e HistoryEntry) error {
	if e.ID == 0 {
		return nil
	}
	if e.At.IsZero() {
		e.At = t.h.now()
	}
	idk := histIDKey(e.Own, e.ID)
	if t.ids.Get(idk[:]) != nil {
		return nil
	}
	t.seq++
	k := histKey(histTime(e.At), t.seq)
	v, err := sealEntry(t.h.aead, k[:], e)
	if err != nil {
		return err
	}
	if err := t.hist.Put(k[:], v); err != nil {
		return err
	}
	if err := t.ids.Put(idk[:], k[:]); err != nil {
		return err
	}
	t.count++
	return nil
}

// apply applies batch in the transaction. It returns the delivery changes
// (nil if none) to apply to the in-memory index after the commit, and the
// state imported.
func (h *DB) apply(tx *bolt.Tx, batch []histOp) (*deliveryTx, []DeliveryState, error) {
	meta := tx.Bucket(bucketMeta)
	t := &historyTx{h: h, hist: tx.Bucket(bucketHistory), ids: tx.Bucket(bucketHistoryIDs)}
	if meta == nil || t.hist == nil || t.ids == nil {
		return nil, nil, corruptErr(h.path, errors.New("bucket missing"))
	}
	t.hist.FillPercent = histFillPercent
	t.seq = binary.BigEndian.Uint64(meta.Get(metaSeq))
	t.count = binary.BigEndian.Uint64(meta.Get(metaCount))
	var d *deliveryTx
	var imported []DeliveryState
	delivery := func() (*deliveryTx, error) {
		if d != nil {
			return d, nil
		}
		var err error
		d, err = h.beginDelivery(tx)
		return d, err
	}
	for _, op := range batch {
		var err error
		switch op.kind {
		case opAdd:
			err = t.add(op.entry)
		case opClear:
			err = t.clear(tx)
		case opQueue:
			var dt *deliveryTx
			if dt, err = delivery(); err != nil {
				break
			}
			for _, c := range op.chats {
				if err = dt.queue(c); err != nil {
					break
				}
				if h.record {
					if err = t.add(HistoryEntry{ID: c.ID, Own: true, Text: c.Text, At: time.Unix(0, c.SentAt)}); err != nil {
						break
					}
				}
			}
		case opShowing:
			var dt *deliveryTx
			if dt, err = delivery(); err != nil {
				break
			}
			for _, e := range op.entries {
				if err = dt.showingMark(e.ID); err != nil {
					break
				}
				if h.record {
					e.Own = false
					if err = t.add(e); err != nil {
						break
					}
				}
			}
		case opSeen:
			var dt *deliveryTx
			if dt, err = delivery(); err != nil {
				break
			}
			for _, id := range op.ids {
				if err = dt.seenMark(id); err != nil {
					break
				}
			}
		case opDelivered:
			var dt *deliveryTx
			if dt, err = delivery(); err != nil {
				break
			}
			for _, id := range op.ids {
				if err = dt.delivered(id); err != nil {
					break
				}
			}
		case opImport:
			var dt *deliveryTx
			if dt, err = delivery(); err != nil {
				break
			}
			add := func(e HistoryEntry) error {
				if !h.record {
					return nil
				}
				return t.add(e)
			}
			var st DeliveryState
			if st, err = dt.importState(op.imported, add); err == nil {
				imported = append(imported, st)
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if d != nil {
		if err := d.finish(); err != nil {
			return nil, nil, err
		}
	}
	if err := putU64(meta, metaSeq, t.seq); err != nil {
		return nil, nil, err
	}
	return d, imported, putU64(meta, metaCount, t.count)
}

// clear empties the history buckets (Clear).
func (t *historyTx) clear(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketHistory, bucketHistoryIDs} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
	}
	var err error
	if t.hist, err = tx.CreateBucket(bucketHistory); err != nil {
		return err
	}
	if t.ids, err = tx.CreateBucket(bucketHistoryIDs); err != nil {
		return err
	}
	t.hist.FillPercent = histFillPercent
	t.count = 0
	return nil
}

// prune deletes the entries written before cutoff, in transactions of
// histPruneBatch entries, from the oldest (keys are time-ordered).
func (h *DB) prune(cutoff time.Time) error {
	end := histKey(histTime(cutoff), 0)
	for {
		more := false
		err := h.guard(func() error {
			return h.db.Update(func(tx *bolt.Tx) error {
				meta := tx.Bucket(bucketMeta)
				hist, ids := tx.Bucket(bucketHistory), tx.Bucket(bucketHistoryIDs)
				count := binary.BigEndian.Uint64(meta.Get(metaCount))
				c := hist.Cursor()
				n := 0
				for k, v := c.First(); k != nil && bytes.Compare(k, end[:]) < 0; k, v = c.First() {
					if n == histPruneBatch {
						more = true
						break
					}
					// The id mapping is inside the ciphertext. An entry
					// that fails to open is deleted anyway (it is expiring).
					if e, err := openEntry(h.aead, k, v); err == nil {
						idk := histIDKey(e.Own, e.ID)
						if bytes.Equal(ids.Get(idk[:]), k) {
							if err := ids.Delete(idk[:]); err != nil {
								return err
							}
						}
					}
					if err := c.Delete(); err != nil {
						return err
					}
					if count > 0 {
						count--
					}
					n++
				}
				var b [8]byte
				binary.BigEndian.PutUint64(b[:], count)
				return meta.Put(metaCount, b[:])
			})
		})
		if err != nil {
			return fmt.Errorf("protocol: database %s: prune: %w", h.path, err)
		}
		if !more {
			return nil
		}
	}
}

// Last returns the newest n committed entries, oldest first, and a cursor
// for Before (the oldest entry returned).
func (h *DB) Last(n int) ([]HistoryEntry, HistoryCursor, error) {
	return h.Before(HistoryCursor{}, n)
}

// Before returns up to n committed entries older than c, oldest first, and
// the cursor for the next call. An empty result means the start of the
// history (the cursor returned is then c). The zero cursor is the end.
// An entry that fails authentication gives an error wrapping
// ErrDBCorrupt and no entries.
func (h *DB) Before(c HistoryCursor, n int) ([]HistoryEntry, HistoryCursor, error) {
	if n <= 0 {
		return nil, c, nil
	}
	var out []HistoryEntry
	next := c
	err := h.guard(func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			hist := tx.Bucket(bucketHistory)
			if hist == nil {
				return corruptErr(h.path, errors.New("history bucket missing"))
			}
			cur := hist.Cursor()
			var k, v []byte
			if c.valid {
				k, _ = cur.Seek(c.key[:])
				if k == nil {
					k, v = cur.Last()
				} else {
					k, v = cur.Prev()
				}
				// Seek lands on c.key or the first key after it (c.key was
				// deleted): either way Prev is the first key before c.
				for k != nil && bytes.Compare(k, c.key[:]) >= 0 {
					k, v = cur.Prev()
				}
			} else {
				k, v = cur.Last()
			}
			for ; k != nil && len(out) < n; k, v = cur.Prev() {
				e, err := openEntry(h.aead, k, v)
				if err != nil {
					return h.entryErr(k, err)
				}
				out = append(out, e)
				copy(next.key[:], k)
				next.valid = true
			}
			return nil
		})
	})
	if err != nil {
		return nil, c, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, next, nil
}

// Len returns the number of committed entries.
func (h *DB) Len() (int, error) {
	var n uint64
	err := h.guard(func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil || len(meta.Get(metaCount)) != 8 {
				return corruptErr(h.path, errors.New("no entry count"))
			}
			n = binary.BigEndian.Uint64(meta.Get(metaCount))
			return nil
		})
	})
	return int(n), err
}

// Path returns the database file's path.
func (h *DB) Path() string { return h.path }
