package net

import (
	"bytes"
	"errors"
	stdnet "net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

const (
	readBufSize = 32 << 10 // read-ahead buffer: fewer syscalls than zmq4's 2-byte header reads
	// firstReadBuf is the read-ahead buffer a connection starts with; it
	// doubles after each read that filled it, up to readBufSize. Hundreds of
	// unproven connections sending small messages (MaxConns) then hold
	// 512 bytes each, not 32 KiB.
	firstReadBuf = 512
	bigWrite     = 32 << 10 // writes at least this large go out directly (writev), uncopied
	flushSize    = 64 << 10 // flush the coalescing buffer beyond this
)

type side uint8

const (
	sideAccepted side = iota // our ROUTER's inbound connection
	sideDialed               // our DEALER's outbound connection
)

// guardedConn is the net.Conn duet hands to zmq4 once a peer has passed the
// handshake checks. Reads: it first replays the peer's greeting and READY
// (already read and validated), then passes the peer's bytes through a
// frameScanner and refuses, before zmq4 sees it, any frame header that
// breaks the limits (closing the socket at once). Writes: it swallows
// zmq4's greeting (and on the dial side zmq4's READY), which duet already
// sent itself, then coalesces each outgoing message into one write with a
// deadline.
type guardedConn struct {
	raw  stdnet.Conn
	t    *Transport
	side side
	id   uint64 // inbound: the number in the Identity duet gave it (connTag)

	proven atomic.Bool   // the layer above found it proven (MarkProven); set under t.mu
	src    netip.Addr    // inbound: its source IP (pool key)
	inPool bool          // inbound: in the unproven pool; t.mu
	deadCh chan struct{} // closed by shutdown: wakes a reader waiting for budget

	// Receive budget (inbound only): acct follows the bytes handed to zmq4;
	// charged is how much of acct.doneBytes was counted in the transport's
	// budget.
	acct    frameScanner
	charged uint64

	// Read side: only zmq4's reader goroutine (or its Open) reads.
	replay []byte
	guard  frameScanner
	rbuf   []byte
	r, w   int
	rerr   error
	grow   bool // the last read filled rbuf: the next one gets readBufSize

	handedOff atomic.Bool // zmq4 read the whole replay: its Open succeeds and a reader goroutine owns the conn
	zmqClosed atomic.Bool // zmq4 called Close (its reader goroutine exited)
	dead      atomic.Bool // shut down: Read delivers nothing more, not even buffered bytes

	// Write side.
	wmu        sync.Mutex
	gpos       int  // bytes of zmq4's greeting swallowed so far
	swallowCmd bool // swallow zmq4's READY (dial side: duet sent its own)
	cmdScan    frameScanner
	out        frameScanner
	wbuf       []byte
	werr       error
	wdl        int64 // write deadline set on raw (monoNow units), 0 = none

	closeOnce sync.Once
}

func newGuardedConn(t *Transport, raw stdnet.Conn, s side, replay []byte) *guardedConn {
	c := &guardedConn{
		raw:        raw,
		t:          t,
		side:       s,
		replay:     replay,
		guard:      newFrameScanner(t.cfg.MaxFrameSize, t.cfg.MaxParts, t.cfg.MaxMessageBytes),
		swallowCmd: s == sideDialed,
		cmdScan:    unlimitedScanner(),
		out:        unlimitedScanner(),
		deadCh:     make(chan struct{}),
		acct:       unlimitedScanner(),
	}
	return c
}

// Read implements net.Conn for zmq4's reader.
func (c *guardedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.dead.Load() {
		return 0, &connError{err: stdnet.ErrClosed}
	}
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		if len(c.replay) == 0 {
			c.replay = nil
			c.handedOff.Store(true)
		}
		return n, nil
	}
	if c.side == sideAccepted {
		n, err := c.readData(p)
		c.account(p[:n])
		return n, err
	}
	return c.readData(p)
}

// account runs the bytes handed to zmq4 through acct and charges every
// message they complete to the transport's receive budget (released when
// Recv returns its frames). Partial messages are not charged: each
// connection holds at most one, of at most MaxMessageBytes.
func (c *guardedConn) account(b []byte) {
	if len(b) == 0 {
		return
	}
	_, _, _ = c.acct.scan(b, false)
	if d := c.acct.doneBytes - c.charged; d > 0 {
		c.t.charge(int64(d))
		c.charged = c.acct.doneBytes
	}
}

