// Package net is duet's network transport: opaque byte messages between two
// peers over ZeroMQ (github.com/go-zeromq/zmq4), DEALER -> ROUTER.
//
// Each node binds its main port with a ROUTER (receive only) and dials the
// peer's main port (its sub port) with a DEALER (send only). zmq4 v0.17.0
// trusts whatever reaches its port; duet therefore registers its own zmq4
// transport, "duet-tcp", whose listener and connections check every ZMTP
// greeting, READY command and frame header before zmq4 sees them. See
// docs/DESIGN.md.
//
// net knows no cryptography: it carries what it is given.
package net

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	stdnet "net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// Limits, repeated from duet's protocol package (net imports nothing above
// it; the compile-time check that they agree lives above).
const (
	// MaxMessageSize bounds one ZeroMQ message: all its frames together
	// (hence also one duet message, one frame). docs/PROTOCOL.md section 1.
	MaxMessageSize = 1 << 20
	// MaxBatch bounds the frames (duet messages) of one ZeroMQ message.
	MaxBatch = 64
	// DefaultRecvBudget bounds the bytes of received messages held between
	// the sockets and Recv (see Config.RecvBudget).
	DefaultRecvBudget = 2 << 20
	// DefaultMaxConns bounds the established inbound connections. duet
	// needs one (two during a peer's restart); the rest is room for
	// unproven newcomers, each of which outlives at least this many later
	// arrivals minus the proven ones, so a churner must open this many
	// connections within a peer's round trip to keep it out (512 within
	// ~60 ms at 8k connections/s; docs/DESIGN.md, "Memory and connection
	// bounds").
	DefaultMaxConns = 512
)

// Config configures a Transport. Zero fields take the documented defaults.
type Config struct {
	Bind     string // address the ROUTER binds; default "127.0.0.1"
	MainPort int    // port the ROUTER binds; 0 = any free port (see MainAddr)
	PeerHost string // host the DEALER dials; default "127.0.0.1"
	SubPort  int    // port the DEALER dials (the peer's main port); required

	MaxFrameSize    int           // default MaxMessageSize (1 MiB) per frame
	MaxParts        int           // default MaxBatch (64) frames per message
	MaxMessageBytes int           // default MaxMessageSize (1 MiB): all frames of one message together
	RecvBudget      int           // default DefaultRecvBudget (2 MiB): bytes of complete messages between the sockets and Recv; past it, connections stop being read (TCP pushes back)
	GreetingTimeout time.Duration // default 2 s for the peer's whole greeting + READY
	MaxPendingConns int           // default 256 inbound connections in greeting at once (the oldest is evicted for a newcomer)
	MaxConns        int           // default 512 established inbound connections; those that have not proven reachability (MarkProven) are evicted oldest first for newcomers (see srcQueue)
	SendTimeout     time.Duration // default 1 s: bound on one Send's write
	RedialInterval  time.Duration // default 100 ms between DEALER redials

	Logger *log.Logger // optional; logs rejected connections, never payloads
}

func (c *Config) setDefaults() error {
	if c.Bind == "" {
		c.Bind = "127.0.0.1"
	}
	if c.PeerHost == "" {
		c.PeerHost = "127.0.0.1"
	}
	if c.MainPort < 0 || c.MainPort > 65535 {
		return fmt.Errorf("net: bad main port %d", c.MainPort)
	}
	if c.SubPort <= 0 || c.SubPort > 65535 {
		return fmt.Errorf("net: bad sub port %d", c.SubPort)
	}
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = MaxMessageSize
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = MaxMessageSize
	}
	if c.MaxParts <= 0 {
		c.MaxParts = MaxBatch
	}
	if c.RecvBudget <= 0 {
		c.RecvBudget = DefaultRecvBudget
	}
	if c.GreetingTimeout <= 0 {
		c.GreetingTimeout = 2 * time.Second
	}
	if c.MaxPendingConns <= 0 {
		c.MaxPendingConns = 256
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = time.Second
	}
	if c.RedialInterval <= 0 {
		c.RedialInterval = 100 * time.Millisecond
	}
	return nil
}

