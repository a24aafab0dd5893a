package screen

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// unbatch returns what a sink forwarded as single messages: a batchMsg's
// contents in order, anything else as it is.
func unbatch(msg tea.Msg) []tea.Msg {
	if b, ok := msg.(batchMsg); ok {
		return b.msgs()
	}
	return []tea.Msg{msg}
}

// queued returns how many events and posts wait in the sink.
func (s *Sink) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// waitQueued waits until n events wait in the sink, failing after 10 s.
func waitQueued(t *testing.T, s *Sink, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events queued in the sink, want %d", s.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// batchRecorder records each Send: how many messages it carried, and
// their names in order.
type batchRecorder struct {
	mu    sync.Mutex
	sizes []int
	names []string
}

func (r *batchRecorder) Send(msg tea.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msgs := unbatch(msg)
	r.sizes = append(r.sizes, len(msgs))
	for _, m := range msgs {
		switch m := m.(type) {
		case eventMsg:
			r.names = append(r.names, fmt.Sprintf("%s:%d", m.ev.EventName(), m.ev.(protocol.SentEvent).ID))
		case NoticeMsg:
			r.names = append(r.names, "notice:"+m.Text)
		}
	}
}

func (r *batchRecorder) snapshot() (sizes []int, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.sizes...), append([]string(nil), r.names...)
}

// What waits in the sink goes to the screen as few batches of at most
// sinkBatchMax, in the order it was emitted and posted.
func TestSinkForwardsQueuedEventsAsOrderedBatches(t *testing.T) {
	sink := NewSink()
	defer sink.Close()
	const n = 150
	var want []string
	for i := range n {
		sink.Emit(protocol.SentEvent{ID: uint64(i)})
		want = append(want, fmt.Sprintf("sent:%d", i))
		if i%10 == 0 {
			sink.Post(NoticeMsg{Text: fmt.Sprint(i)})
			want = append(want, fmt.Sprintf("notice:%d", i))
		}
	}
	r := &batchRecorder{}
	sink.Attach(r)
	deadline := time.Now().Add(10 * time.Second)
	for {
		sizes, names := r.snapshot()
		if len(names) == len(want) {
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Fatalf("forwarded in another order:\n%v\nwant\n%v", names, want)
			}
			full := (len(want) + sinkBatchMax - 1) / sinkBatchMax
			if len(sizes) != full || sizes[0] != sinkBatchMax {
				t.Fatalf("%d events forwarded in batches of %v, want %d batches, the first of %d", len(want), sizes, full, sinkBatchMax)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("forwarded %d of %d: %v", len(names), len(want), names)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingSync is a syncSender that counts the Updates it runs.
type countingSync struct {
	syncSender
	updates int
}

func (c *countingSync) Send(msg tea.Msg) {
	c.mu.Lock()
	c.updates++
	c.mu.Unlock()
	c.syncSender.Send(msg)
}

// Messages waiting together reach the pane in one Update; each is shown
// once (a second arrival of an id adds no row) and every Emit returns.
func TestSinkBatchShowsEachMessageOnceAndReleasesEveryEmit(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	cs := &countingSync{syncSender: syncSender{s: s}}
	sink := NewSink()
	defer sink.Close()
	cs.mu.Lock()
	before := s.chat.Len()
	cs.mu.Unlock()
	const n = 10
	var wg sync.WaitGroup
	for i := range n + 1 {
		id := uint64(i%n + 1) // id 1 twice
		wg.Go(func() {
			sink.Emit(protocol.MessageEvent{ID: id, Text: fmt.Sprintf("batched %02d", id), SentAt: screenT0})
		})
	}
	waitQueued(t, sink, n+1)
	sink.Attach(cs)
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("an Emit never returned")
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if got := s.chat.Len() - before; got != n {
		t.Fatalf("%d rows added for %d messages (one sent twice), want %d", got, n+1, n)
	}
	if cs.updates != 1 {
		t.Fatalf("%d Updates for %d messages waiting together, want 1", cs.updates, n+1)
	}
	text := screenText(t, s)
	for id := 1; id <= n; id++ {
		if c := strings.Count(text, fmt.Sprintf("batched %02d", id)); c != 1 {
			t.Fatalf("message %d shown %d times, want once:\n%s", id, c, text)
		}
	}
}

// A batch is applied in order, the dropped count first, and releases its
// messages' Emits only from the Cmd it returns, after the whole batch is
// in the pane.
func TestBatchAppliesInOrderAndReleasesAfterTheWholeBatch(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	var items []eventMsg
	var shown []chan struct{}
	for i := range 5 {
		c := make(chan struct{})
		shown = append(shown, c)
		items = append(items, eventMsg{ev: protocol.MessageEvent{ID: uint64(100 + i), Text: fmt.Sprintf("in order %d", i), SentAt: screenT0}, shown: c})
		if i == 2 {
			items = append(items, eventMsg{post: NoticeMsg{Text: "a post in the middle"}})
		}
	}
	_, cmd := s.Update(batchMsg{dropped: 7, items: items})
	for i, c := range shown {
		select {
		case <-c:
			t.Fatalf("message %d released by Update itself, before its Cmd ran", i)
		default:
		}
	}
	if cmd == nil {
		t.Fatal("no Cmd to release the batch's messages")
	}
	runCmd(t, s, cmd)
	for i, c := range shown {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d never released", i)
		}
	}
	text := screenText(t, s)
	order := []string{"7 more rejections not shown", "in order 0", "in order 1", "in order 2", "a post in the middle", "in order 3", "in order 4"}
	at := -1
	for _, w := range order {
		i := strings.Index(text, w)
		if i < 0 || i < at || strings.Count(text, w) != 1 {
			t.Fatalf("want %q once, after what came before it, in:\n%s", order, text)
		}
		at = i
	}
}
