package ui

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// MaxQueuedBytes bounds the output waiting for a slow reader of stdout. While
// the bound is exceeded new lines are dropped, and the number dropped is
// reported in an "error" line as soon as the writer catches up: events are
// never lost silently, and emitting never blocks the session driver.
const MaxQueuedBytes = 8 << 20 // with the transport's byte budgets, keeps a stalled stdout under the 64 MiB memory target

// lineQueue writes lines to w from one goroutine, in the order they were
// queued. put never blocks.
type lineQueue struct {
	w       io.Writer
	max     int
	dropMsg func(n int) []byte // formats the report of n dropped lines

	mu      sync.Mutex
	cond    *sync.Cond
	lines   [][]byte
	size    int
	dropped int
	closed  bool
	done    chan struct{}

	queued   uint64        // lines accepted so far
	written  uint64        // lines written so far
	progress chan struct{} // closed and replaced whenever written grows
}

func newLineQueue(w io.Writer, max int, dropMsg func(int) []byte) *lineQueue {
	q := &lineQueue{w: w, max: max, dropMsg: dropMsg, done: make(chan struct{}), progress: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// put queues one line (which must end in '\n'). It reports false if the line
// was dropped because the queue is full or closed.
func (q *lineQueue) put(line []byte) bool {
	_, ok := q.add(line)
	return ok
}

func (q *lineQueue) add(line []byte) (seq uint64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, false
	}
	if q.size+len(line) > q.max && q.size > 0 {
		q.dropped++
		return 0, false
	}
	q.lines = append(q.lines, line)
	q.size += len(line)
	q.queued++
	q.cond.Signal()
	return q.queued, true
}

// putMust queues line even past the bound, without waiting (a received
// chat message: never dropped; see sync).
func (q *lineQueue) putMust(line []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.lines = append(q.lines, line)
	q.size += len(line)
	q.queued++
	q.cond.Signal()
}

// sync waits until every line queued so far has been written (or the
// output has failed or closed). Used after a group of received chat
// messages (protocol.ShownEvent): they are on stdout before the node
// records them as seen and acknowledges them, so a crash never loses one.
// A reader that stops reading stdout therefore stalls the node, as a full
// pipe stalls any Unix program; the peer then sees this node's liveness
// degrade.
func (q *lineQueue) sync() {
	q.mu.Lock()
	seq := q.queued
	for q.written < seq && !q.closed {
		ch := q.progress
		q.mu.Unlock()
		<-ch
		q.mu.Lock()
	}
	q.mu.Unlock()
}

// wrote records n more lines written.
func (q *lineQueue) wrote(n int) {
	q.mu.Lock()
	q.written += uint64(n)
	close(q.progress)
	q.progress = make(chan struct{})
	q.mu.Unlock()
}

// writeChunk bounds one write of lines queued together.
const writeChunk = 64 << 10

func (q *lineQueue) run() {
	defer close(q.done)
	var buf []byte
	for {
		q.mu.Lock()
		for len(q.lines) == 0 && q.dropped == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.lines) == 0 && q.dropped == 0 && q.closed {
			q.mu.Unlock()
			return
		}
		batch := q.lines
		q.lines = nil
		q.size = 0
		dropped := q.dropped
		q.dropped = 0
		q.mu.Unlock()

		// Lines queued together go out in few writes (one syscall for up
		// to writeChunk bytes): under load that is most of the cost of
		// the output; an idle line is written alone, at once.
		for len(batch) > 0 {
			n, size := 0, 0
			for n < len(batch) && (n == 0 || size+len(batch[n]) <= writeChunk) {
				size += len(batch[n])
				n++
			}
			chunk := batch[0]
			if n > 1 {
				buf = buf[:0]
				for _, l := range batch[:n] {
					buf = append(buf, l...)
				}
				chunk = buf
			}
			if _, err := q.w.Write(chunk); err != nil {
				q.fail()
				return
			}
			q.wrote(n)
			batch = batch[n:]
		}
		if dropped > 0 {
			if _, err := q.w.Write(q.dropMsg(dropped)); err != nil {
				q.fail()
				return
			}
		}
	}
}

// fail stops queueing after a write error (the reader has gone away).
func (q *lineQueue) fail() {
	q.mu.Lock()
	q.closed = true
	q.lines = nil
	q.size = 0
	close(q.progress)
	q.progress = make(chan struct{})
	q.mu.Unlock()
}

// close stops accepting lines and waits up to timeout for the queued ones to
// be written.
func (q *lineQueue) close(timeout time.Duration) error {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("ui: output not flushed after %v", timeout)
	}
}
