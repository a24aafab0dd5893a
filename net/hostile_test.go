package net

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stdnet "net"

	"github.com/go-zeromq/zmq4"
)

// rawDealer connects to addr and completes a valid ZMTP handshake as a
// DEALER, returning the raw connection for the attacker to abuse.
func rawDealer(t testing.TB, addr string) stdnet.Conn {
	t.Helper()
	c, err := stdnet.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(zmtpGreeting[:], readyCommand("DEALER", "attacker")...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // generous: a busy machine, not a defect
	if _, err := readHandshake(c, "ROUTER"); err != nil {
		t.Fatalf("attacker handshake: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

func dialRaw(t testing.TB, addr string) stdnet.Conn {
	t.Helper()
	c, err := stdnet.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func longHeader(flags byte, size uint64) []byte {
	h := []byte{flags | flagLong, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(h[1:], size)
	return h
}

// closedByPeer reports whether the peer closes c within d (read returns EOF
// or a reset), discarding whatever it sends first.
func closedByPeer(c stdnet.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne stdnet.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

type attack struct {
	name string
	// run starts the attack against addr and returns the open attack
	// connections (closed by the harness after the checks) and a check on
	// the target's stats.
	run   func(t *testing.T, target *Transport, addr string) []stdnet.Conn
	stat  func(s Stats) uint64
	short bool // runs under -short too
	// closed: the target must close the attack connection(s) within 1 s.
	closed bool
}

func attacks() []attack {
	return []attack{
		{
			name: "frame header 8 GiB", short: true, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				c := rawDealer(t, addr)
				_, _ = c.Write(longHeader(0, 8<<30))
				_, _ = c.Write(make([]byte, 4096))
				return []stdnet.Conn{c}
			},
			stat: func(s Stats) uint64 { return s.RejectedFrameTooLarge },
		},
		{
			name: "frame header 2^62", short: true, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				c := rawDealer(t, addr)
				_, _ = c.Write(longHeader(flagMore, 1<<62))
				return []stdnet.Conn{c}
			},
			stat: func(s Stats) uint64 { return s.RejectedFrameTooLarge },
		},
		{
			name: "8 GiB command instead of READY", short: true, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				c := dialRaw(t, addr)
				_, _ = c.Write(append(zmtpGreeting[:], longHeader(flagCommand, 8<<30)...))
				return []stdnet.Conn{c}
			},
			stat: func(s Stats) uint64 { return s.RejectedFrameTooLarge },
		},
		{
			name: "truncated READY metadata", short: true, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				var cs []stdnet.Conn
				for _, body := range [][]byte{
					[]byte("\x05READY\x00"),
					[]byte("\x05READY\x01A"),
					[]byte("\x05READY\x0bSocket-Type\x00\x00\x00\x09DEAL"),
					[]byte("\x05READY\x0bSocket-Type\xff\xff\xff\xffDEALER"),
					[]byte("\x05REA"),
				} {
					c := dialRaw(t, addr)
					_, _ = c.Write(append(zmtpGreeting[:], append([]byte{flagCommand, byte(len(body))}, body...)...))
					cs = append(cs, c)
				}
				return cs
			},
			stat: func(s Stats) uint64 { return s.RejectedBadGreeting },
		},
		{
			name: "2M one-byte MORE frames", short: false, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				c := rawDealer(t, addr)
				chunk := make([]byte, 0, 3*65536)
				for range 65536 {
					chunk = append(chunk, flagMore, 1, 'x')
				}
				w := bufio.NewWriter(c)
				for range 2_000_000 / 65536 {
					if _, err := w.Write(chunk); err != nil {
						break // the target hung up: expected
					}
				}
				_ = w.Flush()
				return []stdnet.Conn{c}
			},
			stat: func(s Stats) uint64 { return s.RejectedTooManyParts },
		},
		{
			name: "64 garbage bytes x500", short: true, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				var cs []stdnet.Conn
				garbage := make([]byte, 64)
				for i := range garbage {
					garbage[i] = byte(i*7 + 3)
				}
				for range 500 {
					c := dialRaw(t, addr)
					_, _ = c.Write(garbage)
					cs = append(cs, c)
				}
				return cs
			},
			stat: func(s Stats) uint64 { return s.RejectedBadGreeting },
		},
		{
			name: "10 bytes then stall", short: true, closed: false,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				c := dialRaw(t, addr)
				_, _ = c.Write(zmtpGreeting[:10])
				return []stdnet.Conn{c}
			},
			stat: nil, // the greeting timeout fires after 2 s, checked in its own test
		},
		{
			name: "1000 idle connections", short: false, closed: false,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				raiseFDLimit(t, 4096)
				var cs []stdnet.Conn
				for range 1000 {
					cs = append(cs, dialRaw(t, addr))
				}
				// A legitimate peer arriving right after the flood gets in
				// once the oldest idle greeting is stale enough to evict.
				// (Timing figures are logged, not asserted: on a loaded
				// machine they vary; the deadlines only catch a real defect.)
				d := legitPeerDelivers(t, target, hostileDeadline)
				t.Logf("legit peer right after the flood delivered in %v", d.Round(time.Millisecond))
				// Those beyond MaxPendingConns are closed at once, the rest
				// at the latest by the greeting timeout: every one is closed
				// and accounted for, whatever the load.
				start := time.Now()
				var closed, fast atomic.Int64
				var wg sync.WaitGroup
				for _, c := range cs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if closedByPeer(c, hostileDeadline) {
							closed.Add(1)
							if time.Since(start) < 300*time.Millisecond {
								fast.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				st := target.Stats()
				t.Logf("idle connections closed by the target: %d of 1000, %d within 300 ms; stats %+v", closed.Load(), fast.Load(), st)
				if closed.Load() < 1000-10 {
					t.Errorf("only %d of 1000 idle connections closed by the target within %v", closed.Load(), hostileDeadline)
				}
				if n := st.RejectedTooManyPending + st.EvictedPending + st.RejectedGreetingTimeout; n < 1000-10 {
					t.Errorf("only %d of 1000 idle connections counted as refused, evicted or timed out: %+v", n, st)
				}
				return cs
			},
			stat: func(s Stats) uint64 { return s.RejectedTooManyPending + s.EvictedPending },
		},
		{
			name: "wrong socket type PUSH and PUB", short: true, closed: true,
			run: func(t *testing.T, target *Transport, addr string) []stdnet.Conn {
				var cs []stdnet.Conn
				for _, typ := range []string{"PUSH", "PUB", "dealer"} {
					c := dialRaw(t, addr)
					_, _ = c.Write(append(zmtpGreeting[:], readyCommand(typ, "")...))
					cs = append(cs, c)
				}
				// And a real zmq4 PUSH socket over stock tcp.
				push := zmq4.NewPush(context.Background(), zmq4.WithLogger(nil), zmq4.WithDialerMaxRetries(0))
				errc := make(chan error, 1)
				go func() { errc <- push.Dial("tcp://" + addr) }()
				select {
				case err := <-errc:
					if err == nil {
						t.Errorf("zmq4 PUSH dial succeeded")
					}
				case <-time.After(hostileDeadline):
					t.Errorf("zmq4 PUSH dial hung for %v", hostileDeadline)
				}
				push.Close()
				return cs
			},
			stat: func(s Stats) uint64 { return s.RejectedWrongSocketType },
		},
	}
}

// hostileDeadline bounds every wait in TestHostile: generous, so that only a
// real defect (a connection never closed, a peer locked out) misses it on a
// loaded machine under -race; the times taken are logged.
const hostileDeadline = 30 * time.Second

func TestHostile(t *testing.T) {
	for _, at := range attacks() {
		t.Run(at.name, func(t *testing.T) {
			if testing.Short() && !at.short {
				t.Skip("long attack")
			}
			a, b := pair(t, nil)
			deliver(t, b, a, []byte("warm"), hostileDeadline)
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			fd0, g0, heap0 := fdCount(), runtime.NumGoroutine(), heapInuse()
			var maxHeap atomic.Uint64
			stopSample := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if h := heapInuse(); h > maxHeap.Load() {
						maxHeap.Store(h)
					}
					select {
					case <-stopSample:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()

			conns := at.run(t, a, a.MainAddr())

			if at.closed {
				for i, c := range conns {
					if !closedByPeer(c, hostileDeadline) {
						t.Errorf("attack connection %d not closed by the target within %v", i, hostileDeadline)
					}
				}
			}
			// A legitimate peer connects and delivers while the attack
			// connections are still open.
			d := legitPeerDelivers(t, a, hostileDeadline)
			// The transport still works.
			deliver(t, b, a, []byte("still alive"), hostileDeadline)
			deliver(t, a, b, []byte("still sending"), hostileDeadline)
			st := a.Stats()
			if at.stat != nil && at.stat(st) == 0 {
				t.Errorf("rejection not counted: %+v", st)
			}
			close(stopSample)
			<-sampled

			for _, c := range conns {
				c.Close()
			}
			fd, g := waitBaseline(t, fd0, g0, 6, 8, hostileDeadline)
			growth := int64(maxHeap.Load()) - int64(heap0)
			t.Logf("legit peer delivered in %v; fds %d -> %d, goroutines %d -> %d, max HeapInuse growth %.1f MiB, VmHWM %d MiB; stats %+v",
				d.Round(time.Millisecond), fd0, fd, g0, g, float64(growth)/(1<<20), vmHWM()>>10, st)
			if growth > 100<<20 {
				t.Errorf("heap grew by %d MiB", growth>>20)
			}
		})
	}
}

// TestGreetingTimeout checks that a stalled greeting is closed after
// GreetingTimeout and counted.
func TestGreetingTimeout(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t), GreetingTimeout: 300 * time.Millisecond})
	start := time.Now() // before the dial: the server's clock starts at its accept
	c := dialRaw(t, a.MainAddr())
	defer c.Close()
	_, _ = c.Write(zmtpGreeting[:10])
	if !closedByPeer(c, 30*time.Second) {
		t.Fatal("stalled greeting not closed")
	}
	el := time.Since(start)
	t.Logf("stalled greeting closed after %v (GreetingTimeout 300 ms)", el)
	if el < 250*time.Millisecond || el > 10*time.Second { // not before the timeout; long after it only on a defect
		t.Errorf("closed after %v, want ~300 ms", el)
	}
	waitFor(t, 30*time.Second, "greeting timeout counted", func() bool { return a.Stats().RejectedGreetingTimeout == 1 })
}

