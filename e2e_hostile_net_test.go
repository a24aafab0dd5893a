package main

// Process-level attacks on duet's transport (issue 7, items 1, 2, 5 and the
// transport limits): real `duet --headless` processes, attackers speaking
// ZMTP over raw TCP on loopback. Each test prints the figures the issue asks
// for; timing asserts are generous (a loaded 2-core machine must pass), the
// memory bound is the target itself.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duet/protocol"
)

// peakRSSLimitKiB is issue 7's target for the receiver's VmHWM under a flood.
const peakRSSLimitKiB = 64 << 10

// zmtpReadyFrame is a ZMTP READY command frame announcing sockType.
func zmtpReadyFrame(sockType string) []byte {
	body := []byte{5}
	body = append(body, "READY"...)
	body = append(body, byte(len("Socket-Type")))
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(sockType)))
	body = append(body, sockType...)
	return append([]byte{0x04, byte(len(body))}, body...)
}

// zmtpGreetingBytes is a ZMTP 3.0 NULL greeting.
func zmtpGreetingBytes() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:], "NULL")
	return g
}

// zmtpDial connects to 127.0.0.1:port and completes a ZMTP handshake as a
// DEALER: the connection is then established in duet's ROUTER.
func zmtpDial(port int, timeout time.Duration) (*stdnet.TCPConn, error) {
	c, err := stdnet.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), timeout)
	if err != nil {
		return nil, err
	}
	tc := c.(*stdnet.TCPConn)
	tc.SetDeadline(time.Now().Add(timeout))
	if _, err := tc.Write(append(zmtpGreetingBytes(), zmtpReadyFrame("DEALER")...)); err != nil {
		tc.Close()
		return nil, err
	}
	var g [64 + 2]byte
	if _, err := io.ReadFull(tc, g[:]); err != nil {
		tc.Close()
		return nil, err
	}
	if g[64]&0x02 != 0 {
		tc.Close()
		return nil, fmt.Errorf("long READY")
	}
	if _, err := io.ReadFull(tc, make([]byte, g[65])); err != nil {
		tc.Close()
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// zmtpMessage encodes frames as one ZMTP message.
func zmtpMessage(frames ...[]byte) []byte {
	var b []byte
	for i, f := range frames {
		fl := byte(0)
		if i < len(frames)-1 {
			fl = 0x01
		}
		if len(f) > 255 {
			b = append(b, fl|0x02)
			b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		} else {
			b = append(b, fl, byte(len(f)))
		}
		b = append(b, f...)
	}
	return b
}

// duetFrame is a frame of size bytes whose first bytes look like a duet
// message of type typ (version 1).
func duetFrame(typ byte, size int) []byte {
	f := make([]byte, size)
	for i := range f {
		f[i] = byte(i * 7)
	}
	f[0], f[1] = 1, typ
	return f
}

// runAttackers runs n goroutines, each calling one(i) again and again
// until stop is closed; the test's cleanup closes stop (if the test did
// not) and waits for them.
func runAttackers(t *testing.T, n int, stop chan struct{}, one func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				one(i)
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
}

// flood keeps conns connections to port writing msg as fast as they can,
// reconnecting when duet drops them, until stop is closed. It returns the
// bytes written so far.
func flood(t *testing.T, port, conns int, msg []byte, stop chan struct{}) *atomic.Int64 {
	t.Helper()
	var sent atomic.Int64
	runAttackers(t, conns, stop, func(int) {
		c, err := zmtpDial(port, 2*time.Second)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			return
		}
		go func() { <-stop; c.Close() }()
		for {
			c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := c.Write(msg)
			sent.Add(int64(n))
			if err != nil {
				if ne, ok := err.(stdnet.Error); ok && ne.Timeout() {
					select {
					case <-stop:
						return
					default:
						continue // pushed back: keep trying
					}
				}
				c.Close()
				return
			}
		}
	})
	return &sent
}

