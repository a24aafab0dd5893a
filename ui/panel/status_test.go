package panel

import (
	"strings"
	"testing"
	"time"

	"duet/protocol"
)

func TestStatusBarLivenessWords(t *testing.T) {
	st := testStyles()
	tests := []struct {
		name string
		prep func(s *StatusBar)
		want string
	}{
		{"initial", func(s *StatusBar) {}, "waiting"},
		{"live", func(s *StatusBar) {
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0)
		}, "live"},
		{"degraded", func(s *StatusBar) { s.Live(protocol.LiveEvent{State: protocol.LiveDegraded}, t0) }, "degraded"},
		{"down", func(s *StatusBar) { s.Live(protocol.LiveEvent{State: protocol.LiveDown}, t0) }, "down"},
		{"status", func(s *StatusBar) { s.SetStatus(protocol.Status{Live: protocol.LiveDegraded}) }, "degraded"},
		{"left", func(s *StatusBar) {
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0)
			s.PeerLeft(t0.Add(time.Second))
		}, "left"},
		{"left, then down", func(s *StatusBar) {
			s.PeerLeft(t0)
			s.Live(protocol.LiveEvent{State: protocol.LiveDown}, t0.Add(5*time.Second))
			s.SetStatus(protocol.Status{Live: protocol.LiveLive}) // a stale snapshot
		}, "left"},
		{"left, then back", func(s *StatusBar) {
			s.PeerLeft(t0)
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0.Add(9*time.Second))
		}, "live"},
		{"left via session event, then new session", func(s *StatusBar) {
			s.Session(protocol.SessionEvent{State: protocol.SessionPeerLeft}, t0)
			s.SetStatus(protocol.Status{Live: protocol.LiveLive})
			s.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0.Add(time.Second))
		}, "live"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStatusBar(5555, 5556)
			tc.prep(s)
			if got := s.Liveness(); got != tc.want {
				t.Errorf("Liveness() = %q, want %q", got, tc.want)
			}
			for _, w := range []int{120, 80, 40, 20, len(tc.want) + 1} {
				v := plain(s.View(st, w, t0.Add(10*time.Second)))
				if !strings.HasPrefix(strings.TrimSpace(v), tc.want) {
					t.Errorf("width %d: %q does not start with %q", w, v, tc.want)
				}
			}
		})
	}
}

func TestFormatRTT(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{420 * time.Microsecond, "0.42 ms"},
		{1234 * time.Microsecond, "1.23 ms"},
		{12345 * time.Microsecond, "12.3 ms"},
		{250 * time.Millisecond, "250 ms"},
		{1250 * time.Millisecond, "1.25 s"},
	}
	for _, tc := range tests {
		if got := FormatRTT(tc.d); got != tc.want {
			t.Errorf("FormatRTT(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	s := NewStatusBar(1, 2)
	if v := plain(s.View(testStyles(), 80, t0)); !strings.Contains(v, "rtt –") {
		t.Errorf("no RTT yet: %q", v)
	}
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 12345 * time.Microsecond}, t0)
	if v := plain(s.View(testStyles(), 80, t0)); !strings.Contains(v, "rtt 12.3 ms") {
		t.Errorf("RTT: %q", v)
	}
}

func TestFormatAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "<1s"}, {-time.Second, "<1s"}, {12 * time.Second, "12s"},
		{4*time.Minute + 5*time.Second, "4m05s"}, {2*time.Hour + 3*time.Minute, "2h03m"},
	}
	for _, tc := range tests {
		if got := FormatAge(tc.d); got != tc.want {
			t.Errorf("FormatAge(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func sparkLevel(r rune) int { return strings.IndexRune(string(sparkBars), r) / len("▁") }

func TestSparkline(t *testing.T) {
	s := NewStatusBar(1, 2)
	if got := s.Sparkline(t0); got != "" {
		t.Errorf("no samples: %q", got)
	}
	// RTT rising over a minute: 1 ms to 60 ms, one pong a second.
	for i := 0; i < 60; i++ {
		s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Duration(i+1) * time.Millisecond}, t0.Add(time.Duration(i)*time.Second))
	}
	now := t0.Add(59 * time.Second)
	sp := []rune(s.Sparkline(now))
	if len(sp) != SparkCells {
		t.Fatalf("sparkline %q has %d cells, want %d", string(sp), len(sp), SparkCells)
	}
	if sp[0] != '▁' || sp[len(sp)-1] != '█' {
		t.Errorf("rising RTT: sparkline %q should go from ▁ to █", string(sp))
	}
	for i := 1; i < len(sp); i++ {
		if sparkLevel(sp[i]) < sparkLevel(sp[i-1]) {
			t.Errorf("rising RTT: cell %d lower than cell %d in %q", i, i-1, string(sp))
		}
	}
	// A spike is the tallest bar.
	s2 := NewStatusBar(1, 2)
	for i := 0; i < 30; i++ {
		rtt := 2 * time.Millisecond
		if i == 10 {
			rtt = 90 * time.Millisecond
		}
		s2.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: rtt}, t0.Add(time.Duration(i)*time.Second))
	}
	sp2 := s2.Sparkline(t0.Add(30 * time.Second))
	if strings.Count(sp2, "█") != 1 || !strings.Contains(sp2, "▁") {
		t.Errorf("one spike: %q", sp2)
	}
	// Equal samples: a visible middle bar.
	s3 := NewStatusBar(1, 2)
	s3.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 5 * time.Millisecond}, t0)
	if got := strings.TrimSpace(s3.Sparkline(t0)); got != "▄" {
		t.Errorf("one sample: %q", got)
	}
	// Samples older than the window are forgotten.
	if got := s.Sparkline(t0.Add(59*time.Second + SparkWindow + time.Second)); got != "" {
		t.Errorf("after a minute without pongs: %q", got)
	}
	if v := plain(s.View(testStyles(), 200, t0.Add(3*time.Minute))); strings.ContainsAny(v, string(sparkBars)) {
		t.Errorf("stale sparkline shown: %q", v)
	}
	// Storage is bounded too.
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0.Add(10*time.Minute))
	if len(s.samples) != 1 {
		t.Errorf("%d samples kept after a gap, want 1", len(s.samples))
	}
	for i := 0; i < 5000; i++ {
		s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Duration(i+1) * time.Microsecond}, t0.Add(11*time.Minute+time.Duration(i)*time.Millisecond))
	}
	if len(s.samples) > sparkMaxSamples {
		t.Errorf("%d samples kept, max %d", len(s.samples), sparkMaxSamples)
	}
}

func TestSparklineStatusNotCountedTwice(t *testing.T) {
	s := NewStatusBar(1, 2)
	s.SetStatus(protocol.Status{Live: protocol.LiveLive, RTT: 7 * time.Millisecond, LastPong: t0})
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 7 * time.Millisecond}, t0.Add(2*time.Millisecond))
	s.SetStatus(protocol.Status{Live: protocol.LiveLive, RTT: 7 * time.Millisecond, LastPong: t0})
	if len(s.samples) != 1 {
		t.Errorf("one pong seen through Status and Live: %d samples", len(s.samples))
	}
}

