package mitm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// ImpersonateAs gives the MITM an identity of its own, for impersonate:
// it is the key both peers are shown. Call it before Arm.
func (m *Relay) ImpersonateAs(id *crypto.Identity) {
	m.mu.Lock()
	m.self = id
	m.mu.Unlock()
}

// impostorQueue bounds the messages waiting for an impostor node; past it
// they are dropped (the peer resends what matters).
const impostorQueue = 1024

// impostor is the MITM impersonating both peers: a protocol.Node facing
// each one, with the MITM's identity, each passing on to the other the
// chat messages its peer sends. side[FlowAB] faces A: it gets what A sends and
// sends to A.
type impostor struct {
	side   [2]*impostorLink
	nodes  [2]*protocol.Node
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// impersonate starts the impostor (both ways). m.mu is not held.
func (m *Relay) impersonate() error {
	m.mu.Lock()
	switch {
	case m.self == nil:
		m.mu.Unlock()
		return fmt.Errorf("%w: impersonate without an identity of its own", ErrUnknownAttack)
	case !m.running:
		m.mu.Unlock()
		return ErrNotRunning
	case m.imp != nil:
		m.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(m.runCtx)
	imp := &impostor{cancel: cancel}
	for f := range imp.side {
		imp.side[f] = &impostorLink{in: make(chan []byte, impostorQueue), out: m.to[1-f], done: make(chan struct{})}
	}
	for f := range imp.nodes {
		flow := Flow(f)
		n, err := protocol.NewNode(protocol.Config{Identity: m.self, PingInterval: time.Second}, imp.side[f], func(ev protocol.Event) { imp.event(m, flow, ev) })
		if err != nil {
			m.mu.Unlock()
			cancel()
			return fmt.Errorf("mitm: impersonate: %w", err)
		}
		imp.nodes[f] = n
	}
	for _, n := range imp.nodes {
		imp.wg.Add(1)
		go func() {
			defer imp.wg.Done()
			_ = n.Run(ctx)
		}()
	}
	m.imp = imp
	m.mu.Unlock()
	for _, f := range []Flow{FlowAB, FlowBA} {
		m.emit(Event{Flow: f, Action: Armed, Attack: Impersonate})
	}
	return nil
}

// event handles what the impostor node facing flow f's sender reports: a
// session with that peer, and a message from it, passed on to the other
// peer through the other node.
func (imp *impostor) event(m *Relay, f Flow, ev protocol.Event) {
	switch e := ev.(type) {
	case protocol.SessionEvent:
		if e.State == protocol.SessionEstablished {
			m.emit(Event{Flow: f, Action: ImpostorSession, Attack: Impersonate, Peer: e.PeerFingerprint})
		}
	case protocol.MessageEvent:
		action := Intercepted
		if _, err := imp.nodes[1-f].SendMessage(e.Text); err != nil {
			action = Lost
		}
		m.emit(Event{Flow: f, Action: action, Attack: Impersonate, Type: protocol.TypeChat, Text: e.Text})
	}
}

// feed hands msg, sent by flow f's sender, to the node facing it.
func (imp *impostor) feed(f Flow, msg []byte) {
	select {
	case imp.side[f].in <- msg:
	default:
	}
}

// stop stops both nodes and waits for them.
func (imp *impostor) stop() {
	imp.cancel()
	imp.wg.Wait()
	for _, l := range imp.side {
		_ = l.Close()
	}
}

// impostorLink is an impostor node's protocol.Transport: it receives what
// the pump feeds it and sends through the MITM's transport to its peer
// (which it does not close).
type impostorLink struct {
	in   chan []byte
	out  protocol.Transport
	done chan struct{}
	once sync.Once
}

func (l *impostorLink) Send(ctx context.Context, msgs ...[]byte) error {
	select {
	case <-l.done:
		return protocol.ErrPipeClosed
	default:
	}
	return l.out.Send(ctx, msgs...)
}

func (l *impostorLink) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-l.in:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, protocol.ErrPipeClosed
	}
}

func (l *impostorLink) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Connecting passes on the MITM transport's signal that its connection
// came up, for the impostor node's sends (see protocol.SendWhenUp).
func (l *impostorLink) Connecting() <-chan struct{} {
	if cn, ok := l.out.(interface{ Connecting() <-chan struct{} }); ok {
		return cn.Connecting()
	}
	return nil
}
