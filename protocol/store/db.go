package store

// The database of one (identity, peer): a bbolt file holding the
// encrypted chat history (history.go) and the delivery state
// (delivery.go). All integers are big-endian.
//
//	bucket "meta"
//	  "version"    -> u8 4             the format version of the whole file
//	  "state"      -> the sealed state (state.go): file id, generation,
//	                  counters and a digest of each bucket's keys
//	  "check"      -> u8 1 || nonce(12) || AES-256-GCM(key, nonce,
//	                  "duet history key check v1", AD = "duet/1 history check")
//	                a key check value: opening with another key (another
//	                identity, or another peer's database) fails to
//	                authenticate it, and Open refuses with ErrWrongKey.
//	bucket "history"                   (history.go)
//	buckets "outbox", "showing", "seen" (delivery.go)
//	bucket "read"                      (read.go)
//
// Older formats are migrated at open, in one transaction, all or nothing
// (migrate.go): version 1 (history only, one value per entry, a bucket
// "history_ids") and version 2 (plaintext counters "seq", "count",
// "out_seq", "show_seq", "seen_seq", "seen_count" in meta; no state; AD
// without a file id; plaintext "showing" and "seen"), also from the
// legacy key (Options.LegacyKey). Version 3 (state version 1, no "read"
// bucket) becomes version 4 by writing the state again (read.go).
//
// The key is crypto.HistoryKey(identity, peer). Every value is sealed as
// u8 version(1) || nonce(12) || AES-256-GCM(key, nonce, plaintext, AD),
// with 12 random nonce bytes (crypto/rand) per value and an AD binding
// the value to its bucket, key and file (the file id), so values cannot
// be moved; the sealed state binds the set of keys, so records cannot be
// removed or copied back unnoticed (state.go says what it cannot see).
//
// The file is created 0600 in a 0700 directory (a wider mode found at open
// is set back to 0600); only a regular file is opened (no symlink, FIFO,
// device). bbolt's exclusive flock, taken with a 100 ms timeout, keeps a
// second duet off the file (ErrLocked). One writer goroutine commits
// everything queued (up to 4096 operations) in one fsynced transaction.

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"duet/crypto"
	"duet/internal/fsafe"
	"duet/protocol"
)

// Errors of the database. Test with errors.Is.
var (
	// ErrLocked: another process (another duet with the same
	// identity and peer) holds the database.
	ErrLocked = errors.New("protocol: database is in use by another duet")
	// ErrCorrupt: the file is not a bbolt database, fails bbolt's
	// checks, or a value that duet cannot do without (the key check, an
	// outbox record, the delivery marks) fails authentication. A history
	// record that does is skipped instead (ErrHistorySkipped).
	ErrCorrupt = errors.New("protocol: database is damaged")
	// ErrWrongKey: the database was written under another key
	// (another identity, or the history of another peer).
	ErrWrongKey = errors.New("protocol: database belongs to another identity")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("protocol: database is closed")
)

// Options tune Open.
type Options struct {
	// Retention: at open, prune the history records stored (by the local
	// clock) longer ago than this; an entry's own time, which a peer's
	// sent_at sets, does not count (0: keep all).
	Retention time.Duration
	NoHistory bool             // Queue and Showing add no history entries (--no-history)
	Now       func() time.Time // time.Now if nil
	// LegacyKey, if not nil, is the key older duets derived for this
	// identity and peer (crypto.LegacyHistoryKey): a format 1 or 2 file
	// written under it is sealed again under the key at open.
	LegacyKey *[32]byte
}

// Error is an error about the database file at Path: Err says what went
// wrong (it wraps one of the errors above, or the system's), Hint what the
// user can do about it. Its text names the file once:
// "protocol: database /x.db is damaged: truncated; move the file away ...".
type Error struct {
	Path string
	Err  error
	Hint string
}

