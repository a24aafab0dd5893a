package screen

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// echoWatch runs a Screen in a real tea.Program, as Run does (paced
// frames), and reports, from View (the program's goroutine), when a frame
// computed by this View holds want in the input: the frame that echoes a
// key press has been computed (a frame put off and returned again does
// not count).
type echoWatch struct {
	p    *paced
	want atomic.Pointer[string]
	seen chan struct{}
}

func (w *echoWatch) Init() tea.Cmd { return w.p.Init() }

func (w *echoWatch) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := w.p.Update(msg)
	return w, cmd
}

func (w *echoWatch) View() tea.View {
	v := w.p.View()
	if p := w.want.Load(); p != nil && w.p.fresh && w.p.s.input.Value() == *p {
		w.want.Store(nil)
		w.seen <- struct{}{}
	}
	return v
}

// benchEcho measures key press to echo: the time from Send of a key to
// the first View that shows it, in a real program (its renderer writing to
// io.Discard) at 120x40 with 1,000 messages in the scrollback, while
// flood messages a second arrive through a Sink as the node sends them
// (each Emit waits until the message is in the pane). It reports the
// median and the 99th percentile in µs.
func benchEcho(b *testing.B, flood int) {
	s := benchScreen(b, 1_000)
	w := &echoWatch{p: newPaced(s), seen: make(chan struct{}, 1)}
	p := tea.NewProgram(w, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler(), tea.WithWindowSize(120, 40))
	sink := NewSink()
	sink.Attach(p)
	done := make(chan struct{})
	go func() { _, _ = p.Run(); close(done) }()
	ctx, stop := context.WithCancel(context.Background())
	fed := make(chan int, 1)
	go feed(ctx, sink, flood, fed)
	defer func() {
		stop()
		b.ReportMetric(float64(<-fed)/b.Elapsed().Seconds(), "msgs/s")
		sink.Close()
		p.Quit()
		<-done
	}()

	var lat []time.Duration
	typed := ""
	for i := 0; b.Loop(); i++ {
		key := tea.KeyPressMsg{Code: 'a', Text: "a"}
		next := typed + "a"
		if i%2 == 1 {
			key, next = tea.KeyPressMsg{Code: tea.KeyBackspace}, typed[:len(typed)-1]
		}
		w.want.Store(&next)
		t0 := time.Now()
		p.Send(key)
		<-w.seen
		lat = append(lat, time.Since(t0))
		typed = next
		time.Sleep(2 * time.Millisecond) // a typist, not a key repeat
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// feed emits perSecond peer messages a second (0: none) through sink, in
// bursts every 10 ms, until ctx ends, then sends the count to fed. It
// emits as the node does (protocol/node_delivery.go, drainShowing): one
// MessageEvent at a time, each Emit returning once the message is in the
// pane, and a ShownEvent after each burst. A burst that ends after the
// next tick loses that tick (time.Ticker drops ticks), so the rate
// reached shows whether the screen keeps up.
func feed(ctx context.Context, sink *Sink, perSecond int, fed chan<- int) {
	n := 0
	defer func() { fed <- n }()
	if perSecond == 0 {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range perSecond / 100 {
			n++
			sink.Emit(protocol.MessageEvent{ID: uint64(1_000_000 + n), Text: fmt.Sprintf("flood %d: the quick brown fox jumps over the lazy dog", n), SentAt: screenT0})
		}
		sink.Emit(protocol.ShownEvent{})
	}
}

// BenchmarkEchoIdle: key press to echo with nothing arriving.
func BenchmarkEchoIdle(b *testing.B) { benchEcho(b, 0) }

// BenchmarkEchoFlood: key press to echo while the peer sends 6,400
// messages a second (the flood issue 17 measured). Target: p50 and p99 at
// most twice BenchmarkEchoIdle's, in the same run.
func BenchmarkEchoFlood(b *testing.B) { benchEcho(b, 6_400) }
