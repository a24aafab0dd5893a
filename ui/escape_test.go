package ui

import (
	"bufio"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"duet/protocol"
)

// hostileRunes has one or more code points of every class that must never
// reach stdout raw (the full lists are in termsafe's tests).
var hostileRunes = map[string][]rune{
	"C0":                         {0x00, 0x07, 0x0a, 0x0d, 0x1b},
	"DEL":                        {0x7f},
	"C1 (8-bit CSI, NEL, OSC)":   {0x80, 0x85, 0x9b, 0x9d, 0x9f},
	"bidi controls":              {0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069},
	"line/paragraph separators":  {0x2028, 0x2029},
	"invisible format (ZWSP...)": {0x00ad, 0x180e, 0x200b, 0x2060, 0x2064, 0xfeff},
	"joiners next to ASCII":      {0x200c, 0x200d},
}

// TestEscapingInEveryOutputMode: the peer's text (and error details) in
// line mode and in headless JSON carry none of hostileRunes raw, and the
// JSON decodes back to the exact text.
func TestEscapingInEveryOutputMode(t *testing.T) {
	for class, rs := range hostileRunes {
		for _, r := range rs {
			text := "x" + string(r) + "y"
			evs := []protocol.Event{
				protocol.MessageEvent{ID: 1, Seq: 1, Text: text, SentAt: time.Unix(1, 0)},
				protocol.ErrorEvent{Err: errors.New(text)},
				protocol.RejectedEvent{Reason: "malformed", Detail: text},
			}
			check := func(mode, out string) {
				t.Helper()
				body := strings.ReplaceAll(out, "\n", "")
				if strings.ContainsRune(body, r) {
					t.Errorf("%s, %s: U+%04X written raw: %q", mode, class, r, out)
				}
			}

			var lb syncBuffer
			l := NewLines(&lb, "me")
			for _, ev := range evs {
				l.Emit(ev)
			}
			l.Close()
			check("line mode", lb.String())
			if r != '\n' && !strings.Contains(lb.String(), "x\\") {
				t.Errorf("line mode, %s: U+%04X not shown as an escape: %q", class, r, lb.String())
			}

			var hb syncBuffer
			h := NewHeadless(&hb)
			for _, ev := range evs {
				h.Emit(ev)
			}
			h.Close()
			check("headless", hb.String())
			sc := bufio.NewScanner(strings.NewReader(hb.String()))
			found := false
			for sc.Scan() {
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatalf("headless, %s: invalid JSON %q: %v", class, sc.Text(), err)
				}
				if m["event"] == "message" {
					found = true
					if m["text"] != text {
						t.Errorf("headless, %s: text %q round-trips as %q", class, text, m["text"])
					}
				}
			}
			if !found {
				t.Errorf("headless, %s: no message line in %q", class, hb.String())
			}
		}
	}
}