func hwmKiB(t *testing.T, p *proc) int64 {
	t.Helper()
	_, hwm, err := rssKiB(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return hwm
}

// honestLatencies sends n messages from b to a, one every gap, each waited
// for (up to 20 s), and returns each one's latency as seen by the test.
func honestLatencies(t *testing.T, a, b *proc, prefix string, n int, gap time.Duration) []time.Duration {
	t.Helper()
	var lat []time.Duration
	for i := range n {
		text := fmt.Sprintf("%s %d", prefix, i)
		start := time.Now()
		b.send(text)
		a.waitFor(t, 20*time.Second, text, func(e event) bool { return e.Event == "message" && e.Text == text })
		lat = append(lat, time.Since(start))
		time.Sleep(gap)
	}
	return lat
}

func latencySummary(lat []time.Duration) string {
	s := slices.Clone(lat)
	slices.Sort(s)
	return fmt.Sprintf("median %v, max %v (%d messages)", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond), len(s))
}

// floodTest floods A, which has a session with B, with msg over conns
// connections while B's honest messages must still arrive; A's peak RSS
// must stay under peakRSSLimitKiB.
func floodTest(t *testing.T, what string, conns int, msg []byte) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	before := hwmKiB(t, a)
	stop := make(chan struct{})
	sent := flood(t, pr.portA, conns, msg, stop)
	start := time.Now()
	time.Sleep(time.Second)
	lat := honestLatencies(t, a, b, "honest", 12, 400*time.Millisecond)
	wall := time.Since(start)
	close(stop)
	hwm := hwmKiB(t, a)
	t.Logf("%s over %d connection(s): %.0f MiB sent in %v (%.0f MiB/s); A's VmHWM %d KiB before, %d KiB after (limit %d KiB); B's messages: %s",
		what, conns, float64(sent.Load())/(1<<20), wall.Round(time.Millisecond), float64(sent.Load())/(1<<20)/wall.Seconds(),
		before, hwm, peakRSSLimitKiB, latencySummary(lat))
	if sent.Load() < 64<<20 {
		t.Errorf("only %d bytes of flood sent: the attack did not happen", sent.Load())
	}
	if hwm >= peakRSSLimitKiB {
		t.Errorf("A's peak RSS %d KiB under the flood, target < %d KiB", hwm, peakRSSLimitKiB)
	}
	if !a.running() {
		t.Fatal("A died under the flood")
	}
}

// TestHostileNetFloodRecords: 1 MiB record-typed frames as fast as two
// connections can send them (issue 7 item 1: 2.6 GiB before).
func TestHostileNetFloodRecords(t *testing.T) {
	floodTest(t, "1 MiB CHAT-typed frames", 2, zmtpMessage(duetFrame(0x11, 1<<20)))
}

// TestHostileNetFloodPublicKeys: 1 MiB malformed PUBLIC_KEY frames (265 MiB
// before).
func TestHostileNetFloodPublicKeys(t *testing.T) {
	floodTest(t, "1 MiB malformed PUBLIC_KEY frames", 2, zmtpMessage(duetFrame(0x01, 1<<20)))
}

// TestHostileNetFloodStalledStdout: A's stdout stops being read while B
// sends and an attacker floods (1.28 GiB before). Nothing may pile up in A
// beyond the byte budgets: the flood is pushed back by TCP. Once stdout is
// read again every one of B's messages is shown.
func TestHostileNetFloodStalledStdout(t *testing.T) {
	pr := newPair(t)
	a, stdout := spawnDuet(t, "A", pr.args("A", "")...)
	readDone := make(chan struct{})
	resumed := false
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		if !resumed {
			go io.Copy(io.Discard, stdout)
			a.cmd.Wait()
		}
	})
	b := startDuet(t, "B", pr.args("B", "")...)
	// Read A's stdout until its session is up, then stop reading it.
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("A's stdout: %v", err)
		}
		if strings.Contains(line, `"established"`) {
			break
		}
	}
	b.waitFor(t, sessionTimeout, "B established", established)
	stop := make(chan struct{})
	sent := flood(t, pr.portA, 2, zmtpMessage(duetFrame(0x11, 1<<20)), stop)
	const n = 20
	start := time.Now()
	for i := range n {
		b.send(fmt.Sprintf("stalled %d", i))
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	hwm := hwmKiB(t, a)
	close(stop)
	wall := time.Since(start)
	// Resume reading: every message must be shown.
	resumed = true
	go a.read(br, readDone)
	go func() {
		<-readDone
		a.cmd.Wait()
		a.mu.Lock()
		a.exit = a.cmd.ProcessState.ExitCode()
		a.mu.Unlock()
		close(a.exited)
		a.notify()
	}()
	resume := time.Now()
	a.waitN(t, n, 30*time.Second, "B's messages after stdout resumed", textPrefix("stalled "))
	t.Logf("stdout stalled for %v under a flood of %.0f MiB: A's VmHWM %d KiB (limit %d KiB); all %d messages shown %v after stdout resumed",
		wall.Round(time.Millisecond), float64(sent.Load())/(1<<20), hwm, peakRSSLimitKiB, n, time.Since(resume).Round(time.Millisecond))
	if hwm >= peakRSSLimitKiB {
		t.Errorf("A's peak RSS %d KiB with stdout stalled under the flood, target < %d KiB", hwm, peakRSSLimitKiB)
	}
	if c := a.count(textPrefix("stalled ")); c != n {
		t.Errorf("A showed %d messages, want %d exactly once", c, n)
	}
}

