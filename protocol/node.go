package protocol

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"duet/crypto"
)

// Config configures a Node. Zero values take the defaults in parentheses.
type Config struct {
	Identity *crypto.Identity // required: this node's long-term RSA-2048 key
	// VerifyPeer is called with the peer's public key during step 3, after
	// the peer proved possession of it and before any secret is sent to it.
	// It implements key pinning (known_peers, --peer-fingerprint). A non-nil
	// error aborts the handshake; errors wrapping crypto.ErrKeyChanged are
	// reported with reason "key-changed".
	VerifyPeer    func(peer *crypto.PublicKey) error
	Window        time.Duration    // accepted timestamp skew either way (30 s)
	PingInterval  time.Duration    // (1 s)
	StepTimeout   time.Duration    // per handshake step before a retry (2 s)
	RekeyInterval time.Duration    // (1 h)
	RekeyAfter    uint32           // records per key epoch before a rekey (1<<24)
	MaxUnacked    int              // chat messages awaiting receipt (100000)
	ResendAfter   time.Duration    // resend an unacknowledged message after (3 s)
	Now           func() time.Time // (time.Now)
	Rand          io.Reader        // (crypto/rand.Reader)
	// NonceCacheSize caps the receiver's seen-nonce cache (1<<20 entries).
	NonceCacheSize int
	// SendNonceCap caps the sender's per-epoch nonce set (1<<18).
	SendNonceCap int
	// Store persists the outbox and the seen ids across crashes (nil: in
	// memory only).
	Store Store
}

