package ui

import (
	"testing"
	"time"

	"duet/protocol"
)

// TestHeadlessTypingAndRead: the "typing" and "read" events (docs/HEADLESS.md):
// until only while on, ids as strings.
func TestHeadlessTypingAndRead(t *testing.T) {
	until := time.Date(2026, 5, 9, 14, 1, 8, 3, time.FixedZone("X", 2*3600))
	for _, tc := range []struct {
		ev   protocol.Event
		want string
	}{
		{protocol.TypingEvent{Active: true, Until: until},
			`{"event":"typing",` + T + `,"active":true,"until":"2026-05-09T12:01:08.000000003Z"}`},
		{protocol.TypingEvent{},
			`{"event":"typing",` + T + `,"active":false}`},
		{protocol.ReadEvent{IDs: []uint64{18446744073709551615, 7}},
			`{"event":"read",` + T + `,"ids":["18446744073709551615","7"]}`},
	} {
		var buf syncBuffer
		h := newTestHeadless(&buf)
		h.Emit(tc.ev)
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tc.want+"\n" {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// TestLinesCourtesyQuiet: the line mode prints nothing for the peer's
// typing indicator and read receipts (not even the "* name" fallback).
func TestLinesCourtesyQuiet(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	l.Emit(protocol.TypingEvent{Active: true, Until: time.Now()})
	l.Emit(protocol.TypingEvent{})
	l.Emit(protocol.ReadEvent{IDs: []uint64{1}})
	l.Close()
	if got := buf.String(); got != "" {
		t.Fatalf("line mode printed %q", got)
	}
}