// Stats counts connections. Rejections include those on the dial side (a
// hostile listener on the sub port).
type Stats struct {
	Accepted     uint64 // inbound connections that passed the handshake
	Dialed       uint64 // outbound connections that passed the handshake
	DialFailures uint64 // outbound TCP connects that failed (peer down)
	OpenConns    int64  // established connections open now (both directions)
	PendingConns int64  // inbound connections in greeting now

	RejectedFrameTooLarge   uint64
	RejectedTooManyParts    uint64
	RejectedBadFrame        uint64
	RejectedBadGreeting     uint64
	RejectedWrongSocketType uint64
	RejectedGreetingTimeout uint64
	RejectedTooManyPending  uint64
	RejectedTooManyConns    uint64
	EvictedPending          uint64 // oldest pending greetings closed to admit a newcomer
	EvictedConns            uint64 // established, unproven connections closed to admit a newcomer
	RefusedMessages         uint64 // messages refused by the frame guard (over a limit, malformed)
	WriteFailures           uint64 // writes that failed or hit SendTimeout
}

type stats struct {
	accepted, dialed, dialFailures                     atomic.Uint64
	frameTooLarge, tooManyParts, badFrame, badGreeting atomic.Uint64
	wrongSocketType, greetingTimeout, tooManyPending   atomic.Uint64
	tooManyConns, evictedPending, writeFailures        atomic.Uint64
	evictedConns, refusedMessages                      atomic.Uint64
}

// Transport is one duet node's connection pair. It is safe for concurrent
// use; Sends are serialized.
type Transport struct {
	cfg       Config
	id        uint64
	log       *log.Logger
	router    zmq4.Socket
	dealer    zmq4.Socket
	ln        *listener
	mainAddr  string
	dealerID  string // the DEALER's zmq4 identity, announced in duet's READY
	listenErr error  // why listen failed (zmq4 hides it behind its endpoint name)

	// Received frames, in order, waiting for Recv. Their bytes are counted
	// in budUsed, so the queue is bounded by RecvBudget (plus one message
	// per connection), not by a count.
	rqMu    sync.Mutex
	rq      []rxFrame
	rqHead  int
	rqReady chan struct{} // signalled when rq gets a frame

	// Receive budget: data bytes of complete messages handed to zmq4 and
	// not yet returned by Recv. A connection at a message boundary waits
	// while it is reached.
	budMu   sync.Mutex
	budUsed int64
	budWait int           // connections waiting in waitBudget
	budFree chan struct{} // closed (and replaced) when bytes are released and someone waits

	refusedMu  sync.Mutex
	refusedN   uint64 // refused messages not yet reported by RecvFrom
	refusedErr error  // the first of them

	closing chan struct{}
	ctx     context.Context // cancelled when Close starts
	cancel  context.CancelFunc

	closeOnce  sync.Once
	routerDone atomic.Bool
	dealerDone atomic.Bool

	sendMu       sync.Mutex
	sendDeadline atomic.Int64 // monoNow units; the running Send's write deadline

	mu       sync.Mutex
	closed   bool
	conns    map[*guardedConn]struct{}
	byTag    map[string]*guardedConn  // inbound connections by the Identity duet gave them
	pool     map[netip.Addr]*srcQueue // unproven inbound connections by source (pool.go)
	unproven int                      // inbound connections in pool
	proven   int                      // open inbound connections marked proven
	nextConn uint64
	accepted atomic.Int64  // established inbound
	dialed   atomic.Int64  // established outbound
	peerSeen chan struct{} // closed (and replaced) when an inbound connection registers; t.mu
	dialUp   chan struct{} // closed (and replaced) when a connection to the peer registers; t.mu

	stats stats
	wg    sync.WaitGroup
}

