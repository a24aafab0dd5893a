package net

// Memory and connection bounds (docs/DESIGN.md, "Memory and connection
// bounds"): the receive budget in bytes with TCP pushback, eviction of
// connections that never proved reachability (also pool_test.go), refused
// over-limit messages reported once, the port-in-use error.

import (
	"bytes"
	"context"
	"errors"
	stdnet "net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// zmtpMsg encodes frames as one ZMTP message.
func zmtpMsg(frames ...[]byte) []byte {
	var b []byte
	for i, f := range frames {
		fl := byte(0)
		if i < len(frames)-1 {
			fl = flagMore
		}
		if len(f) > 255 {
			b = append(b, longHeader(fl, uint64(len(f)))...)
		} else {
			b = append(b, fl, byte(len(f)))
		}
		b = append(b, f...)
	}
	return b
}

func (t *Transport) budgetUsed() int64 {
	t.budMu.Lock()
	defer t.budMu.Unlock()
	return t.budUsed
}

// TestRecvBudgetPushesBack: with nobody calling Recv, a flood of 64 KiB
// frames stops at the receive budget (plus at most one message per
// connection): the connection is no longer read and the sender's writes
// stall. Once Recv runs again, everything flows, in order.
func TestRecvBudgetPushesBack(t *testing.T) {
	const budget = 1 << 20
	a := mustOpen(t, Config{SubPort: freePort(t), RecvBudget: budget})
	c := rawDealer(t, a.MainAddr())
	defer c.Close()
	frame := bytes.Repeat([]byte{'f'}, 64<<10)
	var sent atomic.Int64
	stalled := make(chan struct{})
	// A write that waits 300 ms counts as the stall only once the budget
	// is full: before that, the reader was merely slow to run (a busy
	// machine), and the rest of the message is written on.
	go func() {
		for i := 0; ; i++ {
			f := append([]byte(nil), frame...)
			copy(f, strconv.Itoa(i)+";")
			for msg := zmtpMsg(f); len(msg) > 0; {
				_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
				n, err := c.Write(msg)
				msg = msg[n:]
				var ne stdnet.Error
				if err != nil && (!errors.As(err, &ne) || !ne.Timeout() || a.budgetUsed() >= budget) {
					close(stalled)
					return
				}
			}
			sent.Add(1)
		}
	}()
	select {
	case <-stalled:
	case <-time.After(20 * time.Second):
		t.Fatal("the sender never stalled: nothing pushed back")
	}
	used := a.budgetUsed()
	t.Logf("sender stalled after %d frames of 64 KiB (%d MiB); budget used %d KiB of %d KiB", sent.Load(), sent.Load()>>4, used>>10, budget>>10)
	if used > budget+MaxMessageSize {
		t.Errorf("budget used %d bytes, bound %d", used, budget+MaxMessageSize)
	}
	if a.rqLen() > int(budget/len(frame))+int(MaxMessageSize/len(frame))+1 {
		t.Errorf("%d frames queued for Recv", a.rqLen())
	}
	// Drain: every frame the sender wrote comes, in order. More were written
	// than the budget holds (the kernel's buffers took the rest), so they
	// can only all arrive if Recv gave the budget back and the connection
	// was read again. (The budget in use is not compared before and after:
	// the reader refills it from those buffers as soon as Recv frees it.)
	n := int(sent.Load())
	if n <= budget/len(frame)+1 {
		t.Fatalf("the sender stalled after %d frames: no more than the budget holds, so nothing shows the budget given back", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		f, err := a.Recv(ctx)
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, n, err)
		}
		if want := strconv.Itoa(i) + ";"; !bytes.HasPrefix(f, []byte(want)) {
			t.Fatalf("frame %d starts %q", i, f[:8])
		}
		if used := a.budgetUsed(); used > budget+MaxMessageSize {
			t.Fatalf("budget used %d bytes while draining, bound %d", used, budget+MaxMessageSize)
		}
	}
}

func (t *Transport) rqLen() int {
	t.rqMu.Lock()
	defer t.rqMu.Unlock()
	return len(t.rq) - t.rqHead
}

