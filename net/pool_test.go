package net

// The unproven pool (pool.go): which established inbound connection is
// evicted for a newcomer. Each test opens connections one after another
// (a raw DEALER's handshake returns only once the transport registered
// it, so the admission order is the dialling order), then checks exactly
// which were closed: the evicted ones are closed by the transport, and
// Stats.EvictedConns counts that no other was.

import (
	"context"
	stdnet "net"
	"strconv"
	"testing"
	"time"
)

// rawDealerFrom is rawDealer dialling from local IP from (a loopback
// address such as 127.0.0.2 on Linux), a source of its own.
func rawDealerFrom(t testing.TB, from, addr string) stdnet.Conn {
	t.Helper()
	d := stdnet.Dialer{LocalAddr: &stdnet.TCPAddr{IP: stdnet.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s: %v", from, err)
	}
	if _, err := c.Write(append(zmtpGreeting[:], readyCommand("DEALER", "x")...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readHandshake(c, "ROUTER"); err != nil {
		t.Fatalf("handshake from %s: %v", from, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

// srcOf sends msg on c and returns the connection number RecvFrom names
// it by: c is open and delivering.
func srcOf(t testing.TB, a *Transport, c stdnet.Conn, msg string) uint64 {
	t.Helper()
	if _, err := c.Write(zmtpMsg([]byte(msg))); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		f, src, err := a.RecvFrom(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", msg, err)
		}
		if string(f) == msg {
			return src
		}
	}
}

// wantEvicted checks that exactly the connections in gone were evicted
// (closed by the transport) and that evicted counts all evictions.
func wantEvicted(t *testing.T, a *Transport, gone []stdnet.Conn, evicted uint64) {
	t.Helper()
	for i, c := range gone {
		if !closedByPeer(c, 10*time.Second) {
			t.Errorf("connection %d of those to evict is still open", i)
		}
	}
	waitFor(t, 10*time.Second, "evictions counted", func() bool { return a.Stats().EvictedConns >= evicted })
	if got := a.Stats().EvictedConns; got != evicted {
		t.Errorf("EvictedConns %d, want %d", got, evicted)
	}
}

func closeAll(cs []stdnet.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// TestEvictOldestAdmitted: the victim is the oldest admitted unproven
// connection, however active (it used to be the least recently active one,
// which an active churner never is); each newcomer outlives MaxConns-1
// later arrivals.
func TestEvictOldestAdmitted(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t), MaxConns: 3})
	var cs []stdnet.Conn
	defer func() { closeAll(cs) }()
	for range 3 {
		cs = append(cs, rawDealer(t, a.MainAddr()))
	}
	// The oldest is the busiest.
	for i := range 5 {
		srcOf(t, a, cs[0], "busy "+strconv.Itoa(i))
	}
	cs = append(cs, rawDealer(t, a.MainAddr()))
	wantEvicted(t, a, cs[:1], 1)
	cs = append(cs, rawDealer(t, a.MainAddr()), rawDealer(t, a.MainAddr()))
	wantEvicted(t, a, cs[:3], 3)
	// cs[3], admitted first of the last three, outlived two arrivals and
	// still delivers; the next newcomer evicts it.
	srcOf(t, a, cs[3], "still here")
	cs = append(cs, rawDealer(t, a.MainAddr()))
	wantEvicted(t, a, cs[:4], 4)
	srcOf(t, a, cs[4], "next in line, still here")
}

// TestProvenNeverEvicted: a connection marked proven keeps its place
// through any number of unproven newcomers, busy or idle; when MaxConns
// connections are all proven, newcomers are refused.
func TestProvenNeverEvicted(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t), MaxConns: 3})
	p := rawDealer(t, a.MainAddr())
	defer p.Close()
	a.MarkProven(srcOf(t, a, p, "proof"))
	var cs []stdnet.Conn
	defer func() { closeAll(cs) }()
	const n = 60
	for i := range n {
		c := rawDealer(t, a.MainAddr())
		if i%2 == 0 {
			srcOf(t, a, c, "newcomer "+strconv.Itoa(i))
		}
		cs = append(cs, c)
	}
	// Room for two unproven: all but the last two newcomers were evicted.
	wantEvicted(t, a, cs[:n-2], n-2)
	srcOf(t, a, p, "proven, still here")

	// Prove the last two: the next newcomer finds no room.
	a.MarkProven(srcOf(t, a, cs[n-2], "proof 2"))
	a.MarkProven(srcOf(t, a, cs[n-1], "proof 3"))
	c := dialRaw(t, a.MainAddr())
	defer c.Close()
	if !closedByPeer(c, 10*time.Second) {
		t.Error("a newcomer was kept while every connection is proven")
	}
	waitFor(t, 10*time.Second, "refusal counted", func() bool { return a.Stats().RejectedTooManyConns == 1 })
	if got := a.Stats().EvictedConns; got != n-2 {
		t.Errorf("a proven connection was evicted: EvictedConns %d, want %d", got, n-2)
	}
	srcOf(t, a, p, "proven, still here after the refusal")
}

