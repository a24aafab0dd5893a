package ui

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"duet/protocol"
)

// unsavedNode is a fakeNode with lines typed while the disk was full.
type unsavedNode struct {
	*fakeNode
	n int
}

func (u *unsavedNode) Unsaved() int { return u.n }

// TestQuitWithUnsavedLines: the first /quit while lines typed on a full
// disk are not saved does not quit and says they would be lost; the second
// quits. The end of input cannot ask: it says how many are lost.
func TestQuitWithUnsavedLines(t *testing.T) {
	in := strings.NewReader("/quit\nstill here\n/quit\nafter quit\n")
	var buf syncBuffer
	h := newTestHeadless(&buf)
	ctl := &unsavedNode{fakeNode: &fakeNode{}, n: 2}
	if err := runInput(context.Background(), in, h, ctl, noDrain); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got := strings.Join(ctl.sent, ","); got != "still here" {
		t.Errorf("sent %q: want the line between the two /quit only", got)
	}
	evs := events(t, buf.String())
	if len(evs) < 1 || evs[0]["event"] != "error" || !strings.Contains(evs[0]["error"].(string), "2 lines you typed are not saved (the disk is full) and would be lost") {
		t.Errorf("first event %v, want the warning", evs)
	}

	var buf2 syncBuffer
	h = newTestHeadless(&buf2)
	ctl = &unsavedNode{fakeNode: &fakeNode{}, n: 1}
	if err := runInput(context.Background(), strings.NewReader("x\n"), h, ctl, noDrain); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if out := buf2.String(); !strings.Contains(out, "1 line typed while the disk was full was never saved and is lost") {
		t.Errorf("end of input with an unsaved line: %s", out)
	}
}

// TestDiskEventsHeadless: the disk, not_saved and saved events' JSON.
func TestDiskEventsHeadless(t *testing.T) {
	var buf syncBuffer
	h := newTestHeadless(&buf)
	h.Emit(protocol.DiskEvent{Full: true, Err: protocol.ErrDiskFull})
	h.Emit(NotSavedEvent{ID: 7})
	h.Emit(protocol.SavedEvent{ID: 7})
	h.Emit(protocol.DiskEvent{Full: false})
	h.Close()
	var got []string
	for _, e := range events(t, buf.String()) {
		delete(e, "time")
		got = append(got, strings.TrimSpace(jsonText(t, e)))
	}
	want := []string{`{"error":"disk full","event":"disk","state":"full"}`, `{"event":"not_saved","id":"7"}`, `{"event":"saved","id":"7"}`, `{"event":"disk","state":"room"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
