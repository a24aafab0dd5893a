package protocol

import (
	"errors"
	"fmt"

	"duet/protocol/internal/tap"
	"duet/protocol/keys"
)

// This file hands the demo's malware (protocol/internal/tap, used by
// mitm.Relay.Steal only) a copy of a node's sending chain. Node has no
// exported method that gives out key state.

// errNotANode is what the tap returns for anything but a *Node.
var errNotANode = errors.New("protocol: tap: not a *protocol.Node")

func init() { tap.SendChain = stealSendChain }

// stealSendChain copies n's sending chain and send epoch on n's Run
// goroutine (the session's owner), so the copy is consistent with the
// records n has sealed: it opens exactly those sealed after it.
func stealSendChain(node any) (keys.Chain, uint32, error) {
	n, ok := node.(*Node)
	if !ok || n == nil {
		return keys.Chain{}, 0, fmt.Errorf("%w (%T)", errNotANode, node)
	}
	var (
		c     keys.Chain
		epoch uint32
	)
	err := n.command(func() error {
		if n.sess == nil {
			return ErrNoSession
		}
		c, epoch = n.sess.send, n.sess.SendEpoch()
		return nil
	})
	if err != nil {
		return keys.Chain{}, 0, fmt.Errorf("protocol: tap: %w", err)
	}
	return c, epoch, nil
}
