package ui

import (
	"testing"
	"time"

	"duet/ui/chat"
)

// TestLinesShowPending: with no history to show them (--no-history), our
// undelivered messages from an earlier run are listed at start, marked
// without a receipt, with how many there are when only the newest fit.
func TestLinesShowPending(t *testing.T) {
	stamp := func(d time.Duration) string {
		return "[" + fixedNow.Add(d).UTC().Format("2006-01-02 15:04:05") + "]"
	}
	one := []chat.Entry{{ID: 1, Own: true, Text: "are you there?", At: fixedNow.Add(-time.Hour), Delivery: chat.Queued}}
	two := append(one, chat.Entry{ID: 2, Own: true, Text: "hello \x1b[2J?", At: fixedNow.Add(-time.Minute), Delivery: chat.Queued})
	tests := []struct {
		name    string
		entries []chat.Entry
		total   int
		want    string
	}{
		{"none", nil, 0, ""},
		{"one", one, 1, "* the message below, from an earlier run, is not delivered yet: duet sends it when the peer is back\n" +
			stamp(-time.Hour) + " alice: are you there? (no receipt yet)\n" +
			"* end of the messages not delivered yet\n"},
		{"the newest of more", two, 30, "* the newest 2 of 30 messages from an earlier run (below) are not delivered yet: duet sends them when the peer is back\n" +
			stamp(-time.Hour) + " alice: are you there? (no receipt yet)\n" +
			stamp(-time.Minute) + " alice: hello \\x1b[2J? (no receipt yet)\n" +
			"* end of the messages not delivered yet\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf syncBuffer
			l := newTestLines(&buf)
			l.ShowPending(tt.entries, tt.total)
			l.Close()
			if got := buf.String(); got != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