// readData is Read after the replay. An inbound connection at a message
// boundary first waits while the transport's receive budget is used up:
// the connection is then not read, so TCP pushes back on the sender.
func (c *guardedConn) readData(p []byte) (int, error) {
	if c.side == sideAccepted && c.acct.atBoundary() {
		c.t.waitBudget(c)
		if c.dead.Load() {
			return 0, &connError{err: stdnet.ErrClosed}
		}
	}
	for {
		if c.r < c.w {
			n := copy(p, c.rbuf[c.r:c.w])
			c.r += n
			return n, nil
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
		if len(p) >= readBufSize {
			// Large reads (frame bodies) go straight into zmq4's buffer.
			n, err := c.raw.Read(p)
			ok := c.check(p[:n])
			if ok < n {
				if ok > 0 {
					return ok, nil
				}
				return 0, c.rerr
			}
			if err != nil {
				c.rerr = err
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if c.rbuf == nil || c.grow {
			c.rbuf = make([]byte, min(readBufSize, max(firstReadBuf, 2*len(c.rbuf))))
			c.grow = false
		}
		n, err := c.raw.Read(c.rbuf)
		c.grow = n == len(c.rbuf) && n < readBufSize
		ok := c.check(c.rbuf[:n])
		c.r, c.w = 0, ok
		if err != nil && c.rerr == nil {
			c.rerr = err
		}
	}
}

// check runs the frame guard over freshly read bytes and returns how many of
// them may be delivered. On a violation it records the error and closes the
// socket at once.
func (c *guardedConn) check(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	k, _, err := c.guard.scan(b, false)
	if err == nil {
		return len(b)
	}
	c.rerr = &connError{err: err}
	c.t.reject(err, c.raw.RemoteAddr())
	if c.side == sideAccepted {
		c.t.noteRefused(err)
	}
	c.closeRaw() // free the socket now; the valid bytes before the header still go to zmq4
	return k
}

// Write implements net.Conn for zmq4's writer.
func (c *guardedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	total := len(p)
	if c.gpos < greetingSize {
		k := min(greetingSize-c.gpos, len(p))
		if !bytes.Equal(p[:k], zmtpGreeting[c.gpos:c.gpos+k]) {
			return 0, c.failWrite(errors.New("zmq4's greeting differs from duet's"))
		}
		c.gpos += k
		p = p[k:]
	}
	if c.swallowCmd && len(p) > 0 {
		n, done, err := c.cmdScan.scan(p, true)
		if err != nil {
			return 0, c.failWrite(err)
		}
		p = p[n:]
		if done {
			c.swallowCmd = false
		}
	}
	if len(p) == 0 {
		return total, nil
	}
	if _, _, err := c.out.scan(p, false); err != nil {
		return 0, c.failWrite(err)
	}
	if len(p) >= bigWrite {
		bufs := stdnet.Buffers{p}
		if len(c.wbuf) > 0 {
			bufs = stdnet.Buffers{c.wbuf, p}
		}
		c.setWriteDeadline()
		_, err := bufs.WriteTo(c.raw)
		c.wbuf = c.wbuf[:0]
		if err != nil {
			return 0, c.failWrite(err)
		}
		return total, nil
	}
	c.wbuf = append(c.wbuf, p...)
	if c.out.atBoundary() || len(c.wbuf) >= flushSize {
		c.setWriteDeadline()
		_, err := c.raw.Write(c.wbuf)
		c.wbuf = c.wbuf[:0]
		if err != nil {
			return 0, c.failWrite(err)
		}
	}
	return total, nil
}

// setWriteDeadline bounds the next socket write by the running Send's
// deadline (dial side) or SendTimeout from now. Setting a deadline costs
// about a tenth of a small Send, so a deadline already set is kept while it
// leaves at least half of SendTimeout and is not later than wanted.
func (c *guardedConn) setWriteDeadline() {
	now := monoNow()
	want := now + int64(c.t.cfg.SendTimeout)
	if c.side == sideDialed {
		if u := c.t.sendDeadline.Load(); u != 0 {
			want = u
		}
	}
	if c.wdl != 0 && c.wdl <= want && c.wdl >= now+int64(c.t.cfg.SendTimeout/2) {
		return
	}
	c.wdl = want
	_ = c.raw.SetWriteDeadline(monoTime(want))
}

// procStart anchors monotonic deadlines kept as int64 nanoseconds.
var procStart = time.Now()

func monoNow() int64 { return int64(time.Since(procStart)) }

func monoTime(m int64) time.Time { return procStart.Add(time.Duration(m)) }

// failWrite poisons the write side and closes the socket (zmq4's reader
// then sees the failure and, on the DEALER, redials).
func (c *guardedConn) failWrite(err error) error {
	c.werr = &writeError{err: err}
	c.t.stats.writeFailures.Add(1)
	c.shutdown()
	return c.werr
}

// Close is called by zmq4 (its reader goroutine's exit, or socket Close).
func (c *guardedConn) Close() error {
	c.zmqClosed.Store(true)
	c.shutdown()
	return nil
}

// shutdown closes the socket once and updates the transport's books; Read
// then delivers nothing more.
func (c *guardedConn) shutdown() {
	if !c.dead.Swap(true) && c.deadCh != nil {
		close(c.deadCh)
	}
	c.closeRaw()
}

func (c *guardedConn) closeRaw() {
	c.closeOnce.Do(func() {
		_ = c.raw.Close()
		c.t.connClosed(c)
	})
}

func (c *guardedConn) LocalAddr() stdnet.Addr             { return c.raw.LocalAddr() }
func (c *guardedConn) RemoteAddr() stdnet.Addr            { return c.raw.RemoteAddr() }
func (c *guardedConn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *guardedConn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *guardedConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
