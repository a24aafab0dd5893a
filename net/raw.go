package net

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/go-zeromq/zmq4"
)

// RawPair is stock zmq4 DEALER -> ROUTER over zmq4's own "tcp" transport on
// loopback, without duet's guards or encryption. It exists only so that
// `duet bench` can measure duet against the library it runs on; never use
// it to talk to a peer.
type RawPair struct {
	dealer, router zmq4.Socket
}

// OpenRawPair binds a ROUTER on a free loopback port and dials it.
func OpenRawPair(ctx context.Context) (*RawPair, error) {
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	p := &RawPair{router: zmq4.NewRouter(ctx, quiet), dealer: zmq4.NewDealer(ctx, quiet)}
	if err := p.router.Listen("tcp://127.0.0.1:0"); err != nil {
		p.Close()
		return nil, fmt.Errorf("net: raw pair: %w", err)
	}
	if err := p.dealer.Dial("tcp://" + p.router.Addr().String()); err != nil {
		p.Close()
		return nil, fmt.Errorf("net: raw pair: %w", err)
	}
	return p, nil
}

// Send sends b as one single-frame message.
func (p *RawPair) Send(b []byte) error { return p.dealer.Send(zmq4.NewMsg(b)) }

// Recv returns the next message's payload frame.
func (p *RawPair) Recv() ([]byte, error) {
	m, err := p.router.Recv()
	if err != nil {
		return nil, err
	}
	if len(m.Frames) < 2 {
		return nil, fmt.Errorf("net: raw pair: message of %d frames", len(m.Frames))
	}
	return m.Frames[1], nil
}

// Close closes both sockets.
func (p *RawPair) Close() {
	if p.dealer != nil {
		p.dealer.Close()
	}
	if p.router != nil {
		p.router.Close()
	}
}