func (e *Error) Error() string {
	reason := e.Err.Error()
	var msg string
	if r, ok := strings.CutPrefix(reason, "protocol: database "); ok {
		msg = "protocol: database " + e.Path + " " + r
	} else {
		msg = "protocol: database " + e.Path + ": " + reason
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func dbErr(path string, err error, hint string) error {
	return &Error{Path: path, Err: err, Hint: hint}
}

const (
	hintLocked     = "is duet already running for this identity and peer?"
	hintMoveAway   = "move it away"
	hintDamaged    = "move the file away (duet then starts a new, empty database; the moved file keeps whatever it still holds) or restore it from a backup"
	hintNewerDuet  = "use a newer duet or move the file away"
	hintAnotherKey = "start duet with the identity that wrote it, or move the file away"
)

// DB is the database of one (identity, peer): the encrypted chat history
// and the delivery state. Its methods are safe for concurrent use. Writes
// go through one writer goroutine that commits in grouped transactions;
// reads (Last, Before, Len) see what has been committed (call Flush first
// to see everything added).
type DB struct {
	path      string
	bolt      *bolt.DB
	aead      *crypto.AEAD
	digestKey []byte // the state's set digest key (state.go)
	now       func() time.Time

	q          chan writeOp
	asyncDelay time.Duration // the package's asyncDelay when opened
	quit       chan struct{} // closed by Close: the writer drains q and exits
	done       chan struct{} // closed when the writer has exited
	once       sync.Once
	cerr       error
	errMu      sync.Mutex
	err        error // first write error (sticky), returned by Flush

	warnings []string // found at open, for the user (Warnings)

	commits atomic.Uint64 // write transactions committed by the writer
	full    atomic.Bool   // the last write transaction found the disk full (full.go)
	fault   atomic.Pointer[writeFault]
	kept    []writeOp // writer's: ops nobody waits for, kept while the disk is full
	record  bool      // keep history entries for Queue and Showing

	// Delivery state: loaded at open (Load hands it to the Node); dx is
	// owned by the writer once it runs.
	loadMu sync.Mutex
	loaded protocol.DeliveryState
	dx     deliveryIndex
	// queuedAtOpen: our message ids in the outbox when the DB was
	// opened; loadMu. See QueuedAtOpen.
	queuedAtOpen map[uint64]struct{}
	reads        readMarks // the peer's read marks (read.go)

	// Bytes of text queued and not yet committed, bounded by
	// writeQueueBytes: Add waits while the budget is used (the count bound
	// alone would allow 4096 texts of 64 KiB).
	budgetMu   sync.Mutex
	budgetCond *sync.Cond
	queued     int
}

// asyncDelay is how long changes nobody waits for (seen marks, and so
// receipts; outbox removals; Add) wait to share a commit. Each DB takes
// its value at Open; a variable only so that tests can build files whose
// records follow their Flush calls exactly, on a machine of any speed.
var asyncDelay = 5 * time.Millisecond

const (
	formatVersion   = 4
	valueVersion    = 1
	histKeyLen      = 16
	valueMinLen     = 1 + crypto.NonceSize + crypto.TagSize
	writeQueueLen   = 4096
	writeQueueBytes = 8 << 20 // text bytes queued and not yet committed
	maxBatch        = 4096
	histPruneBatch  = 100 // records (of up to 64 KiB) per prune transaction
	lockWait        = 100 * time.Millisecond

	// histFillPercent: history keys are nearly always appended (time
	// order), so split pages 90% full instead of bbolt's default half.
	histFillPercent = 0.9

	keyCheckText = "duet history key check v1"
	keyCheckAD   = "duet/1 history check"
)

var (
	bucketMeta       = []byte("meta")
	bucketHistory    = []byte("history")
	bucketHistoryIDs = []byte("history_ids") // format version 1 only

	metaVersion = []byte("version")
	metaSeq     = []byte("seq")
	metaCount   = []byte("count")
	metaCheck   = []byte("check")
)

type writeOpKind uint8

const (
	opAdd       writeOpKind = iota // entry
	opFlush                        // nothing: answered after the commit
	opClear                        // the history buckets
	opQueue                        // chats: outbox (and own history)
	opShowing                      // entries: showing marks (and history)
	opSeen                         // ids: seen marks, showing marks dropped
	opDelivered                    // ids: removed from the outbox
	opInput                        // input: the draft and input history (nil: none)
	opRead                         // the read marks waiting (readMarks.pending)
)

// writeOp is one request to the writer goroutine: history and delivery
// changes share its grouped commits.
type writeOp struct {
	kind    writeOpKind
	entry   protocol.HistoryEntry
	entries []protocol.HistoryEntry
	chats   []protocol.Chat
	ids     []uint64
	done    chan error  // answered after the commit, with its error
	cb      func(error) // called after the commit, with its error
	urgent  bool        // committed at once although nobody waits (MarkShowing)
	input   []byte      // opInput: the encoded Input
}

// Open opens the history database at path, creating it (mode 0600,
// parent directory 0700) if needed, whole (createDBFile). The path must be
// a regular file: a symbolic link, FIFO, device, socket or directory is
// refused with an error naming the path, without blocking. An existing
// file with a wider mode is fixed to 0600 (its content is encrypted; only
// metadata would leak) and Warnings says so. A damaged file, an empty one
// included, gives an error wrapping ErrCorrupt; a file held by another
// duet, ErrLocked; a file written under another key, ErrWrongKey. Each
// error is a *Error naming the file and saying what to do. A file whose
// newest commit record is damaged opens at the commit before it, as bbolt
// does, and Warnings says so. Records stored longer ago than
// opt.Retention are deleted before Open returns.
func Open(path string, key [32]byte, opt Options) (db *DB, err error) {
	existed, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	aead, legacy, digestKey, err := openKeys(key, opt.LegacyKey)
	if err != nil {
		return nil, err
	}

	if !existed {
		if err := createDBFile(path, aead, digestKey); err != nil {
			return nil, err
		}
	}
	check, err := checkBeforeOpen(path)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if check.fellBack {
		warnings = append(warnings, fmt.Sprintf("database %s: its newest commit record is damaged (a power cut during a write, or damage to the file), so duet opened the commit before it (transaction %d): what was sent, received or queued just before duet last stopped may be missing; check with your peer", path, check.txid))
	}

	// bbolt opens the file itself; this hook makes that open refuse
	// anything but a regular file, without following a symlink or blocking
	// on a FIFO swapped in since the Lstat, and fixes a too-wide mode.
	var opened *os.File
	openFile := func(name string, flag int, _ os.FileMode) (*os.File, error) {
		f, st, err := openDBFile(name, flag)
		if err == nil && runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			if err = f.Chmod(0o600); err != nil {
				f.Close()
			} else {
				warnings = append(warnings, fmt.Sprintf("database %s had mode %04o, so %s; set back to 0600", name, st.Mode().Perm(), widerMode(st.Mode().Perm())))
			}
		}
		if err != nil {
			return nil, err
		}
		opened = f
		return f, nil
	}

	// bbolt may panic (or fault on the mapping) on a damaged file.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var bdb *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			if bdb != nil {
				bdb.Close()
			} else if opened != nil {
				opened.Close() // releases the lock
			}
			db, err = nil, corruptErr(path, fmt.Errorf("%v", r))
		}
	}()
	bdb, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, OpenFile: openFile, FreelistType: bolt.FreelistMapType})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, dbErr(path, ErrLocked, hintLocked)
		case errors.Is(err, errNotRegular):
			return nil, dbErr(path, err, hintMoveAway)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch), isBoltSizeErr(err):
			return nil, corruptErr(path, err)
		}
		return nil, dbErr(path, err, "")
	}
	db = &DB{path: path, bolt: bdb, aead: aead, digestKey: digestKey, now: opt.Now, record: !opt.NoHistory, warnings: warnings}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.init(legacy); err != nil {
		bdb.Close()
		return nil, err
	}
	removeStaleTemps(path)
	if opt.Retention > 0 {
		if err := db.prune(db.now().Add(-opt.Retention)); err != nil {
			bdb.Close()
			return nil, err
		}
	}
	if err := db.loadDelivery(); err != nil {
		bdb.Close()
		return nil, err
	}
	if err := db.loadReads(); err != nil {
		bdb.Close()
		return nil, err
	}
	db.startWriter()
	return db, nil
}

