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
	// It implements key pinning (known_peers, --peer-fingerprint) and says
	// how far a key that passes is trusted. A non-nil error aborts the
	// handshake; errors wrapping crypto.ErrKeyChanged are reported with
	// reason "key-changed". The node reports each verdict as a
	// PeerKeyEvent (nil: every key passes, and none is reported).
	VerifyPeer func(peer *crypto.PublicKey) (crypto.Trust, error)
	Window     time.Duration // accepted timestamp skew either way (30 s)
	// NotBefore is the earliest plausible sent_at of a received message
	// (DefaultNotBefore): an earlier one is shown at its arrival time, as
	// one later than the arrival plus Window is (MessageEvent).
	NotBefore     time.Time
	PingInterval  time.Duration    // (1 s)
	StepTimeout   time.Duration    // per handshake step before a retry (2 s)
	RekeyInterval time.Duration    // (1 h)
	RekeyAfter    uint32           // records per key epoch before a rekey (1<<24)
	MaxUnacked    int              // chat messages awaiting receipt (100000)
	ResendAfter   time.Duration    // resend an unacknowledged message after (3 s)
	DiskRetry     time.Duration    // while the Store's disk is full, try again every (500 ms)
	Now           func() time.Time // (time.Now)
	Rand          io.Reader        // (crypto/rand.Reader)
	// NonceCacheSize caps the receiver's seen-nonce cache (1<<20 entries).
	NonceCacheSize int
	// SendNonceCap caps the sender's per-epoch set of records sent, kept
	// to recognise them reflected (1<<16; then it starts again).
	SendNonceCap int
	// Store persists the outbox and the seen ids across crashes (nil: in
	// memory only).
	Store Store
	// Records, if not nil, receives one RecordInfo for every message the
	// node handles in (after handling it, with its verdict) and for every
	// message it sends (when it is handed to the transport writer). Each
	// Add is O(1); the log never holds secret material (docs/PROTOCOL.md
	// headers only).
	Records *RecordLog
	// NoTyping: never send TYPING records (Typing does nothing) and ignore
	// the peer's (no TypingEvent): opting out works both ways.
	NoTyping bool
	// NoReadReceipts: never send READ records (MarkRead does nothing) and
	// ignore the peer's (no ReadEvent): opting out works both ways.
	NoReadReceipts bool
}

