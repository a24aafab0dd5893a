package screen

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"duet/protocol"
)

// frameText returns the plain text of a frame at w x h.
func frameText(v tea.View, w, h int) string {
	emu := vt.NewEmulator(w, h)
	_, _ = emu.WriteString(strings.ReplaceAll(v.Content, "\n", "\r\n"))
	return trimRight(emu.String())
}

// peerBatch is one peer message as the sink forwards it.
func peerBatch(id uint64, text string) batchMsg {
	return batchMsg{items: []eventMsg{{ev: protocol.MessageEvent{ID: id, Text: text, SentAt: screenT0}}}}
}

// cmdMsgs runs cmd and returns the messages it gives, a tea.Batch's
// flattened (each command waited for at most 5 s).
func cmdMsgs(t *testing.T, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	res := make(chan tea.Msg, 1)
	go func() { res <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-res:
	case <-time.After(5 * time.Second):
		return nil // a long tick (the status poll is not one of ours)
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, cmdMsgs(t, c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func hasRedraw(msgs []tea.Msg) bool {
	for _, m := range msgs {
		if _, ok := m.(redrawMsg); ok {
			return true
		}
	}
	return false
}

// A batch that comes within a frame of the last one computed waits for a
// redraw; a key press between two batches is applied and computes its
// frame at once, before the next batch's frame; the redraw shows what was
// put off. The clock is the screen's test clock: nothing here is timed.
func TestPacedFramesWaitForABatchNeverForAKey(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	p := newPaced(s)
	update := func(msg tea.Msg) tea.Cmd {
		_, cmd := p.Update(msg)
		return cmd
	}
	update(tea.WindowSizeMsg{Width: 120, Height: 40})
	text := func() (string, bool) {
		v := p.View()
		return frameText(v, 120, 40), p.fresh
	}
	if _, fresh := text(); !fresh {
		t.Fatal("first frame not computed")
	}

	// A batch right after a frame: applied, its frame put off.
	cmd := update(peerBatch(1, "first flood"))
	if s.chat.Len() == 0 {
		t.Fatal("the batch was not applied at once")
	}
	if got, fresh := text(); fresh || strings.Contains(got, "first flood") {
		t.Fatalf("a batch within a frame of the last computed its frame (fresh %v):\n%s", fresh, got)
	}
	if !hasRedraw(cmdMsgs(t, cmd)) {
		t.Fatal("a frame put off with no redraw asked for")
	}

	// A key press: its frame at once, with the batch's message and the echo.
	update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	got, fresh := text()
	if !fresh || !strings.Contains(got, "first flood") || s.input.Value() != "x" {
		t.Fatalf("a key press after a batch did not compute its frame (fresh %v, input %q):\n%s", fresh, s.input.Value(), got)
	}
	keyFrame := got

	// The next batch, within a frame of the key's: the key's frame stays,
	// and the redraw already on its way is not asked for again.
	cmd = update(peerBatch(2, "second flood"))
	if got, fresh := text(); fresh || got != keyFrame {
		t.Fatalf("the next batch replaced the key's frame within a frame (fresh %v):\n%s", fresh, got)
	}
	if hasRedraw(cmdMsgs(t, cmd)) {
		t.Fatal("a second redraw asked for while one is on its way")
	}
	update(redrawMsg{})
	if got, fresh := text(); !fresh || !strings.Contains(got, "second flood") {
		t.Fatalf("the redraw did not show what was put off (fresh %v):\n%s", fresh, got)
	}
	if !hasRedraw(cmdMsgs(t, update(peerBatch(3, "third flood")))) {
		t.Fatal("a batch right after the redraw's frame asked for no redraw")
	}
	update(redrawMsg{})

	// A frame later, a batch computes its frame at once.
	drive(t, s, advance{frameEvery})
	cmd = update(peerBatch(4, "fourth flood"))
	if got, fresh := text(); !fresh || !strings.Contains(got, "third flood") || !strings.Contains(got, "fourth flood") {
		t.Fatalf("a batch a frame after the last did not compute its frame (fresh %v):\n%s", fresh, got)
	}
	if hasRedraw(cmdMsgs(t, cmd)) {
		t.Fatal("a redraw asked for with nothing put off")
	}
}

// Run's model under a real program: a flood emitted one message at a time
// through the sink (each Emit waiting for the pane, as the node does)
// ends with every message in the pane once and the last one on the
// terminal.
func TestPacedFloodEndsOnScreen(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	p := newPaced(s)
	before := s.chat.Len() // read before the program runs
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(120, 40))
	sink := NewSink()
	sink.Attach(tm)
	t.Cleanup(func() {
		sink.Close()
		_ = tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	})
	term := newLiveTerm(t, tm, 120, 40)
	const n = 500
	for i := range n {
		sink.Emit(protocol.MessageEvent{ID: uint64(i + 1), Text: fmt.Sprintf("flood %03d", i+1), SentAt: screenT0})
	}
	term.waitText(fmt.Sprintf("flood %03d", n))
	// Every Emit returned: each message is in the pane, once.
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*paced)
	if got := final.s.chat.Len() - before; got != n {
		t.Fatalf("%d rows added for %d messages, want %d", got, n, n)
	}
}
