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

// SendWhenUp sends msgs through tr as one unit (Transport.Send) and, while
// tr refuses them, tries again: at once when tr says its connection to the
// peer came up (a transport with a Connecting method, connectNotifier, as
// net.Transport: the channel is taken before each Send so that no such
// moment is missed), else every sendRetryEvery (2 ms). It is meant for a
// refusal that passes (the connection not up yet, or being redialled); it
// cannot tell one that does not, and retries that too until it gives up.
//
// It gives up and returns the last refusal once retryFor has passed since
// the call (checked after each try: with retryFor 0 it tries once), when
// stop (if not nil) reports true after a refusal, or when ctx is done (its
// error, if ctx ended during a wait). A nil error means tr took msgs, not
// that the peer got them (see Transport).
func SendWhenUp(ctx context.Context, tr Transport, retryFor time.Duration, stop func() bool, msgs ...[]byte) error {
	deadline := time.Now().Add(retryFor)
	for {
		var up <-chan struct{}
		if cn, ok := tr.(connectNotifier); ok {
			up = cn.Connecting()
		}
		err := tr.Send(ctx, msgs...)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) || (stop != nil && stop()) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-up:
		case <-time.After(sendRetryEvery):
		}
	}
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
