package protocol

// The Node's handshake side: public keys, reachability, hellos, key
// transport, ack and confirmation (docs/PROTOCOL.md, sections 4 and 7).

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"duet/crypto"
)

// Driven by node_handshake.go.
//
// handshakeState is the handshake side of the node: who the peer is
// believed to be (the candidate), the attempt under way with it, and the
// attempts it replaced.
//
// The candidate is peer, the key the next handshake runs with. When
// another key becomes the candidate (chooseCandidate), reachable and
// verified are reset and the attempt is dropped; peerLeft forgets the
// candidate the same way. reachable and peerChallenge mean nothing while
// peer is nil. reachable is set only by a public key that echoed our
// challenge: its sender gets what we send to our sub port. Once it is set,
// the candidate's challenge changes only through such a message, so a copy
// of the peer's public key (it travels in clear) cannot move the cookie.
//
// The attempt is the pure machine of our role, init (A) or resp (B), at
// most one of them set, and pendingSess, the session it produced, waiting
// for the peer's confirmation. attempt is when it started; while it is
// zero, init, resp and pendingSess are nil. An attempt replaced by another
// is kept in oldInits or oldResps for staleFor, so that its messages still
// in flight are ignored rather than rejected.
//
// lastOwnHello, lastHelloTS and blockedPeer outlive attempts and
// candidates: our hello timestamps strictly increase, a peer's hello must
// be newer than the last one accepted from its key, and a key pinning
// refused is ignored until AcceptPeerKey.
type handshakeState struct {
	// The candidate.
	peer          *crypto.PublicKey
	peerChallenge [ChallengeSize]byte // the candidate's, echoed in our public keys
	reachable     bool                // the candidate echoed our challenge
	verified      time.Time           // last verified hello from the candidate peer key
	proofAsked    time.Time           // when an unproven new challenge of the candidate was answered (a restart?)
	proofEcho     [ChallengeSize]byte // that challenge

	// The attempt.
	init        *Initiator
	resp        *Responder
	pendingSess *Session
	attempt     time.Time // start of the handshake attempt, zero if none
	progress    time.Time // last handshake progress

	// Replaced attempts, for stale retries.
	oldInits [keptAttempts]retired[*Initiator]
	oldResps [keptAttempts]retired[*Responder]

	// Across attempts and candidates.
	lastOwnHello time.Time                    // timestamp of our last hello as A: the next is later
	lastHelloTS  map[crypto.Fingerprint]int64 // newest hello accepted per peer key
	blockedPeer  crypto.Fingerprint           // a key VerifyPeer refused; ignored afterwards
	established  bool                         // a session was established in this run
	// changed holds the changed keys (crypto.KeyChangedError) reported in
	// a PeerKeyEvent, each reported once. It is not bounded: each entry is
	// a key that proved possession of its private key in a signed hello,
	// within the sign budget, and was refused.
	changed map[crypto.Fingerprint]bool
}

// kickHandshake resends our public key when the peer's port is live but we
// have not heard its key: the first one was probably sent before the peer
// was listening. Rate-limited like every public-key reply.
func (n *Node) kickHandshake() {
	if n.sess == nil && n.hs.peer == nil && n.budget.reply.allow(n.now) {
		n.sendPublicKey(true)
	}
}

// isInitiator reports whether this node plays A towards peer.
// Roles follow fingerprint order; two processes sharing one identity order
// themselves by their challenges instead.
func (n *Node) isInitiator(peer crypto.Fingerprint) bool {
	if peer == n.self {
		return bytes.Compare(n.challenge[:], n.hs.peerChallenge[:]) < 0
	}
	return n.self.Less(peer)
}

// sendPublicKey sends our public key echoing our copy of the candidate's
// challenge, or zeros when there is no candidate (docs/PROTOCOL.md, 4.1:
// the echo field).
func (n *Node) sendPublicKey(replyRequested bool) {
	var echo [ChallengeSize]byte
	if n.hs.peer != nil {
		echo = n.hs.peerChallenge
	}
	n.sendPublicKeyEcho(replyRequested, echo)
}