func (c *Config) fill() error {
	if c.Identity == nil {
		return errors.New("protocol: config: no identity")
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = DefaultNotBefore
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
	if c.DiskRetry <= 0 {
		c.DiskRetry = defaultDiskRetry
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = cryptorand.Reader
	}
	return nil
}

// Driver limits (implementation choices, not wire format).
const (
	outQueueBatches  = 256     // batches waiting for the transport writer
	inQueueMessages  = 1024    // received messages waiting for the loop
	MaxSeenIDs       = 1 << 20 // chat ids remembered for exactly-once display; a Store keeps as many
	maxResendPerTick = 4096
	prevSessionGrace = 5 * time.Second
	maxHelloPeers    = 64   // peer keys whose last hello time is remembered
	maxHeld          = 8192 // received messages waiting for an earlier one
	sendRetryFor     = time.Second
	sendRetryDown    = 300 * time.Millisecond
	// stallAttempts: a StalledEvent is emitted once this many handshake
	// attempts in a row failed although the peer answered in each.
	stallAttempts = 3
	// plainPongRate bounds PLAIN_PONG answers a second (bursts as many):
	// far above a peer's pings (1 a second by default), far below a flood.
	plainPongRate = 20
)

// sendRetryEvery is how often a refused batch is tried again when the
// transport cannot say when its connection comes up (connectNotifier); one
// that can makes the retry happen at once. A variable for tests only.
var sendRetryEvery = 2 * time.Millisecond

// ErrLeft is returned by commands given after Leave: a node that left sends
// nothing more.
var ErrLeft = errors.New("protocol: node has left")

// Node drives one duet endpoint: handshake, session, liveness, delivery.
// Its methods are safe for concurrent use; all protocol state is owned by
// the goroutine running Run, except where a part says otherwise (the
// outbox's pending messages, the inbox's acks, what pub publishes, the
// transport side of link). Each part is documented, and mostly driven, by
// the file named on its field.
type Node struct {
	cfg  Config
	tr   Transport
	emit func(Event)

	// Who we are in every handshake, fixed by NewNode.
	self      crypto.Fingerprint
	selfDER   []byte
	challenge [ChallengeSize]byte // ours, for the life of the process

	wake     chan struct{}
	commands chan func()
	pub      published // observe.go: what other goroutines read (Peer, Status)
	link     link      // queue.go: the queues to and from the transport

	// Owned by the Run goroutine.
	runCtx  context.Context // Run's: once it ends, front ends stop waiting to show
	now     time.Time
	verdict string   // verdict of the message being handled
	left    bool     // Leave was called: send nothing, handle nothing
	sess    *Session // the established session, nil if none

	hs      handshakeState // node_handshake.go: the candidate peer and the attempt with it
	tally   attemptTally   // node_handshake.go: attempts as the user interface sees them
	rec     recordState    // node_records.go: the record layer beside sess
	live    liveness       // liveness.go
	budget  budgets        // ratelimit.go: work unauthenticated input may cause
	rejects *rejectLog     // rejections.go
	outbox  outbox         // node_delivery.go: what we wrote, until the peer's receipt
	inbox   inbox          // node_delivery.go: what we received, until shown and receipted
	disk    diskState      // node_disk.go: while the Store's disk is full

	receipts receiptState // node_receipts.go: typing, read receipts, unknown record types
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
		wake:     make(chan struct{}, 1),
		commands: make(chan func(), 16),
		link: link{
			in:        make(chan inMsg, inQueueMessages),
			out:       make(chan [][]byte, outQueueBatches),
			inBudget:  newByteBudget(inQueueBytes),
			outBudget: newByteBudget(outQueueBytes),
			refused:   refusals{pending: make(chan struct{}, 1)},
			up:        make(chan struct{}, 1),
		},
		outbox: outbox{unacked: make(map[uint64]*outMsg)},
		inbox: inbox{
			seen:        make(map[uint64]struct{}),
			held:        make(map[uint64]heldChat),
			unsavedIDs:  make(map[uint64]struct{}),
			interrupted: make(map[uint64]bool),
		},
		hs:      handshakeState{lastHelloTS: make(map[crypto.Fingerprint]int64)},
		live:    newLiveness(),
		budget:  newBudgets(),
		rejects: newRejectLog(),
		rec:     recordState{openBuf: make([]byte, 0, 2048)},
	}
	n.link.src, _ = tr.(sourceTransport)
	if _, err := io.ReadFull(cfg.Rand, n.challenge[:]); err != nil {
		return nil, fmt.Errorf("protocol: challenge: %w", err)
	}
	n.selfDER = cfg.Identity.Public().DER()
	if cfg.Store != nil {
		st, err := cfg.Store.Load()
		if err != nil {
			return nil, fmt.Errorf("protocol: load delivery state: %w", err)
		}
		for _, c := range st.Outbox {
			c.Prev = n.outbox.lastWritten
			n.outbox.pending = append(n.outbox.pending, &outMsg{chat: c})
			n.outbox.lastWritten = c.ID
		}
		n.outbox.queued = len(st.Outbox)
		for _, id := range st.Seen {
			n.inbox.markSeen(id)
		}
		for _, id := range st.Interrupted {
			n.inbox.interrupted[id] = true
		}
	}
	return n, nil
}

// Fingerprint is this node's identity fingerprint.
func (n *Node) Fingerprint() crypto.Fingerprint { return n.self }

// Peer returns the established peer's fingerprint and the safety number.
func (n *Node) Peer() (fp crypto.Fingerprint, safetyNumber string, ok bool) {
	n.pub.mu.Lock()
	defer n.pub.mu.Unlock()
	return n.pub.peerFP, n.pub.safety, n.pub.hasPeer
}

// Send is SendMessage returning only the id.
func (n *Node) Send(text string) (uint64, error) {
	o, err := n.SendMessage(text)
	return o.ID, err
}

// SendMessage queues one chat message: SendMessages with one text.
func (n *Node) SendMessage(text string) (Outgoing, error) {
	out, err := n.SendMessages([]string{text})
	if err != nil {
		return Outgoing{}, err
	}
	return out[0], nil
}

