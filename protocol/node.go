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
	"sync/atomic"
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

// outMsg is a chat message this node wrote, kept until the peer's receipt.
// heldChat is a received message waiting for the one written before it.
type heldChat struct {
	chat Chat
	seq  uint32
}

type outMsg struct {
	chat     Chat
	lastSend time.Time // zero: never sent
}

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

// kickHandshake resends our public key when the peer's port is live but we
// have not heard its key: the first one was probably sent before the peer
// was listening. Rate-limited like every public-key reply.
func (n *Node) kickHandshake() {
	if n.sess == nil && n.peer == nil && n.replyBudget.allow(n.now) {
		n.sendPublicKey(true)
	}
}

// isInitiator reports whether this node plays A towards peer.
func (n *Node) isInitiator(peer crypto.Fingerprint) bool { return n.self.Less(peer) }

func (n *Node) sendPublicKey(replyRequested bool) {
	n.sendPublicKeyEcho(replyRequested, n.peerChallenge)
}

// sendPublicKeyEcho sends our public key and challenge, echoing echo.
func (n *Node) sendPublicKeyEcho(replyRequested bool, echo [ChallengeSize]byte) {
	n.queue(AppendPublicKey(nil, PublicKeyMsg{
		ReplyRequested: replyRequested, Challenge: n.challenge, Echo: echo, DER: n.selfDER,
	}))
}

// startHandshake (re)starts an attempt: our public key with a reply
// request, and, if we are A towards a known peer, a fresh hello.
func (n *Node) startHandshake() {
	n.init, n.resp, n.pendingSess = nil, nil, nil
	n.attempt, n.progress = n.now, n.now
	n.sendPublicKey(true)
	if n.peer != nil && n.reachable && n.isInitiator(n.peer.Fingerprint()) {
		n.sendHelloA()
	}
}

func (n *Node) sendHelloA() {
	if !n.signBudget.allow(n.now) {
		return // the step timer retries
	}
	init, hello, err := NewInitiator(n.cfg.Identity, n.peer, n.cfg.Rand, n.now, n.cfg.Window)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	n.init, n.resp, n.pendingSess = init, nil, nil
	n.attempt, n.progress = n.now, n.now
	SetCookie(hello, n.peerChallenge)
	n.queue(hello)
}

func (n *Node) handlePublicKey(m []byte) {
	msg, err := ParsePublicKeyMsg(m)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	pk, err := crypto.ParsePublicKey(msg.DER)
	if err != nil {
		n.reject(fmt.Errorf("%w: %v", ErrMalformed, err), 0, false)
		return
	}
	fp := pk.Fingerprint()
	if fp == n.self {
		n.reject(fmt.Errorf("%w: our own public key", ErrReflected), 0, false)
		return
	}
	if fp == n.blockedPeer {
		return // already reported; a restart is needed to accept it
	}
	echoed := msg.Echo == n.challenge
	candidate := n.peer != nil && n.peer.Fingerprint() == fp
	if !candidate {
		// Which candidate to keep: one that echoed our challenge (it gets
		// what we send to our sub port) is only displaced by another that
		// does; one that proved its key (a verified hello) within the step
		// timeout likewise. A changed key of the real peer is reachable, so
		// it displaces the old one and is then refused, and reported, by
		// key pinning.
		keep := n.peer != nil && !echoed &&
			(n.reachable || !n.verified.IsZero() && n.now.Sub(n.verified) < n.cfg.StepTimeout)
		if !keep {
			n.peer, n.init, n.resp, n.pendingSess, n.verified, n.reachable = pk, nil, nil, nil, time.Time{}, false
			candidate = true
		}
	}
	if candidate {
		n.peerChallenge = msg.Challenge
		if echoed {
			n.reachable = true
		}
	}
	// Answer with our challenge, echoing the sender's, even when it is not
	// the candidate: that is how a peer with a new key (or a new process)
	// gets the challenge it must echo. Replies go to our sub port, so only a
	// reachable host ever sees them, and they are rate-limited.
	// The reachable candidate has a budget of its own, so requests from
	// elsewhere (a flood) cannot starve it.
	budget := n.replyBudget
	if candidate && n.reachable {
		budget = n.peerReplyBudget
	}
	switch {
	case msg.ReplyRequested && budget.allow(n.now):
		n.sendPublicKeyEcho(!(candidate && n.reachable), msg.Challenge)
	case candidate && !n.reachable && budget.allow(n.now):
		n.sendPublicKey(true) // ask for an echo of our challenge
	}
	if !candidate {
		return
	}
	if !n.reachable || !n.isInitiator(fp) {
		return // B waits for A's hello; nobody signs for an unreachable key
	}
	// A peer asking for our key is (re)starting its handshake: it did not
	// get our last hello, so send a fresh one (the sign budget bounds this).
	// Otherwise a hello is sent only if no attempt is under way.
	fresh := n.init != nil && n.now.Sub(n.attempt) < n.cfg.StepTimeout
	if !msg.ReplyRequested && (fresh || n.sess != nil) {
		return
	}
	n.sendHelloA()
}