// sendPublicKeyEcho sends our public key and challenge, echoing echo.
func (n *Node) sendPublicKeyEcho(replyRequested bool, echo [ChallengeSize]byte) {
	n.queue(AppendPublicKey(nil, PublicKeyMsg{
		ReplyRequested: replyRequested, Challenge: n.challenge, Echo: echo, DER: n.selfDER,
	}))
}

// startHandshake (re)starts an attempt: our public key with a reply
// request, and, if we are A towards a known peer, a fresh hello.
func (n *Node) startHandshake() {
	n.hs.retire(n.now)
	n.hs.init, n.hs.resp, n.hs.pendingSess = nil, nil, nil
	n.hs.attempt, n.hs.progress = n.now, n.now
	n.countAttempt()
	n.sendPublicKey(true)
	if n.hs.peer != nil && n.hs.reachable && n.isInitiator(n.hs.peer.Fingerprint()) {
		n.sendHelloA()
	}
}

func (n *Node) sendHelloA() {
	if !n.budget.sign.allow(n.now) {
		return // the step timer retries
	}
	// Hello timestamps strictly increase: the peer refuses a hello not
	// newer than the last it accepted (a replay), and two hellos sent in
	// one loop turn would otherwise carry the same time.
	ts := n.now
	if !ts.After(n.hs.lastOwnHello) {
		ts = n.hs.lastOwnHello.Add(time.Nanosecond)
	}
	init, hello, err := NewInitiator(n.cfg.Identity, n.hs.peer, n.cfg.Rand, ts, n.cfg.Window)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	n.hs.retire(n.now)
	n.hs.lastOwnHello = ts
	n.hs.init, n.hs.resp, n.hs.pendingSess = init, nil, nil
	n.hs.attempt, n.hs.progress = n.now, n.now
	n.countAttempt()
	SetCookie(hello, n.hs.peerChallenge)
	n.queue(hello)
}

// handlePublicKey handles a PUBLIC_KEY (docs/PROTOCOL.md, section 4): it
// decides whether the sender's key is the candidate, what the message
// proves about the candidate's challenge, how to answer it, and whether A
// sends a hello now.
func (n *Node) handlePublicKey(m []byte) {
	msg, pk, ok := n.readPublicKey(m)
	if !ok {
		return
	}
	echoed := msg.Echo == n.challenge
	candidate := n.chooseCandidate(pk, echoed)
	changed := candidate && n.noteChallenge(msg.Challenge, echoed)
	n.answerPublicKey(msg, candidate, echoed)
	if candidate {
		n.maybeSendHello(pk.Fingerprint(), msg.ReplyRequested, echoed, changed)
	}
}

// readPublicKey parses a PUBLIC_KEY and its key. It rejects a malformed
// one and our own sent back, and ignores a key pinning refused.
func (n *Node) readPublicKey(m []byte) (PublicKeyMsg, *crypto.PublicKey, bool) {
	msg, err := ParsePublicKeyMsg(m)
	if err != nil {
		n.reject(err, 0, false)
		return msg, nil, false
	}
	pk, err := crypto.ParsePublicKey(msg.DER)
	if err != nil {
		n.reject(fmt.Errorf("%w: %v", ErrMalformed, err), 0, false)
		return msg, nil, false
	}
	fp := pk.Fingerprint()
	if fp == n.self && msg.Challenge == n.challenge {
		// Our own message sent back. (Our key with another challenge is
		// another process sharing this identity, as when both peers run
		// under one account with the default identity file.)
		n.reject(fmt.Errorf("%w: our own public key", ErrReflected), 0, false)
		return msg, nil, false
	}
	if fp == n.hs.blockedPeer {
		n.ignore()
		return msg, nil, false // already reported; AcceptPeerKey or a restart is needed to accept it
	}
	return msg, pk, true
}

