package bench

import (
	"strings"
	"testing"
)

// TestChildLines feeds a child's reader headless lines and raw lines: the
// counts the bench relies on.
func TestChildLines(t *testing.T) {
	c := &child{}
	c.target.Store(2)
	in := strings.Join([]string{
		`{"event":"ready","time":"t","main":1,"sub":2,"fingerprint":"f"}`,
		`{"event":"live","time":"t","state":"live","rtt_ms":0.5,"authenticated":false}`,
		`{"event":"session","time":"t","state":"established","peer_fingerprint":"p","safety_number":"s"}`,
		`{"event":"queued","time":"t","id":"1","sent_at":"t"}`,
		`{"event":"sent","time":"t","id":"1","seq":3}`,
		`{"event":"delivered","time":"t","id":"1"}`,
		`{"event":"message","time":"t","id":"9","seq":4,"text":"\"event\":\"delivered\"","sent_at":"t"}`,
		`{"event":"message","time":"t","id":"10","seq":5,"text":"x","sent_at":"t"}`,
		`{"event":"error","time":"t","error":"3 output lines dropped: stdout is not being read"}`,
		`{"event":"session","time":"t","state":"closed","peer_fingerprint":"p","safety_number":"s"}`,
	}, "\n") + "\n"
	c.read(strings.NewReader(in))
	if !c.ready.Load() || c.sessions.Load() != 1 || c.delivered.Load() != 1 || c.msgs.Load() != 2 || c.doneAt.Load() == 0 {
		t.Errorf("ready %v sessions %d delivered %d msgs %d doneAt %d", c.ready.Load(), c.sessions.Load(), c.delivered.Load(), c.msgs.Load(), c.doneAt.Load())
	}
	if d := strings.Join(c.tail, "\n"); !strings.Contains(d, "output lines dropped") || strings.Contains(d, `"event":"live"`) {
		t.Errorf("diagnostic lines:\n%s", d)
	}

	raw := &child{raw: true}
	raw.read(strings.NewReader("ready 5555\nwarm\n" + latText(3) + "\nlast line without newline"))
	if !raw.ready.Load() || raw.msgs.Load() != 3 {
		t.Errorf("raw: ready %v msgs %d", raw.ready.Load(), raw.msgs.Load())
	}
}