// Open binds the ROUTER on Bind:MainPort and starts the DEALER dialling
// PeerHost:SubPort in the background (it redials for ever until Close). ctx
// bounds only Open itself.
func Open(ctx context.Context, cfg Config) (*Transport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := registerTransport(); err != nil {
		return nil, err
	}
	t := &Transport{
		cfg:      cfg,
		rqReady:  make(chan struct{}, 1),
		budFree:  make(chan struct{}),
		closing:  make(chan struct{}),
		conns:    make(map[*guardedConn]struct{}),
		peerSeen: make(chan struct{}),
		dialUp:   make(chan struct{}),
		byTag:    make(map[string]*guardedConn),
		pool:     make(map[netip.Addr]*srcQueue),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.log = cfg.Logger
	zlog := cfg.Logger
	if zlog == nil {
		zlog = log.New(io.Discard, "", 0)
	}
	t.id = instances.add(t)

	t.router = zmq4.NewRouter(context.Background(), zmq4.WithLogger(zlog))
	mainEP := fmt.Sprintf("%s://%s#%d", transportName, stdnet.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.MainPort)), t.id)
	if err := t.router.Listen(mainEP); err != nil {
		t.cancel()
		_ = t.router.Close()
		instances.remove(t.id)
		if t.listenErr != nil {
			err = t.listenErr // ours, without zmq4's internal endpoint name
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("net: %s: %w; is another duet running?", stdnet.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.MainPort)), ErrPortInUse)
		}
		return nil, fmt.Errorf("net: listen on %s: %w", stdnet.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.MainPort)), err)
	}
	t.mainAddr = t.router.Addr().String()

	var idb [8]byte
	_, _ = rand.Read(idb[:])
	dealerID := "duet-" + hex.EncodeToString(idb[:])
	t.dealerID = dealerID
	t.dealer = zmq4.NewDealer(context.Background(),
		zmq4.WithID(zmq4.SocketIdentity(dealerID)),
		zmq4.WithLogger(zlog),
		zmq4.WithAutomaticReconnect(true),
		zmq4.WithDialerMaxRetries(-1),
		// A failed dial waits RedialInterval itself (waitPeerSeen), cut
		// short when the peer connects to us; zmq4 adds only this.
		zmq4.WithDialerRetry(dialerRetryPause),
		zmq4.WithDialerTimeout(cfg.GreetingTimeout),
		// zmq4 abandons (but does not stop) a write whose Send context
		// expires; the connection's own write deadline (SendTimeout) must
		// always fire first so no write outlives its Send.
		zmq4.WithTimeout(cfg.SendTimeout+2*time.Second),
	)
	subEP := fmt.Sprintf("%s://%s#%d", transportName, stdnet.JoinHostPort(cfg.PeerHost, strconv.Itoa(cfg.SubPort)), t.id)

	t.wg.Add(3)
	go t.pump()
	go t.drain()
	go func() {
		defer t.wg.Done()
		// Returns once connected, or after Close. Later reconnects are
		// zmq4's (WithAutomaticReconnect).
		_ = t.dealer.Dial(subEP)
	}()
	return t, nil
}

// MainAddr is the address the ROUTER listens on (host:port).
func (t *Transport) MainAddr() string { return t.mainAddr }

// MainPort is the port the ROUTER listens on.
func (t *Transport) MainPort() int {
	_, p, _ := stdnet.SplitHostPort(t.mainAddr)
	n, _ := strconv.Atoi(p)
	return n
}

// Connecting returns a channel that is closed when the next connection to
// the peer's port is up (after the call), so a Send refused with
// ErrNotConnected can be retried the moment it would succeed: take the
// channel before the Send, and wait on it after the refusal.
func (t *Transport) Connecting() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dialUp
}

// Connected reports whether the DEALER has an established connection.
func (t *Transport) Connected() bool { return t.dialed.Load() > 0 }

func (t *Transport) isClosing() bool {
	select {
	case <-t.closing:
		return true
	default:
		return false
	}
}