// chooseCandidate reports whether pk is the candidate after this message:
// it already was, or it displaces the one we had (whose attempt is then
// dropped). echoed tells whether the message echoed our challenge.
func (n *Node) chooseCandidate(pk *crypto.PublicKey, echoed bool) bool {
	if n.hs.peer != nil && n.hs.peer.Fingerprint() == pk.Fingerprint() {
		return true
	}
	// Which candidate to keep: one that echoed our challenge (it gets
	// what we send to our sub port) is only displaced by another that
	// does; one that proved its key (a verified hello) within the step
	// timeout likewise. A changed key of the real peer is reachable, so
	// it displaces the old one and is then refused, and reported, by
	// key pinning.
	keep := n.hs.peer != nil && !echoed &&
		(n.hs.reachable || !n.hs.verified.IsZero() && n.now.Sub(n.hs.verified) < n.cfg.StepTimeout)
	if keep {
		return false
	}
	n.hs.peer, n.hs.init, n.hs.resp, n.hs.pendingSess, n.hs.verified, n.hs.reachable = pk, nil, nil, nil, time.Time{}, false
	return true
}

// noteChallenge records what a public key of the candidate proves: that
// the peer answers, its challenge, and its reachability if it echoed ours.
// It reports whether the challenge of a reachable candidate changed (a
// new process of the peer).
//
// The candidate's challenge (the cookie of our hellos and key
// transports) changes only through a message that proves its sender
// gets what we send: one that echoes our challenge. Anyone can send the
// peer's public key (it travels in clear), so a public key that does not
// echo ours leaves a reachable candidate's challenge and reachability as
// they are; before reachability is proven there is nothing to protect.
func (n *Node) noteChallenge(challenge [ChallengeSize]byte, echoed bool) (changed bool) {
	n.tally.answered = true // the peer (or what claims to be) answers
	if echoed || !n.hs.reachable {
		changed = n.hs.reachable && n.hs.peerChallenge != challenge
		n.hs.peerChallenge = challenge
	}
	if echoed {
		n.hs.reachable = true
	}
	if n.hs.reachable {
		n.tally.stepDone(StepPublicKeys) // both keys known, and it gets what we send
	}
	return changed
}

// answerPublicKey answers a public key with ours, within the reply
// budgets, and arms retryProof for an unproven new challenge of the
// reachable candidate.
//
// Answer with our challenge, echoing the sender's, even when it is not
// the candidate: that is how a peer with a new key (or a new process)
// gets the challenge it must echo. Replies go to our sub port, so only a
// reachable host ever sees them, and they are rate-limited. A message
// that echoed our challenge has a budget of its own, so requests from
// elsewhere (a flood) cannot starve the peer. The reply asks for a
// reply only if we still need the sender's echo: it did not echo our
// challenge, and its key is not our reachable candidate or its
// challenge is not the one we hold. So no loops, and a copy of the
// peer's key cannot make the peer and us bounce requests (and hellos).
func (n *Node) answerPublicKey(msg PublicKeyMsg, candidate, echoed bool) {
	proven := candidate && echoed
	needEcho := !proven && (!candidate || !n.hs.reachable || msg.Challenge != n.hs.peerChallenge)
	// A new challenge of the reachable candidate, unproven: probably the
	// peer restarted (same key, new challenge).
	restart := candidate && n.hs.reachable && msg.Challenge != n.hs.peerChallenge
	switch {
	case proven:
		n.hs.proofAsked = time.Time{}
	case restart:
		// Our answer may be lost while our transport redials the peer:
		// retryProof repeats it.
		n.hs.proofAsked, n.hs.proofEcho = n.now, msg.Challenge
	}
	budget := n.budget.reply
	if proven {
		budget = n.budget.peerReply
	}
	switch {
	case msg.ReplyRequested && budget.allow(n.now):
		n.sendPublicKeyEcho(needEcho, msg.Challenge)
	case candidate && !n.hs.reachable && budget.allow(n.now):
		n.sendPublicKey(true) // ask for an echo of our challenge
	case restart && budget.allow(n.now):
		// Answered at once whether or not it asked for a reply, like every
		// repetition of retryProof (docs/PROTOCOL.md, 4.1).
		n.sendPublicKeyEcho(true, msg.Challenge)
	}
}