// ValidText reports why text cannot be a chat message (nil if it can): it
// must be valid UTF-8 of at most MaxTextSize bytes.
func ValidText(text string) error {
	if len(text) > MaxTextSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTextTooLarge, len(text), MaxTextSize)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("protocol: message text is not valid UTF-8")
	}
	return nil
}

// SendMessages queues chat messages, in order, and returns their ids and
// the time each was written, which is the CHAT payload's sent_at: the peer
// shows the same time. With a Store, they are committed to its outbox (one
// commit for all of them) before SendMessages returns and before they are
// sent: a message SendMessages returned is never lost. Each is sent when a
// session exists, resent until the peer's receipt arrives, and shown by the
// peer exactly once. Every text must pass ValidText; at most
// Config.MaxUnacked messages may await receipts (ErrQueueFull). On an
// error no message was queued.
func (n *Node) SendMessages(texts []string) ([]Outgoing, error) {
	for _, text := range texts {
		if err := ValidText(text); err != nil {
			return nil, err
		}
	}
	ids := make([]byte, 8*len(texts))
	if _, err := io.ReadFull(n.cfg.Rand, ids); err != nil {
		return nil, fmt.Errorf("protocol: message id: %w", err)
	}
	// One writer at a time: the Prev chain, the commit order and the send
	// order are the same.
	n.outbox.writeMu.Lock()
	defer n.outbox.writeMu.Unlock()
	n.outbox.mu.Lock()
	if n.outbox.queued+len(texts) > n.cfg.MaxUnacked {
		n.outbox.mu.Unlock()
		return nil, fmt.Errorf("%w: %d waiting", ErrQueueFull, n.cfg.MaxUnacked)
	}
	prev := n.outbox.lastWritten
	n.outbox.mu.Unlock()
	msgs := make([]*outMsg, len(texts))
	chats := make([]Chat, len(texts))
	out := make([]Outgoing, len(texts))
	now := n.cfg.Now().UnixNano()
	for i, text := range texts {
		id := binary.BigEndian.Uint64(ids[8*i:]) | 1 // never 0
		chats[i] = Chat{ID: id, Prev: prev, SentAt: now, Text: text}
		msgs[i] = &outMsg{chat: chats[i]}
		out[i] = Outgoing{ID: id, SentAt: time.Unix(0, now)}
		prev = id
	}
	if n.cfg.Store != nil {
		n.outbox.mu.Lock()
		waiting := len(n.outbox.unsaved) > 0
		n.outbox.mu.Unlock()
		var err error
		if !waiting {
			err = n.cfg.Store.Queue(chats)
		}
		if waiting || errors.Is(err, ErrDiskFull) {
			// Kept in memory, after the lines not saved yet (node_disk.go).
			n.keepUnsaved(msgs, err)
			for i := range out {
				out[i].Unsaved = true
			}
			n.signal()
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("protocol: queue message: %w", err)
		}
	}
	n.outbox.mu.Lock()
	n.outbox.queued += len(texts)
	n.outbox.lastWritten = prev
	n.outbox.pending = append(n.outbox.pending, msgs...)
	n.outbox.mu.Unlock()
	n.signal()
	return out, nil
}

// Rekey moves this node's sending direction to a fresh key epoch now.
func (n *Node) Rekey() error {
	return n.command(func() error {
		if n.left {
			return ErrLeft
		}
		if n.sess == nil {
			return ErrNoSession
		}
		return n.startHeal()
	})
}

// Replay re-sends the last CHAT record this node sealed, byte for byte, so
// the peer's rejection can be watched, and emits a ReplayedEvent naming it.
// The record is the current session's last CHAT or, when none was sealed
// in it yet (a new session after a restart of either side), the last one
// of an earlier session (ReplayedEvent.EarlierSession): its key has moved
// on and the peer refuses it as tampered (or as a replay while the
// replaced session's grace lasts). It is never a record of another type:
// with no CHAT sealed since the node started, Replay sends nothing and
// returns ErrNothingToReplay. The RecordLog shows the copy with the
// verdict "replayed".
func (n *Node) Replay() error {
	return n.command(func() error {
		if n.left {
			return ErrLeft
		}
		rec := n.rec.lastChat
		if rec == nil {
			return ErrNothingToReplay
		}
		n.queueAs(rec, VerdictReplayed)
		ev := ReplayedEvent{Type: rec[1], EarlierSession: n.rec.lastChatSess != n.sess}
		if IsRecordType(rec[1]) && len(rec) >= RecordHeaderSize {
			ev.Seq, ev.HasSeq = binary.BigEndian.Uint32(rec[2:]), true
		}
		n.emit(ev)
		return nil
	})
}

