package main

// How far the peer's key is trusted: the node's VerifyPeer (pinned
// fingerprint, else known_peers) and what a changed key does, per front end.

import (
	"errors"
	"sync"
	"sync/atomic"

	"duet/crypto"
	"duet/protocol"
)

// ownKeyNote is said once when the peer presents our own key.
const ownKeyNote = "the peer uses your own identity key (both sides run with the same key file): its fingerprint and the safety number cannot tell the two sides apart; give each side its own --identity"

// peerCheck is the node's VerifyPeer: the pinned fingerprint, else
// known_peers. It also works out how far the peer's key is trusted and what
// to do about a changed key, which depends on the front end.
type peerCheck struct {
	peerName string // "host:port", the known_peers entry
	pinned   *crypto.Fingerprint
	known    *crypto.KnownPeers

	established atomic.Bool // a session was established in this run
	sessionUp   atomic.Bool // a session is up now (not closed, the peer did not leave)
	// changedWhileDown: report a changed key whenever no session is up
	// (the full screen, which only warns), rather than only before the
	// first session (line modes, which exit).
	changedWhileDown bool
	// onTrust is told the trust of every key that passes (nil: nobody asks).
	onTrust func(crypto.Trust, crypto.Fingerprint)
	// onChanged is told, once per distinct key, of a key other than the
	// recorded one presented before any session in this run.
	onChanged func(*crypto.KeyChangedError)
	// self is our own key's fingerprint; onOwnKey is told, once, that the
	// peer presented it (both sides run with one identity file).
	self     crypto.Fingerprint
	onOwnKey func()
	ownKey   sync.Once

	mu       sync.Mutex
	reported map[crypto.Fingerprint]bool
}

func (c *peerCheck) verify(peer *crypto.PublicKey) error {
	fp := peer.Fingerprint()
	var err error
	trust := crypto.TrustKnown
	switch {
	case c.pinned != nil:
		err = crypto.CheckPinned(*c.pinned, fp)
		trust = crypto.TrustPinned
	default:
		var first bool
		first, err = c.known.Check(c.peerName, fp)
		switch {
		case first:
			trust = crypto.TrustNew
		case c.known.Verified(c.peerName, fp):
			trust = crypto.TrustVerified
		}
	}
	if err == nil {
		if c.onTrust != nil {
			c.onTrust(trust, fp)
		}
		if fp == c.self && c.onOwnKey != nil {
			c.ownKey.Do(c.onOwnKey)
		}
		return nil
	}
	// A changed key before any session is established is shown (screen) or
	// ends the run (exit 4), as ssh does. Once a session is up, another key
	// is only a rejected attempt: anyone can hold a key, and must not be
	// able to end a verified conversation with it.
	var changed *crypto.KeyChangedError
	before := !c.established.Load() || (c.changedWhileDown && !c.sessionUp.Load())
	if errors.As(err, &changed) && before && c.onChanged != nil {
		c.mu.Lock()
		first := !c.reported[fp]
		if c.reported == nil {
			c.reported = make(map[crypto.Fingerprint]bool)
		}
		c.reported[fp] = true
		c.mu.Unlock()
		if first {
			c.onChanged(changed)
		}
	}
	return err
}

// accept records a changed key the user accepted on purpose.
func (c *peerCheck) accept(got crypto.Fingerprint) error {
	if c.known == nil {
		return errors.New("the peer is pinned with --peer-fingerprint: change the flag to accept another key")
	}
	return c.known.Replace(c.peerName, got)
}

// markVerified is /verify's confirmation: the established peer's key is
// marked verified in known_peers. nil when the peer is pinned.
func markVerified(c *peerCheck, node *protocol.Node) func() error {
	if c.known == nil {
		return nil
	}
	return func() error {
		fp, _, ok := node.Peer()
		if !ok {
			return errors.New("no session yet: nothing to verify")
		}
		return c.known.MarkVerified(c.peerName, fp)
	}
}

// acceptKey is the key-changed screen's "accept": the newest changed key the
// peer presented replaces the recorded one, and the node retries it. nil
// when the peer is pinned (the flag must change instead).
func acceptKey(c *peerCheck, node *protocol.Node) func() error {
	if c.known == nil {
		return nil
	}
	var last atomic.Pointer[crypto.Fingerprint]
	prev := c.onChanged
	c.onChanged = func(e *crypto.KeyChangedError) {
		got := e.Got
		last.Store(&got)
		prev(e)
	}
	return func() error {
		got := last.Load()
		if got == nil {
			return errors.New("no changed key to accept")
		}
		if err := c.accept(*got); err != nil {
			return err
		}
		node.AcceptPeerKey()
		return nil
	}
}