func (n *Node) handleHello(m []byte) {
	if n.peer == nil || !n.reachable {
		return // no reachable candidate: nothing to verify against (a flood costs nothing)
	}
	if n.isInitiator(n.peer.Fingerprint()) {
		n.handleHelloB(m)
		return
	}
	h, err := CheckHelloA(m, n.cfg.Identity, n.peer, n.now, n.cfg.Window)
	peerFP := n.peer.Fingerprint()
	if err == nil && h.Timestamp <= n.lastHelloTS[peerFP] {
		err = fmt.Errorf("protocol: hello: %w", ErrHelloReplay)
	}
	if err == nil {
		if perr := n.pin(n.peer); perr != nil {
			err = &pinError{perr}
		}
	}
	if err != nil {
		n.reject(err, 0, false)
		n.handshakeEvent(StepVerify, err)
		n.dropBlockedPeer()
		return
	}
	if _, known := n.lastHelloTS[peerFP]; !known && len(n.lastHelloTS) >= maxHelloPeers {
		// Entries older than the window protect nothing: the window does.
		for fp, ts := range n.lastHelloTS {
			if ts < n.now.Add(-n.cfg.Window).UnixNano() {
				delete(n.lastHelloTS, fp)
			}
		}
		if len(n.lastHelloTS) >= maxHelloPeers {
			return // 64 keys passed pinning within one window: refuse new ones
		}
	}
	if !n.signBudget.allow(n.now) {
		return // rate-limited (ErrRateLimited): dropped like any flood; A retries
	}
	resp, hb, err := NewResponder(n.cfg.Identity, n.peer, h, n.cfg.Rand, n.now, n.cfg.Window)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	n.lastHelloTS[peerFP] = h.Timestamp
	n.verified = n.now
	n.resp, n.init, n.pendingSess = resp, nil, nil
	n.attempt, n.progress = n.now, n.now
	SetCookie(hb, n.peerChallenge)
	n.queue(hb)
	n.handshakeEvent(StepPublicKeys, nil)
	n.handshakeEvent(StepHello, nil)
	n.handshakeEvent(StepVerify, nil)
}

// pin runs key pinning on a peer key that proved possession of its private
// key. A refused key is blocked until restart.
func (n *Node) pin(peer *crypto.PublicKey) error {
	if err := n.cfg.VerifyPeer(peer); err != nil {
		if errors.Is(err, crypto.ErrKeyChanged) {
			n.blockedPeer = peer.Fingerprint()
		}
		return err
	}
	return nil
}

// dropBlockedPeer forgets a handshake with a key pinning refused.
func (n *Node) dropBlockedPeer() {
	if n.peer != nil && n.peer.Fingerprint() == n.blockedPeer {
		n.peer, n.init, n.resp, n.pendingSess = nil, nil, nil, nil
	}
}

func (n *Node) handleHelloB(m []byte) {
	if n.init == nil || n.init.state != 0 {
		n.reject(fmt.Errorf("%w: hello without our hello", ErrUnexpected), 0, false)
		return
	}
	kt, err := n.init.HandleHello(m, n.now, n.pin)
	if err != nil {
		n.reject(err, 0, false)
		step := StepVerify
		if !IsPinError(err) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStale) &&
			!errors.Is(err, ErrFuture) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnexpected) {
			step = StepKeyTransport
		}
		n.handshakeEvent(step, err)
		n.dropBlockedPeer()
		return
	}
	n.progress, n.verified = n.now, n.now
	SetCookie(kt, n.peerChallenge)
	n.queue(kt)
	n.handshakeEvent(StepPublicKeys, nil)
	n.handshakeEvent(StepHello, nil)
	n.handshakeEvent(StepVerify, nil)
	n.handshakeEvent(StepKeyTransport, nil)
}

