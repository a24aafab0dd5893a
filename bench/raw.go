package bench

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/go-zeromq/zmq4"
)

// rawPair is stock zmq4 DEALER -> ROUTER over zmq4's own "tcp" transport on
// loopback, without duet's guards or encryption: a one-way link, the
// baseline the in-process bench measures duet against (the library it runs
// on). Never use it to talk to a peer.
type rawPair struct {
	dealer, router zmq4.Socket
}

// openRawPair binds a ROUTER on a free loopback port and dials it.
func openRawPair(ctx context.Context) (*rawPair, error) {
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	p := &rawPair{router: zmq4.NewRouter(ctx, quiet), dealer: zmq4.NewDealer(ctx, quiet)}
	if err := p.router.Listen("tcp://127.0.0.1:0"); err != nil {
		p.Close()
		return nil, fmt.Errorf("bench: raw pair: %w", err)
	}
	if err := p.dealer.Dial("tcp://" + p.router.Addr().String()); err != nil {
		p.Close()
		return nil, fmt.Errorf("bench: raw pair: %w", err)
	}
	return p, nil
}

// Send sends b as one single-frame message.
func (p *rawPair) Send(b []byte) error { return p.dealer.Send(zmq4.NewMsg(b)) }

// Recv returns the next message's payload frame.
func (p *rawPair) Recv() ([]byte, error) {
	m, err := p.router.Recv()
	if err != nil {
		return nil, err
	}
	if len(m.Frames) < 2 {
		return nil, fmt.Errorf("bench: raw pair: message of %d frames", len(m.Frames))
	}
	return m.Frames[1], nil
}

// Close closes both sockets.
func (p *rawPair) Close() {
	if p.dealer != nil {
		p.dealer.Close()
	}
	if p.router != nil {
		p.router.Close()
	}
}
