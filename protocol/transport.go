package protocol

import (
	"context"
	"time"
)

// Transport carries duet messages between the two peers. It is the only thing
// the session driver needs from the network: net.Transport (ZeroMQ) satisfies
// it, and Pipe (in-memory) satisfies it for tests.
//
// A transport gives no delivery guarantee: messages may be lost (for example
// across a reconnect), but those it delivers arrive whole and in the order
// they were sent. Loss recovery (ids, receipts, resend) is the driver's job.
type Transport interface {
	// Send sends msgs as one transport unit (one ZeroMQ message with one
	// frame per duet message, so several records cost one write). It may
	// return nil for messages that are later lost. len(msgs) must be between 1
	// and MaxBatch, and all of them together at most MaxMessageSize bytes.
	// It must be safe for concurrent use: Node.Leave sends its GOODBYE
	// beside the node's writer goroutine.
	Send(ctx context.Context, msgs ...[]byte) error
	// Recv returns the next duet message (one frame), blocking until one
	// arrives, ctx is done, or the transport is closed.
	Recv(ctx context.Context) ([]byte, error)
	// Close releases the transport; pending Recv calls return an error.
	Close() error
}

// connectNotifier is implemented by transports that can say when a
// connection to the peer comes up (net.Transport). The node's writer then
// retries a refused batch at once instead of at its next poll
// (sendRetryEvery): at start-up the first PUBLIC_KEY goes out as soon as
// the connection exists.
type connectNotifier interface {
	// Connecting returns a channel closed when the next connection to the
	// peer is up, after the call.
	Connecting() <-chan struct{}
}

// trySend sends msgs once through tr. With the error it returns a channel
// closed when tr's connection to the peer next comes up (nil if tr does
// not tell), taken before the Send so that no such moment is missed: a
// refused send is retried on it (waitRetry).
func trySend(ctx context.Context, tr Transport, msgs ...[]byte) (<-chan struct{}, error) {
	var up <-chan struct{}
	if cn, ok := tr.(connectNotifier); ok {
		up = cn.Connecting()
	}
	return up, tr.Send(ctx, msgs...)
}

// waitRetry waits until up is closed or sendRetryEvery has passed; false
// if ctx ended first.
func waitRetry(ctx context.Context, up <-chan struct{}) bool {
	select {
	case <-ctx.Done():
		return false
	case <-up:
	case <-time.After(sendRetryEvery):
	}
	return true
}

// Transport limits shared by every implementation.
const (
	// MaxMessageSize bounds one duet message (one ZeroMQ frame), header
	// included, and also the messages of one batch together. Larger frames
	// and batches are refused before anything is allocated.
	MaxMessageSize = 1 << 20
	// MaxBatch bounds the duet messages sent together in one transport unit.
	MaxBatch = 64
)