func (n *Node) handleKeyTransport(m []byte) {
	if n.resp == nil || n.resp.done {
		n.reject(fmt.Errorf("%w: key transport without hello", ErrUnexpected), 0, false)
		return
	}
	ack, res, err := n.resp.HandleKeyTransport(m, n.now)
	if err != nil {
		n.reject(err, 0, false)
		n.handshakeEvent(StepKeyTransport, err)
		return
	}
	n.handshakeEvent(StepKeyTransport, nil)
	n.queue(ack)
	n.handshakeEvent(StepAck, nil)
	n.keysReady(res)
}

func (n *Node) handleAck(m []byte) {
	if n.init == nil || n.init.state != 1 {
		n.reject(fmt.Errorf("%w: ack without key transport", ErrUnexpected), 0, false)
		return
	}
	res, err := n.init.HandleAck(m, n.now)
	if err != nil {
		n.reject(err, 0, false)
		n.handshakeEvent(StepAck, err)
		return
	}
	n.handshakeEvent(StepAck, nil)
	n.keysReady(res)
}

// keysReady creates the confirming session and sends our confirmation.
func (n *Node) keysReady(res *HandshakeResult) {
	s, err := NewSession(res, SessionConfig{
		Window: n.cfg.Window, RekeyAfter: n.cfg.RekeyAfter, RekeyInterval: n.cfg.RekeyInterval,
		SendNonceCap: n.cfg.SendNonceCap, NonceCacheSize: n.cfg.NonceCacheSize,
	}, n.cfg.Rand, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	th := s.Transcript()
	rec, _, err := s.Seal(nil, TypeConfirm, th[:], n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	n.pendingSess, n.progress = s, n.now
	n.queue(rec)
}

// establish makes the confirmed session current and resends everything
// not yet acknowledged.
func (n *Node) establish(s *Session) {
	if n.sess != nil {
		n.prevSess, n.prevUntil = n.sess, n.now.Add(prevSessionGrace)
	}
	n.sess, n.pendingSess, n.init, n.resp = s, nil, nil, nil
	n.handshakeEvent(StepConfirm, nil)
	n.attempt = time.Time{}
	peerFP := s.PeerKey().Fingerprint()
	n.mu.Lock()
	n.peerFP, n.safety, n.hasPeer = peerFP, crypto.SafetyNumber(n.self, peerFP), true
	n.mu.Unlock()
	n.emitSession(SessionEstablished, s)
	for _, id := range n.order {
		if m, ok := n.unacked[id]; ok {
			m.lastSend = time.Time{}
		}
	}
	n.resend(len(n.order))
}

func (n *Node) emitSession(state SessionState, s *Session) {
	fp := s.PeerKey().Fingerprint()
	n.emit(SessionEvent{State: state, PeerFingerprint: fp.String(), SafetyNumber: crypto.SafetyNumber(n.self, fp)})
}

func (n *Node) handleRecord(m []byte) {
	h, err := ParseRecordHeader(m)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	if h.Type == TypeConfirm && n.pendingSess != nil {
		_, err := n.pendingSess.Open(n.openBuf, m, n.now) // checks the payload against TH
		if err != nil {
			n.reject(err, h.Seq, errors.Is(err, ErrBadConfirm))
			n.handshakeEvent(StepConfirm, err)
			return
		}
		n.establish(n.pendingSess)
		return
	}
	s := n.sess
	if s == nil {
		return // a record from a session this process does not have: the peer will re-handshake
	}
	o, err := s.Open(n.openBuf, m, n.now)
	if errors.Is(err, ErrTampered) && n.prevSess != nil && n.now.Before(n.prevUntil) {
		// In flight from the session just replaced: accept it there.
		if po, perr := n.prevSess.Open(n.openBuf, m, n.now); perr == nil {
			s, o, err = n.prevSess, po, nil
		}
	}
	if err != nil {
		authed := !errors.Is(err, ErrTampered) && !errors.Is(err, ErrMalformed) &&
			!errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrUnknownType)
		n.reject(err, h.Seq, authed)
		return
	}
	if o.Gap > 0 && s == n.sess {
		n.emit(GapEvent{Missing: o.Gap})
	}
	if o.Rekeyed {
		n.emitSession(SessionRekeyed, s)
	}
	switch h.Type {
	case TypeChat:
		c, _ := ParseChat(o.Payload) // validated by Open
		n.receiveChat(c, h.Seq)
	case TypeReceipt:
		ids, _ := ParseReceipt(nil, o.Payload)
		n.delivered(ids)
	case TypePing:
		id, _ := ParsePingPayload(o.Payload)
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], id)
		n.sealAndQueue(TypePong, p[:])
	case TypePong:
		id, _ := ParsePingPayload(o.Payload)
		n.gotPong(id, true)
	case TypeConfirm:
		// A repeated confirmation in an established session: nothing to do.
	}
}

