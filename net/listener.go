package net

import (
	"errors"
	"fmt"
	stdnet "net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// listener is the net.Listener duet gives zmq4's ROUTER. Its own accept loop
// takes TCP connections and checks each peer's greeting and READY in a
// goroutine of its own (at most MaxPendingConns at once, each under
// GreetingTimeout); zmq4's Accept gets only connections that passed, and
// replays them instantly.
type listener struct {
	t     *Transport
	raw   *stdnet.TCPListener
	ready chan *guardedConn

	closed    chan struct{} // zmq4 closed the listener: Accept returns
	closeOnce sync.Once
	stopOnce  sync.Once

	mu      sync.Mutex
	stopped bool
	pending map[*stdnet.TCPConn]time.Time
	wg      sync.WaitGroup
}

func (t *Transport) listen(hostport string) (stdnet.Listener, error) {
	if t.ln != nil {
		return nil, errors.New("net: transport already listening")
	}
	la, err := stdnet.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil, err
	}
	raw, err := stdnet.ListenTCP("tcp", la)
	if err != nil {
		t.listenErr = err
		return nil, err
	}
	l := &listener{
		t:       t,
		raw:     raw,
		ready:   make(chan *guardedConn),
		closed:  make(chan struct{}),
		pending: make(map[*stdnet.TCPConn]time.Time),
	}
	t.ln = l
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Accept hands zmq4 the next connection that passed the handshake checks.
// It returns an error only once zmq4 has closed the listener (zmq4's accept
// loop spins on errors otherwise).
func (l *listener) Accept() (stdnet.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.closed:
		return nil, ErrClosed
	}
}

// Close is called by zmq4's socket Close.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	l.stopAccepting()
	return nil
}

func (l *listener) Addr() stdnet.Addr { return l.raw.Addr() }

// stopAccepting closes the TCP listener and every connection in greeting.
func (l *listener) stopAccepting() {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.stopped = true
		for c := range l.pending {
			_ = c.Close()
		}
		clear(l.pending)
		l.mu.Unlock()
		_ = l.raw.Close()
	})
}

func (l *listener) pendingCount() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.pending))
}

func (l *listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.raw.AcceptTCP()
		if err != nil {
			if errors.Is(err, stdnet.ErrClosed) {
				return
			}
			// EMFILE and the like: back off instead of spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !l.admit(c) {
			continue
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

// admit takes a new connection into greeting (evicting the oldest pending
// one when MaxPendingConns are pending), or closes it at once when MaxConns
// established connections are all proven (otherwise an unproven one may be
// evicted, see register).
func (l *listener) admit(c *stdnet.TCPConn) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		_ = c.Close()
		return false
	}
	now := time.Now()
	if len(l.pending) >= l.t.cfg.MaxPendingConns {
		// The newcomer always gets in and the oldest greeting goes: a
		// legitimate peer's greeting and READY arrive with its first
		// segment, so each greeting gets MaxPendingConns arrivals' time
		// however fast an attacker connects (refusing newcomers instead let
		// a flood of stalled greetings keep the peer out for seconds).
		var oldest *stdnet.TCPConn
		var at time.Time
		for pc, start := range l.pending {
			if oldest == nil || start.Before(at) {
				oldest, at = pc, start
			}
		}
		if oldest != nil {
			delete(l.pending, oldest)
			_ = oldest.Close()
			l.t.stats.evictedPending.Add(1)
		}
	}
	if l.t.fullOfProven() {
		l.mu.Unlock()
		_ = c.Close()
		l.t.reject(ErrTooManyConns, nil)
		return false
	}
	l.pending[c] = now
	l.mu.Unlock()
	return true
}

// handshake writes duet's greeting (libzmq waits for it before sending the
// rest of its own) and reads and checks the peer's greeting and READY, all
// under GreetingTimeout; a connection that passes goes to zmq4's Accept.
func (l *listener) handshake(c *stdnet.TCPConn) {
	defer l.wg.Done()
	_ = c.SetDeadline(time.Now().Add(l.t.cfg.GreetingTimeout))
	var hs handshake
	_, err := c.Write(zmtpGreeting[:])
	if err != nil {
		err = ioErr(err, "greeting write")
	} else {
		hs, err = readHandshake(c, string(zmq4.Dealer))
	}
	l.mu.Lock()
	_, still := l.pending[c]
	delete(l.pending, c)
	l.mu.Unlock()
	if !still { // evicted, or the transport is closing
		_ = c.Close()
		return
	}
	if err != nil {
		_ = c.Close()
		l.t.reject(err, c.RemoteAddr())
		return
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		_ = c.Close()
		l.t.reject(fmt.Errorf("%w: %v", ErrBadGreeting, err), c.RemoteAddr())
		return
	}
	// register makes room by evicting an unproven connection, or refuses
	// when every established one is proven.
	gc := l.t.register(c, sideAccepted, hs.raw)
	if gc == nil {
		return
	}
	select {
	case l.ready <- gc:
	case <-l.closed:
		gc.shutdown()
	case <-l.t.closing:
		gc.shutdown()
	}
}