// holdIdle keeps n ZMTP-established connections to port open and silent,
// redialling at once whenever duet closes one (an attacker grabbing every
// slot it can), until stop is closed. trickle of them instead send one
// byte of an endless frame every 200 ms. It returns the number of
// handshakes completed.
func holdIdle(t *testing.T, port, n, trickle int, stop chan struct{}) *atomic.Int64 {
	var made atomic.Int64
	runAttackers(t, n, stop, func(i int) {
		c, err := zmtpDial(port, 2*time.Second)
		if err != nil {
			time.Sleep(5 * time.Millisecond)
			return
		}
		made.Add(1)
		closed := make(chan struct{})
		go func() {
			select {
			case <-stop:
			case <-closed:
			}
			c.Close()
		}()
		if i < trickle {
			// A frame header announcing 255 bytes, then a byte now and then.
			c.Write([]byte{0x00, 0xff})
			for {
				time.Sleep(200 * time.Millisecond)
				if _, err := c.Write([]byte{'x'}); err != nil {
					break
				}
			}
		} else {
			io.Copy(io.Discard, c) // returns when duet closes it
		}
		close(closed)
	})
	return &made
}

// TestHostileNetIdleLockout (issue 7 item 2): connections that complete the
// ZMTP handshake and then stay silent or trickle, more of them than duet
// keeps (8), re-grabbing every slot duet frees. The real peer must still
// get a session, at its first start and after a restart.
func TestHostileNetIdleLockout(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	stop := make(chan struct{})
	made := holdIdle(t, pr.portA, 24, 4, stop)
	time.Sleep(time.Second)
	held := made.Load()
	b := startDuet(t, "B", pr.args("B", "idB.pem")...)
	b.waitFor(t, readyTimeout, "ready", isEv("ready"))
	t0 := time.Now()
	b.waitFor(t, 15*time.Second, "B's session despite idle connections", established)
	a.waitFor(t, 15*time.Second, "A's session despite idle connections", established)
	first := time.Since(t0)
	b.send("past the idlers")
	a.waitFor(t, msgTimeout, "message", func(e event) bool { return e.Event == "message" && e.Text == "past the idlers" })

	// The peer restarts; the attackers grab the slot it frees.
	b.kill()
	time.Sleep(time.Second)
	b2 := startDuet(t, "B2", pr.args("B", "idB.pem")...)
	b2.waitFor(t, readyTimeout, "ready", isEv("ready"))
	t1 := time.Now()
	b2.waitFor(t, 15*time.Second, "restarted B's session despite idle connections", established)
	a.waitN(t, 2, 15*time.Second, "A's second session", established)
	second := time.Since(t1)
	b2.send("back past the idlers")
	a.waitFor(t, msgTimeout, "message", func(e event) bool { return e.Event == "message" && e.Text == "back past the idlers" })
	t.Logf("24 attacker connections (4 trickling), %d handshakes before B started, %d in all: session %v after B's ready, %v after its restart (target < 2 s)",
		held, made.Load(), first.Round(time.Millisecond), second.Round(time.Millisecond))
	if held < 8 {
		t.Errorf("only %d attacker handshakes before B started: the attack did not happen", held)
	}
	if !a.running() {
		t.Fatal("A died")
	}
}

