package screen

import (
	"time"

	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/words"
)

// gapWatch follows the gaps in the peer's record sequence until the
// messages missing in them arrive (their sender resends what we did not
// acknowledge). A gap is said as "missing, asking for it again"; a peer
// message written before a gap was seen (by its sent_at) and arriving
// after it is the missing one, sent again, and is said as arrived. A gap
// of pings alone is never followed by such a message and stays open,
// silently: its line says nothing false. Clock skew between the peers can
// delay or miss the "arrived" line, never lose a message. At most
// maxOpenGaps gaps are followed.
type gapWatch struct {
	open []time.Time // when each open gap was seen, oldest first
}

const maxOpenGaps = 64

// gap records a GapEvent and says it.
func (s *Screen) gap(e protocol.GapEvent, now time.Time) {
	s.chat.AddNotice(chat.NoticeGap, words.Missing(e.Missing), now)
	w := &s.once.gaps
	w.open = append(w.open, now)
	if len(w.open) > maxOpenGaps {
		w.open = w.open[len(w.open)-maxOpenGaps:]
	}
}

// gapFilled says "arrived" when the peer's message e, just shown, was
// written before an open gap was seen, and closes that gap.
func (s *Screen) gapFilled(e protocol.MessageEvent, now time.Time) {
	w := &s.once.gaps
	if len(w.open) == 0 || e.ClockImplausible || !e.SentAt.Before(w.open[len(w.open)-1]) {
		return
	}
	for i, seen := range w.open {
		if e.SentAt.Before(seen) {
			w.open = append(w.open[:i], w.open[i+1:]...)
			s.chat.AddNotice(chat.NoticeInfo, words.MissingArrived, now)
			return
		}
	}
}