// openKeys makes the AEADs of key and of the legacy key (nil if none, or
// the same) and derives the state's digest key.
func openKeys(key [32]byte, legacyKey *[32]byte) (aead, legacy *crypto.AEAD, digestKey []byte, err error) {
	if aead, err = crypto.NewAEAD(key[:]); err != nil {
		return nil, nil, nil, err
	}
	if legacyKey != nil && *legacyKey != key {
		if legacy, err = crypto.NewAEAD(legacyKey[:]); err != nil {
			return nil, nil, nil, err
		}
	}
	if digestKey, err = digestKeyFor(key); err != nil {
		return nil, nil, nil, err
	}
	return aead, legacy, digestKey, nil
}

// checkPath makes the database's directory (0700) and reports whether a
// file is at path; anything there but a regular file (a symbolic link
// included, by Lstat) is refused.
func checkPath(path string) (existed bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, dbErr(path, err, "")
	}
	st, err := os.Lstat(path)
	switch {
	case err == nil && !st.Mode().IsRegular():
		return false, dbErr(path, fmt.Errorf("%w: it is %s", errNotRegular, fsafe.Kind(st.Mode())), hintMoveAway)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, dbErr(path, err, "")
	}
	return err == nil, nil
}

// startWriter starts the one goroutine that writes to the file.
func (db *DB) startWriter() {
	db.q = make(chan writeOp, writeQueueLen)
	db.asyncDelay = asyncDelay
	db.budgetCond = sync.NewCond(&db.budgetMu)
	db.quit = make(chan struct{})
	db.done = make(chan struct{})
	go db.writer()
}