// maybeSendHello sends a fresh hello after a public key of the candidate
// fp when we are A and one is due. replyRequested and echoed describe the
// message; changed tells that the reachable candidate's challenge changed.
func (n *Node) maybeSendHello(fp crypto.Fingerprint, replyRequested, echoed, changed bool) {
	if !n.hs.reachable || !n.isInitiator(fp) {
		return // B waits for A's hello; nobody signs for an unreachable key
	}
	if !echoed && n.hs.init != nil {
		return // unproven: it cannot make us sign again (we asked for an echo)
	}
	// A peer that proved it gets our traffic and asks for our key, or that
	// runs a new process (a new challenge), is (re)starting its handshake:
	// it did not get our last hello, so send a fresh one (the sign budget
	// bounds this). Otherwise a hello is sent only if no attempt is under way.
	fresh := n.hs.init != nil && n.now.Sub(n.hs.attempt) < n.cfg.StepTimeout
	if !(echoed && replyRequested) && !changed && (fresh || n.sess != nil) {
		return
	}
	if !changed && n.hs.init != nil && n.hs.init.state == 0 && n.now.Sub(n.hs.lastOwnHello) < n.cfg.StepTimeout/4 {
		// Our hello is younger than a retry could be: the request crossed
		// it (several often arrive together). Another hello would only
		// cross this one.
		return
	}
	n.sendHelloA()
}

func (n *Node) handleHello(m []byte) {
	if n.hs.peer == nil || !n.hs.reachable {
		n.ignore()
		return // no reachable candidate: nothing to verify against (a flood costs nothing)
	}
	if n.isInitiator(n.hs.peer.Fingerprint()) {
		n.handleHelloB(m)
		return
	}
	h, err := CheckHelloA(m, n.cfg.Identity, n.hs.peer, n.now, n.cfg.Window)
	peerFP := n.hs.peer.Fingerprint()
	if err == nil && h.Timestamp <= n.hs.lastHelloTS[peerFP] {
		err = fmt.Errorf("protocol: hello: %w", ErrHelloReplay)
	}
	if err == nil {
		if perr := n.pin(n.hs.peer); perr != nil {
			err = &pinError{perr}
		}
	}
	if err != nil {
		n.reject(err, 0, false)
		n.handshakeEvent(StepVerify, err)
		n.dropBlockedPeer()
		return
	}
	if _, known := n.hs.lastHelloTS[peerFP]; !known && len(n.hs.lastHelloTS) >= maxHelloPeers {
		// Entries older than the window protect nothing: the window does.
		for fp, ts := range n.hs.lastHelloTS {
			if ts < n.now.Add(-n.cfg.Window).UnixNano() {
				delete(n.hs.lastHelloTS, fp)
			}
		}
		if len(n.hs.lastHelloTS) >= maxHelloPeers {
			n.ignore()
			return // 64 keys passed pinning within one window: refuse new ones
		}
	}
	if !n.budget.sign.allow(n.now) {
		n.ignore()
		return // over the sign budget: dropped like any flood; A retries
	}
	resp, hb, err := NewResponder(n.cfg.Identity, n.hs.peer, h, n.cfg.Rand, n.now, n.cfg.Window)
	if err != nil {
		n.ignore()
		n.emit(ErrorEvent{Err: err})
		return
	}
	n.hs.lastHelloTS[peerFP] = h.Timestamp
	n.hs.verified = n.now
	n.hs.retire(n.now)
	n.hs.resp, n.hs.init, n.hs.pendingSess = resp, nil, nil
	n.hs.attempt, n.hs.progress = n.now, n.now
	n.countAttempt()
	SetCookie(hb, n.hs.peerChallenge)
	n.queue(hb)
	n.handshakeEvent(StepPublicKeys, nil)
	n.handshakeEvent(StepHello, nil)
	n.handshakeEvent(StepVerify, nil)
}