// AcceptPeerKey forgets the peer key that Config.VerifyPeer refused (key
// pinning: "key changed"), so that the next handshake with it runs
// VerifyPeer again. The caller first makes VerifyPeer accept the new key
// (for example crypto.KnownPeers.Replace): the user accepted it on purpose.
// Until then a refused key is ignored, at no cost, for the life of the node.
func (n *Node) AcceptPeerKey() {
	_ = n.command(func() error {
		n.hs.blockedPeer = crypto.Fingerprint{}
		return nil
	})
}

// Leave ends the session cleanly: if one is up, it seals an authenticated
// GOODBYE record in it (docs/PROTOCOL.md, section 8) and hands it straight
// to the transport, in one unit after what the current loop turn had
// queued, not through the batch queue (which may drop), and waits until
// the transport accepted it (retrying while the transport refuses, e.g.
// during a reconnection) or ctx ends. The peer then reports its session
// as SessionPeerLeft at once instead of waiting for pings to fail.
//
// Without a session Leave sends nothing and returns nil. In both cases the
// node has left when Leave returns: it sends nothing more (in that session
// or any other) and ignores what it receives until Run returns, so Leave is
// the last thing to call before stopping Run. Records already handed to the
// transport writer may still go out, possibly after the GOODBYE; the peer
// ignores them. Transport.Send must be safe for concurrent use (net's and
// Pipe's are): the GOODBYE is sent from the caller's goroutine. Give ctx a
// deadline (about a second): with the peer's port unreachable, Leave keeps
// retrying until ctx ends.
func (n *Node) Leave(ctx context.Context) error {
	var msgs [][]byte
	err := n.commandCtx(ctx, func() error {
		if n.left {
			return nil
		}
		if n.sess != nil {
			r, _, err := n.sess.Seal(nil, TypeGoodbye, nil, n.now)
			if err != nil {
				return err
			}
			// What this turn queued goes first, in the same transport unit.
			if len(n.link.batch) >= MaxBatch || n.link.batchBytes+len(r) > MaxMessageSize {
				n.flush()
			}
			msgs = append(n.link.batch, r)
			n.logOut(r, VerdictSent)
		}
		n.left = true
		n.link.batch, n.link.batchBytes = nil, 0
		return nil
	})
	if err != nil {
		return fmt.Errorf("protocol: leave: %w", err)
	}
	for msgs != nil {
		err := n.tr.Send(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("protocol: leave: goodbye not sent: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("protocol: leave: goodbye not sent: %w", err)
		case <-time.After(sendRetryEvery):
		}
	}
	return nil
}

// Status returns the snapshot the Run goroutine published at the end of
// its last loop turn (the zero Status before Run started). It takes a short
// mutex and never waits for the session.
func (n *Node) Status() Status {
	n.pub.mu.Lock()
	defer n.pub.mu.Unlock()
	return n.pub.status
}

// publishStatus copies the Run goroutine's state into the snapshot.
func (n *Node) publishStatus() {
	st := Status{
		Live:           n.live.state,
		RTT:            n.live.rtt,
		LastPong:       n.live.lastPong,
		Authenticated:  n.live.authenticated,
		HandshakeStep:  n.tally.step,
		AttemptStarted: n.tally.start,
		Attempts:       n.tally.count,
	}
	if s := n.sess; s != nil {
		st.HasSession = true
		st.SendSeq, st.RecvSeq = s.SendSeq(), s.RecvSeq()
		st.SendEpoch, st.RecvEpoch = s.SendEpoch(), s.RecvEpoch()
		st.NextRekey = s.NextRekey()
	}
	n.outbox.mu.Lock()
	st.Unacked = n.outbox.queued
	n.outbox.mu.Unlock()
	n.pub.mu.Lock()
	n.pub.status = st
	n.pub.mu.Unlock()
}

// command runs f on the Run goroutine and waits for its result, for up to
// 5 s each way.
func (n *Node) command(f func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.commandCtx(ctx, f)
}

// commandCtx runs f on the Run goroutine and waits for its result until
// ctx ends.
func (n *Node) commandCtx(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	select {
	case n.commands <- func() { done <- f() }:
	case <-ctx.Done():
		return fmt.Errorf("protocol: node not running: %w", ctx.Err())
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("protocol: node not responding: %w", ctx.Err())
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
	n.runCtx = ctx
	recvErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.readLoop(ctx, recvErr) }()
	go func() { defer wg.Done(); n.writeLoop(ctx) }()
	if cn, ok := n.tr.(connectNotifier); ok {
		first := cn.Connecting() // before anything is sent
		wg.Add(1)
		go func() { defer wg.Done(); n.link.watchUp(ctx, cn, first) }()
	}
	defer wg.Wait()
	defer n.stopDisk()
	defer cancel() // before Wait: the loops stop on ctx

	n.now = n.cfg.Now()
	n.startHandshake()
	n.sendPing()
	n.flush()
	n.publishStatus()
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
		case m := <-n.link.in:
			n.now = n.cfg.Now()
			n.handleQueued(m)
		case <-n.link.refused.pending:
			n.now = n.cfg.Now()
			n.reportRefusals(n.now)
		case <-n.link.up:
			n.now = n.cfg.Now()
			n.reconnected()
		case f := <-n.commands:
			n.now = n.cfg.Now()
			f()
		case <-n.wake:
			n.now = n.cfg.Now()
		case <-n.disk.tick:
			n.now = n.cfg.Now()
			n.retryDisk()
		case <-ping.C:
			n.now = n.cfg.Now()
			if !n.left {
				n.sendPing()
			}
		case <-step.C:
			n.now = n.cfg.Now()
			if !n.left {
				n.checkTimers()
			}
		}
		n.endTurn()
	}
}

