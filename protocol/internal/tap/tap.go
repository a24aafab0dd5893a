// Package tap is the one way out of a protocol.Node for its key state,
// and it exists for the demo's "/attack steal" only (issue 19): it plays
// the malware that copies a running duet's sending chain.
//
// Being internal, only packages under protocol/ can import it; of those,
// only protocol/mitm does, and only for Relay.Steal, which the demo calls
// on its own in-process bob. Nothing in the normal chat path (the ui, the
// headless mode, the store, the network) can reach it, and a separate
// process (duet mitm) has no node to call it on.
package tap

import "duet/protocol/keys"

// SendChain, set by package protocol at init, returns a copy of node's
// current sending chain (an independent keys.Chain: using it does not move
// the node's) and the node's send epoch (the healings its sending
// direction has had). node must be a *protocol.Node; the error is
// protocol.ErrNoSession when it has no session, an error when node is
// something else, or the node's command error (it left, it is not
// running).
var SendChain func(node any) (keys.Chain, uint32, error)
