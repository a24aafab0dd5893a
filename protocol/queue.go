package protocol

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Queue bounds between the transport and the node's loop, in bytes
// (implementation choices, not wire format). The counts beside them
// (inQueueMessages, outQueueBatches) only bound the channels' slots.
const (
	// inQueueBytes bounds received messages waiting for the loop. The
	// reader stops calling Recv while it is used up, so the transport stops
	// reading its connections and TCP pushes back on the sender.
	inQueueBytes = 1 << 20
	// outQueueBytes bounds batches waiting for the transport writer; past
	// it a batch is dropped like one that finds the queue full (chat
	// messages are resent, the rest is periodic).
	outQueueBytes = 4 << 20
	// refusedReportEvery spaces the reports of refused transport messages.
	refusedReportEvery = time.Second
)

// Driven by node.go (readLoop, writeLoop, queue, flush) and, for refusals,
// by reportRefusals below.
//
// link is what stands between the Run goroutine and the transport. The
// reader goroutine fills in (waiting in inBudget, which counts the bytes in
// in, so that TCP pushes back) and adds refusals; the Run goroutine drains
// in, builds batch (at most MaxBatch messages and MaxMessageSize bytes,
// batchBytes of them) and hands it to out, dropping it if outBudget, which
// counts the bytes in out, is used up; the writer goroutine drains out and
// alone owns sendDown.
type link struct {
	in        chan inMsg
	out       chan [][]byte
	inBudget  *byteBudget     // bytes in in: the reader waits (TCP pushes back)
	outBudget *byteBudget     // bytes in out: flush drops past it
	src       sourceTransport // the transport, if it names connections (net)
	refused   refusals        // refused transport messages to report
	up        chan struct{}   // the transport's connection to the peer came up (watchUp)

	// Owned by the Run goroutine.
	markedSrc  uint64 // the connection last reported proven
	batch      [][]byte
	batchBytes int

	sendDown bool // owned by the writer goroutine: the last batch was given up
}

// inMsg is one received message and the transport connection it came from
// (0 when the transport does not say).
type inMsg struct {
	b   []byte
	src uint64
}

// sourceTransport is implemented by transports that name the connection a
// message came from and want to know which connections proved their
// sender reachable (Node.proves; net.Transport: such connections keep
// their place when unproven ones are evicted). RecvFrom may also return an error
// with a RefusedCount method: messages the transport refused (over its
// limits), which the node reports and which are not fatal.
type sourceTransport interface {
	RecvFrom(ctx context.Context) ([]byte, uint64, error)
	MarkProven(src uint64)
}

// refusedError is what a transport's RecvFrom returns for refused messages.
type refusedError interface {
	error
	RefusedCount() uint64
}

// byteBudget bounds the bytes in flight between one producer, which waits
// in acquire (one goroutine at a time), and consumers, which call release.
type byteBudget struct {
	limit   int64
	used    atomic.Int64
	mu      sync.Mutex
	waiting bool          // acquire waits for freed
	freed   chan struct{} // closed and replaced by release when acquire waits
}

func newByteBudget(limit int) *byteBudget {
	return &byteBudget{limit: int64(limit), freed: make(chan struct{})}
}

// acquire waits until n bytes fit (a message larger than the whole budget
// fits when nothing else is held) or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		u := b.used.Load()
		if u == 0 || u+int64(n) <= b.limit {
			b.used.Add(int64(n))
			b.mu.Unlock()
			return nil
		}
		ch := b.freed
		b.waiting = true
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryAcquire takes n bytes if they fit now.
func (b *byteBudget) tryAcquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.used.Load()
	if u != 0 && u+int64(n) > b.limit {
		return false
	}
	b.used.Add(int64(n))
	return true
}

func (b *byteBudget) release(n int) {
	b.mu.Lock()
	b.used.Add(-int64(n))
	if b.waiting {
		b.waiting = false
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
}

// below reports whether less than frac of the budget is used.
func (b *byteBudget) below(frac float64) bool {
	return float64(b.used.Load()) < frac*float64(b.limit)
}

// batchBytes is the size of a batch.
func batchBytes(b [][]byte) int {
	n := 0
	for _, m := range b {
		n += len(m)
	}
	return n
}

// refusals aggregates the transport's refused-message reports for the
// loop: the first is reported at once, later ones at most once per
// refusedReportEvery, with their count.
type refusals struct {
	mu      sync.Mutex
	count   uint64
	first   error
	last    time.Time
	pending chan struct{} // signals the loop (capacity 1)
}

func (r *refusals) add(err refusedError) {
	r.mu.Lock()
	if r.count == 0 {
		r.first = err
	}
	r.count += err.RefusedCount()
	r.mu.Unlock()
	select {
	case r.pending <- struct{}{}:
	default:
	}
}

// report emits the aggregated refusals if any are due at now; it returns
// whether some remain to be reported later.
func (n *Node) reportRefusals(now time.Time) bool {
	r := &n.link.refused
	r.mu.Lock()
	if r.count == 0 {
		r.mu.Unlock()
		return false
	}
	if !r.last.IsZero() && now.Sub(r.last) < refusedReportEvery {
		r.mu.Unlock()
		return true
	}
	count, first := r.count, r.first
	r.count, r.first, r.last = 0, nil, now
	r.mu.Unlock()
	detail := fmt.Sprintf("transport refused %d ZeroMQ message(s) over the limits of docs/PROTOCOL.md section 1 (at most %d frames and %d bytes together) or malformed, and dropped the connection: %v",
		count, MaxBatch, MaxMessageSize, first)
	n.emit(RejectedEvent{Reason: ReasonTooLarge, Detail: detail, Count: int(count)})
	return false
}

// isRefused reports whether err from RecvFrom is a refusal report.
func isRefused(err error) (refusedError, bool) {
	var r refusedError
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// watchUp signals l.up (without blocking; one pending signal stands for
// any number) each time cn's connection to the peer comes up, until ctx
// ends. first is cn's channel taken before Run sent anything, so no
// connection that comes up after Run began is missed; and after each one
// the next channel is taken before the signal, so any that comes up after
// the node has reacted is signalled too.
func (l *link) watchUp(ctx context.Context, cn connectNotifier, first <-chan struct{}) {
	for ch := first; ; {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		ch = cn.Connecting()
		select {
		case l.up <- struct{}{}:
		default:
		}
	}
}

// reconnected handles the transport's connection to the peer coming up
// (again) before a session exists: what was sent on the connection it
// replaces may be lost (the peer's transport evicts unproven connections
// under churn), so the node sends its public key at once instead of at the
// next step timeout (2 s). Once the peer's challenge is known the key
// echoes it, which proves this connection to the peer's transport with its
// first message. Rate-limited like every public-key reply.
func (n *Node) reconnected() {
	if !n.left && n.sess == nil && n.budget.reply.allow(n.now) {
		n.sendPublicKey(true)
	}
}
