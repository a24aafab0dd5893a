package protocol

import "time"

// Rejection reporting is bounded (docs/PROTOCOL.md, section 9; HEADLESS.md
// "rejected"). A rejection of unauthenticated input (anything without an
// authenticated seq, except key-changed, which follows a verified
// signature) costs an attacker nothing, so it is aggregated: per reason, at
// most one RejectedEvent per rejectEvery; the first after a quiet period is
// reported at once, and the ones after it are counted and reported as one
// event with Count = their number (and the last one's detail) when the
// period ends. Authenticated rejections (replay, reorder, ... with the
// peer's seq) are the demonstration and are reported one by one, up to
// authRejectRate a second (bursts of authRejectBurst); beyond that they are
// aggregated the same way. No other event is ever held back or dropped.
const (
	rejectEvery     = time.Second
	authRejectRate  = 20
	authRejectBurst = 50
)

type pendingReject struct {
	last   time.Time // when the last event for this key was emitted
	count  int       // rejections since then, not yet reported
	seq    uint32    // the last counted rejection's seq (authenticated keys)
	hasSeq bool
	detail string
}

// Driven by node.go (reject, checkTimers, close).
//
// rejectLog holds the aggregation state. Owned by the Run goroutine.
type rejectLog struct {
	byKey  map[string]*pendingReject // reason, or reason+"/auth"
	bucket *tokenBucket
}

func newRejectLog() *rejectLog {
	return &rejectLog{byKey: make(map[string]*pendingReject), bucket: newTokenBucket(authRejectRate, authRejectBurst)}
}

// add reports one rejection: it returns the event to emit now, if any.
func (l *rejectLog) add(ev RejectedEvent, now time.Time) (RejectedEvent, bool) {
	authenticated := ev.HasSeq || ev.Reason == ReasonKeyChanged
	key := ev.Reason
	if authenticated {
		if l.bucket.allow(now) {
			ev.Count = 1
			return ev, true
		}
		key += "/auth"
	}
	p := l.byKey[key]
	if p == nil {
		if len(l.byKey) >= 64 {
			return RejectedEvent{}, false // cannot happen: reasons are a fixed set
		}
		p = &pendingReject{}
		l.byKey[key] = p
	}
	if p.count == 0 && (p.last.IsZero() || now.Sub(p.last) >= rejectEvery || now.Before(p.last)) {
		p.last = now
		ev.Count = 1
		return ev, true
	}
	p.count++
	p.seq, p.hasSeq, p.detail = ev.Seq, ev.HasSeq, ev.Detail
	return RejectedEvent{}, false
}

// flush returns the aggregated events whose period ended (all of them if
// force), oldest reason first is not guaranteed.
func (l *rejectLog) flush(now time.Time, force bool, emit func(Event)) {
	for key, p := range l.byKey {
		if p.count == 0 {
			if !force && now.Sub(p.last) >= 10*rejectEvery {
				delete(l.byKey, key) // quiet: forget it
			}
			continue
		}
		if !force && now.Sub(p.last) < rejectEvery && !now.Before(p.last) {
			continue
		}
		reason := key
		if len(key) > 5 && key[len(key)-5:] == "/auth" {
			reason = key[:len(key)-5]
		}
		emit(RejectedEvent{Reason: reason, Seq: p.seq, HasSeq: p.hasSeq, Detail: p.detail, Count: p.count})
		p.last, p.count, p.detail = now, 0, ""
	}
}