// TestIdleConnsEvicted: MaxConns connections that completed the handshake
// and stay silent do not keep a legitimate peer out: the oldest idle one is
// closed for it. A connection that carried an authenticated message
// (MarkProven) is never evicted; when every one has, newcomers are
// refused.
func TestIdleConnsEvicted(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t), MaxConns: 3})
	var idle []stdnet.Conn
	for range 3 {
		idle = append(idle, rawDealer(t, a.MainAddr()))
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	waitFor(t, 30*time.Second, "3 established", func() bool { return a.accepted.Load() == 3 })
	d := legitPeerDelivers(t, a, 10*time.Second)
	t.Logf("legit peer delivered %v after 3 idle connections filled MaxConns 3; stats %+v", d.Round(time.Millisecond), a.Stats())
	if a.Stats().EvictedConns < 1 {
		t.Errorf("no connection evicted: %+v", a.Stats())
	}
	if !closedByPeer(idle[0], 30*time.Second) {
		t.Error("the oldest idle connection was not the one closed")
	}

	// A proven connection keeps its place through any number of newcomers.
	b := mustOpen(t, Config{SubPort: a.MainPort()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var src uint64
	for src == 0 {
		if err := b.Send(ctx, []byte("proof")); err != nil && !errors.Is(err, ErrNotConnected) {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 50*time.Millisecond)
		f, s, err := a.RecvFrom(rctx)
		rcancel()
		if err == nil && string(f) == "proof" {
			src = s
		}
		if ctx.Err() != nil {
			t.Fatal("b never delivered")
		}
	}
	a.MarkProven(src)
	for range 10 {
		c := rawDealer(t, a.MainAddr())
		idle = append(idle, c)
	}
	deliver(t, b, a, []byte("still here"), 5*time.Second)
	if got := b.Stats().Dialed; got != 1 {
		t.Errorf("the proven connection was dropped: b dialled %d times", got)
	}
}

// TestOverLimitMessageRefusedAndReported: the limit is one number - a
// ZeroMQ message of at most MaxBatch frames and MaxMessageSize bytes in
// total. Twenty 60 KB frames (1.2 MB) in one message are refused and
// RecvFrom reports it once; seventeen (1.02 MB) are delivered.
func TestOverLimitMessageRefusedAndReported(t *testing.T) {
	a := mustOpen(t, Config{SubPort: freePort(t)})
	frame := func(n int) [][]byte {
		var fs [][]byte
		for i := range n {
			fs = append(fs, bytes.Repeat([]byte{byte('a' + i)}, 60_000))
		}
		return fs
	}
	c := rawDealer(t, a.MainAddr())
	defer c.Close()
	_, _ = c.Write(zmtpMsg(frame(20)...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := a.RecvFrom(ctx)
	var re *RefusedError
	if !errors.As(err, &re) || re.Count != 1 || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("RecvFrom after an over-limit message: %v, want one *RefusedError wrapping ErrFrameTooLarge", err)
	}
	t.Logf("reported: %v", err)
	if !closedByPeer(c, 30*time.Second) {
		t.Error("the sender's connection was not dropped")
	}
	c2 := rawDealer(t, a.MainAddr())
	defer c2.Close()
	_, _ = c2.Write(zmtpMsg(frame(17)...))
	for i := range 17 {
		f, _, err := a.RecvFrom(ctx)
		if err != nil || len(f) != 60_000 || f[0] != byte('a'+i) {
			t.Fatalf("frame %d of a 1.02 MB message: %d bytes, %v", i, len(f), err)
		}
	}
	// Recv does not report refusals; it just waits for frames.
	c3 := rawDealer(t, a.MainAddr())
	defer c3.Close()
	_, _ = c3.Write(zmtpMsg(frame(20)...))
	waitFor(t, 30*time.Second, "the refusal counted", func() bool { return a.Stats().RefusedMessages == 2 })
	rctx, rcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer rcancel()
	if f, err := a.Recv(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Recv: %q, %v; want a timeout", trunc(f), err)
	}
}

func TestPortInUse(t *testing.T) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*stdnet.TCPAddr).Port
	tr, err := Open(context.Background(), Config{MainPort: port, SubPort: freePort(t)})
	if err == nil {
		tr.Close()
		t.Fatal("Open on a taken port succeeded")
	}
	msg := err.Error()
	t.Logf("error: %v", err)
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(msg, strconv.Itoa(port)) ||
		!strings.Contains(msg, "another duet") || strings.Contains(msg, "zmq4") || strings.Contains(msg, "#") {
		t.Errorf("port in use: %q", msg)
	}
}