// TestHostileNetChurn (issue 7 item 5): thousands of new connections a
// second on A's port: most reset at once, some sending 10 bytes of a
// greeting and stalling (held open 1.5 s, the way to keep every greeting
// slot taken), some completing the handshake and leaving. The real peer
// must get its session quickly.
func TestHostileNetChurn(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	stop := make(chan struct{})
	var conns atomic.Int64
	addr := "127.0.0.1:" + strconv.Itoa(pr.portA)
	greet := zmtpGreetingBytes()
	t.Cleanup(func() { time.Sleep(1600 * time.Millisecond) }) // after the attackers stop: the held connections close
	runAttackers(t, 12, stop, func(i int) {
		var c *stdnet.TCPConn
		if i == 11 {
			var err error
			if c, err = zmtpDial(pr.portA, time.Second); err != nil {
				return
			}
		} else {
			cc, err := stdnet.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			c = cc.(*stdnet.TCPConn)
		}
		conns.Add(1)
		c.SetLinger(0) // reset: no TIME_WAIT, the churn can go on
		if i >= 3 && i < 11 {
			c.Write(greet[:10]) // a greeting that stalls
			time.AfterFunc(1500*time.Millisecond, func() { c.Close() })
			return
		}
		c.Close()
	})
	time.Sleep(time.Second)
	rate0, at0 := conns.Load(), time.Now()
	b := startDuet(t, "B", pr.args("B", "")...)
	b.waitFor(t, readyTimeout, "ready", isEv("ready"))
	t0 := time.Now()
	// B's first answered ping (a PLAIN_PING through A's port and A's pong
	// back) is the transport getting through; the session then depends on
	// the handshake's own retries.
	b.waitFor(t, 20*time.Second, "B's first answered ping under churn", isEv("live"))
	through := time.Since(t0)
	b.waitFor(t, 20*time.Second, "B's session under churn", established)
	a.waitFor(t, 20*time.Second, "A's session under churn", established)
	took := time.Since(t0)
	rate := float64(conns.Load()-rate0) / time.Since(at0).Seconds()
	b.send("through the churn")
	a.waitFor(t, msgTimeout, "message", func(e event) bool { return e.Event == "message" && e.Text == "through the churn" })
	close(stop)
	t.Logf("churn of %.0f new connections/s: B through A's port (first answered ping) %v after its ready, session %v (target < 2 s)",
		rate, through.Round(time.Millisecond), took.Round(time.Millisecond))
	// The 2 s target is a figure (logged above); the assert is generous, so
	// that only a real defect (the peer kept out) misses it on a loaded
	// machine.
	if through > 15*time.Second {
		t.Errorf("B needed %v to get through A's port under churn (target < 2 s)", through)
	}
}

// TestHostileNetOverLimitMessage: the limit is one number (docs/PROTOCOL.md
// section 1): a ZeroMQ message of at most 64 frames and 1 MiB in total.
// Twenty 60 KB CHAT-sized frames in one message (1.2 MB) are refused, and
// A says so once (a rejected event with reason too-large), not silently;
// twenty 60 KB chat messages sent by duet itself are batched within the
// limit and all delivered.
func TestHostileNetOverLimitMessage(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	frames := make([][]byte, 20)
	for i := range frames {
		frames[i] = duetFrame(0x11, 60_000)
	}
	c, err := zmtpDial(pr.portA, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(zmtpMessage(frames...))
	ev := a.waitFor(t, 10*time.Second, "a report of the refused message", func(e event) bool {
		return e.Event == "rejected" && e.Reason == "too-large"
	})
	t.Logf("A reported: %s", ev.raw)
	// duet's own batching stays within the limit.
	text := strings.Repeat("z", 60_000)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("big %02d %s", i, text))
	}
	b.send(lines...)
	a.waitN(t, 20, msgTimeout, "twenty 60 KB messages", textPrefix("big "))
	if n := a.count(textPrefix("big ")); n != 20 {
		t.Errorf("A showed %d of the 20 messages", n)
	}
}

// TestHostileNetPortInUse: the error names the port and says another duet
// may hold it, without zmq4's internals.
func TestHostileNetPortInUse(t *testing.T) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*stdnet.TCPAddr).Port
	code, _, stderr := runDuet(t, "--headless", "--ephemeral", "--main", strconv.Itoa(port), "--sub", "1",
		"--known-peers", filepath.Join(t.TempDir(), "kp"))
	t.Logf("exit %d, stderr %q", code, stderr)
	if code != exitRuntime || !strings.Contains(stderr, strconv.Itoa(port)) ||
		!strings.Contains(stderr, "another duet") || strings.Contains(stderr, "zmq4") || strings.Contains(stderr, "duet-tcp") {
		t.Errorf("port in use: exit %d, stderr %q: want exit %d naming port %d and another duet, without zmq4 internals", code, stderr, exitRuntime, port)
	}
}