// handleQueued handles m, then up to inQueueMessages more that are already
// queued, in one loop turn.
func (n *Node) handleQueued(m inMsg) {
	n.handleIn(m)
	for i := 0; i < inQueueMessages; i++ {
		select {
		case m = <-n.link.in:
			n.handleIn(m)
		default:
			return
		}
	}
}

// endTurn ends a loop turn: it shows what was received, acknowledges what
// is durably seen, seals what is pending, hands the batch to the writer,
// and publishes the Status.
func (n *Node) endTurn() {
	if !n.left {
		n.showPending()
		n.takeAcks()
		n.sendReceipts()
		n.sendCourtesies()
		n.checkDisk()
		n.pump()
		n.flush()
	}
	n.reportRefusals(n.now)
	n.publishStatus()
}

func (n *Node) close() {
	n.rejects.flush(n.now, true, n.emit)
	if n.sess != nil {
		n.emitSession(SessionClosed, n.sess)
	}
}

// readLoop moves received messages to the loop. The queue is bounded in
// bytes (inQueueBytes): while it is full the reader does not call Recv, so
// the transport stops reading and TCP pushes back on the sender.
func (n *Node) readLoop(ctx context.Context, errc chan<- error) {
	for {
		var m inMsg
		var err error
		if n.link.src != nil {
			m.b, m.src, err = n.link.src.RecvFrom(ctx)
		} else {
			m.b, err = n.tr.Recv(ctx)
		}
		if err != nil {
			if r, ok := isRefused(err); ok {
				n.link.refused.add(r)
				continue
			}
			if ctx.Err() == nil {
				errc <- err
			}
			return
		}
		if err := n.link.inBudget.acquire(ctx, len(m.b)); err != nil {
			return
		}
		select {
		case n.link.in <- m:
		case <-ctx.Done():
			return
		}
	}
}

// handleIn handles one received message, gives its bytes back to the
// queue budget, and tells the transport when the message proved the
// connection it came from (see proves).
func (n *Node) handleIn(m inMsg) {
	n.handle(m.b)
	n.link.inBudget.release(len(m.b))
	if m.src != 0 && m.src != n.link.markedSrc && n.link.src != nil && n.verdict == VerdictAccepted && n.proves(m.b) {
		n.link.src.MarkProven(m.src)
		n.link.markedSrc = m.src
	}
}

