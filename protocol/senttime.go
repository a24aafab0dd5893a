package protocol

import "time"

// DefaultNotBefore is the earliest sent_at shown as the peer wrote it when
// Config.NotBefore is zero: the day duet's protocol version 1 was written.
// No duet wrote a message before it, so an earlier sent_at (1970, a
// negative one, int64's minimum in 1677) is the peer's clock or a forgery,
// never a message that waited in an outbox.
var DefaultNotBefore = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// shownTime decides when a received CHAT is shown and stored: at its
// sent_at, the time the peer wrote it (an offline message queued for hours
// keeps that time), unless that time is implausible: later than arrival
// plus the timestamp window (no honest clock writes in the future by more
// than the window the session already allows), or before notBefore. Then it
// is shown at arrival, the local time it arrived, and implausible is true
// (the screen says what the peer's clock claimed). The shown time is always
// within [notBefore, arrival+window], so int64's extremes and negative
// sent_at never reach the screen, the history, or its retention.
func shownTime(sentAt int64, arrival time.Time, window time.Duration, notBefore time.Time) (shown time.Time, implausible bool) {
	claimed := time.Unix(0, sentAt)
	if claimed.After(arrival.Add(window)) || claimed.Before(notBefore) {
		return arrival, true
	}
	return claimed, false
}
