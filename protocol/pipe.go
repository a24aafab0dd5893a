package protocol

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrPipeClosed is returned by a closed Pipe end.
var ErrPipeClosed = errors.New("protocol: pipe closed")

// PipeEnd is one end of an in-memory Transport made by NewPipe. It delivers
// every message, in order, unless a Filter drops or rewrites it: tests use
// the filter as the man in the middle.
type PipeEnd struct {
	recv   chan []byte
	peer   *PipeEnd
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	filter func([]byte) [][]byte
}

// NewPipe returns two connected ends. Each end buffers up to size messages;
// Send blocks when the peer's buffer is full.
func NewPipe(size int) (*PipeEnd, *PipeEnd) {
	a := &PipeEnd{recv: make(chan []byte, size), done: make(chan struct{})}
	b := &PipeEnd{recv: make(chan []byte, size), done: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

// SetFilter installs f on messages sent from this end: f returns the
// messages to deliver instead (none to drop, several to inject).
func (p *PipeEnd) SetFilter(f func(msg []byte) [][]byte) {
	p.mu.Lock()
	p.filter = f
	p.mu.Unlock()
}

// Send implements Transport.
func (p *PipeEnd) Send(ctx context.Context, msgs ...[]byte) error {
	if len(msgs) == 0 || len(msgs) > MaxBatch {
		return fmt.Errorf("protocol: pipe: batch of %d messages", len(msgs))
	}
	p.mu.Lock()
	f := p.filter
	p.mu.Unlock()
	for _, m := range msgs {
		if len(m) > MaxMessageSize {
			return fmt.Errorf("protocol: pipe: %w", ErrTooLarge)
		}
		out := [][]byte{append([]byte(nil), m...)}
		if f != nil {
			out = f(out[0])
		}
		for _, o := range out {
			select {
			case p.peer.recv <- o:
			case <-ctx.Done():
				return ctx.Err()
			case <-p.done:
				return ErrPipeClosed
			case <-p.peer.done:
				return nil // lost, as on a network
			}
		}
	}
	return nil
}

// Recv implements Transport.
func (p *PipeEnd) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-p.recv:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrPipeClosed
	}
}

// Inject delivers raw bytes to this end as if the peer had sent them.
func (p *PipeEnd) Inject(ctx context.Context, msg []byte) error {
	select {
	case p.recv <- msg:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close implements Transport.
func (p *PipeEnd) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}