// proves reports whether accepted message m proves that its sender is
// reachable, so the transport never evicts its connection for a newcomer:
// a PUBLIC_KEY whose echo is our challenge (only a host that gets what we
// send to our sub port knows it), a session record opened under the
// session key, or a handshake message that passed the cookie (our
// challenge, the same proof) and its signature or MAC.
func (n *Node) proves(m []byte) bool {
	if len(m) < 2 {
		return false
	}
	if m[1] == TypePublicKey {
		pk, err := ParsePublicKeyMsg(m)
		return err == nil && pk.Echo == n.challenge
	}
	return IsRecordType(m[1]) || m[1] == TypeHello || m[1] == TypeKeyTransport || m[1] == TypeAck
}

func (n *Node) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-n.link.out:
			n.sendBatch(ctx, b)
			n.link.outBudget.release(batchBytes(b))
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
	if n.link.sendDown {
		retry = sendRetryDown
	}
	// Down, and newer batches wait: only the newest gets retries.
	newerWaits := func() bool { return n.link.sendDown && len(n.link.out) > 0 }
	switch err := SendWhenUp(ctx, n.tr, retry, newerWaits, b...); {
	case err == nil:
		n.link.sendDown = false
	case ctx.Err() == nil:
		n.link.sendDown = true // given up: retry passed, or down already
	}
}

// queue adds one message to the batch sent at the end of this loop turn.
// A batch holds at most MaxBatch messages and MaxMessageSize bytes. After
// Leave nothing is queued.
func (n *Node) queue(m []byte) { n.queueAs(m, VerdictSent) }

// queueAs is queue, recording m in the RecordLog with verdict.
func (n *Node) queueAs(m []byte, verdict string) {
	if n.left {
		return
	}
	n.logOut(m, verdict)
	if n.link.batchBytes+len(m) > MaxMessageSize {
		n.flush()
	}
	n.link.batch = append(n.link.batch, m)
	n.link.batchBytes += len(m)
	if len(n.link.batch) == MaxBatch {
		n.flush()
	}
}

// flush hands the batch to the writer. If the writer is backed up (in
// batches or in bytes, outQueueBytes) the batch is dropped: everything in
// it is either resent (chat) or periodic.
func (n *Node) flush() {
	if len(n.link.batch) == 0 {
		return
	}
	if n.link.outBudget.tryAcquire(n.link.batchBytes) {
		select {
		case n.link.out <- n.link.batch:
		default:
			n.link.outBudget.release(n.link.batchBytes)
		}
	}
	n.link.batch, n.link.batchBytes = nil, 0
}

func (n *Node) writerHasRoom() bool {
	return len(n.link.out) < outQueueBatches/2 && n.link.outBudget.below(0.5)
}

// reject reports refused peer input. State did not change.
func (n *Node) reject(err error, seq uint32, hasSeq bool) {
	var pe *pinError
	if errors.As(err, &pe) && !errors.Is(err, ErrKeyChanged) {
		// Key pinning failed here (known_peers could not be read or
		// written, e.g. a full disk): not something the peer did, so an
		// error saying what failed, not a rejection.
		n.ignore()
		n.emit(ErrorEvent{Err: pe.err})
		return
	}
	n.verdict = Reason(err)
	// Reports are bounded: see rejectLog.
	if ev, ok := n.rejects.add(RejectedEvent{Reason: n.verdict, Seq: seq, HasSeq: hasSeq, Detail: err.Error()}, n.now); ok {
		n.emit(ev)
	}
}

// ignore marks the message being handled as dropped without a rejection:
// well-formed as far as it was read, but not for us now.
func (n *Node) ignore() { n.verdict = VerdictIgnored }

// logIn records a received message and its verdict in the RecordLog.
func (n *Node) logIn(m []byte, verdict string) {
	if n.cfg.Records != nil {
		n.cfg.Records.Add(n.recordInfo(m, DirIn, verdict))
	}
}

// logOut records a message handed to the transport.
func (n *Node) logOut(m []byte, verdict string) {
	if n.cfg.Records != nil {
		n.cfg.Records.Add(n.recordInfo(m, DirOut, verdict))
	}
}

// recordInfo describes m from its clear-text bytes only: the type, and for
// session records the header's seq, timestamp and first 4 nonce bytes
// (unauthenticated when the record was rejected).
func (n *Node) recordInfo(m []byte, dir Direction, verdict string) RecordInfo {
	r := RecordInfo{At: n.now, Dir: dir, Size: len(m), Verdict: verdict}
	if len(m) >= 2 && m[0] == Version {
		r.Type = m[1]
	}
	if IsRecordType(r.Type) && len(m) >= RecordHeaderSize {
		r.Seq, r.HasSeq = binary.BigEndian.Uint32(m[2:]), true
		r.Timestamp = time.Unix(0, int64(binary.BigEndian.Uint64(m[6:])))
		copy(r.Nonce[:], m[14:18])
		r.HasNonce = true
	}
	return r
}