// Send sends msgs as one ZeroMQ message, one frame per message. It returns
// ErrNotConnected at once when no connection to the peer is up, and
// otherwise returns within SendTimeout (or ctx's deadline, if earlier). A
// nil return means the bytes were handed to the kernel, not that the peer
// got them.
func (t *Transport) Send(ctx context.Context, msgs ...[]byte) error {
	if len(msgs) == 0 {
		return ErrEmptyBatch
	}
	if len(msgs) > t.cfg.MaxParts {
		return fmt.Errorf("%w: %d frames (limit %d)", ErrTooManyParts, len(msgs), t.cfg.MaxParts)
	}
	total := 0
	for _, m := range msgs {
		if len(m) > t.cfg.MaxFrameSize {
			return fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, len(m), t.cfg.MaxFrameSize)
		}
		total += len(m)
	}
	if total > t.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: message of %d bytes (limit %d)", ErrFrameTooLarge, total, t.cfg.MaxMessageBytes)
	}
	if t.isClosing() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if t.dialed.Load() == 0 {
		return ErrNotConnected
	}
	d := monoNow() + int64(t.cfg.SendTimeout)
	if cd, ok := ctx.Deadline(); ok {
		if m := monoNow() + int64(time.Until(cd)); m < d {
			d = m
		}
	}
	t.sendDeadline.Store(d)
	defer t.sendDeadline.Store(0)
	if err := t.dealer.SendMulti(zmq4.NewMsgFrom(msgs...)); err != nil {
		if t.isClosing() {
			return ErrClosed
		}
		return fmt.Errorf("%w: %v", ErrSendFailed, err)
	}
	return nil
}

// Recv returns the next received frame (one duet message), blocking until
// one arrives, ctx is done or the transport is closed.
func (t *Transport) Recv(ctx context.Context) ([]byte, error) {
	f, err := t.next(ctx, false)
	return f.b, err
}

// RecvFrom is Recv that also names the connection the frame came from (src,
// for MarkProven; 0 if unknown) and reports refused messages: when
// the frame guard refused messages since the last call (a frame or message
// over the limits, a malformed frame: the connection was dropped), it
// returns a *RefusedError first, once for all of them. A *RefusedError is
// not fatal; call RecvFrom again.
func (t *Transport) RecvFrom(ctx context.Context) (b []byte, src uint64, err error) {
	f, err := t.next(ctx, true)
	return f.b, f.src, err
}

// MarkProven tells the transport that a frame from connection src (from
// RecvFrom) proved, to the layer above, that its sender is reachable (it
// answered a challenge sent elsewhere, or was authenticated). Such a
// connection is never evicted to admit a newcomer; until then a connection
// may be (see srcQueue), so that idle or hostile connections cannot hold
// the peer's place. An unknown, closed or evicted src is ignored. net
// itself knows no cryptography.
func (t *Transport) MarkProven(src uint64) {
	if src == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byTag[connTag(src)]
	if c == nil || !c.inPool || c.dead.Load() {
		return
	}
	t.poolRemove(c)
	c.proven.Store(true)
	t.proven++
}

// RefusedError reports messages the transport refused before they reached
// Recv (the connection that sent them was dropped). See RecvFrom.
type RefusedError struct {
	Count uint64 // refused messages since the last report
	Err   error  // the first refusal (wraps ErrFrameTooLarge, ErrTooManyParts or ErrBadFrame)
}

func (e *RefusedError) Error() string {
	if e.Count == 1 {
		return fmt.Sprintf("net: refused a message from the peer's connection: %v", e.Err)
	}
	return fmt.Sprintf("net: refused %d messages from peer connections, first: %v", e.Count, e.Err)
}
func (e *RefusedError) Unwrap() error { return e.Err }

// RefusedCount lets packages that do not import net recognize the error.
func (e *RefusedError) RefusedCount() uint64 { return e.Count }

type rxFrame struct {
	b   []byte
	src uint64
}

