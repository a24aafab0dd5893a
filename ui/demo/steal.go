package demo

import (
	"errors"
	"fmt"
	"time"

	"duet/protocol/mitm"
	"duet/ui/screen"
)

// This file is /attack steal (issue 19): malware on bob's machine hands the
// man in the middle a copy of bob's sending keys (mitm.Relay.Steal, which
// only the demo's in-process bob can be robbed by); alice's screen then
// shows, record by record, what the thief can read. One run shows both
// boundaries: bob says one thing before the theft (unreadable: its key was
// erased once used), one after it (read), then heals his keys (/rekey: a
// fresh X25519 + ML-KEM-768 exchange) and says one more (unreadable).

// stealLines is what bob says: before the theft, during it, after healing.
var stealLines = [3]string{
	"this message goes before the theft: the man in the middle keeps a copy, and the keys it steals next cannot open it.",
	"malware just handed the man in the middle a copy of my sending keys: it reads this message, and all I send until my keys heal.",
	"my keys healed (a fresh X25519 + ML-KEM-768 exchange inside our session): the stolen copy opens nothing I send now, this message included.",
}

func (a *attacks) stealLasts() time.Duration {
	if a.stealFor > 0 {
		return a.stealFor
	}
	return defaultStealFor
}

// steal starts /attack steal: bob says his first line; once it has gone
// through the relay, theft runs.
func (a *attacks) steal() (string, error) {
	if !a.stealing.CompareAndSwap(false, true) {
		return "", errors.New("a theft is already under way: wait for bob's keys to heal")
	}
	a.stealNext.Store(true)
	if err := a.bob.sayNow(stealLines[0]); err != nil {
		a.stealNext.Store(false)
		a.stealing.Store(false)
		return "", fmt.Errorf("bob could not send: %w", err)
	}
	return fmt.Sprintf("bob sends one message; then malware on his machine hands the man in the middle a copy of his sending keys. "+
		"It reads what he sends next, not what he sent before; %s later bob heals his keys (/rekey), and it reads nothing more.",
		seconds(a.stealLasts())), nil
}

// theft is the rest of /attack steal, once bob's first line is relayed:
// the relay steals bob's chain, bob says his second line, heals after
// stealLasts, says his third once healed, and stealLasts later the thief
// is sent away.
func (a *attacks) theft() {
	ctx, n := a.ctx, a.bob.current()
	if err := a.m.Steal(mitm.FlowBA, n); err != nil {
		a.stealing.Store(false)
		a.post(screen.NoticeMsg{Text: "the man in the middle could not steal bob's keys: " + err.Error(), Warn: true})
		return
	}
	a.bob.whenHealed(func() { a.afterHealing() })
	if err := a.bob.sayNow(stealLines[1]); err != nil {
		a.post(screen.NoticeMsg{Text: "bob could not send: " + err.Error(), Warn: true})
	}
	select {
	case <-time.After(a.stealLasts()):
	case <-ctx.Done():
		return
	}
	if err := n.Rekey(); err != nil {
		a.bob.whenHealed(nil)
		a.m.Disarm(mitm.FlowBA)
		a.stealing.Store(false)
		a.post(screen.NoticeMsg{Text: "bob could not heal his keys: " + err.Error(), Warn: true})
	}
}

// afterHealing runs when bob's sending direction healed: bob says his
// last line, and stealLasts later the thief is sent away.
func (a *attacks) afterHealing() {
	if err := a.bob.sayNow(stealLines[2]); err != nil {
		a.post(screen.NoticeMsg{Text: "bob could not send: " + err.Error(), Warn: true})
	}
	select {
	case <-time.After(a.stealLasts()):
	case <-a.ctx.Done():
		return
	}
	a.m.Disarm(mitm.FlowBA)
	a.stealing.Store(false)
	a.post(screen.NoticeMsg{Text: "the stolen keys are worth nothing now: the man in the middle drops them. /attack steal again steals bob's new ones."})
}