// receiveChat shows a chat message exactly once and in the order the peer
// wrote it: a message whose Prev has not been shown is held (and not
// acknowledged, so the peer resends it) until Prev is shown.
func (n *Node) receiveChat(c Chat, seq uint32) {
	if _, dup := n.seen[c.ID]; dup {
		n.receipts = append(n.receipts, c.ID) // the first receipt may have been lost
		return
	}
	if c.Prev != 0 {
		if _, ok := n.seen[c.Prev]; !ok {
			n.hold(c, seq)
			return
		}
	}
	for {
		n.show(c, seq)
		next, ok := n.held[c.ID]
		if !ok {
			return
		}
		delete(n.held, c.ID)
		if _, dup := n.seen[next.chat.ID]; dup {
			return
		}
		c, seq = next.chat, next.seq
	}
}

func (n *Node) hold(c Chat, seq uint32) {
	if _, ok := n.held[c.Prev]; !ok {
		for len(n.held) >= maxHeld && len(n.heldOrder) > 0 {
			// The oldest waits for a message that may never come (its
			// sender lost it); dropping it unacknowledged loses nothing the
			// sender still has.
			delete(n.held, n.heldOrder[0])
			n.heldOrder = n.heldOrder[1:]
		}
		n.heldOrder = append(n.heldOrder, c.Prev)
	}
	n.held[c.Prev] = heldChat{chat: c, seq: seq}
	if len(n.heldOrder) > 2*maxHeld { // compact keys already released
		kept := n.heldOrder[:0]
		for _, k := range n.heldOrder {
			if _, ok := n.held[k]; ok {
				kept = append(kept, k)
			}
		}
		n.heldOrder = kept
	}
}

// show emits a message and records it as seen right away: a crash between
// the two writes (microseconds) is the only way a message can be shown
// twice; it is never acknowledged before both.
func (n *Node) show(c Chat, seq uint32) {
	n.markSeen(c.ID)
	ev := MessageEvent{ID: c.ID, Seq: seq, Text: c.Text, SentAt: time.Unix(0, c.SentAt)}
	var recorded atomic.Bool
	var storeErr error
	if n.cfg.Store != nil {
		ev.Shown = func() {
			if recorded.CompareAndSwap(false, true) {
				storeErr = n.cfg.Store.Seen([]uint64{c.ID})
			}
		}
	}
	n.emit(ev)
	if ev.Shown != nil {
		ev.Shown() // no-op if the UI called it; emit has returned either way
		if storeErr != nil {
			n.emit(ErrorEvent{Err: storeErr})
		}
	}
	n.receipts = append(n.receipts, c.ID)
}

// markSeen records a chat id and reports whether it is new.
func (n *Node) markSeen(id uint64) bool {
	if _, dup := n.seen[id]; dup {
		return false
	}
	if len(n.seenRing) < maxSeenIDs {
		n.seenRing = append(n.seenRing, id)
	} else {
		delete(n.seen, n.seenRing[n.seenNext])
		n.seenRing[n.seenNext] = id
		n.seenNext = (n.seenNext + 1) % maxSeenIDs
	}
	n.seen[id] = struct{}{}
	return true
}

