// Package prototest holds test helpers shared by the tests of protocol and
// of the packages beside it (protocol/store): test identities and an event
// recorder. It imports nothing of protocol, so that protocol's own
// (in-package) tests can use it without an import cycle; the recorder is
// generic over the event type for that reason. It is imported by tests
// only.
package prototest

import (
	"bytes"
	"crypto/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"duet/crypto"
)

var (
	idOnce sync.Once
	ids    [3]*crypto.Identity
)

// Identities returns three RSA-2048 identities generated once per test
// binary, ordered by fingerprint so that ids[0] plays A towards ids[1] and
// ids[2] sorts between them; a fourth, sorting after ids[1], waits in
// extraIDs. So IdentityOrdered always finds a key on either side of B
// without generating more.
func Identities(t testing.TB) [3]*crypto.Identity {
	t.Helper()
	idOnce.Do(func() {
		var keys [4]*crypto.Identity
		for i := range keys {
			id, err := crypto.GenerateIdentity(rand.Reader)
			if err != nil {
				panic(err)
			}
			keys[i] = id
		}
		slices.SortFunc(keys[:], func(a, b *crypto.Identity) int {
			fa, fb := a.Public().Fingerprint(), b.Public().Fingerprint()
			return bytes.Compare(fa[:], fb[:])
		})
		ids = [3]*crypto.Identity{keys[0], keys[2], keys[1]}
		extraMu.Lock()
		extraIDs = []*crypto.Identity{keys[1], keys[3]}
		extraMu.Unlock()
	})
	return ids
}

var (
	extraMu  sync.Mutex
	extraIDs []*crypto.Identity
)

// IdentityOrdered returns an identity other than ids[0] and ids[1] whose
// fingerprint sorts before (less) or after (!less) fp.
func IdentityOrdered(t testing.TB, fp crypto.Fingerprint, less bool) *crypto.Identity {
	t.Helper()
	Identities(t) // before the lock: it fills extraIDs
	extraMu.Lock()
	defer extraMu.Unlock()
	for i := 0; ; i++ {
		if i == len(extraIDs) {
			id, err := crypto.GenerateIdentity(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			extraIDs = append(extraIDs, id)
		}
		if extraIDs[i].Public().Fingerprint().Less(fp) == less {
			return extraIDs[i]
		}
	}
}

// Recorder collects events from a node (E is protocol.Event).
type Recorder[E any] struct {
	mu     sync.Mutex
	events []E
	notify chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder[E any]() *Recorder[E] { return &Recorder[E]{notify: make(chan struct{}, 1)} }

// Emit records e; it is a node's emit function.
func (r *Recorder[E]) Emit(e E) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Snapshot returns the events recorded so far, oldest first.
func (r *Recorder[E]) Snapshot() []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]E(nil), r.events...)
}

// WaitFor waits until pred holds for some event and returns it.
func (r *Recorder[E]) WaitFor(t testing.TB, d time.Duration, what string, pred func(E) bool) E {
	t.Helper()
	deadline := time.After(d)
	for {
		for _, e := range r.Snapshot() {
			if pred(e) {
				return e
			}
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events: %v", what, r.Snapshot())
			var zero E
			return zero
		}
	}
}

// Count returns the number of events for which pred holds.
func (r *Recorder[E]) Count(pred func(E) bool) int {
	n := 0
	for _, e := range r.Snapshot() {
		if pred(e) {
			n++
		}
	}
	return n
}