// TestHostileListener puts a hostile ROUTER on the DEALER's sub port: it
// completes the handshake and then sends an 8 GiB frame header to the
// DEALER. The DEALER must drop the connection and redial.
func TestHostileListener(t *testing.T) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*stdnet.TCPAddr).Port
	var accepted atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				_, _ = c.Write(append(zmtpGreeting[:], readyCommand("ROUTER", "")...))
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := readHandshake(c, "DEALER"); err != nil {
					return
				}
				_, _ = c.Write(longHeader(0, 8<<30))
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	a := mustOpen(t, Config{SubPort: port})
	waitFor(t, 30*time.Second, "DEALER redialled the hostile listener", func() bool { return accepted.Load() >= 3 })
	if a.Stats().RejectedFrameTooLarge == 0 {
		t.Fatalf("not counted: %+v", a.Stats())
	}
	// The wrong socket type on the sub port is refused too.
	l2, _ := stdnet.Listen("tcp", "127.0.0.1:0")
	defer l2.Close()
	go func() {
		for {
			c, err := l2.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(append(zmtpGreeting[:], readyCommand("PULL", "")...))
			time.Sleep(50 * time.Millisecond)
			c.Close()
		}
	}()
	b := mustOpen(t, Config{SubPort: l2.Addr().(*stdnet.TCPAddr).Port})
	waitFor(t, 30*time.Second, "wrong type refused", func() bool { return b.Stats().RejectedWrongSocketType >= 1 })
	if b.Connected() {
		t.Fatal("connected to a PULL")
	}
}
