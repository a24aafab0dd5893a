package prototest

import (
	"sync"
	"testing"
	"time"
)

// Recorder collects events (from a node: E is protocol.Event) and lets a
// test wait for one. It is safe for concurrent use.
type Recorder[E any] struct {
	mu     sync.Mutex
	events []E
	notify chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder[E any]() *Recorder[E] { return &Recorder[E]{notify: make(chan struct{}, 1)} }

// Emit records e; it is the emit function given to the node.
func (r *Recorder[E]) Emit(e E) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Snapshot returns the events recorded so far, in order.
func (r *Recorder[E]) Snapshot() []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]E(nil), r.events...)
}

// WaitFor waits until pred holds for some event and returns it; after d it
// fails the test, naming what it waited for.
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

// Count counts the events for which pred holds.
func (r *Recorder[E]) Count(pred func(E) bool) int {
	n := 0
	for _, e := range r.Snapshot() {
		if pred(e) {
			n++
		}
	}
	return n
}