func (t *Transport) next(ctx context.Context, report bool) (rxFrame, error) {
	for {
		if t.isClosing() {
			return rxFrame{}, ErrClosed
		}
		if report {
			t.refusedMu.Lock()
			n, first := t.refusedN, t.refusedErr
			t.refusedN, t.refusedErr = 0, nil
			t.refusedMu.Unlock()
			if n > 0 {
				return rxFrame{}, &RefusedError{Count: n, Err: first}
			}
		}
		t.rqMu.Lock()
		if t.rqHead < len(t.rq) {
			f := t.rq[t.rqHead]
			t.rq[t.rqHead] = rxFrame{}
			t.rqHead++
			if t.rqHead == len(t.rq) {
				t.rq, t.rqHead = t.rq[:0], 0
				if cap(t.rq) > 4096 {
					t.rq = nil // do not keep a large backing array after a burst
				}
			}
			t.rqMu.Unlock()
			t.release(len(f.b))
			return f, nil
		}
		t.rqMu.Unlock()
		select {
		case <-t.rqReady:
		case <-t.closing:
			return rxFrame{}, ErrClosed
		case <-ctx.Done():
			return rxFrame{}, ctx.Err()
		}
	}
}

func (t *Transport) enqueue(fs [][]byte, src uint64) {
	t.rqMu.Lock()
	for _, f := range fs {
		if f == nil {
			f = []byte{}
		}
		t.rq = append(t.rq, rxFrame{b: f, src: src})
	}
	t.rqMu.Unlock()
	select {
	case t.rqReady <- struct{}{}:
	default:
	}
}

// charge counts n bytes of complete messages handed to zmq4.
func (t *Transport) charge(n int64) {
	if n == 0 {
		return
	}
	t.budMu.Lock()
	t.budUsed += n
	t.budMu.Unlock()
}

// release uncounts n bytes returned by Recv and wakes waiting connections.
func (t *Transport) release(n int) {
	t.budMu.Lock()
	t.budUsed -= int64(n)
	if t.budWait > 0 && t.budUsed < int64(t.cfg.RecvBudget) {
		t.wakeBudget()
	}
	t.budMu.Unlock()
}

// wakeBudget wakes every connection waiting for budget; budMu held.
func (t *Transport) wakeBudget() {
	if t.budFree != nil {
		close(t.budFree)
		t.budFree = make(chan struct{})
	}
}

// waitBudget blocks the calling connection reader (at a message boundary)
// while RecvBudget is used up, so the kernel buffers fill and TCP pushes
// back on the sender, until bytes are released, c is shut down or the
// transport closes.
func (t *Transport) waitBudget(c *guardedConn) {
	if t.cfg.RecvBudget <= 0 {
		return
	}
	for {
		t.budMu.Lock()
		if t.budFree == nil || t.budUsed < int64(t.cfg.RecvBudget) {
			t.budMu.Unlock()
			return
		}
		ch := t.budFree
		t.budWait++
		t.budMu.Unlock()
		var stop bool
		select {
		case <-ch:
		case <-c.deadCh:
			stop = true
		case <-t.closing:
			stop = true
		}
		t.budMu.Lock()
		t.budWait--
		t.budMu.Unlock()
		if stop {
			return
		}
	}
}

// noteRefused records a message the frame guard refused, for RecvFrom.
func (t *Transport) noteRefused(err error) {
	t.stats.refusedMessages.Add(1)
	t.refusedMu.Lock()
	if t.refusedN == 0 {
		t.refusedErr = err
	}
	t.refusedN++
	t.refusedMu.Unlock()
	select {
	case t.rqReady <- struct{}{}:
	default:
	}
}

// pump moves frames from zmq4's ROUTER to recvCh, dropping the routing id
// frame and ZMTP commands. It keeps draining zmq4 until the ROUTER is
// closed: a zmq4 reader blocked on its full queue would leak.
func (t *Transport) pump() {
	defer t.wg.Done()
	for {
		msg, err := t.router.Recv()
		if err != nil {
			if t.routerDone.Load() {
				return
			}
			time.Sleep(time.Millisecond)
			continue
		}
		if msg.Type == zmq4.CmdMsg || len(msg.Frames) < 2 {
			continue
		}
		// The routing id is the Identity duet gave the connection.
		var src uint64
		t.mu.Lock()
		if c := t.byTag[string(msg.Frames[0])]; c != nil {
			src = c.id
		}
		t.mu.Unlock()
		t.enqueue(msg.Frames[1:], src)
	}
}

