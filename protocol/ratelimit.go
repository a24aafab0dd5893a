package protocol

import "time"

// tokenBucket limits work triggered by unauthenticated input (hellos, public
// keys): at most burst at once, refilled at rate per second. Not safe for
// concurrent use; the driver loop owns it.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate, burst float64) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst}
}

// allow takes one token if available.
func (b *tokenBucket) allow(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) { // a clock stepping back refills nothing and takes nothing
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Driven by node.go (verify, pong) and node_handshake.go (sign, reply,
// peerReply).
//
// budgets bound the private-key work and the replies that input nobody
// authenticated yet can cause. Each message is charged to one bucket, at
// the point where the work would start, and one that finds its bucket
// empty is dropped as ignored. A flood therefore costs us at most a
// bucket's rate, and is not reflected onto the peer beyond it.
type budgets struct {
	sign      *tokenBucket // RSA signatures: our hellos as A, our answers as B
	verify    *tokenBucket // RSA verifications: hellos and key transports that passed the cookie
	reply     *tokenBucket // public keys sent in answer to anyone
	peerReply *tokenBucket // public keys sent in answer to the candidate that echoed our challenge
	pong      *tokenBucket // PLAIN_PONG answers to (unauthenticated) PLAIN_PINGs
}

func newBudgets() budgets {
	return budgets{
		sign:      newTokenBucket(4, 4),
		verify:    newTokenBucket(500, 100),
		reply:     newTokenBucket(20, 10),
		peerReply: newTokenBucket(20, 10),
		pong:      newTokenBucket(plainPongRate, plainPongRate),
	}
}