// pin runs key pinning on a peer key that proved possession of its private
// key, and reports the verdict (PeerKeyEvent): every key that passes, and a
// changed key (crypto.KeyChangedError) the first time it is refused. A
// refused key is blocked until restart.
func (n *Node) pin(peer *crypto.PublicKey) error {
	if n.cfg.VerifyPeer == nil {
		return nil
	}
	fp := peer.Fingerprint()
	trust, err := n.cfg.VerifyPeer(peer)
	if err == nil {
		n.emit(PeerKeyEvent{Fingerprint: fp, Trust: trust, OwnKey: fp == n.self})
		return nil
	}
	if errors.Is(err, crypto.ErrKeyChanged) {
		n.hs.blockedPeer = fp
	}
	var changed *crypto.KeyChangedError
	if errors.As(err, &changed) && !n.hs.changed[fp] {
		if n.hs.changed == nil {
			n.hs.changed = make(map[crypto.Fingerprint]bool)
		}
		n.hs.changed[fp] = true
		n.emit(PeerKeyEvent{Fingerprint: fp, Changed: changed, OwnKey: fp == n.self,
			Established: n.hs.established, SessionUp: n.sess != nil})
	}
	return err
}

// dropBlockedPeer forgets a handshake with a key pinning refused.
func (n *Node) dropBlockedPeer() {
	if n.hs.peer != nil && n.hs.peer.Fingerprint() == n.hs.blockedPeer {
		n.hs.peer, n.hs.init, n.hs.resp, n.hs.pendingSess = nil, nil, nil, nil
	}
}

func (n *Node) handleHelloB(m []byte) {
	if n.hs.init == nil || n.hs.init.state != 0 {
		if n.staleHelloB(m) {
			n.ignore()
			return
		}
		n.reject(fmt.Errorf("%w: hello without our hello", ErrUnexpected), 0, false)
		return
	}
	kt, err := n.hs.init.HandleHello(m, n.now, n.pin)
	if err != nil {
		if errors.Is(err, ErrBadSignature) && n.staleHelloB(m) {
			n.ignore()
			return
		}
		n.reject(err, 0, false)
		step := StepVerify
		if !IsPinError(err) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStale) &&
			!errors.Is(err, ErrFuture) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnexpected) {
			step = StepKeyTransport
		}
		n.handshakeEvent(step, err)
		n.dropBlockedPeer()
		return
	}
	n.hs.progress, n.hs.verified = n.now, n.now
	SetCookie(kt, n.hs.peerChallenge)
	n.queue(kt)
	n.handshakeEvent(StepPublicKeys, nil)
	n.handshakeEvent(StepHello, nil)
	n.handshakeEvent(StepVerify, nil)
	n.handshakeEvent(StepKeyTransport, nil)
}

func (n *Node) handleKeyTransport(m []byte) {
	if n.hs.resp == nil || n.hs.resp.done {
		if n.staleKeyTransport(m) {
			n.ignore()
			return
		}
		n.reject(fmt.Errorf("%w: key transport without hello", ErrUnexpected), 0, false)
		return
	}
	ack, res, err := n.hs.resp.HandleKeyTransport(m, n.now)
	if err != nil {
		if errors.Is(err, ErrBadSignature) && n.staleKeyTransport(m) {
			n.ignore()
			return
		}
		n.reject(err, 0, false)
		n.handshakeEvent(StepKeyTransport, err)
		return
	}
	n.handshakeEvent(StepKeyTransport, nil)
	n.queue(ack)
	n.handshakeEvent(StepAck, nil)
	n.keysReady(res)
}

func (n *Node) handleAck(m []byte) {
	if n.hs.init == nil || n.hs.init.state != 1 {
		if n.staleAck(m) {
			n.ignore()
			return
		}
		n.reject(fmt.Errorf("%w: ack without key transport", ErrUnexpected), 0, false)
		return
	}
	res, err := n.hs.init.HandleAck(m, n.now)
	if err != nil {
		if errors.Is(err, ErrTampered) && n.staleAck(m) {
			n.ignore()
			return
		}
		n.reject(err, 0, false)
		n.handshakeEvent(StepAck, err)
		return
	}
	n.handshakeEvent(StepAck, nil)
	n.keysReady(res)
}