func (c *Config) fill() error {
	if c.Identity == nil {
		return errors.New("protocol: config: no identity")
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.StepTimeout <= 0 {
		c.StepTimeout = DefaultStepTimeout
	}
	if c.MaxUnacked <= 0 {
		c.MaxUnacked = DefaultMaxUnacked
	}
	if c.ResendAfter <= 0 {
		c.ResendAfter = 3 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = cryptorand.Reader
	}
	if c.VerifyPeer == nil {
		c.VerifyPeer = func(*crypto.PublicKey) error { return nil }
	}
	return nil
}

// Driver limits (implementation choices, not wire format).
const (
	outQueueBatches  = 256     // batches waiting for the transport writer
	inQueueMessages  = 1024    // received messages waiting for the loop
	maxSeenIDs       = 1 << 20 // chat ids remembered for exactly-once display
	maxResendPerTick = 4096
	prevSessionGrace = 5 * time.Second
	maxHelloPeers    = 64   // peer keys whose last hello time is remembered
	maxHeld          = 8192 // received messages waiting for an earlier one
	sendRetryFor     = time.Second
	sendRetryEvery   = 20 * time.Millisecond
	sendRetryDown    = 300 * time.Millisecond
)

// Node drives one duet endpoint: handshake, session, liveness, delivery.
// Its methods are safe for concurrent use; all protocol state is owned by
// the goroutine running Run.
type Node struct {
	cfg  Config
	tr   Transport
	emit func(Event)
	self crypto.Fingerprint

	mu          sync.Mutex
	pending     []*outMsg // written, not yet sealed
	lastWritten uint64    // id of the last message written (the next one's Prev)
	queued      int       // pending + unacked
	peerFP      crypto.Fingerprint
	safety      string
	hasPeer     bool
	wake        chan struct{}
	commands    chan func()

	// Owned by the Run goroutine.
	in              chan []byte
	out             chan [][]byte
	batch           [][]byte
	batchBytes      int
	now             time.Time
	peer            *crypto.PublicKey
	blockedPeer     crypto.Fingerprint // a key VerifyPeer refused; ignored afterwards
	init            *Initiator
	resp            *Responder
	attempt         time.Time           // start of the handshake attempt, zero if none
	progress        time.Time           // last handshake progress
	verified        time.Time           // last verified hello from the candidate peer key
	challenge       [ChallengeSize]byte // ours, for the life of the process
	peerChallenge   [ChallengeSize]byte // the candidate's, echoed in our public keys
	reachable       bool                // the candidate echoed our challenge
	selfDER         []byte
	lastHelloTS     map[crypto.Fingerprint]int64 // newest hello accepted per peer key
	pendingSess     *Session
	sess            *Session
	prevSess        *Session
	prevUntil       time.Time
	unacked         map[uint64]*outMsg
	order           []uint64 // unacked ids in send order (lazily compacted)
	seen            map[uint64]struct{}
	held            map[uint64]heldChat // received before their Prev was shown, keyed by Prev
	heldOrder       []uint64            // Prev keys in arrival order, for eviction
	interrupted     map[uint64]bool     // ids whose display a crash interrupted
	seenRing        []uint64
	seenNext        int
	receipts        []uint64
	lastRecord      []byte
	live            liveness
	pingID          uint64
	signBudget      *tokenBucket // private-key work for unauthenticated input
	verifyBudg      *tokenBucket
	replyBudget     *tokenBucket
	peerReplyBudget *tokenBucket // replies to the reachable candidate
	openBuf         []byte
	sendDown        bool // owned by the writer goroutine: the last batch was given up
}

// NewNode returns a node that will run over tr and report through emit.
func NewNode(cfg Config, tr Transport, emit func(Event)) (*Node, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if emit == nil {
		emit = func(Event) {}
	}
	n := &Node{
		cfg: cfg, tr: tr, emit: emit, self: cfg.Identity.Public().Fingerprint(),
		wake:            make(chan struct{}, 1),
		commands:        make(chan func(), 16),
		in:              make(chan []byte, inQueueMessages),
		out:             make(chan [][]byte, outQueueBatches),
		unacked:         make(map[uint64]*outMsg),
		seen:            make(map[uint64]struct{}),
		held:            make(map[uint64]heldChat),
		interrupted:     make(map[uint64]bool),
		lastHelloTS:     make(map[crypto.Fingerprint]int64),
		live:            newLiveness(),
		signBudget:      newTokenBucket(4, 4),
		verifyBudg:      newTokenBucket(500, 100),
		replyBudget:     newTokenBucket(20, 10),
		peerReplyBudget: newTokenBucket(20, 10),
		openBuf:         make([]byte, 0, 2048),
	}
	if _, err := io.ReadFull(cfg.Rand, n.challenge[:]); err != nil {
		return nil, fmt.Errorf("protocol: challenge: %w", err)
	}
	n.selfDER = cfg.Identity.Public().DER()
	if cfg.Store != nil {
		outbox, seen, err := cfg.Store.Load()
		if err != nil {
			return nil, fmt.Errorf("protocol: load delivery state: %w", err)
		}
		for _, c := range outbox {
			c.Prev = n.lastWritten
			n.pending = append(n.pending, &outMsg{chat: c})
			n.lastWritten = c.ID
		}
		n.queued = len(outbox)
		for _, id := range seen {
			n.markSeen(id)
		}
		for _, id := range cfg.Store.Interrupted() {
			n.interrupted[id] = true
		}
	}
	return n, nil
}

// Fingerprint is this node's identity fingerprint.
func (n *Node) Fingerprint() crypto.Fingerprint { return n.self }

// Peer returns the established peer's fingerprint and the safety number.
func (n *Node) Peer() (fp crypto.Fingerprint, safetyNumber string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peerFP, n.safety, n.hasPeer
}

// Send queues a chat message and returns its id. It is sent when a session
// exists, resent until the peer's receipt arrives, and shown by the peer
// exactly once.
func (n *Node) Send(text string) (uint64, error) {
	if len(text) > MaxTextSize {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTextTooLarge, len(text), MaxTextSize)
	}
	if !utf8.ValidString(text) {
		return 0, fmt.Errorf("protocol: message text is not valid UTF-8")
	}
	var b [8]byte
	if _, err := io.ReadFull(n.cfg.Rand, b[:]); err != nil {
		return 0, fmt.Errorf("protocol: message id: %w", err)
	}
	id := binary.BigEndian.Uint64(b[:]) | 1 // never 0
	n.mu.Lock()
	if n.queued >= n.cfg.MaxUnacked {
		n.mu.Unlock()
		return 0, fmt.Errorf("%w: %d waiting", ErrQueueFull, n.cfg.MaxUnacked)
	}
	m := &outMsg{chat: Chat{ID: id, Prev: n.lastWritten, SentAt: n.cfg.Now().UnixNano(), Text: text}}
	if n.cfg.Store != nil {
		if err := n.cfg.Store.Queued(m.chat); err != nil {
			n.mu.Unlock()
			return 0, err
		}
	}
	n.queued++
	n.lastWritten = id
	n.pending = append(n.pending, m)
	n.mu.Unlock()
	n.signal()
	return id, nil
}

