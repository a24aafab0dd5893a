package ui

// A fast path for the lines a busy session writes per message (message,
// queued, sent, delivered): appended by hand instead of through
// encoding/json's reflection, which the profiles of a 100,000-message
// transfer showed as the receiver's largest cost (docs/DESIGN.md). The
// bytes are exactly those of the general encoder (TestFastLinesMatch);
// a text with anything but printable ASCII other than '"' and '\' takes
// the general encoder.

import (
	"strconv"
	"time"

	"duet/protocol"
)

// plainASCII reports whether s needs no escaping in JSON or for a
// terminal: only bytes 0x20-0x7E other than '"' and '\'.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '"')
	b = append(b, value...)
	return append(b, '"')
}

func appendTime(b []byte, name string, t time.Time) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '"')
	b = t.UTC().AppendFormat(b, TimeFormat)
	return append(b, '"')
}

func appendID(b []byte, id uint64) []byte {
	b = append(b, `,"id":"`...)
	b = strconv.AppendUint(b, id, 10)
	return append(b, '"')
}

func appendSeq(b []byte, seq uint32) []byte {
	b = append(b, `,"seq":`...)
	return strconv.AppendUint(b, uint64(seq), 10)
}

// fastLine returns ev's line, or nil when ev takes the general encoder
// (marshalEvent): every kind not listed here, and a message whose text
// needs escaping.
func (h *Headless) fastLine(ev protocol.Event) []byte {
	now := h.now()
	switch e := ev.(type) {
	case protocol.MessageEvent:
		if !plainASCII(e.Text) {
			return nil
		}
		b := make([]byte, 0, 160+len(e.Text))
		b = append(b, `{"event":"message"`...)
		b = appendTime(b, "time", now)
		b = appendID(b, e.ID)
		b = appendSeq(b, e.Seq)
		b = appendField(b, "text", e.Text)
		b = appendTime(b, "sent_at", e.SentAt)
		if e.PossibleDuplicate {
			b = append(b, `,"possible_duplicate":true`...)
		}
		if e.ClockImplausible {
			b = appendTime(b, "shown_at", e.ShownAt)
			b = append(b, `,"clock_implausible":true`...)
		}
		return append(b, '}', '\n')
	case protocol.SentEvent:
		b := make([]byte, 0, 96)
		b = append(b, `{"event":"sent"`...)
		b = appendTime(b, "time", now)
		b = appendID(b, e.ID)
		b = appendSeq(b, e.Seq)
		return append(b, '}', '\n')
	case protocol.DeliveredEvent:
		b := make([]byte, 0, 96)
		b = append(b, `{"event":"delivered"`...)
		b = appendTime(b, "time", now)
		b = appendID(b, e.ID)
		return append(b, '}', '\n')
	}
	return nil
}

// queuedLine is the "queued" line.
func (h *Headless) queuedLine(id uint64, at time.Time) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"event":"queued"`...)
	b = appendTime(b, "time", h.now())
	b = appendID(b, id)
	b = appendTime(b, "sent_at", at)
	return append(b, '}', '\n')
}