func TestStatusBarFields(t *testing.T) {
	st := testStyles()
	s := NewStatusBar(5555, 5556)
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 3 * time.Millisecond, Authenticated: false}, t0)
	v := plain(s.View(st, 200, t0.Add(4*time.Second)))
	for _, want := range []string{"no session", "pong 4s ago", "ports 5555→5556"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in %q", want, v)
		}
	}
	if strings.Contains(v, "encrypted") || strings.Contains(v, "seq") || strings.Contains(v, "rekey") {
		t.Errorf("no session yet, but %q", v)
	}
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 3 * time.Millisecond, Authenticated: true}, t0.Add(5*time.Second))
	s.SetStatus(protocol.Status{HasSession: true, SendSeq: 12, RecvSeq: 9, NextRekey: t0.Add(5*time.Second + 90*time.Second),
		Live: protocol.LiveLive, RTT: 3 * time.Millisecond, LastPong: t0.Add(5 * time.Second), Authenticated: true})
	v = plain(s.View(st, 200, t0.Add(5*time.Second)))
	for _, want := range []string{"encrypted", "rekey 1m30s"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in %q", want, v)
		}
	}
	// Neither "plain"/"auth" (read as "not encrypted") nor the random
	// sequence numbers (the inspector has them).
	for _, not := range []string{"plain", "auth", "seq", "12", "↑"} {
		if strings.Contains(v, not) {
			t.Errorf("session up, but %q in %q", not, v)
		}
	}
	if v := plain(s.View(st, 200, t0.Add(time.Hour))); !strings.Contains(v, "rekey due") {
		t.Errorf("rekey overdue: %q", v)
	}
}

// TestStatusBarDropOrder: narrowing the bar drops fields in the documented
// order and keeps the liveness word.
func TestStatusBarDropOrder(t *testing.T) {
	st := testStyles()
	s := NewStatusBar(5555, 5556)
	for i := 0; i < 20; i++ {
		s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Duration(i+1) * time.Millisecond, Authenticated: true}, t0.Add(time.Duration(i)*time.Second))
	}
	s.SetStatus(protocol.Status{HasSession: true, SendSeq: 12, RecvSeq: 9, NextRekey: t0.Add(time.Hour), Live: protocol.LiveLive})
	now := t0.Add(21 * time.Second)
	// Fields, first dropped first, and how to spot each.
	order := []struct {
		name string
		has  func(v string) bool
	}{
		{"ports", func(v string) bool { return strings.Contains(v, "ports 5555→5556") }},
		{"sparkline", func(v string) bool { return strings.ContainsAny(v, string(sparkBars)) }},
		{"pong", func(v string) bool { return strings.Contains(v, "pong ") }},
		{"rekey", func(v string) bool { return strings.Contains(v, "rekey ") }},
		{"rtt", func(v string) bool { return strings.Contains(v, "rtt 20.0 ms") }},
		{"session", func(v string) bool { return strings.Contains(v, "encrypted") }},
	}
	full := plain(s.View(st, 300, now))
	for _, f := range order {
		if !f.has(full) {
			t.Fatalf("wide bar lacks %s: %q", f.name, full)
		}
	}
	seen := map[int]bool{}
	for w := 300; w >= 0; w-- {
		v := plain(s.View(st, w, now))
		present := 0
		for i := len(order) - 1; i >= 0; i-- {
			if !order[i].has(v) {
				break
			}
			present++
		}
		for i := 0; i < len(order)-present; i++ {
			if order[i].has(v) {
				t.Errorf("width %d: %s shown although %s, dropped later, is gone: %q",
					w, order[i].name, order[len(order)-present-1].name, v)
			}
		}
		seen[present] = true
		if w >= 5 && !strings.Contains(v, "live") {
			t.Errorf("width %d: liveness word missing: %q", w, v)
		}
	}
	for n := 0; n <= len(order); n++ {
		if !seen[n] {
			t.Errorf("no width shows exactly the last %d fields", n)
		}
	}
}

// TestStatusBarSessionWords: after the peer leaves the bar says "no
// session" (not "plain"), and while the peer's key is refused it never
// says "live", whatever the pongs say, until a session is established.
func TestStatusBarSessionWords(t *testing.T) {
	st := testStyles()
	s := NewStatusBar(5555, 5556)
	s.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0)
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond, Authenticated: true}, t0)
	if v := plain(s.View(st, 120, t0)); !strings.Contains(v, "encrypted") {
		t.Errorf("session up: %q", v)
	}
	s.Session(protocol.SessionEvent{State: protocol.SessionPeerLeft}, t0.Add(time.Second))
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0.Add(2*time.Second))
	if v := plain(s.View(st, 120, t0.Add(2*time.Second))); !strings.Contains(v, "no session") || strings.Contains(v, "plain") || strings.Contains(v, "encrypted") {
		t.Errorf("peer left, plain pongs: %q", v)
	}
	s.KeyRefused()
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0.Add(3*time.Second))
	v := plain(s.View(st, 120, t0.Add(3*time.Second)))
	if strings.Contains(v, "live") || !strings.Contains(v, "key refused") {
		t.Errorf("key refused: %q", v)
	}
	if !s.KeyChanged() {
		t.Error("KeyChanged after a refused key")
	}
	s.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0.Add(4*time.Second))
	if v := plain(s.View(st, 120, t0.Add(4*time.Second))); !strings.HasPrefix(strings.TrimSpace(v), "live") || !strings.Contains(v, "encrypted") {
		t.Errorf("accepted and established: %q", v)
	}
}