// churner is issue 15's active churner against one port: each of its
// threads keeps 16 established connections that each send a PLAIN_PING
// every turn, and opens one new connection per turn (its oldest is closed
// with a reset, so the churn can go on without TIME_WAIT). A new
// connection writes its greeting, READY and a PLAIN_PING at once and reads
// nothing: duet establishes it all the same. Turns are paced to rate new
// connections a second in all (0: as fast as the threads go).
type churner struct {
	made atomic.Int64 // new connections opened
	stop chan struct{}
	wg   sync.WaitGroup
}

func startChurner(port, threads int, rate float64) *churner {
	c := &churner{stop: make(chan struct{})}
	hello := append(zmtpGreetingBytes(), zmtpReadyFrame("DEALER")...)
	ping := zmtpMessage(protocol.AppendPlainPing(nil, protocol.TypePlainPing, 1))
	first := append(slices.Clone(hello), ping...)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var gap time.Duration
	if rate > 0 {
		gap = time.Duration(float64(threads) * float64(time.Second) / rate)
	}
	for range threads {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			var held []*stdnet.TCPConn
			defer func() {
				for _, h := range held {
					h.Close()
				}
			}()
			next := time.Now()
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				if gap > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(gap)
					if time.Since(next) > time.Second {
						next = time.Now() // fell far behind: do not burst
					}
				}
				keep := held[:0]
				for _, h := range held {
					h.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					if _, err := h.Write(ping); err != nil {
						h.Close()
						continue
					}
					keep = append(keep, h)
				}
				held = keep
				nc, err := stdnet.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				tc := nc.(*stdnet.TCPConn)
				tc.SetLinger(0)
				if _, err := tc.Write(first); err != nil {
					tc.Close()
					continue
				}
				c.made.Add(1)
				held = append(held, tc)
				if len(held) > 16 {
					held[0].Close()
					held = slices.Delete(held, 0, 1)
				}
			}
		}()
	}
	return c
}

// rate measures the churner's new connections a second over d.
func (c *churner) rate(d time.Duration) float64 {
	n0, t0 := c.made.Load(), time.Now()
	time.Sleep(d)
	return float64(c.made.Load()-n0) / time.Since(t0).Seconds()
}

func (c *churner) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

// churnLockout runs issue 15 item 1 once: A up, the churner on A's port,
// then B (fresh), then B killed and restarted. It returns the times from
// each B's ready to its session, the churner's rate and A's peak RSS.
func churnLockout(t *testing.T, threads int, rate float64, bound time.Duration) (fresh, restarted time.Duration, got float64, hwm int64) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	ch := startChurner(pr.portA, threads, rate)
	t.Cleanup(ch.close)
	got = ch.rate(time.Second)
	b := startDuet(t, "B", pr.args("B", "idB.pem")...)
	b.waitFor(t, readyTimeout, "ready", isEv("ready"))
	t0 := time.Now()
	b.waitFor(t, bound, "B's session despite the churner", established)
	fresh = time.Since(t0)
	a.waitFor(t, bound, "A's session despite the churner", established)
	b.kill()
	b2 := startDuet(t, "B2", pr.args("B", "idB.pem")...)
	b2.waitFor(t, readyTimeout, "ready", isEv("ready"))
	t1 := time.Now()
	b2.waitFor(t, bound, "restarted B's session despite the churner", established)
	restarted = time.Since(t1)
	a.waitN(t, 2, bound, "A's second session", established)
	b2.send("past the churner")
	a.waitFor(t, msgTimeout, "message", func(e event) bool { return e.Event == "message" && e.Text == "past the churner" })
	ch.close()
	if !a.running() {
		t.Fatal("A died")
	}
	return fresh, restarted, got, hwmKiB(t, a)
}