// openDBFile opens path with flag only if it is a regular file
// (fsafe.OwnFile): without following a symbolic link or blocking on a FIFO;
// anything else is an error wrapping errNotRegular that says what it is.
func openDBFile(path string, flag int) (*os.File, os.FileInfo, error) {
	f, err := fsafe.Open(path, flag, 0o600, fsafe.OwnFile)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// checkBeforeOpen runs checkBolt on the file at path before bbolt reads
// it. A file that fails while another process holds bbolt's lock (a
// running duet writing it) is reported as locked, not damaged.
func checkBeforeOpen(path string) (boltCheck, error) {
	f, st, err := openDBFile(path, os.O_RDONLY)
	if err != nil {
		if errors.Is(err, errNotRegular) {
			return boltCheck{}, dbErr(path, err, hintMoveAway)
		}
		return boltCheck{}, dbErr(path, err, "")
	}
	defer f.Close()
	c, cerr := checkBolt(f, st.Size())
	if cerr == nil {
		return c, nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return boltCheck{}, dbErr(path, ErrLocked, hintLocked)
	}
	return boltCheck{}, corruptErr(path, cerr)
}

// createDBFile creates a new, empty database at path whole: it is built
// and fsynced under a temporary name in the same directory, then linked
// to path. A link, unlike a rename, never replaces a file that another
// duet created meanwhile (then that one is used). So a file at path is
// always a complete database, and an empty or short one is damage, never
// a creation cut short by a crash. A crash leaves at most a temporary
// file, removed by the next open (removeStaleTemps).
func createDBFile(path string, aead *crypto.AEAD, digestKey []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+dbTempInfix+"*")
	if err != nil {
		return dbErr(path, fmt.Errorf("create: %w", err), "")
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	bdb, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockWait, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return dbErr(path, fmt.Errorf("create: %w", err), "")
	}
	db := &DB{path: tmp, bolt: bdb, aead: aead, digestKey: digestKey, now: time.Now}
	err = db.guard(func() error { return bdb.Update(db.create) })
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return dbErr(path, fmt.Errorf("create: %w", err), "")
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return dbErr(path, fmt.Errorf("create: %w", err), "")
	}
	fsafe.SyncDir(dir) // persist the new directory entry
	return nil
}

// widerMode says what a mode wider than 0600 let other users do.
func widerMode(perm fs.FileMode) string {
	switch {
	case perm&0o022 != 0:
		return "other users could change or damage it"
	case perm&0o044 != 0:
		return "other users could read it (its content is encrypted)"
	}
	return "other users had access to it"
}

// dbTempInfix marks createDBFile's temporary files: "<name>.new-<random>".
const dbTempInfix = ".new-"

// removeStaleTemps removes temporary files that a createDBFile cut short
// by a crash left beside path: those at least a minute old (a creation
// takes milliseconds, so none is still being written). Best effort.
func removeStaleTemps(path string) {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+dbTempInfix
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func isBoltSizeErr(err error) bool {
	return bytes.Contains([]byte(err.Error()), []byte("file size too small"))
}

// corruptErr is the error for a damaged file: cause says what is wrong
// (wrapping ErrCorrupt or not).
func corruptErr(path string, cause error) error {
	if !errors.Is(cause, ErrCorrupt) {
		cause = fmt.Errorf("%w: %v", ErrCorrupt, cause)
	}
	return dbErr(path, cause, hintDamaged)
}

// openPlan is what init found in the file and will do about it.
type openPlan struct {
	create, upgrade, migrate, recheck, fixState bool
	addRead                                     bool // format 3: becomes 4 (read.go)
	version                                     byte
	from                                        *crypto.AEAD // the key a format 1 or 2 file opens under
	state                                       *fileState   // format 3 and 4: the state read (fixed if fixState)
}

// init checks the file's size against bbolt's high-water mark (a truncated
// file would otherwise fault when read), its format version, key check
// value and (format 3 and 4) sealed state against the records, or, for a new
// file, writes them. A format 1 or 2 file is migrated to format 4 in one
// transaction (migrate.go), under the key or, if it was written under the
// legacy key (Options.LegacyKey), from that one. Opening a format 4 file
// that checks out writes nothing (unless entries are pruned); a format 3
// file is written once more, as format 4.
func (db *DB) init(legacy *crypto.AEAD) error {
	st, err := os.Stat(db.path)
	if err != nil {
		return dbErr(db.path, err, "")
	}
	var p openPlan
	err = db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			if tx.Size() > st.Size() {
				return corruptErr(db.path, fmt.Errorf("file is %d bytes, its pages need %d: truncated", st.Size(), tx.Size()))
			}
			return db.inspect(tx, legacy, &p)
		})
	})
	if err != nil {
		return err
	}
	return db.carryOut(&p)
}