func (n *Node) delivered(ids []uint64) {
	removed := ids[:0]
	for _, id := range ids {
		if _, ok := n.unacked[id]; !ok {
			continue
		}
		delete(n.unacked, id)
		removed = append(removed, id)
		n.emit(DeliveredEvent{ID: id})
	}
	if len(removed) == 0 {
		return
	}
	if n.cfg.Store != nil {
		if err := n.cfg.Store.Delivered(removed); err != nil {
			n.emit(ErrorEvent{Err: err})
		}
	}
	n.mu.Lock()
	n.queued -= len(removed)
	n.mu.Unlock()
	if len(n.order) > 1024 && len(n.order) > 2*len(n.unacked) {
		kept := n.order[:0]
		for _, id := range n.order {
			if _, ok := n.unacked[id]; ok {
				kept = append(kept, id)
			}
		}
		n.order = kept
	}
}

func (n *Node) sendReceipts() {
	for len(n.receipts) > 0 && n.sess != nil {
		k := min(len(n.receipts), MaxReceiptIDs)
		n.sealAndQueue(TypeReceipt, AppendReceipt(nil, n.receipts[:k]))
		n.receipts = n.receipts[k:]
	}
	n.receipts = n.receipts[:0]
}

// sealAndQueue seals a record in the current session (rekeying first when
// due) and queues it. It returns the record's seq.
func (n *Node) sealAndQueue(typ byte, payload []byte) (uint32, bool) {
	s := n.sess
	if s == nil {
		return 0, false
	}
	if s.NeedsRekey(n.now) {
		if err := n.rekey(); err != nil {
			return 0, false
		}
	}
	rec, seq, err := s.Seal(nil, typ, payload, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return 0, false
	}
	if s.SeqExhausted() && n.attempt.IsZero() {
		n.startHandshake()
	}
	n.lastRecord = rec
	n.queue(rec)
	return seq, true
}

func (n *Node) rekey() error {
	rec, err := n.sess.Rekey(nil, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return err
	}
	n.lastRecord = rec
	n.queue(rec)
	n.emitSession(SessionRekeyed, n.sess)
	return nil
}

// pump seals pending chat messages while the writer has room.
func (n *Node) pump() {
	if n.sess == nil {
		return
	}
	for n.writerHasRoom() {
		n.mu.Lock()
		k := min(len(n.pending), MaxBatch)
		take := n.pending[:k:k]
		n.pending = n.pending[k:]
		if len(n.pending) == 0 {
			n.pending = nil
		}
		n.mu.Unlock()
		if k == 0 {
			return
		}
		for _, m := range take {
			n.unacked[m.chat.ID] = m
			n.order = append(n.order, m.chat.ID)
			n.sendChat(m)
		}
		n.flush()
	}
}

// chatPayload encodes m, keeping Prev only while the peer has not
// acknowledged it (an acknowledged message has been shown).
func (n *Node) chatPayload(m *outMsg) []byte {
	c := m.chat
	if _, unacked := n.unacked[c.Prev]; !unacked {
		c.Prev = 0
	}
	return AppendChat(make([]byte, 0, ChatHeaderSize+len(c.Text)), &c)
}

func (n *Node) sendChat(m *outMsg) {
	if seq, ok := n.sealAndQueue(TypeChat, n.chatPayload(m)); ok {
		first := m.lastSend.IsZero()
		m.lastSend = n.now
		if first {
			n.emit(SentEvent{ID: m.chat.ID, Seq: seq})
		}
	}
}

// resend re-seals up to limit unacknowledged messages whose last send is
// older than ResendAfter (or never), in the order they were written.
func (n *Node) resend(limit int) {
	if n.sess == nil {
		return
	}
	sent := 0
	for _, id := range n.order {
		if sent >= limit || !n.writerHasRoom() {
			break
		}
		m, ok := n.unacked[id]
		if !ok || (!m.lastSend.IsZero() && n.now.Sub(m.lastSend) < n.cfg.ResendAfter) {
			continue
		}
		if _, ok := n.sealAndQueue(TypeChat, n.chatPayload(m)); ok {
			m.lastSend = n.now
			sent++
		}
	}
}

func (n *Node) sendPing() {
	n.pingID++
	if n.live.pingSent(n.pingID, n.now) {
		n.emit(n.live.event())
	}
	if n.sess != nil {
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], n.pingID)
		n.sealAndQueue(TypePing, p[:])
		return
	}
	n.queue(AppendPlainPing(nil, TypePlainPing, n.pingID))
}

func (n *Node) gotPong(id uint64, authenticated bool) {
	if n.live.pong(id, authenticated, n.now) {
		n.emit(n.live.event())
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