// drain discards what the DEALER receives (a legitimate ROUTER peer sends
// nothing; zmq4 queues an error message per lost connection, and a reader
// blocked on the full queue leaks across reconnects).
func (t *Transport) drain() {
	defer t.wg.Done()
	for {
		_, err := t.dealer.Recv()
		if err != nil && t.dealerDone.Load() {
			return
		}
	}
}

// Close closes both sockets and every connection; pending Recv calls return
// ErrClosed. It waits for duet's goroutines and for zmq4's readers.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closing)
		t.cancel()
		t.budMu.Lock()
		t.wakeBudget()
		t.budMu.Unlock()
		t.mu.Lock()
		t.closed = true
		var inbound []*guardedConn
		for c := range t.conns {
			if c.side == sideAccepted {
				inbound = append(inbound, c)
			}
		}
		t.mu.Unlock()

		// 1. No new inbound connections; drop the ones in greeting.
		if t.ln != nil {
			t.ln.stopAccepting()
		}
		// 2. Close inbound connections while pump still drains zmq4, and
		// wait for zmq4's reader goroutines to let go of them.
		for _, c := range inbound {
			c.shutdown()
		}
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			busy := false
			for _, c := range inbound {
				if c.handedOff.Load() && !c.zmqClosed.Load() {
					busy = true
					break
				}
			}
			if !busy {
				break
			}
			time.Sleep(time.Millisecond)
		}
		// 3. Close zmq4's sockets.
		t.routerDone.Store(true)
		_ = t.router.Close()
		t.dealerDone.Store(true)
		_ = t.dealer.Close()
		// 4. Close whatever is left (connections zmq4 got hold of late).
		t.mu.Lock()
		var rest []*guardedConn
		for c := range t.conns {
			rest = append(rest, c)
		}
		t.mu.Unlock()
		for _, c := range rest {
			c.shutdown()
		}
		t.wg.Wait()
		if t.ln != nil {
			t.ln.wg.Wait()
		}
		instances.remove(t.id)
	})
	return nil
}

// Stats returns a snapshot of the connection counters.
func (t *Transport) Stats() Stats {
	s := &t.stats
	var pending int64
	if t.ln != nil {
		pending = t.ln.pendingCount()
	}
	return Stats{
		Accepted:                s.accepted.Load(),
		Dialed:                  s.dialed.Load(),
		DialFailures:            s.dialFailures.Load(),
		OpenConns:               t.accepted.Load() + t.dialed.Load(),
		PendingConns:            pending,
		RejectedFrameTooLarge:   s.frameTooLarge.Load(),
		RejectedTooManyParts:    s.tooManyParts.Load(),
		RejectedBadFrame:        s.badFrame.Load(),
		RejectedBadGreeting:     s.badGreeting.Load(),
		RejectedWrongSocketType: s.wrongSocketType.Load(),
		RejectedGreetingTimeout: s.greetingTimeout.Load(),
		RejectedTooManyPending:  s.tooManyPending.Load(),
		RejectedTooManyConns:    s.tooManyConns.Load(),
		EvictedPending:          s.evictedPending.Load(),
		EvictedConns:            s.evictedConns.Load(),
		RefusedMessages:         s.refusedMessages.Load(),
		WriteFailures:           s.writeFailures.Load(),
	}
}

// reject counts (and logs) a refused connection.
func (t *Transport) reject(err error, addr stdnet.Addr) {
	s := &t.stats
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		s.frameTooLarge.Add(1)
	case errors.Is(err, ErrTooManyParts):
		s.tooManyParts.Add(1)
	case errors.Is(err, ErrBadFrame):
		s.badFrame.Add(1)
	case errors.Is(err, ErrWrongSocketType):
		s.wrongSocketType.Add(1)
	case errors.Is(err, ErrGreetingTimeout):
		s.greetingTimeout.Add(1)
	case errors.Is(err, ErrTooManyPending):
		s.tooManyPending.Add(1)
	case errors.Is(err, ErrTooManyConns):
		s.tooManyConns.Add(1)
	default:
		s.badGreeting.Add(1)
	}
	if t.log != nil {
		a := "?"
		if addr != nil {
			a = addr.String()
		}
		t.log.Printf("net: closed connection from %s: %v", a, err)
	}
}