// inspect fills p from the file (a read transaction).
func (db *DB) inspect(tx *bolt.Tx, legacy *crypto.AEAD, p *openPlan) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if tx.Bucket(bucketHistory) != nil {
			return corruptErr(db.path, errors.New("meta bucket missing"))
		}
		p.create = true
		return nil
	}
	v := meta.Get(metaVersion)
	if len(v) != 1 {
		return corruptErr(db.path, errors.New("no format version"))
	}
	p.version = v[0]
	switch {
	case p.version == 1:
		p.upgrade = true // entries one by one, no delivery buckets
	case p.version == 2:
		p.migrate = true // plaintext counters, no sealed state
	case p.version == fmtVersionState:
		p.addRead = true // state version 1: written again as version 2
	case p.version != formatVersion:
		return dbErr(db.path, fmt.Errorf("format version %d, this duet reads %d", v[0], formatVersion), hintNewerDuet)
	}
	if p.version < fmtVersionState && (len(meta.Get(metaSeq)) != 8 || len(meta.Get(metaCount)) != 8) {
		return corruptErr(db.path, errors.New("bad counters"))
	}
	if tx.Bucket(bucketHistory) == nil {
		return corruptErr(db.path, errors.New("history bucket missing"))
	}
	if !p.upgrade && (tx.Bucket(bucketOutbox) == nil || tx.Bucket(bucketSeen) == nil || tx.Bucket(bucketShowing) == nil) {
		return corruptErr(db.path, errors.New("delivery bucket missing"))
	}
	if err := db.pickKey(tx, legacy, p); err != nil {
		return err
	}
	if p.version < fmtVersionState {
		return nil
	}
	s, err := db.readState(tx)
	if err != nil {
		return err
	}
	warnings, fix, err := db.checkSets(tx, s)
	if err != nil {
		return err
	}
	db.warnings = append(db.warnings, warnings...)
	p.state, p.fixState = s, fix
	return nil
}

// pickKey finds the key the file was written under: the key, or (format
// 1 or 2) the legacy key. A damaged key check value with records that open
// under the key is rewritten (recheck); anything else is ErrWrongKey.
func (db *DB) pickKey(tx *bolt.Tx, legacy *crypto.AEAD, p *openPlan) error {
	chk := tx.Bucket(bucketMeta).Get(metaCheck)
	p.from = db.aead
	if checkOpens(db.aead, chk) {
		return nil
	}
	if p.version < fmtVersionState && legacy != nil && checkOpens(legacy, chk) {
		p.from = legacy
		return nil
	}
	// Another key, or a damaged check value: the records tell.
	tried := false
	for _, a := range []*crypto.AEAD{db.aead, legacy} {
		if a == nil || (a == legacy && p.version >= fmtVersionState) {
			continue
		}
		fits, t := db.recordsOpen(tx, a, p.version)
		tried = tried || t
		if fits {
			p.from, p.recheck = a, true
			return nil
		}
	}
	if tried {
		return dbErr(db.path, fmt.Errorf("%w: it was written under another identity's key (or for another peer): neither its key check nor its records open under this one", ErrWrongKey), hintAnotherKey)
	}
	return dbErr(db.path, fmt.Errorf("%w: it was written under another identity's key (or for another peer), or its key check is damaged", ErrWrongKey), hintAnotherKey)
}