// TestStatusBarPinRefused: a key-changed rejection with no session up (a
// pin that does not match) shows "key refused", not "live"; during a
// session it changes nothing.
func TestStatusBarPinRefused(t *testing.T) {
	st := testStyles()
	s := NewStatusBar(5555, 5556)
	s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0)
	s.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonKeyChanged})
	if v := plain(s.View(st, 120, t0)); strings.Contains(v, "live") || !strings.Contains(v, "key refused") {
		t.Errorf("pin refused: %q", v)
	}
	s2 := NewStatusBar(5555, 5556)
	s2.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0)
	s2.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond, Authenticated: true}, t0)
	s2.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonKeyChanged})
	if v := plain(s2.View(st, 120, t0)); !strings.HasPrefix(strings.TrimSpace(v), "live") {
		t.Errorf("key-changed attempt during a session: %q", v)
	}
}

// TestStatusLastSeen: while the peer is gone the bar says when it was last
// seen (a pong, its goodbye, or a stored message for a peer not heard in
// this run), with the date when not today; while it is live or degraded
// the pong's age is shown instead.
func TestStatusLastSeen(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, loc)
	cases := []struct {
		name string
		do   func(*StatusBar)
		want string
	}{
		{"never seen", func(*StatusBar) {}, ""},
		{"stored message today", func(s *StatusBar) { s.Seen(now.Add(-2 * time.Hour)) }, "last seen 13:00"},
		{"stored message this year", func(s *StatusBar) { s.Seen(time.Date(2026, 3, 1, 9, 5, 0, 0, loc)) }, "last seen 1 Mar 09:05"},
		{"stored message last year", func(s *StatusBar) { s.Seen(time.Date(2025, 12, 31, 23, 0, 0, 0, loc)) }, "last seen 31 Dec 2025"},
		{"live", func(s *StatusBar) {
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, now.Add(-time.Second))
		}, ""},
		{"degraded", func(s *StatusBar) {
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, now.Add(-time.Minute))
			s.Live(protocol.LiveEvent{State: protocol.LiveDegraded}, now)
		}, ""},
		{"down after a pong", func(s *StatusBar) {
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, now.Add(-10*time.Minute))
			s.Live(protocol.LiveEvent{State: protocol.LiveDown}, now)
		}, "last seen 14:50"},
		{"left", func(s *StatusBar) {
			s.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, now.Add(-10*time.Minute))
			s.PeerLeft(now.Add(-5 * time.Minute))
		}, "last seen 14:55"},
		{"an older stored message does not go back", func(s *StatusBar) {
			s.PeerLeft(now.Add(-5 * time.Minute))
			s.Seen(now.Add(-time.Hour))
		}, "last seen 14:55"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewStatusBar(5555, 5556)
			c.do(s)
			if got := s.LastSeen(now); got != c.want {
				t.Errorf("LastSeen = %q, want %q", got, c.want)
			}
			view := plain(s.View(testStyles(), 120, now))
			if c.want != "" && !strings.Contains(view, c.want) {
				t.Errorf("bar lacks %q: %q", c.want, view)
			}
			if c.want != "" && strings.Contains(view, "pong ") {
				t.Errorf("bar shows the pong's age beside last seen: %q", view)
			}
		})
	}
}
