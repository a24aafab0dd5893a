package ui

import (
	"fmt"
	"strings"
	"testing"

	"duet/protocol"
)

// readingNode is a fakeNode that records MarkRead.
type readingNode struct {
	fakeNode
	read [][]uint64
}

func (r *readingNode) MarkRead(ids []uint64) { r.read = append(r.read, ids) }

// unreadCounts returns the counts of the unread lines in out, in order.
func unreadCounts(t *testing.T, out string) []float64 {
	t.Helper()
	var counts []float64
	for _, e := range events(t, out) {
		if e["event"] == "unread" {
			counts = append(counts, e["count"].(float64))
		}
	}
	return counts
}

// TestHeadlessUnreadAndRead: headless never marks a message read by
// itself; the unread count is written once per group of messages, when it
// changed; /read sends READ for every message received so far and writes
// the count 0; a second /read with nothing new writes nothing. The line
// mode has no /read and prints no count.
func TestHeadlessUnreadAndRead(t *testing.T) {
	var buf syncBuffer
	h := newTestHeadless(&buf)
	node := &readingNode{}
	for _, id := range []uint64{11, 12, 13} {
		h.Emit(protocol.MessageEvent{ID: id, Text: "x"})
	}
	h.Emit(protocol.ShownEvent{})
	h.Emit(protocol.ShownEvent{}) // no change: no line
	if len(node.read) != 0 {
		t.Fatalf("headless marked %v read by itself", node.read)
	}
	var asking bool
	handleLine("/read", h, node, InputConfig{}, &asking)
	handleLine("/read", h, node, InputConfig{}, &asking)
	h.Emit(protocol.MessageEvent{ID: 14, Text: "y"})
	h.Emit(protocol.ShownEvent{})
	h.Close()
	if got := fmt.Sprint(unreadCounts(t, buf.String())); got != "[3 0 1]" {
		t.Errorf("unread counts %s, want [3 0 1]:\n%s", got, buf.String())
	}
	if got := fmt.Sprint(node.read); got != "[[11 12 13]]" {
		t.Errorf("READ asked for %s, want [[11 12 13]] (once)", got)
	}

	var lines syncBuffer
	l := newTestLines(&lines)
	l.Emit(protocol.MessageEvent{ID: 1, Text: "x"})
	l.Emit(protocol.ShownEvent{})
	handleLine("/read", l, node, InputConfig{}, &asking)
	l.Close()
	if out := lines.String(); strings.Contains(out, "unread") || !strings.Contains(out, `unknown command "/read"`) || len(node.read) != 1 {
		t.Errorf("line mode: printed %q, READ %v; want no count, /read unknown", out, node.read)
	}
}