// keysReady creates the confirming session and sends our confirmation.
func (n *Node) keysReady(res *HandshakeResult) {
	s, err := NewSession(res, SessionConfig{
		Window: n.cfg.Window, RekeyAfter: n.cfg.RekeyAfter, RekeyInterval: n.cfg.RekeyInterval,
		SendNonceCap: n.cfg.SendNonceCap, NonceCacheSize: n.cfg.NonceCacheSize,
	}, n.cfg.Rand, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	th := s.Transcript()
	rec, _, err := s.Seal(nil, TypeConfirm, th[:], n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return
	}
	n.hs.pendingSess, n.hs.progress = s, n.now
	n.queue(rec)
}

// establish makes the confirmed session current and resends everything
// not yet acknowledged.
func (n *Node) establish(s *Session) {
	if n.sess != nil {
		n.rec.prev, n.rec.prevUntil = n.sess, n.now.Add(prevSessionGrace)
	}
	n.hs.retire(n.now)
	n.sess, n.hs.pendingSess, n.hs.init, n.hs.resp = s, nil, nil, nil
	n.hs.established = true
	n.handshakeEvent(StepConfirm, nil)
	n.hs.attempt = time.Time{}
	n.tally.reset()
	peerFP := s.PeerKey().Fingerprint()
	n.pub.mu.Lock()
	n.pub.peerFP, n.pub.safety, n.pub.hasPeer = peerFP, crypto.SafetyNumber(n.self, peerFP), true
	n.pub.mu.Unlock()
	n.emitSession(SessionEstablished, s)
	for _, id := range n.outbox.order {
		if m, ok := n.outbox.unacked[id]; ok {
			m.lastSend = time.Time{}
		}
	}
	n.resend(len(n.outbox.order))
}

func (n *Node) emitSession(state SessionState, s *Session) {
	fp := s.PeerKey().Fingerprint()
	e := SessionEvent{State: state, PeerFingerprint: fp.String(), SafetyNumber: crypto.SafetyNumber(n.self, fp)}
	if state == SessionEstablished {
		e.KeyExchange, e.PostQuantum = KeyExchangeHandshake, true
	}
	n.emit(e)
}

// Driven by node_handshake.go (countAttempt, closeAttempt); published by
// publishStatus.
//
// attemptTally counts handshake attempts as the user interface sees them
// (Status, StalledEvent). The protocol restarts its attempt whenever the
// peer asks for a fresh hello, which a live but refusing peer does every
// ping; so an attempt is counted at most once per StepTimeout, and one
// that begins within StepTimeout of the last counted one is the same
// attempt. Attempts beside an established session (a peer's restart) are
// not counted. A session established or ended starts the count over.
type attemptTally struct {
	count         int       // counted handshake attempts since start or the last session
	start         time.Time // start of the counted attempt, zero if none
	step          int       // furthest step done in the counted attempt
	answered      bool      // the peer answered during the counted attempt
	first         time.Time // start of the first counted attempt since start or the last session
	answeredRuns  int       // counted attempts in a row that failed while the peer answered
	stallReported bool
}

// countAttempt counts a handshake attempt starting now.
func (n *Node) countAttempt() {
	if n.sess != nil {
		return
	}
	if !n.tally.start.IsZero() && n.now.Sub(n.tally.start) < n.cfg.StepTimeout {
		return
	}
	n.closeAttempt()
	n.tally.count++
	if n.tally.count == 1 {
		n.tally.first = n.now
	}
	n.tally.start, n.tally.step, n.tally.answered = n.now, 0, false
}

// closeAttempt ends the counted attempt without a session, and reports a
// stall once stallAttempts attempts in a row failed although the peer
// answered (a plain pong or a public key arrived) in each: it is alive but
// does not complete the handshake, typically because it refuses our key.
// A node that itself refused the peer's key (blockedPeer) has already
// reported why and reports no stall. An attempt in which nothing answered
// starts the count over.
func (n *Node) closeAttempt() {
	if n.tally.start.IsZero() {
		return
	}
	if !n.tally.answered {
		n.tally.answeredRuns, n.tally.stallReported = 0, false
		return
	}
	n.tally.answeredRuns++
	if n.tally.answeredRuns >= stallAttempts && !n.tally.stallReported && n.hs.blockedPeer == (crypto.Fingerprint{}) {
		n.tally.stallReported = true
		n.emit(StalledEvent{Attempts: n.tally.count, LastStep: n.tally.step, For: n.now.Sub(n.tally.first)})
	}
}

// stepDone records a handshake step done in the counted attempt.
func (t *attemptTally) stepDone(step int) {
	if !t.start.IsZero() && step > t.step {
		t.step = step
	}
}

// reset starts the attempt count over: a session was established or
// ended.
func (t *attemptTally) reset() { *t = attemptTally{} }

// retired is a handshake attempt replaced by a newer one, kept a short
// while (staleFor) to recognise messages still in flight for it.
type retired[T any] struct {
	h  T
	at time.Time
}

// keptAttempts is how many replaced attempts per role are remembered.
const keptAttempts = 4

// staleFor is how long a replaced attempt is remembered: the timestamp
// window (what is older fails its timestamp anyway), at least two step
// timeouts. Age is not what makes a message harmless (only we and the peer
// can produce one that authenticates under our attempt); the bound only
// frees the memory.
func (n *Node) staleFor() time.Duration { return max(n.cfg.Window, 2*n.cfg.StepTimeout) }

// retire remembers the current attempt, at now, before it is replaced.
func (h *handshakeState) retire(now time.Time) {
	if h.init != nil {
		copy(h.oldInits[1:], h.oldInits[:keptAttempts-1])
		h.oldInits[0] = retired[*Initiator]{h.init, now}
	}
	if h.resp != nil {
		copy(h.oldResps[1:], h.oldResps[:keptAttempts-1])
		h.oldResps[0] = retired[*Responder]{h.resp, now}
	}
}

// staleHelloB reports whether m is B's hello answering one of our own
// hellos, the current one (answered twice) or a recently replaced one:
// a crossing retry, not an attack. Bounded by the verify budget.
func (n *Node) staleHelloB(m []byte) bool {
	if n.hs.init.AnswersHello(m, n.now) {
		return true
	}
	for _, o := range n.hs.oldInits {
		if o.h != nil && n.now.Sub(o.at) < n.staleFor() && o.h.AnswersHello(m, n.now) {
			return true
		}
	}
	return false
}

// staleKeyTransport reports whether m is A's key transport for one of our
// recently replaced (or completed) responder attempts.
func (n *Node) staleKeyTransport(m []byte) bool {
	for _, o := range n.hs.oldResps {
		if o.h != nil && n.now.Sub(o.at) < n.staleFor() && o.h.AnswersHello(m) {
			return true
		}
	}
	return false
}

// staleAck reports whether m is B's ack for one of our recently replaced
// (or completed) key transports. A MAC check: no RSA work.
func (n *Node) staleAck(m []byte) bool {
	for _, o := range n.hs.oldInits {
		if o.h != nil && n.now.Sub(o.at) < n.staleFor() && o.h.AnswersKeyTransport(m) {
			return true
		}
	}
	return false
}

// retryProof repeats, every step tick for up to two step timeouts, our
// answer to an unproven new challenge of the reachable candidate (the peer
// restarted, most likely): the first answer is often lost while the
// transport reconnects, and the peer would otherwise retry only after its
// step timeout. The answer requests a reply; any of ours carries our
// challenge, which the peer echoes to prove itself. Rate-limited like every
// public-key reply, so a flood of copies of the peer's key costs one
// message a tick.
func (n *Node) retryProof() {
	if n.hs.proofAsked.IsZero() {
		return
	}
	if n.now.Sub(n.hs.proofAsked) > 2*n.cfg.StepTimeout || !n.hs.reachable {
		n.hs.proofAsked = time.Time{}
		return
	}
	if n.budget.reply.allow(n.now) {
		n.sendPublicKeyEcho(true, n.hs.proofEcho)
	}
}