// register wraps a connection that passed the handshake. It returns nil
// (closing raw) once Close has started.
//
// An inbound connection gets an Identity of duet's own in the READY replayed
// to zmq4 (so each message names its connection, see pump). When MaxConns
// inbound connections are established, an unproven one is closed to make
// room (evictable, see srcQueue); if every one is proven (MarkProven), the
// newcomer is refused (nil).
func (t *Transport) register(raw *stdnet.TCPConn, s side, replay []byte) *guardedConn {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = raw.Close()
		return nil
	}
	var victim *guardedConn
	if s == sideAccepted {
		if t.unproven+t.proven >= t.cfg.MaxConns {
			victim = t.evictable()
			if victim == nil {
				t.mu.Unlock()
				_ = raw.Close()
				t.reject(ErrTooManyConns, raw.RemoteAddr())
				return nil
			}
			t.poolRemove(victim)
			t.stats.evictedConns.Add(1)
		}
		t.nextConn++
		replay = append(replay[:greetingSize:greetingSize], readyCommand(string(zmq4.Dealer), connTag(t.nextConn))...)
	}
	c := newGuardedConn(t, raw, s, replay)
	t.conns[c] = struct{}{}
	if s == sideDialed {
		t.dialed.Add(1)
		t.stats.dialed.Add(1)
		close(t.dialUp) // wake a Send waiting for the connection (Connecting)
		t.dialUp = make(chan struct{})
	} else {
		c.id = t.nextConn
		c.src = sourceOf(raw.RemoteAddr())
		t.byTag[connTag(c.id)] = c
		t.poolAdd(c)
		t.accepted.Add(1)
		t.stats.accepted.Add(1)
		close(t.peerSeen) // wake a dial waiting in waitPeerSeen
		t.peerSeen = make(chan struct{})
	}
	t.mu.Unlock()
	if victim != nil {
		if t.log != nil {
			t.log.Printf("net: closed unproven connection from %s to admit %s", victim.raw.RemoteAddr(), raw.RemoteAddr())
		}
		victim.shutdown()
	}
	return c
}

// fullOfProven reports whether MaxConns inbound connections are established
// and each has proven reachability (MarkProven): no room can be made.
func (t *Transport) fullOfProven() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proven >= t.cfg.MaxConns
}

// connTag is the Identity duet gives inbound connection id in zmq4's eyes.
func connTag(id uint64) string { return "duet-c" + strconv.FormatUint(id, 10) }

func (t *Transport) connClosed(c *guardedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if c.side == sideAccepted && c.id != 0 {
		delete(t.byTag, connTag(c.id))
		t.poolRemove(c)
		if c.proven.Load() {
			t.proven--
		}
	}
	if c.side == sideDialed {
		t.dialed.Add(-1)
	} else {
		t.accepted.Add(-1)
	}
}

// dialerRetryPause is zmq4's pause between dial attempts; the rest of
// RedialInterval is spent in waitPeerSeen.
const dialerRetryPause = time.Millisecond

// waitPeerSeen waits, for up to RedialInterval, until an inbound
// connection passes the ZMTP handshake (the peer, or anyone, connected to
// our ROUTER), and reports whether one did. Every failed dial waits here
// before it returns, so a peer that starts gets our connection within a
// millisecond of connecting to us, not up to RedialInterval later. Anyone
// connecting can shorten the wait, at most once per dial attempt (one
// extra connection attempt to the peer's address).
func (t *Transport) waitPeerSeen(ctx context.Context) bool {
	t.mu.Lock()
	ch := t.peerSeen
	t.mu.Unlock()
	timer := time.NewTimer(t.cfg.RedialInterval)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
	case <-ctx.Done():
	case <-t.closing:
	}
	return false
}