// TestHostileNetActiveChurner (issue 15 item 1): an attacker keeps 16
// connections to A's port busy with PLAIN_PINGs and opens ~2k new ones a
// second. Each newcomer used to evict the least recently active unproven
// connection, always the peer's: B was kept out for 20 s and more. Now the
// oldest admitted unproven connection goes and a proven one never does, so
// B gets its session, fresh and after a restart. The bound is generous (a
// loaded 2-core machine must pass); the 1 s target is measured by
// scripts/churn-figures.sh.
func TestHostileNetActiveChurner(t *testing.T) {
	fresh, restarted, rate, hwm := churnLockout(t, 1, 2000, 10*time.Second)
	t.Logf("churner at %.0f new connections/s: B's session %v after its ready, %v after its restart (target < 1 s); A's peak RSS %d MiB",
		rate, fresh.Round(time.Millisecond), restarted.Round(time.Millisecond), hwm>>10)
	if rate < 500 {
		t.Errorf("the churner made only %.0f connections/s: the attack did not happen", rate)
	}
}

// TestMeasureChurn prints issue 15's figures (scripts/churn-figures.sh):
// time to session under the active churner at ~2k and ~8k new
// connections/s, fresh and restarted, over DUET_CHURN_RUNS runs each. It
// is skipped unless DUET_CHURN_RUNS is set: a figure, not a test.
func TestMeasureChurn(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("DUET_CHURN_RUNS"))
	if runs <= 0 {
		t.Skip("set DUET_CHURN_RUNS to measure")
	}
	for _, tc := range []struct {
		threads int
		rate    float64
	}{{1, 2000}, {8, 8000}} {
		var fr, rs []time.Duration
		var rates []float64
		var hwm int64
		for i := range runs {
			t.Run(fmt.Sprintf("%.0f-%d", tc.rate, i), func(t *testing.T) {
				f, r, got, h := churnLockout(t, tc.threads, tc.rate, 30*time.Second)
				fr, rs, rates, hwm = append(fr, f), append(rs, r), append(rates, got), max(hwm, h)
			})
		}
		if len(rates) < runs {
			continue // a run failed (reported)
		}
		slices.Sort(rates)
		t.Logf("churn target %.0f/s (measured median %.0f/s): fresh %s; restarted %s; within 1 s: %d+%d of %d+%d; A's peak RSS %d MiB",
			tc.rate, rates[len(rates)/2], durSummary(fr), durSummary(rs), within(fr, time.Second), within(rs, time.Second), runs, runs, hwm>>10)
	}
	var took []time.Duration
	var rates []float64
	for i := range runs {
		t.Run(fmt.Sprintf("reset-%d", i), func(t *testing.T) {
			d, r := resetChurn(t, 30*time.Second)
			took, rates = append(took, d), append(rates, r)
		})
	}
	if len(rates) == runs {
		slices.Sort(rates)
		t.Logf("connect+reset churn from 4 threads (median %.0f/s, %.0f-%.0f): B's session %s (target median < 300 ms)",
			rates[len(rates)/2], rates[0], rates[len(rates)-1], durSummary(took))
	}
}

// startResetChurn is issue 15 item 2's churn: threads goroutines
// connecting to port and closing at once with a reset, as fast as they go.
func startResetChurn(port, threads int) *churner {
	c := &churner{stop: make(chan struct{})}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range threads {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				nc, err := stdnet.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				nc.(*stdnet.TCPConn).SetLinger(0)
				nc.Close()
				c.made.Add(1)
			}
		}()
	}
	return c
}

// resetChurn runs issue 15 item 2 once: A up, 4 threads connecting and
// resetting on A's port, then B (fresh). It returns the time from B's
// ready to its session and the churn's rate.
func resetChurn(t *testing.T, bound time.Duration) (took time.Duration, rate float64) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	ch := startResetChurn(pr.portA, 4)
	t.Cleanup(ch.close)
	rate = ch.rate(time.Second)
	b := startDuet(t, "B", pr.args("B", "")...)
	b.waitFor(t, readyTimeout, "ready", isEv("ready"))
	t0 := time.Now()
	b.waitFor(t, bound, "B's session under churn", established)
	took = time.Since(t0)
	a.waitFor(t, bound, "A's session under churn", established)
	ch.close()
	return took, rate
}

func durSummary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return "no runs"
	}
	return fmt.Sprintf("median %v, max %v", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

func within(ds []time.Duration, d time.Duration) int {
	n := 0
	for _, x := range ds {
		if x <= d {
			n++
		}
	}
	return n
}