// carryOut writes what inspect found must be written, in one transaction.
func (db *DB) carryOut(p *openPlan) error {
	var fn func(tx *bolt.Tx) error
	switch {
	case p.create:
		fn = db.create
	case p.upgrade:
		fn = func(tx *bolt.Tx) error { return db.upgradeV1(tx, p.from) }
	case p.migrate:
		fn = func(tx *bolt.Tx) error { return db.migrateV2(tx, p.from) }
	case p.recheck || p.fixState || p.addRead:
		fn = func(tx *bolt.Tx) error {
			if p.addRead {
				if err := setFormat(tx); err != nil {
					return err
				}
			}
			if err := db.putCheck(tx); err != nil {
				return err
			}
			return db.writeState(tx, p.state)
		}
	default:
		return nil
	}
	if err := db.guard(func() error { return db.bolt.Update(fn) }); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return dbErr(db.path, fmt.Errorf("write at open: %w", err), "")
	}
	if p.recheck && !p.upgrade && !p.migrate {
		db.warnings = append(db.warnings, fmt.Sprintf("database %s: its key check value was damaged; its records open under this identity's key, so duet wrote it again", db.path))
	}
	if p.from != db.aead {
		db.warnings = append(db.warnings, fmt.Sprintf("database %s: sealed again under the history key's stable derivation (it was written under the one older duets took from Go's encoding of the identity key)", db.path))
	}
	return nil
}

// create makes the buckets, key check value and state of a new file.
func (db *DB) create(tx *bolt.Tx) error {
	if _, err := tx.CreateBucket(bucketMeta); err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketHistory); err != nil {
		return err
	}
	if err := createDeliveryBuckets(tx); err != nil {
		return err
	}
	s, err := newFileState(db.digestKey)
	if err != nil {
		return err
	}
	return db.finishFormat(tx, s)
}

// finishFormat writes the format version, the key check value and the
// state s (the last step of create and of the migrations).
func (db *DB) finishFormat(tx *bolt.Tx, s *fileState) error {
	meta := tx.Bucket(bucketMeta)
	for _, k := range [][]byte{metaSeq, metaCount, metaOutSeq, metaShowSeq, metaSeenSeq, metaSeenCount} {
		if err := meta.Delete(k); err != nil { // format 2's plaintext counters
			return err
		}
	}
	if err := setFormat(tx); err != nil {
		return err
	}
	if err := db.putCheck(tx); err != nil {
		return err
	}
	return db.writeState(tx, s)
}

// setFormat writes the format version and makes the buckets it adds
// (version 4: "read").
func setFormat(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketRead); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(metaVersion, []byte{formatVersion})
}

// putCheck writes a new key check value.
func (db *DB) putCheck(tx *bolt.Tx) error {
	chk, err := db.sealCheck()
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(metaCheck, chk)
}

// sealCheck returns a new key check value: u8 1 || nonce || AES-256-GCM
// of keyCheckText.
func (db *DB) sealCheck() ([]byte, error) {
	var nonce [crypto.NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	chk := append([]byte{valueVersion}, nonce[:]...)
	return db.aead.Seal(chk, &nonce, []byte(keyCheckText), []byte(keyCheckAD)), nil
}

// checkOpens reports whether the key check value chk opens under a.
func checkOpens(a *crypto.AEAD, chk []byte) bool {
	if len(chk) < 1+crypto.NonceSize+crypto.TagSize || chk[0] != valueVersion {
		return false
	}
	var nonce [crypto.NonceSize]byte
	copy(nonce[:], chk[1:])
	pt, err := a.Open(nil, &nonce, chk[1+crypto.NonceSize:], []byte(keyCheckAD))
	return err == nil && string(pt) == keyCheckText
}

// recordsOpen tells a damaged key check value from another key: it tries
// (format 3 and 4) the sealed state, or (format 2) the newest history record and
// the oldest outbox record, under a; a version 1 file is not tried. fits:
// one opens under the key (AES-GCM authenticates it: only this key could
// have sealed it); tried: there was one to try.
func (db *DB) recordsOpen(tx *bolt.Tx, a *crypto.AEAD, version byte) (fits, tried bool) {
	switch version {
	case 1:
		return false, false
	case fmtVersionState, formatVersion:
		v := tx.Bucket(bucketMeta).Get(metaState)
		_, err := openState(a, v, db.digestKey)
		return err == nil, v != nil
	}
	if b := tx.Bucket(bucketHistory); b != nil {
		if k, v := b.Cursor().Last(); k != nil {
			tried = true
			if _, err := openRecord(a, historyADv2, k, v); err == nil {
				return true, true
			}
		}
	}
	if b := tx.Bucket(bucketOutbox); b != nil {
		if k, v := b.Cursor().First(); k != nil {
			tried = true
			if _, err := openOutboxRecord(a, outboxADv2, k, v); err == nil {
				return true, true
			}
		}
	}
	return false, tried
}

// guard runs fn turning a panic or memory fault (bbolt on a damaged file)
// into ErrCorrupt.
func (db *DB) guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corruptErr(db.path, fmt.Errorf("%v", r))
		}
	}()
	return fn()
}

