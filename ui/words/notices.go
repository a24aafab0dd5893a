package words

import (
	"fmt"
	"time"
)

// Pending says what the messages above or below it (where) are: shown of
// total from an earlier run, not delivered yet. The screen shows it above
// them, the line mode below.
func Pending(shown, total int, where string) string {
	what, it := fmt.Sprintf("the message %s, from an earlier run, is not delivered yet", where), "it"
	if total > 1 {
		it = "them"
		what = fmt.Sprintf("the %d messages %s, from an earlier run, are not delivered yet", total, where)
	}
	if shown < total {
		what = fmt.Sprintf("the newest %d of %d messages from an earlier run (%s) are not delivered yet", shown, total, where)
	}
	return what + ": duet sends " + it + " when the peer is back"
}

// PeerClockSays marks a peer's message shown at its arrival time because
// the time it carries is implausible (protocol.MessageEvent's
// ClockImplausible): "(peer's clock says 2200-01-01 00:00)", the claimed
// time in t's location. ASCII only.
func PeerClockSays(t time.Time) string {
	return "(peer's clock says " + t.Format("2006-01-02 15:04") + ")"
}
