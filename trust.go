package main

// How far the peer's key is trusted: the node's VerifyPeer (pinned
// fingerprint, else known_peers), accepting a changed key and /verify's
// mark; and what the line and headless modes do about the node's
// PeerKeyEvents (the full screen handles them as it does every event).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/words"
)

// peerCheck is the node's VerifyPeer: the pinned fingerprint, else
// known_peers. The node reports its verdicts (PeerKeyEvent).
type peerCheck struct {
	peerName string // "host:port", the known_peers entry
	pinned   *crypto.Fingerprint
	known    *crypto.KnownPeers
}

// verify checks peer's key and says how far it is trusted.
func (c *peerCheck) verify(peer *crypto.PublicKey) (crypto.Trust, error) {
	fp := peer.Fingerprint()
	if c.pinned != nil {
		if err := crypto.CheckPinned(*c.pinned, fp); err != nil {
			return crypto.TrustUnknown, err
		}
		return crypto.TrustPinned, nil
	}
	first, err := c.known.Check(c.peerName, fp)
	switch {
	case err != nil:
		return crypto.TrustUnknown, err
	case first:
		return crypto.TrustNew, nil
	case c.known.Verified(c.peerName, fp):
		return crypto.TrustVerified, nil
	}
	return crypto.TrustKnown, nil
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

// acceptKey is the key-changed screen's "accept": got, the changed key the
// dialog showed (from the node's PeerKeyEvent), replaces the recorded one,
// and the node retries it. nil when the peer is pinned (the flag must
// change instead).
func acceptKey(c *peerCheck, node *protocol.Node) func(got crypto.Fingerprint) error {
	if c.known == nil {
		return nil
	}
	return func(got crypto.Fingerprint) error {
		if err := c.accept(got); err != nil {
			return err
		}
		node.AcceptPeerKey()
		return nil
	}
}

// changedKeyGrace is how long the line modes wait, after a changed key,
// for the node to report it before the run ends.
const changedKeyGrace = 500 * time.Millisecond

// keyWatch is what the line and headless modes, which do not print
// PeerKeyEvents, do about them: a changed key ends the run, our own key is
// warned about on stderr once.
type keyWatch struct {
	stderr io.Writer
	cancel context.CancelCauseFunc
	ownKey sync.Once
	end    sync.Once
}

// see acts on ev if it is a PeerKeyEvent.
func (w *keyWatch) see(ev protocol.Event) {
	e, ok := ev.(protocol.PeerKeyEvent)
	if !ok {
		return
	}
	switch {
	case e.Changed != nil && !e.Established:
		// A changed key before any session is established ends the run
		// (exit 4), as ssh does, once the node has reported it (the timer
		// covers a node that reports nothing). Once a session was
		// established, another key is only a rejected attempt: anyone can
		// hold a key, and must not be able to end a verified conversation
		// with it.
		err := fmt.Errorf("handshake aborted: %w", e.Changed)
		time.AfterFunc(changedKeyGrace, func() { w.end.Do(func() { w.cancel(err) }) })
	case e.Changed == nil && e.OwnKey:
		w.ownKey.Do(func() { say(w.stderr, "warning: %s", words.OwnKey) })
	}
}