// dial is the DEALER side of duet-tcp: TCP connect, then duet's greeting and
// READY, then the peer's (which must be a ROUTER), all under
// GreetingTimeout. An error makes zmq4 retry after RedialInterval.
func (t *Transport) dial(ctx context.Context, d transport.Dialer, addr string) (stdnet.Conn, error) {
	c, err := t.dialOnce(ctx, d, addr)
	if err != nil && !errors.Is(err, ErrClosed) && t.waitPeerSeen(ctx) {
		// The peer connected to us: it is up now, so dial again at once
		// instead of after RedialInterval (start-up and restarts).
		c, err = t.dialOnce(ctx, d, addr)
	}
	return c, err
}

// dialOnce makes one connection attempt (see dial).
func (t *Transport) dialOnce(ctx context.Context, d transport.Dialer, addr string) (stdnet.Conn, error) {
	if t.isClosing() {
		return nil, ErrClosed
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.stats.dialFailures.Add(1)
		return nil, err
	}
	raw, ok := conn.(*stdnet.TCPConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("net: dial %s: not a TCP connection", addr)
	}
	stop := context.AfterFunc(t.ctx, func() { _ = raw.Close() })
	defer stop()
	_ = raw.SetDeadline(time.Now().Add(t.cfg.GreetingTimeout))
	hello := append(zmtpGreeting[:], readyCommand(string(zmq4.Dealer), t.dealerID)...)
	if _, err := raw.Write(hello); err != nil {
		_ = raw.Close()
		err = ioErr(err, "greeting write")
		t.reject(err, raw.RemoteAddr())
		return nil, err
	}
	hs, err := readHandshake(raw, string(zmq4.Router))
	if err != nil {
		_ = raw.Close()
		t.reject(err, raw.RemoteAddr())
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	c := t.register(raw, sideDialed, hs.raw)
	if c == nil {
		return nil, ErrClosed
	}
	return c, nil
}

// ---- the zmq4 transport "duet-tcp" ----

const transportName = "duet-tcp"

var (
	registerOnce sync.Once
	registerErr  error
)

func registerTransport() error {
	registerOnce.Do(func() {
		registerErr = zmq4.RegisterTransport(transportName, zmqTransport{})
	})
	return registerErr
}

// zmqTransport dispatches zmq4's Listen/Dial to the Transport named in the
// endpoint: "duet-tcp://host:port#id".
type zmqTransport struct{}

func splitEndpoint(ep string) (hostport string, t *Transport, err error) {
	hp, ids, ok := strings.Cut(ep, "#")
	if !ok {
		return "", nil, fmt.Errorf("net: endpoint %q has no instance", ep)
	}
	if _, _, err := stdnet.SplitHostPort(hp); err != nil {
		return "", nil, err
	}
	id, err := strconv.ParseUint(ids, 10, 64)
	if err != nil {
		return "", nil, fmt.Errorf("net: endpoint %q: %w", ep, err)
	}
	t = instances.get(id)
	if t == nil {
		return "", nil, ErrClosed
	}
	return hp, t, nil
}

func (zmqTransport) Addr(ep string) (string, error) {
	if _, _, err := splitEndpoint(ep); err != nil && !errors.Is(err, ErrClosed) {
		return "", err
	}
	return ep, nil
}

func (zmqTransport) Listen(ctx context.Context, addr string) (stdnet.Listener, error) {
	hp, t, err := splitEndpoint(addr)
	if err != nil {
		return nil, err
	}
	return t.listen(hp)
}

func (zmqTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (stdnet.Conn, error) {
	hp, t, err := splitEndpoint(addr)
	if err != nil {
		return nil, err
	}
	return t.dial(ctx, d, hp)
}

type registry struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*Transport
}

var instances = registry{m: make(map[uint64]*Transport)}

func (r *registry) add(t *Transport) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	r.m[r.next] = t
	return r.next
}

func (r *registry) get(id uint64) *Transport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

func (r *registry) remove(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}