// Rekey moves this node's sending direction to a fresh key epoch now.
func (n *Node) Rekey() error {
	return n.command(func() error {
		if n.sess == nil {
			return ErrNoSession
		}
		return n.rekey()
	})
}

// Replay re-sends the last record this node sent, byte for byte, so the
// peer's rejection can be watched.
func (n *Node) Replay() error {
	return n.command(func() error {
		if n.lastRecord == nil {
			return errors.New("protocol: replay: nothing sent yet")
		}
		n.queue(n.lastRecord)
		return nil
	})
}

// command runs f on the Run goroutine and waits for its result.
func (n *Node) command(f func() error) error {
	done := make(chan error, 1)
	select {
	case n.commands <- func() { done <- f() }:
	case <-time.After(5 * time.Second):
		return errors.New("protocol: node not running")
	}
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("protocol: node not responding")
	}
}

func (n *Node) signal() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run drives handshake, session, liveness and resends until ctx ends or
// the transport fails.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recvErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.readLoop(ctx, recvErr) }()
	go func() { defer wg.Done(); n.writeLoop(ctx) }()
	defer wg.Wait()
	defer cancel() // before Wait: the loops stop on ctx

	n.now = n.cfg.Now()
	n.startHandshake()
	n.sendPing()
	n.flush()
	ping := time.NewTicker(n.cfg.PingInterval)
	defer ping.Stop()
	step := time.NewTicker(n.cfg.StepTimeout / 4)
	defer step.Stop()
	for {
		select {
		case <-ctx.Done():
			n.close()
			return nil
		case err := <-recvErr:
			n.close()
			return fmt.Errorf("protocol: transport: %w", err)
		case m := <-n.in:
			n.now = n.cfg.Now()
			n.handle(m)
			for i := 0; i < inQueueMessages; i++ { // drain what is queued
				select {
				case m = <-n.in:
					n.handle(m)
					continue
				default:
				}
				break
			}
		case f := <-n.commands:
			n.now = n.cfg.Now()
			f()
		case <-n.wake:
			n.now = n.cfg.Now()
		case <-ping.C:
			n.now = n.cfg.Now()
			n.sendPing()
		case <-step.C:
			n.now = n.cfg.Now()
			n.checkTimers()
		}
		n.sendReceipts()
		n.pump()
		n.flush()
	}
}

func (n *Node) close() {
	if n.sess != nil {
		n.emitSession(SessionClosed, n.sess)
	}
}

func (n *Node) readLoop(ctx context.Context, errc chan<- error) {
	for {
		m, err := n.tr.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				errc <- err
			}
			return
		}
		select {
		case n.in <- m:
		case <-ctx.Done():
			return
		}
	}
}

func (n *Node) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-n.out:
			n.sendBatch(ctx, b)
			n.signal()
		}
	}
}

// sendBatch sends one batch. A refused batch (typically: the connection to
// the peer is not up yet, or is being redialled) is retried for up to
// sendRetryFor; once a batch has been given up, the transport counts as
// down and later batches are retried only for sendRetryDown, enough to
// catch a reconnection in progress (the transport redials every 100 ms),
// and only while no newer batch waits, so stale batches never queue up
// behind an outage. A lost batch is
// never fatal: chat messages in it stay in the unacknowledged queue and are
// resent.
func (n *Node) sendBatch(ctx context.Context, b [][]byte) {
	retry := sendRetryFor
	if n.sendDown {
		retry = sendRetryDown
	}
	deadline := time.Now().Add(retry)
	for {
		err := n.tr.Send(ctx, b...)
		switch {
		case err == nil:
			n.sendDown = false
			return
		case ctx.Err() != nil:
			return
		case time.Now().After(deadline):
			n.sendDown = true
			return
		case n.sendDown && len(n.out) > 0:
			return // down, and newer batches wait: only the newest gets retries
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sendRetryEvery):
		}
	}
}