func (n *Node) handshakeEvent(step int, err error) {
	var d time.Duration
	if !n.hs.attempt.IsZero() {
		d = n.now.Sub(n.hs.attempt)
	}
	if err == nil {
		n.tally.stepDone(step)
	}
	n.emit(HandshakeEvent{Step: step, Name: StepName(step), Done: err == nil, Duration: d, Err: err})
}

// handle handles one received message and records it in the RecordLog
// with its verdict. After Leave everything is ignored.
func (n *Node) handle(m []byte) {
	n.verdict = VerdictAccepted
	if n.left {
		n.ignore()
	} else {
		n.handleMsg(m)
	}
	n.logIn(m, n.verdict)
}

func (n *Node) handleMsg(m []byte) {
	t, err := MessageType(m)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	switch t {
	case TypePublicKey:
		n.handlePublicKey(m)
	case TypeHello, TypeKeyTransport:
		n.handleSigned(t, m)
	case TypeAck:
		n.handleAck(m)
	case TypePlainPing:
		n.handlePlainPing(m)
	case TypePlainPong:
		n.handlePlainPong(m)
	default:
		n.handleRecord(m)
	}
}

// handleSigned admits a HELLO or KEY_TRANSPORT (type t) to its handler, or
// drops it before any RSA work.
func (n *Node) handleSigned(t byte, m []byte) {
	// Both cost an RSA verification. First the cookie: only a host that
	// receives what we send to our sub port knows our challenge, so a
	// flood from anywhere else is dropped for the price of a compare.
	// Then the length (a stripped ML-KEM share is refused here, as
	// "downgrade"). Then the budget.
	if c, ok := Cookie(m); !ok || subtle.ConstantTimeCompare(c[:], n.challenge[:]) != 1 {
		n.ignore()
		return
	}
	if err := checkSignedSize(t, m); err != nil {
		n.reject(err, 0, false)
		return
	}
	if !n.budget.verify.allow(n.now) {
		n.ignore()
		return // flood: dropped without spending RSA time
	}
	if t == TypeHello {
		n.handleHello(m)
	} else {
		n.handleKeyTransport(m)
	}
}

// handlePlainPing answers a PLAIN_PING with a PLAIN_PONG.
func (n *Node) handlePlainPing(m []byte) {
	id, err := ParsePlainPing(m, TypePlainPing)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	// Anyone can send a plain ping, and the answer goes to the peer:
	// answers are rate-limited so a flood is not reflected onto it.
	if !n.budget.pong.allow(n.now) {
		n.ignore()
		return
	}
	n.queue(AppendPlainPing(nil, TypePlainPong, id))
	n.kickHandshake()
}

// handlePlainPong counts a PLAIN_PONG for liveness while no session exists.
func (n *Node) handlePlainPong(m []byte) {
	id, err := ParsePlainPing(m, TypePlainPong)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	if n.sess == nil { // once a session exists only authenticated pongs count
		n.tally.answered = true
		n.gotPong(id, false)
		n.kickHandshake()
	} else {
		n.ignore()
	}
}

// checkTimers retries a stalled handshake and resends unacknowledged
// messages while the peer answers pings.
func (n *Node) checkTimers() {
	if !n.hs.attempt.IsZero() && n.now.Sub(n.hs.progress) >= n.cfg.StepTimeout {
		if n.sess == nil {
			n.startHandshake()
		} else {
			// A second handshake while a session is up stalled: it was not
			// the peer's (a replayed public key) or the peer will retry.
			n.hs.retire(n.now)
			n.hs.init, n.hs.resp, n.hs.pendingSess, n.hs.attempt = nil, nil, nil, time.Time{}
		}
	} else if n.sess == nil && n.hs.attempt.IsZero() {
		n.startHandshake()
	}
	if n.sess != nil && n.live.state == LiveLive {
		n.resend(maxResendPerTick)
	}
	n.retryProof()
	n.expireTyping()
	n.rejects.flush(n.now, false, n.emit)
}