// request sends an operation of kind to the writer and waits for its commit.
func (db *DB) request(kind writeOpKind) error {
	return db.send(writeOp{kind: kind, done: make(chan error, 1)})
}

// send queues op (which has a done channel) and waits for its answer.
func (db *DB) send(op writeOp) error {
	select {
	case <-db.quit:
		return ErrClosed
	default:
	}
	select {
	case db.q <- op:
	case <-db.quit:
		return ErrClosed
	}
	select {
	case err := <-op.done:
		return err
	case <-db.done:
		// The writer drained q before exiting, so op was answered.
		select {
		case err := <-op.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// Close commits what was added, stops the writer and closes the database.
// It is safe to call twice; later calls return the first result.
func (db *DB) Close() error {
	db.once.Do(func() {
		close(db.quit)
		db.budgetMu.Lock() // wake an Add waiting for budget: it sees quit
		db.budgetCond.Broadcast()
		db.budgetMu.Unlock()
		<-db.done
		err := db.stickyErr()
		if cerr := db.bolt.Close(); err == nil {
			err = cerr
		}
		db.cerr = err
	})
	return db.cerr
}

func (db *DB) stickyErr() error {
	db.errMu.Lock()
	defer db.errMu.Unlock()
	return db.err
}

func (db *DB) setErr(err error) {
	db.errMu.Lock()
	defer db.errMu.Unlock()
	if db.err == nil {
		db.err = err
	}
}

// writer is the single goroutine that writes: it takes what is queued
// (up to maxBatch operations) and commits it in one transaction. A batch
// of operations nobody waits for (Add, Seen, Delivered) waits up to
// asyncDelay for one somebody waits for (Queue, Showing, Flush), so
// that under load they share its commit: each commit costs two fsyncs.
// While it keeps operations that a full disk refused (commit), it retries
// them every fullRetry.
func (db *DB) writer() {
	defer close(db.done)
	batch := make([]writeOp, 0, maxBatch)
	var retry <-chan time.Time
	for {
		batch = batch[:0]
		select {
		case op := <-db.q:
			batch = append(batch, op)
		case <-retry:
		case <-db.quit:
			// Drain what is left, then stop (with the read marks PeerRead
			// could not queue: the queue was full).
			if db.reads.waiting() {
				db.commit([]writeOp{{kind: opRead}})
			}
			for {
				batch = batch[:0]
				db.take(&batch)
				if len(batch) == 0 {
					db.commit(nil) // one last try for what a full disk refused
					return
				}
				db.commit(batch)
			}
		}
		db.take(&batch)
		if len(batch) > 0 && !anyWaited(batch) {
			db.gather(&batch)
		}
		db.commit(batch)
		retry = nil
		if len(db.kept) > 0 {
			retry = time.After(fullRetry)
		}
	}
}

// anyWaited reports whether somebody waits for an operation in batch.
func anyWaited(batch []writeOp) bool {
	for _, op := range batch {
		if op.done != nil || op.urgent {
			return true
		}
	}
	return false
}

// gather adds operations to batch until one that is waited for arrives,
// the batch is full, asyncDelay has passed or the DB is closing.
func (db *DB) gather(batch *[]writeOp) {
	t := time.NewTimer(db.asyncDelay)
	defer t.Stop()
	for len(*batch) < maxBatch {
		select {
		case op := <-db.q:
			*batch = append(*batch, op)
			if op.done != nil || op.urgent {
				db.take(batch)
				return
			}
		case <-t.C:
			return
		case <-db.quit:
			return
		}
	}
}

// take appends queued operations to batch without waiting.
func (db *DB) take(batch *[]writeOp) {
	for len(*batch) < maxBatch {
		select {
		case op := <-db.q:
			*batch = append(*batch, op)
		default:
			return
		}
	}
}

// commit applies batch, after the operations kept from a commit that found
// the disk full, in one transaction (a Clear in the batch applies in its
// place) and answers the waiting calls. A full disk (isDiskFull) is not
// sticky: the calls get an error wrapping protocol.ErrDiskFull and the
// operations nobody waits for are kept for the next commit (keep). Any
// other error is sticky: every later call gets it.
func (db *DB) commit(batch []writeOp) {
	if len(db.kept) > 0 {
		batch = append(db.kept, batch...)
		db.kept = nil
	}
	if len(batch) == 0 {
		return
	}
	err := db.stickyErr()
	if err == nil {
		var d *deliveryTx
		err = db.guard(func() error {
			return db.bolt.Update(func(tx *bolt.Tx) error {
				if err := db.apply(tx, batch, &d); err != nil {
					return err
				}
				return db.faultErr()
			})
		})
		db.endReadTx(err)
		switch {
		case err == nil:
			db.commits.Add(1)
			db.full.Store(false)
		case isDiskFull(err):
			if d != nil {
				d.rollback() // the index follows the file
			}
			db.full.Store(true)
			err = fullErr(db.path, err)
			batch = db.keep(batch)
		default:
			if d != nil {
				d.rollback()
			}
			db.setErr(dbErr(db.path, fmt.Errorf("write: %w", err), ""))
			err = db.stickyErr()
		}
	}
	db.answer(batch, err)
}

// keep keeps the operations of batch that nobody waits for (Add,
// Delivered) for the next commit, with their budget, and returns the
// others.
func (db *DB) keep(batch []writeOp) []writeOp {
	answered := batch[:0:0]
	for _, op := range batch {
		if op.done == nil && op.cb == nil {
			db.kept = append(db.kept, op)
		} else {
			answered = append(answered, op)
		}
	}
	return answered
}

// answer gives the budget of batch back (before any Flush or Clear
// returns) and answers its calls with err.
func (db *DB) answer(batch []writeOp, err error) {
	n := 0
	for _, op := range batch {
		if op.kind == opAdd {
			n += len(op.entry.Text)
		}
	}
	if n > 0 {
		db.release(n)
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

// apply applies batch in the transaction. *dp is set to the delivery
// changes, if any (rolled back if the commit fails).
func (db *DB) apply(tx *bolt.Tx, batch []writeOp, dp **deliveryTx) error {
	s, err := db.readState(tx)
	if err != nil {
		return err
	}
	t, err := db.beginHistory(tx, s)
	if err != nil {
		return err
	}
	delivery := func() (*deliveryTx, error) {
		if *dp != nil {
			return *dp, nil
		}
		var err error
		*dp, err = db.beginDelivery(tx, s)
		return *dp, err
	}
	for _, op := range batch {
		var err error
		switch op.kind {
		case opAdd:
			t.add(op.entry)
		case opClear:
			if err = t.clear(); err == nil {
				err = clearInput(tx)
			}
			if err == nil {
				err = db.clearReads(tx, s)
			}
		case opRead:
			err = db.putReads(tx, s)
		case opInput:
			err = putInput(tx, db.aead, s, op.input)
		case opQueue, opShowing, opSeen, opDelivered:
			var d *deliveryTx
			if d, err = delivery(); err == nil {
				err = db.applyDelivery(t, d, op)
			}
		}
		if err != nil {
			return err
		}
	}
	if *dp != nil {
		if err := (*dp).finish(); err != nil {
			return err
		}
	}
	if err := t.finish(); err != nil {
		return err
	}
	return db.writeState(tx, s)
}

// applyDelivery applies one Queue, Showing, Seen or Delivered operation.
func (db *DB) applyDelivery(t *historyTx, d *deliveryTx, op writeOp) error {
	switch op.kind {
	case opQueue:
		fresh, err := d.queue(op.chats)
		if err != nil {
			return err
		}
		if db.record {
			for _, c := range fresh {
				t.add(protocol.HistoryEntry{ID: c.ID, Own: true, Text: c.Text, At: time.Unix(0, c.SentAt)})
			}
		}
	case opShowing:
		ids := make([]uint64, len(op.entries))
		for i, e := range op.entries {
			ids[i] = e.ID
			// A possible duplicate was interrupted after the commit that
			// stored it: it is in the history already.
			if db.record && !e.PossibleDuplicate {
				e.Own = false
				t.add(e)
			}
		}
		return d.showingMark(ids)
	case opSeen:
		return d.seenMark(op.ids)
	case opDelivered:
		return d.delivered(op.ids)
	}
	return nil
}

// Warnings returns what Open found and the user should know although
// the database opened: a mode it set back to 0600, or a damaged newest
// commit record that made it open the commit before (the last moment's
// messages may be missing). Each names the file.
func (db *DB) Warnings() []string { return db.warnings }

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// errNotRegular reports a database path that is not a regular file
// (fsafe.ErrNotRegular).
var errNotRegular = fsafe.ErrNotRegular
