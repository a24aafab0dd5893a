package protocol

import "time"

// Driven by node_records.go (sendPing, gotPong) through the methods below.
//
// liveness tracks the peer's liveness from pings and pongs: waiting until
// the first pong, live after any pong, degraded after DegradedAfter pings in
// a row went unanswered, down after DownAfter, live again on the next pong.
type liveness struct {
	state         LiveState
	authenticated bool
	rtt           time.Duration
	missed        int
	outstanding   uint64 // id of the unanswered ping, 0 if none
	sentAt        time.Time
	lastPong      time.Time // when the last answer arrived, zero if never
}

func newLiveness() liveness { return liveness{state: LiveWaiting} }

// pingSent records a new ping; the previous one, if unanswered, counts as
// missed. It returns true if the state changed.
func (l *liveness) pingSent(id uint64, now time.Time) bool {
	changed := false
	if l.outstanding != 0 {
		l.missed++
		next := l.state
		switch {
		case l.state == LiveWaiting:
		case l.missed >= DownAfter:
			next = LiveDown
		case l.missed >= DegradedAfter:
			next = LiveDegraded
		}
		changed = next != l.state
		l.state = next
	}
	l.outstanding, l.sentAt = id, now
	return changed
}

// pong records an answer; it returns false if id is not the outstanding
// ping (late or forged answers are ignored).
func (l *liveness) pong(id uint64, authenticated bool, now time.Time) bool {
	if id == 0 || id != l.outstanding {
		return false
	}
	l.rtt = now.Sub(l.sentAt)
	l.lastPong = now
	l.outstanding, l.missed = 0, 0
	l.state, l.authenticated = LiveLive, authenticated
	return true
}

func (l *liveness) event() LiveEvent {
	return LiveEvent{State: l.state, RTT: l.rtt, Authenticated: l.authenticated}
}