// TestEvictPerSource: the victim comes from the source holding the most
// unproven connections (ties: the one whose oldest is older), so one host
// connecting fast only replaces its own connections. Sources here are
// loopback addresses 127.0.0.x; on real loopback traffic every connection
// has the one source 127.0.0.1 and the rule is plain oldest-first.
func TestEvictPerSource(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t), MaxConns: 4})
	addr := a.MainAddr()
	var cs []stdnet.Conn
	defer func() { closeAll(cs) }()
	// Tie: two from .3, two from .1; .3's oldest is older and goes.
	y1 := rawDealerFrom(t, "127.0.0.3", addr)
	y2 := rawDealerFrom(t, "127.0.0.3", addr)
	z1 := rawDealerFrom(t, "127.0.0.1", addr)
	z2 := rawDealerFrom(t, "127.0.0.1", addr)
	cs = append(cs, y1, y2, z1, z2)
	x := rawDealerFrom(t, "127.0.0.2", addr) // a peer on a host of its own
	cs = append(cs, x)
	wantEvicted(t, a, []stdnet.Conn{y1}, 1)
	// Now .1 holds the most: a flood from .1 replaces only .1's own.
	var flood []stdnet.Conn
	for range 30 {
		flood = append(flood, rawDealerFrom(t, "127.0.0.1", addr))
	}
	cs = append(cs, flood...)
	wantEvicted(t, a, append([]stdnet.Conn{y1, z1, z2}, flood[:28]...), 31)
	srcOf(t, a, x, "the other host's connection")
	srcOf(t, a, y2, "the tie's survivor")
}

// TestMarkProvenBadSrc: MarkProven with 0, an unknown number, an evicted
// connection or one already proven changes nothing: no connection is
// counted proven that is not, so newcomers still find room.
func TestMarkProvenBadSrc(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t), MaxConns: 2})
	addr := a.MainAddr()
	var cs []stdnet.Conn
	defer func() { closeAll(cs) }()
	c1 := rawDealer(t, addr)
	c2 := rawDealer(t, addr)
	cs = append(cs, c1, c2)
	s1 := srcOf(t, a, c1, "one")
	a.MarkProven(0)
	a.MarkProven(1 << 60)
	a.MarkProven(s1)
	a.MarkProven(s1) // twice: counted once
	c3 := rawDealer(t, addr)
	cs = append(cs, c3)
	wantEvicted(t, a, []stdnet.Conn{c2}, 1) // c1 is proven
	s3 := srcOf(t, a, c3, "three")
	c4 := rawDealer(t, addr) // evicts c3
	cs = append(cs, c4)
	wantEvicted(t, a, []stdnet.Conn{c2, c3}, 2)
	a.MarkProven(s3) // evicted: ignored
	c5 := rawDealer(t, addr)
	cs = append(cs, c5)
	wantEvicted(t, a, []stdnet.Conn{c2, c3, c4}, 3)
	if s := a.Stats(); s.RejectedTooManyConns != 0 {
		t.Errorf("a newcomer was refused: %+v", s)
	}
	srcOf(t, a, c1, "one, proven, still here")
	srcOf(t, a, c5, "five")
}