// queue adds one message to the batch sent at the end of this loop turn.
// A batch holds at most MaxBatch messages and MaxMessageSize bytes.
func (n *Node) queue(m []byte) {
	if n.batchBytes+len(m) > MaxMessageSize {
		n.flush()
	}
	n.batch = append(n.batch, m)
	n.batchBytes += len(m)
	if len(n.batch) == MaxBatch {
		n.flush()
	}
}

// flush hands the batch to the writer. If the writer is backed up the batch
// is dropped: everything in it is either resent (chat) or periodic.
func (n *Node) flush() {
	if len(n.batch) == 0 {
		return
	}
	select {
	case n.out <- n.batch:
	default:
	}
	n.batch, n.batchBytes = nil, 0
}

func (n *Node) writerHasRoom() bool { return len(n.out) < outQueueBatches/2 }

// reject reports refused peer input. State did not change.
func (n *Node) reject(err error, seq uint32, hasSeq bool) {
	n.emit(RejectedEvent{Reason: Reason(err), Seq: seq, HasSeq: hasSeq, Detail: err.Error()})
}

func (n *Node) handshakeEvent(step int, err error) {
	var d time.Duration
	if !n.attempt.IsZero() {
		d = n.now.Sub(n.attempt)
	}
	n.emit(HandshakeEvent{Step: step, Name: StepName(step), Done: err == nil, Duration: d, Err: err})
}

func (n *Node) handle(m []byte) {
	t, err := MessageType(m)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	switch t {
	case TypePublicKey:
		n.handlePublicKey(m)
	case TypeHello, TypeKeyTransport:
		// Both cost an RSA verification. First the cookie: only a host that
		// receives what we send to our sub port knows our challenge, so a
		// flood from anywhere else is dropped for the price of a compare.
		// Then the budget.
		if c, ok := Cookie(m); !ok || subtle.ConstantTimeCompare(c[:], n.challenge[:]) != 1 {
			return
		}
		if !n.verifyBudg.allow(n.now) {
			return // flood: dropped without spending RSA time
		}
		if t == TypeHello {
			n.handleHello(m)
		} else {
			n.handleKeyTransport(m)
		}
	case TypeAck:
		n.handleAck(m)
	case TypePlainPing:
		id, err := ParsePlainPing(m, TypePlainPing)
		if err != nil {
			n.reject(err, 0, false)
			return
		}
		n.queue(AppendPlainPing(nil, TypePlainPong, id))
		n.kickHandshake()
	case TypePlainPong:
		id, err := ParsePlainPing(m, TypePlainPong)
		if err != nil {
			n.reject(err, 0, false)
			return
		}
		if n.sess == nil { // once a session exists only authenticated pongs count
			n.gotPong(id, false)
			n.kickHandshake()
		}
	default:
		n.handleRecord(m)
	}
}

// checkTimers retries a stalled handshake and resends unacknowledged
// messages while the peer answers pings.
func (n *Node) checkTimers() {
	if !n.attempt.IsZero() && n.now.Sub(n.progress) >= n.cfg.StepTimeout {
		if n.sess == nil {
			n.startHandshake()
		} else {
			// A second handshake while a session is up stalled: it was not
			// the peer's (a replayed public key) or the peer will retry.
			n.init, n.resp, n.pendingSess, n.attempt = nil, nil, nil, time.Time{}
		}
	} else if n.sess == nil && n.attempt.IsZero() {
		n.startHandshake()
	}
	if n.sess != nil && n.live.state == LiveLive {
		n.resend(maxResendPerTick)
	}
}
