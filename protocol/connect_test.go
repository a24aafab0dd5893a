package protocol

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errUnplugged = errors.New("test: no connection to the peer yet")

// unplugged refuses every Send, as net.Transport does before its connection
// to the peer is up, until plug is called; it says when that happens
// through Connecting (connectNotifier).
type unplugged struct {
	*PipeEnd
	mu      sync.Mutex
	up      bool
	ch      chan struct{}
	handed  chan struct{} // the channel Connecting last returned
	refused atomic.Int64
}

func newUnplugged(p *PipeEnd) *unplugged { return &unplugged{PipeEnd: p, ch: make(chan struct{})} }

func (u *unplugged) Send(ctx context.Context, msgs ...[]byte) error {
	u.mu.Lock()
	up := u.up
	u.mu.Unlock()
	if !up {
		u.refused.Add(1)
		return errUnplugged
	}
	return u.PipeEnd.Send(ctx, msgs...)
}

func (u *unplugged) Connecting() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handed = u.ch
	return u.ch
}

// plugWhenWatched waits until a watcher holds the current Connecting
// channel, then plugs: a connection that comes up while nobody is waiting
// for the signal (the node's watcher between two calls) would otherwise be
// missed by the test's own ordering, not by the node.
func (u *unplugged) plugWhenWatched(t *testing.T, ctx context.Context) {
	t.Helper()
	for {
		u.mu.Lock()
		watched := u.handed == u.ch
		u.mu.Unlock()
		if watched {
			u.plug()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("nobody watched for the connection coming up")
		case <-time.After(time.Millisecond):
		}
	}
}

func (u *unplugged) plug() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.up = true
	close(u.ch)
	u.ch = make(chan struct{})
}

// TestRefusedBatchGoesOutWhenConnected: a batch the transport refused
// because its connection was not up yet goes out as soon as the transport
// says the connection is up, not at the next poll. The poll is set to an
// hour here, so only the transport's signal can get A's first PUBLIC_KEY
// out and the handshake done.
func TestRefusedBatchGoesOutWhenConnected(t *testing.T) {
	old := sendRetryEvery
	sendRetryEvery = time.Hour
	t.Cleanup(func() { sendRetryEvery = old })

	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	ua := newUnplugged(pa)
	ra, rb := newRecorder(), newRecorder()
	startNode(t, testConfig(id[0]), ua, ra.emit)
	startNode(t, testConfig(id[1]), pb, rb.emit)
	t.Cleanup(func() { pa.Close(); pb.Close() })

	deadline := time.Now().Add(10 * time.Second)
	for ua.refused.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("A never tried to send")
		}
		time.Sleep(time.Millisecond)
	}
	if n := ra.count(isEstablished); n != 0 {
		t.Fatalf("A established without a connection (%d)", n)
	}
	ua.plug()
	ra.waitFor(t, 10*time.Second, "A established", isEstablished)
	rb.waitFor(t, 10*time.Second, "B established", isEstablished)
}
