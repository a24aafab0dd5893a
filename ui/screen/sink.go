package screen

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// Sender delivers a message to a running Bubble Tea program. *tea.Program
// and teatest's TestModel both satisfy it.
type Sender interface{ Send(tea.Msg) }

// SinkQueue bounds the events waiting for the screen. Past it, rejections
// and repeated liveness reports are dropped (and counted); events whose loss
// would corrupt the screen's state are always queued.
const SinkQueue = 1024

// sinkReportEvery is how often, at most, the count of dropped rejections is
// reported while a flood lasts (it is also reported as soon as the queue
// empties).
const sinkReportEvery = 500 * time.Millisecond

// eventMsg carries one protocol event into the screen. For a MessageEvent
// emitted through the Sink, shown is closed by a Cmd the screen returns
// after adding the message to the chat pane.
type eventMsg struct {
	ev    protocol.Event
	shown chan struct{}
	// post, when not nil, is a message from the front end (a NoticeMsg)
	// forwarded as it is instead of ev.
	post tea.Msg
}

// droppedMsg reports rejections the sink dropped during a flood.
type droppedMsg struct{ Rejections int }

// sinkBatchMax bounds the events one batch carries, so that a key press
// never waits behind more than one short Update (about 64 events' worth).
const sinkBatchMax = 64

// batchMsg is what the sink forwards: everything it had queued when the
// screen last took a message (up to sinkBatchMax), in order, so that one
// Update and one frame cover many events during a flood. dropped, when not
// zero, is reported before items. Each MessageEvent's shown is closed once
// the whole batch is in the chat pane (handleBatch).
type batchMsg struct {
	dropped int
	items   []eventMsg
}

// msgs returns the batch as the single messages it stands for, in order
// (droppedMsg, eventMsg, or a post): for tests and tools that look at what
// the sink forwards one message at a time.
func (b batchMsg) msgs() []tea.Msg {
	out := make([]tea.Msg, 0, len(b.items)+1)
	if b.dropped > 0 {
		out = append(out, droppedMsg{Rejections: b.dropped})
	}
	for _, m := range b.items {
		if m.post != nil {
			out = append(out, m.post)
		} else {
			out = append(out, m)
		}
	}
	return out
}

// Sink turns the Node's events into messages for the screen's program. Emit
// never blocks the Node on the screen, except for a received chat message:
// Emit returns only once the message is in the chat pane, since the Node
// records it seen and acknowledges it only after that (exactly-once
// display), or when the sink is closed (the Node is stopping). A flood of
// rejections or liveness reports is dropped past SinkQueue and counted; the
// screen gets one "N more rejections not shown" message.
//
// One goroutine forwards what is queued as batches (batchMsg, at most
// sinkBatchMax events each, in order), one Program.Send per batch: during a
// flood one Update covers many events, and a key press waits behind at
// most one batch.
type Sink struct {
	mu       sync.Mutex
	cond     *sync.Cond
	queue    []eventMsg
	to       Sender
	closed   bool
	done     chan struct{} // closed by Close
	dropped  int           // rejections dropped, not yet reported
	droppedL int           // liveness reports dropped (harmless, only counted)
	lastLive protocol.LiveState
	reported time.Time
	running  bool
}

// NewSink returns a sink that queues events until Attach.
func NewSink() *Sink {
	s := &Sink{done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// critical reports whether losing ev would corrupt the screen's state.
func critical(ev protocol.Event) bool {
	switch ev.(type) {
	case protocol.RejectedEvent, protocol.LiveEvent:
		return false
	}
	return true
}

// Emit is the Node's emit callback. It may be called before Attach: events
// queue (a MessageEvent then waits for the screen, as it must).
func (s *Sink) Emit(ev protocol.Event) {
	if _, ok := ev.(protocol.ShownEvent); ok {
		return // each MessageEvent already waited for the screen
	}
	m := eventMsg{ev: ev}
	_, isMsg := ev.(protocol.MessageEvent)
	if isMsg {
		m.shown = make(chan struct{})
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if !critical(ev) {
		live, isLive := ev.(protocol.LiveEvent)
		repeated := isLive && live.State == s.lastLive
		if isLive {
			s.lastLive = live.State
		}
		if len(s.queue) >= SinkQueue && (!isLive || repeated) {
			if isLive {
				s.droppedL++
			} else {
				s.dropped++
			}
			s.mu.Unlock()
			return
		}
	}
	s.queue = append(s.queue, m)
	s.cond.Signal()
	s.mu.Unlock()
	if !isMsg {
		return
	}
	select {
	case <-m.shown: // the message is in the chat pane
	case <-s.done: // the node is stopping: do not wait for a screen that is gone
	}
}

// Post queues a message for the screen (a NoticeMsg: duet demo's man in the
// middle and bot) in order with the events: it is never dropped and never
// blocks.
func (s *Sink) Post(msg tea.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || msg == nil {
		return
	}
	s.queue = append(s.queue, eventMsg{post: msg})
	s.cond.Signal()
}

// Attach starts forwarding queued and future events to to, from one
// goroutine, in order. It is called once, by Run (or a test).
func (s *Sink) Attach(to Sender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.closed {
		return
	}
	s.to = to
	s.running = true
	go s.forward()
}

// Close stops forwarding and releases every Emit waiting for the screen. It
// is called when the Node is being stopped (Run does it). It does not
// wait for a Send in progress (a program's Send returns once the program has
// ended). Safe to call more than once.
func (s *Sink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.queue = nil
	close(s.done)
	s.cond.Broadcast()
}

// Dropped returns the rejections dropped and not yet reported to the screen
// (the forwarding goroutine reports them as one message and resets the
// count), and the liveness reports dropped in all.
func (s *Sink) Dropped() (rejections, live int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped, s.droppedL
}

func (s *Sink) forward() {
	for {
		b, to, ok := s.next()
		if !ok {
			return
		}
		// Program.Send blocks until the program takes the message: the
		// queue, not the Node, absorbs a slow screen.
		to.Send(b)
	}
}

// next waits for something to forward and takes it as one batch: the
// count of dropped rejections when it is due, then up to sinkBatchMax
// queued events and posts, oldest first. ok is false once the sink is
// closed.
func (s *Sink) next() (b batchMsg, to Sender, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 && s.dropped == 0 && !s.closed {
		s.cond.Wait()
	}
	if s.closed {
		return batchMsg{}, nil, false
	}
	if s.dropped > 0 && (len(s.queue) == 0 || time.Since(s.reported) >= sinkReportEvery) {
		b.dropped = s.dropped
		s.dropped = 0
		s.reported = time.Now()
	}
	n := min(len(s.queue), sinkBatchMax)
	if n > 0 {
		b.items = make([]eventMsg, n)
		copy(b.items, s.queue)
		clear(s.queue[:n])
		s.queue = s.queue[n:]
		if len(s.queue) == 0 {
			s.queue = nil // let the backing array go after a flood
		}
	}
	return b, s.to, true
}

// stopWith closes the sink when ctx ends. It returns a func that stops
// watching.
func (s *Sink) stopWith(ctx context.Context) (stop func()) {
	quit := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-quit:
		}
	}()
	return func() { close(quit) }
}
